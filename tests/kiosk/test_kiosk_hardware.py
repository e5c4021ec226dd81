"""The GPIO parts on gpiozero's MockFactory: presses become events, the LED and buzzer give
feedback in the background, the PIR counts footfall for the heartbeat."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_kiosk_api import FakeApi, manifest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from kiosk.__main__ import main as kiosk_main
from kiosk.cache import MediaCache
from kiosk.config import DataLayout, KioskConfig
from kiosk.errors import HardwareError
from kiosk.events import ButtonPressed, Event, Motion
from kiosk.hardware import REFUSE_BEEPS, Footfall, Hardware, Pins, open_hardware
from kiosk.heartbeat import Device as SyncDevice
from kiosk.journal import CHECKIN, Journal
from kiosk.sync import Sync, SyncSettings

ALL = Pins(has_app="GPIO17", not_yet="GPIO27", direction="GPIO22", led="GPIO5",
           buzzer="GPIO6", pir="GPIO4")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hardware(factory: MockFactory, events: list[Event], clock: Clock) -> Iterator[Hardware]:
    made = Hardware(ALL, events.append, holdoff_s=0.5, pin_factory=factory, monotonic=clock)
    yield made
    made.close()


def press(factory: MockFactory, pin: str) -> None:
    button = factory.pin(pin)
    button.drive_low()
    button.drive_high()


def eventually(check: Callable[[], Any], timeout: float = 3.0) -> None:
    """Wait for a background blink or beep thread to reach a state (polling, bounded)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "state not reached"
        time.sleep(0.005)


@pytest.mark.parametrize(("pin", "button"), [
    ("GPIO17", "has_app"), ("GPIO27", "not_yet"), ("GPIO22", "direction")])
def test_a_press_posts_its_button(hardware: Hardware, factory: MockFactory,
                                  events: list[Event], pin: str, button: str) -> None:
    press(factory, pin)
    assert events == [ButtonPressed(button)]


def test_buttons_use_the_pull_up_and_are_released_at_rest(
        hardware: Hardware, factory: MockFactory) -> None:
    assert factory.pin("GPIO17").state == 1  # pulled up: pressed connects it to ground
    assert not hardware.buttons["has_app"].is_pressed


def test_a_double_tap_within_the_hold_off_is_one_press(
        hardware: Hardware, factory: MockFactory, events: list[Event], clock: Clock) -> None:
    press(factory, "GPIO17")
    clock.now += 0.2
    press(factory, "GPIO17")
    assert events == [ButtonPressed("has_app")]
    clock.now += 0.4
    press(factory, "GPIO17")
    assert events == [ButtonPressed("has_app")] * 2


def test_the_hold_off_is_per_button(hardware: Hardware, factory: MockFactory,
                                    events: list[Event]) -> None:
    press(factory, "GPIO22")
    press(factory, "GPIO27")
    assert events == [ButtonPressed("direction"), ButtonPressed("not_yet")]


def test_motion_posts_an_event_and_counts_footfall(
        hardware: Hardware, factory: MockFactory, events: list[Event]) -> None:
    pir = factory.pin("GPIO4")
    for _ in range(3):
        pir.drive_high()
        pir.drive_low()
    assert events == [Motion()] * 3
    assert hardware.footfall.pending() == 3


def test_confirm_lights_the_led_and_beeps_once_without_blocking(
        hardware: Hardware, factory: MockFactory) -> None:
    led, buzzer = factory.pin("GPIO5"), factory.pin("GPIO6")
    started = time.monotonic()
    hardware.confirm()
    assert time.monotonic() - started < 0.1  # the loop is not held for the 1.5 s blink
    eventually(lambda: led.state == 1)
    eventually(lambda: [s.state for s in buzzer.states] == [False, True, False])
    assert led.state == 1  # still lit after the beep ended


def test_refuse_beeps_three_times_and_turns_the_led_off(
        hardware: Hardware, factory: MockFactory) -> None:
    buzzer, led = factory.pin("GPIO6"), factory.pin("GPIO5")
    hardware.led.on()
    buzzer.clear_states()
    hardware.refuse()
    assert led.state == 0
    eventually(lambda: [s.state for s in buzzer.states].count(True) == REFUSE_BEEPS
               and buzzer.state == 0)
    assert [s.state for s in buzzer.states] == [False] + [True, False] * REFUSE_BEEPS


def test_no_pins_means_no_hardware_and_no_gpio_at_all(events: list[Event]) -> None:
    made = Hardware(Pins(), events.append)
    assert made.buttons == {} and made.led is None and made.pir is None
    made.confirm()
    made.refuse()
    made.close()


def test_some_parts_may_be_absent(factory: MockFactory, events: list[Event]) -> None:
    made = Hardware(Pins(has_app="GPIO17"), events.append, pin_factory=factory)
    try:
        made.confirm()
        made.refuse()
        press(factory, "GPIO17")
        assert events == [ButtonPressed("has_app")]
        assert set(made.buttons) == {"has_app"}
    finally:
        made.close()


def test_a_bad_pin_name_is_a_hardware_error(factory: MockFactory,
                                            events: list[Event]) -> None:
    with pytest.raises(HardwareError, match="GPIO pins"):
        Hardware(Pins(has_app="GPIO17", led="NOT_A_PIN"), events.append, pin_factory=factory)
    made = Hardware(Pins(has_app="GPIO17"), events.append, pin_factory=factory)
    made.close()  # the first attempt released GPIO17


