"""Screen sleep in the running player: headless, with the PIR on gpiozero's MockFactory.

Nobody moves: the screen turns black, nothing plays and nothing is journaled, the watchdog
is still fed. Someone walks past: the screen wakes and shows content again. A kiosk without
a PIR pin never sleeps.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from PIL import Image
from test_kiosk_player import manifest

from kiosk import heartbeat
from kiosk.__main__ import _player
from kiosk.config import KioskConfig
from kiosk.display_options import DisplayOptions
from kiosk.events import PlayRecord
from kiosk.hardware import Hardware, Pins
from kiosk.heartbeat import Device as SyncDevice
from kiosk.heartbeat import SyncFacts
from kiosk.player import Player
from kiosk.screen_power import ScreenSwitch
from kiosk.watchdog import Notifier

PIR = "GPIO4"
QUIET_S = 1.0


@dataclass
class Kiosk:
    player: Player
    events: queue.Queue[Any]
    factory: MockFactory
    switch: ScreenSwitch
    screenshot: Path
    systemd: SystemdSocket
    plays: list[PlayRecord] = field(default_factory=list)

    def until(self, condition: Callable[[], bool], seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.02)

    def black(self) -> bool:
        """Whether the latest screenshot file is black from edge to edge (bar included)."""
        try:
            with Image.open(self.screenshot) as picture:
                return all(high == 0 for _, high in picture.convert("RGB").getextrema())
        except (OSError, SyntaxError):  # being replaced right now
            return False



class SystemdSocket:
    """systemd's end of NOTIFY_SOCKET: read all the time, as systemd does (a full datagram
    queue would block the sender), counting the watchdog pings."""

    def __init__(self, path: Path) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.settimeout(0.1)
        self._closed = threading.Event()
        self.pings = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                self.pings += self._socket.recv(256) == b"WATCHDOG=1"

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture
def kiosk(headless: None, content: Path, clips: tuple[Path, Path], tmp_path: Path,
          factory: MockFactory) -> Iterator[Kiosk]:
    events: queue.Queue[Any] = queue.Queue()
    hardware = Hardware(Pins(pir=PIR), events.put, pin_factory=factory)
    switch = ScreenSwitch(["true", "off"], ["true", "on"])
    screenshot = tmp_path / "screen.png"
    systemd = SystemdSocket(tmp_path / "notify")
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")}, min_interval_s=0.1)
    options = DisplayOptions(mode="headless", size=(640, 360), screenshot=screenshot,
                             screenshot_every=0.2)
    plays: list[PlayRecord] = []
    player = Player(options, events, plays.append, default_content=content, notifier=notifier,
                    feedback=hardware, sleep_after_s=QUIET_S, screen_switch=switch)
    run = Kiosk(player, events, factory, switch, screenshot, systemd, plays)
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop, "max_seconds": 60})
    thread.start()
    events.put(manifest(clips))
    yield run
    stop.set()
    thread.join(timeout=10)
    hardware.close()
    systemd.close()
    assert not thread.is_alive()


def test_the_screen_goes_black_after_the_quiet_period(kiosk: Kiosk) -> None:
    kiosk.until(lambda: kiosk.player.status().screen_asleep)
    status = kiosk.player.status()
    assert status.current_item is None and status.last_error is None
    kiosk.until(kiosk.black)
    facts = SyncFacts(10.0, "v7", 0, 0, None, None)
    device = SyncDevice("0.1", kiosk.screenshot.parent, lambda path: 10**9)
    beat = heartbeat.body(device, kiosk.player, facts, with_screenshot=True)
    assert beat["current_item"] is None and beat["last_error"] is None
    assert "screen_asleep" not in beat  # not a field of the heartbeat API (docs/checkin.md)
    kiosk.until(lambda: kiosk.switch.ran == [("true", "off")])


def test_nothing_is_played_or_journaled_while_asleep(kiosk: Kiosk) -> None:
    kiosk.until(lambda: kiosk.player.status().screen_asleep)
    plays, frames = len(kiosk.plays), kiosk.player.status().frames_shown
    assert plays >= 1
    time.sleep(1.5)
    assert len(kiosk.plays) == plays  # no proof of play for a black screen
    assert kiosk.player.status().frames_shown == frames  # nothing decoded or drawn


def test_the_watchdog_is_fed_while_asleep(kiosk: Kiosk) -> None:
    kiosk.until(lambda: kiosk.player.status().screen_asleep)
    before = kiosk.systemd.pings
    time.sleep(1.0)
    assert kiosk.player.status().screen_asleep
    assert kiosk.systemd.pings - before >= 3  # one at most every 0.1 s from a healthy turn


def test_motion_wakes_the_screen_and_content_plays_again(kiosk: Kiosk) -> None:
    kiosk.until(lambda: kiosk.player.status().screen_asleep)
    kiosk.until(kiosk.black)
    plays = len(kiosk.plays)
    kiosk.factory.pin(PIR).drive_high()  # someone walks past
    kiosk.until(lambda: not kiosk.player.status().screen_asleep, seconds=2.0)
    kiosk.until(lambda: kiosk.player.status().current_item is not None)
    kiosk.until(lambda: not kiosk.black())
    kiosk.until(lambda: len(kiosk.plays) > plays)  # the loop goes on, and is reported again
    kiosk.until(lambda: kiosk.switch.ran == [("true", "off"), ("true", "on")])
    kiosk.factory.pin(PIR).drive_low()


@pytest.mark.parametrize(("pins", "sleeps"), [(Pins(), False), (Pins(pir=PIR), True)],
                         ids=["no PIR", "PIR"])
def test_only_a_kiosk_with_a_pir_pin_sleeps(headless: None, factory: MockFactory,
                                            pins: Pins, sleeps: bool) -> None:
    events: queue.Queue[Any] = queue.Queue()
    hardware = Hardware(pins, events.put, pin_factory=factory)
    config = KioskConfig(screen_width=640, screen_height=360, screen_sleep_after_seconds=0.3)
    player = _player(config, "headless", events, lambda record: None, None, Notifier({}),
                     feedback=hardware)
    seen: list[bool] = []
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop, "max_seconds": 30})
    thread.start()
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            seen.append(player.status().screen_asleep)
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
        hardware.close()
    assert any(seen) is sleeps
