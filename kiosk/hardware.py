"""The kiosk's GPIO parts through gpiozero: two check-in buttons, the in/out button, a green
LED, a buzzer and a PIR motion sensor. This is the only module that imports gpiozero.

Callbacks only put an event on the player's queue (``ButtonPressed``, ``Motion``); the pure
state machine decides what a press means (it owns the in/out direction: the direction button
only says "switch"). Feedback (``confirm``, ``refuse``) runs in gpiozero's background
threads, so the pygame loop never waits for a beep.

Every part is optional: a pin that is not configured is simply absent, and with no pin at all
no gpiozero device is created (a laptop needs no GPIO library and no Raspberry Pi). Tests run
on gpiozero's ``MockFactory`` (``GPIOZERO_PIN_FACTORY=mock``), driving the pins by hand.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.errors import HardwareError
from kiosk.events import ButtonPressed, Event, Motion

log = logging.getLogger(__name__)

BUTTONS = ("has_app", "not_yet", "direction")
BOUNCE_S = 0.02  # contact bounce, filtered by gpiozero (or the pin driver) before our hold-off
CONFIRM_LED_S = 1.5
CONFIRM_BEEP_S = 0.12
REFUSE_BEEP_S = 0.08
REFUSE_BEEPS = 3


@dataclass(frozen=True)
class Pins:
    """Which GPIO pin each part is on, as gpiozero names pins; None: the part is absent."""

    has_app: str | None = None
    not_yet: str | None = None
    direction: str | None = None
    led: str | None = None
    buzzer: str | None = None
    pir: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> Pins:
        """The pins of a ``KioskConfig`` (its ``pin_*`` settings; empty text means absent)."""
        def pin(name: str) -> str | None:
            value = str(getattr(config, f"pin_{name}", "") or "").strip()
            return value or None
        return cls(**{name: pin(name) for name in
                      ("has_app", "not_yet", "direction", "led", "buzzer", "pir")})

    @property
    def any(self) -> bool:
        return any(vars(self).values())


class Footfall:
    """Motion counts for the heartbeat's ``footfall``: "counts since the previous acknowledged
    heartbeat". The sync thread reads ``pending()`` into a beat and, once the server answered,
    ``acknowledge``s what it sent; counts that arrive meanwhile wait for the next beat, and a
    failed beat loses nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._count += n

    def pending(self) -> int:
        with self._lock:
            return self._count

    def acknowledge(self, sent: int) -> None:
        with self._lock:
            self._count = max(self._count - sent, 0)


class Hardware:
    """The configured GPIO parts. ``post`` puts an event on the player's queue (any thread).

    ``pin_factory`` is gpiozero's (None: gpiozero picks one, honouring
    ``GPIOZERO_PIN_FACTORY``); ``monotonic`` is injectable so tests can step the hold-off.
    """

    def __init__(self, pins: Pins, post: Callable[[Event], None], *,
                 holdoff_s: float = 0.5, pin_factory: Any = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pins = pins
        self.footfall = Footfall()
        self._post = post
        self._holdoff = holdoff_s
        self._monotonic = monotonic
        self._last_press: dict[str, float] = {}
        self._devices: list[Any] = []
        self.buttons: dict[str, Any] = {}
        self.led: Any = None
        self.buzzer: Any = None
        self.pir: Any = None
        if pins.any:
            try:
                self._build(pins, pin_factory)
            except Exception as exc:  # gpiozero raises many kinds (GPIOZeroError, OSError...)
                self.close()
                raise HardwareError(f"cannot set up the GPIO pins: {exc}") from exc

    def _build(self, pins: Pins, factory: Any) -> None:
        import gpiozero  # type: ignore[import-untyped]  # only here: laptops never load it

        for name in BUTTONS:
            pin = getattr(pins, name)
            if pin is not None:
                button = self._add(gpiozero.Button(pin, pull_up=True, bounce_time=BOUNCE_S,
                                                   pin_factory=factory))
                button.when_pressed = self._presser(name)
                self.buttons[name] = button
        if pins.led is not None:
            self.led = self._add(gpiozero.LED(pins.led, pin_factory=factory))
        if pins.buzzer is not None:
            self.buzzer = self._add(gpiozero.Buzzer(pins.buzzer, pin_factory=factory))
        if pins.pir is not None:
            # A PIR module (HC-SR501) drives a clean digital level with its own hold time, so a
            # plain input with edge callbacks fits; gpiozero's MotionSensor samples in a
            # thread of its own to smooth noisy analogue-ish sensors, which this one is not.
            self.pir = self._add(gpiozero.DigitalInputDevice(
                pins.pir, pull_up=False, bounce_time=BOUNCE_S, pin_factory=factory))
            self.pir.when_activated = self._motion
        log.info("GPIO ready: %s", ", ".join(f"{k}={v}" for k, v in vars(pins).items() if v))

    def _add(self, device: Any) -> Any:
        self._devices.append(device)
        return device

    def _presser(self, name: str) -> Callable[[], None]:
        def pressed() -> None:
            now = self._monotonic()
            last = self._last_press.get(name)
            if last is not None and now - last < self._holdoff:
                return
            self._last_press[name] = now
            self._post(ButtonPressed(name))
        return pressed

    def _motion(self) -> None:
        self.footfall.add()
        self._post(Motion())

    # -- feedback (called by the player for the state machine's effects) -------------------

    def confirm(self) -> None:
        """A check-in was recorded: the green LED lights for a moment, one short beep."""
        if self.led is not None:
            self.led.blink(on_time=CONFIRM_LED_S, off_time=0, n=1, background=True)
        if self.buzzer is not None:
            self.buzzer.beep(on_time=CONFIRM_BEEP_S, off_time=0, n=1, background=True)

    def refuse(self) -> None:
        """A check-in was refused: the LED goes off, three short beeps."""
        if self.led is not None:
            self.led.off()
        if self.buzzer is not None:
            self.buzzer.beep(on_time=REFUSE_BEEP_S, off_time=REFUSE_BEEP_S, n=REFUSE_BEEPS,
                             background=True)

    @property
    def has_motion_sensor(self) -> bool:
        """Whether footfall is counted at all (the heartbeat then reports it, zero included)."""
        return self.pir is not None

    def close(self) -> None:
        """Release every pin (gpiozero stops the blink/beep threads)."""
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:  # closing must not stop the shutdown of the others
                log.exception("closing %r failed", device)
        self._devices.clear()


def open_hardware(config: Any, post: Callable[[Event], None]) -> Hardware:
    """The hardware a ``KioskConfig`` describes. Pins that cannot be set up are logged and the
    kiosk goes on without any of its parts: a wrong pin name must not keep the screen dark."""
    pins = Pins.from_config(config)
    try:
        return Hardware(pins, post, holdoff_s=float(config.button_holdoff_seconds))
    except HardwareError as exc:
        log.error("%s; running without buttons, LED, buzzer and motion sensor", exc)
        return Hardware(Pins(), post)