def test_the_environment_picks_the_mock_factory(monkeypatch: pytest.MonkeyPatch,
                                               events: list[Event]) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    Device.pin_factory = None  # gpiozero reads the variable when the first device is made
    made = Hardware(Pins(led="GPIO5"), events.append)
    try:
        assert isinstance(made.led.pin_factory, MockFactory)
    finally:
        made.close()
        Device.pin_factory.reset()
        Device.pin_factory.close()
        Device.pin_factory = None


def test_the_kiosk_opens_its_hardware_from_the_configuration(
        monkeypatch: pytest.MonkeyPatch, events: list[Event],
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    Device.pin_factory = None
    try:
        made = open_hardware(KioskConfig(pin_not_yet="GPIO27", pin_pir="GPIO4",
                                         button_holdoff_seconds=2.0), events.append)
        assert set(made.buttons) == {"not_yet"} and made.has_motion_sensor
        made.close()
        broken = open_hardware(KioskConfig(pin_led="GPIO999"), events.append)
        assert broken.led is None and not broken.has_motion_sensor
        assert "running without buttons" in caplog.text
        assert not open_hardware(KioskConfig(), events.append).pins.any
    finally:
        if Device.pin_factory is not None:
            Device.pin_factory.reset()
            Device.pin_factory.close()
        Device.pin_factory = None


def test_pins_come_from_the_configuration() -> None:
    config = KioskConfig(pin_has_app="GPIO17", pin_pir=" 4 ", pin_led="")
    assert Pins.from_config(config) == Pins(has_app="GPIO17", pir="4")
    assert not Pins.from_config(KioskConfig()).any


def test_footfall_waits_for_the_heartbeat_acknowledgement() -> None:
    footfall = Footfall()
    footfall.add(5)
    sent = footfall.pending()
    footfall.add(2)  # motion while the beat is on its way
    footfall.acknowledge(sent)
    assert footfall.pending() == 2
    footfall.acknowledge(10)
    assert footfall.pending() == 0


def test_footfall_travels_in_the_heartbeat_once(tmp_path: Path, factory: MockFactory,
                                                events: list[Event]) -> None:
    api = FakeApi()
    api.publish(manifest("v1"))
    hardware = Hardware(Pins(pir="GPIO4"), events.append, pin_factory=factory)
    monotonic = Clock()
    journal = Journal(tmp_path / "journal.sqlite")
    sync = Sync(api, journal, MediaCache(tmp_path / "media", 0, lambda _: 10**12),
                queue.Queue(), SyncSettings(heartbeat_screenshot=False),
                SyncDevice("0.1.0", tmp_path, lambda _: 10**10), footfall=hardware.footfall,
                monotonic=monotonic, rnd=lambda: 0.0)
    pir = factory.pin("GPIO4")
    try:
        for _ in range(3):
            pir.drive_high()
            pir.drive_low()
        api.down = True
        sync.run_round()  # the beat fails: nothing is lost
        assert hardware.footfall.pending() == 3
        api.down = False
        monotonic.now += 3600
        sync.run_round()
        assert [beat["footfall"] for beat in api.beats] == [3]
        assert hardware.footfall.pending() == 0
        pir.drive_high()
        monotonic.now += 3600
        sync.run_round()
        assert [beat["footfall"] for beat in api.beats] == [3, 1]
    finally:
        hardware.close()
        journal.close()


def test_a_running_kiosk_records_a_button_press_and_lights_the_led(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole wiring of ``signage-kiosk run``: pins from the settings, the press through
    the player's queue and state machine to the Recorder's durable commit, then the LED."""
    for name, pin in (("HAS_APP", "GPIO17"), ("DIRECTION", "GPIO22"), ("LED", "GPIO5")):
        monkeypatch.setenv(f"SIGNAGE_KIOSK_PIN_{name}", pin)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    Device.pin_factory = None
    layout = DataLayout(tmp_path / "data")
    layout.ensure()
    journal = Journal(layout.journal)  # a programme from before: a venue counting visitors
    journal.save_manifest({**manifest("v1"), "checkin": {
        "privacy_mode": "count", "retention_days": 21, "consent_version": 1}}, '"v1"')
    journal.close()
    lit: list[bool] = []

    def visitor() -> None:  # the kiosk runs in the main thread (it installs signal handlers)
        eventually(lambda: Device.pin_factory is not None
                   and "GPIO5" in {str(p) for p in Device.pin_factory.pins.values()},
                   timeout=20)
        factory = Device.pin_factory
        press(factory, "GPIO22")  # now recording departures
        time.sleep(0.6)  # past the hold-off, as a person would be
        press(factory, "GPIO17")
        eventually(lambda: factory.pin("GPIO5").state == 1, timeout=5)
        lit.append(True)

    driver = threading.Thread(target=visitor, daemon=True)
    driver.start()
    done = {"rc": kiosk_main(["--data", str(layout.root), "run", "--headless",
                              "--max-seconds", "8"])}
    driver.join(5)
    assert lit == [True]
    assert done == {"rc": 0}
    journal = Journal(layout.journal)
    try:
        [row] = journal.pending(CHECKIN, 10)
    finally:
        journal.close()
    assert {k: row.payload[k] for k in ("direction", "method", "has_app", "sealed")} == {
        "direction": "out", "method": "button", "has_app": "yes", "sealed": None}
    Device.pin_factory = None
