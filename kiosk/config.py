"""Kiosk settings, declared as data and read once, in layers, then passed down.

defaults (the field table below) → ``<data dir>/kiosk.toml`` → ``SIGNAGE_KIOSK_<NAME>``
environment → ``overrides`` (command line, tests). Every setting is a field of
``KioskConfig`` with a default and a help line; ``docs/kiosk-configuration.md`` lists them all
and a test keeps that page in step with this table.

A kiosk must keep its screen alive whatever someone typed into its configuration, so a value
that cannot be used is logged and replaced by its default instead of stopping the kiosk.

The data dir itself is not a setting (the file lives in it): ``--data``, else
``SIGNAGE_KIOSK_DATA``, else ``/var/lib/signage-kiosk`` when it exists and is writable (the
systemd unit creates it), else ``$XDG_DATA_HOME/signage-kiosk`` (``~/.local/share/...``).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kiosk import recovery
from kiosk.errors import ConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "SIGNAGE_KIOSK_"
DATA_ENV = "SIGNAGE_KIOSK_DATA"
SYSTEM_DATA_DIR = Path("/var/lib/signage-kiosk")
CONFIG_FILE = "kiosk.toml"
ROTATIONS = (0, 90, 180, 270)


def _setting(default: Any, help_text: str, minimum: float | None = None,
             maximum: float | None = None) -> Any:
    """One row of the settings table: a dataclass field whose metadata carries the help line
    and the accepted range, so the table is the single source for loading and for the doc."""
    return field(default=default,
                 metadata={"help": help_text, "minimum": minimum, "maximum": maximum})


@dataclass(frozen=True)
class KioskConfig:
    """Every kiosk setting with its default; instances are immutable and passed down."""

    server_url: str = _setting(
        "", "Base URL of the management server. Empty: the URL given at enrollment "
            "(stored in credentials.json).")
    poll_seconds: float = _setting(
        30.0, "Seconds between manifest polls, until a manifest's sync.poll_seconds says "
              "otherwise (the server's value wins: it sizes the fleet's load).", 1, 86400)
    poll_jitter: float = _setting(
        0.2, "Relative jitter of each poll interval, taken below it (0.2: each wait is 80 "
             "to 100 % of poll_seconds), so a fleet that polled together drifts apart and a "
             "change is still seen within poll_seconds.", 0, 0.9)
    backoff_base_seconds: float = _setting(
        2.0, "First retry delay after a failed sync round; doubles on each further failure.",
        0.1, 3600)
    backoff_cap_seconds: float = _setting(
        300.0, "Longest retry delay after repeated failures (5 minutes).", 1, 86400)
    request_timeout_seconds: float = _setting(
        10.0, "Timeout of every HTTP request: to connect, and between two received bytes.",
        0.1, 600)
    download_attempts: int = _setting(
        3, "Attempts per media file in one sync round; each resumes the partial file with a "
           "Range request.", 1, 100)
    batch_size: int = _setting(
        500, "Most outbox records (plays, check-ins) sent in one request.", 1, 1000)
    heartbeat_seconds: float = _setting(
        60.0, "Seconds between heartbeats, until a manifest's sync.heartbeat_seconds says "
              "otherwise.", 5, 86400)
    heartbeat_screenshot: bool = _setting(
        True, "Attach a downscaled PNG of the screen (at most 512 KB) to each heartbeat.")
    mqtt_url: str = _setting(
        "", "mqtt://[user:pass@]host[:port] (or mqtts://) of the broker for instant push. "
            "Empty: no push, the kiosk only polls.")
    journal_reserve_bytes: int = _setting(
        256 * 1024 * 1024, "Free disk space kept for the journal: a media download that would "
                           "leave less is refused.", 0, 2**50)
    rotation: int = _setting(
        0, "Screen rotation in degrees: 0, 90, 180 or 270 (portrait screens: 90 or 270).")
    screen_width: int = _setting(
        1280, "Width of the window (--windowed) or of the off-screen surface (--headless); "
              "full screen uses the display's native size.", 160, 7680)
    screen_height: int = _setting(
        720, "Height of the window or of the off-screen surface.", 120, 4320)
    screenshot_path: str = _setting(
        "", "With --headless, keep rewriting (atomically) this PNG with what the screen shows. "
            "Empty: no screenshot file (the option --screenshot sets it too).")
    screenshot_seconds: float = _setting(
        5.0, "Seconds between two screenshot files (--screenshot-every).", 0.2, 3600)
    kiosk_name: str = _setting(
        "", "Name sent at enrollment (shown in the admin pages). Empty: the host name.")
    log_level: str = _setting(
        "INFO", "Level of the kiosk's log messages on stderr (DEBUG, INFO, WARNING, ERROR).")
    pin_has_app: str = _setting(
        "", "GPIO pin of the \"Đã có Bluezone\" (has the app) button, as gpiozero names it "
            "(GPIO17, BOARD11 or 17); the button connects the pin to ground. Empty: no button.")
    pin_not_yet: str = _setting(
        "", "GPIO pin of the \"Chưa có\" (not yet) button, wired like pin_has_app. Empty: no "
            "button.")
    pin_direction: str = _setting(
        "", "GPIO pin of the in/out button: each press switches the direction of the next "
            "check-ins. Empty: no button (check-ins are arrivals unless the screen says "
            "otherwise).")
    pin_led: str = _setting(
        "", "GPIO pin of the green LED that lights when a check-in is recorded. Empty: no LED.")
    pin_buzzer: str = _setting(
        "", "GPIO pin of the (active) buzzer: one short beep when a check-in is recorded, three "
            "when it is refused. Empty: no buzzer.")
    pin_pir: str = _setting(
        "", "GPIO pin of the PIR motion sensor's digital output: motion wakes the screen and "
            "is counted as footfall in the heartbeat. Empty: no sensor.")
    button_holdoff_seconds: float = _setting(
        0.5, "After a button press is taken, further presses of the same button within this "
             "many seconds are ignored, so a double tap records one check-in.", 0, 10)
    screen_sleep_after_seconds: float = _setting(
        300.0, "With a PIR sensor (pin_pir), the screen goes black and stops playing after "
               "this many seconds without motion or input, never during a check-in; motion, "
               "a button, a key, a scan or a tap wakes it. 0: never sleep. Without a PIR "
               "pin the screen never sleeps.", 0, 86400)
    screen_off_command: tuple[str, ...] = _setting(
        (), "Command (argument list) run in the background when the screen sleeps, e.g. "
            "[\"vcgencmd\", \"display_power\", \"0\"]. Empty: the screen only turns black.")
    screen_on_command: tuple[str, ...] = _setting(
        (), "Command (argument list) run in the background when the screen wakes, e.g. "
            "[\"vcgencmd\", \"display_power\", \"1\"]. Empty: nothing is run.")

    @classmethod
    def help_table(cls) -> list[tuple[str, Any, str]]:
        """(name, default, help) for every setting, in declaration order."""
        return [(f.name, f.default, f.metadata["help"]) for f in fields(cls)]


def default_data_dir(environ: Mapping[str, str], home: Path) -> Path:
    """Where the kiosk keeps its state when ``--data`` is not given (see module docstring)."""
    if environ.get(DATA_ENV):
        return Path(environ[DATA_ENV]).expanduser()
    if SYSTEM_DATA_DIR.is_dir() and os.access(SYSTEM_DATA_DIR, os.W_OK):
        return SYSTEM_DATA_DIR
    xdg = environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else home / ".local" / "share") / "signage-kiosk"


def load(data_dir: Path, environ: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> KioskConfig:
    """Resolve every setting through the four layers; bad values fall back to defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    values.update(_from_file(data_dir / CONFIG_FILE))
    values.update({name: env[ENV_PREFIX + name.upper()] for name in _names()
                   if ENV_PREFIX + name.upper() in env})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = sorted(set(values) - set(_names()))
    if unknown:
        raise ConfigError(f"unknown kiosk setting(s): {', '.join(unknown)}")
    config = KioskConfig()
    for spec in fields(KioskConfig):
        if spec.name in values:
            config = replace(config, **{spec.name: _checked(spec, values[spec.name])})
    return config


def _names() -> list[str]:
    return [f.name for f in fields(KioskConfig)]


def _from_file(path: Path) -> dict[str, Any]:
    """The file layer. Unknown keys are logged and ignored: an old file must not stop a kiosk."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    known = set(_names())
    for key in sorted(set(data) - known):
        log.warning("ignoring unknown setting %r in %s", key, path)
    return {k: v for k, v in data.items() if k in known}


def _checked(spec: Any, raw: Any) -> Any:
    """``raw`` converted to the type of the default and checked against the declared range;
    the default (with a warning) when it cannot be used."""
    default = spec.default
    assert default is not MISSING
    try:
        value = _coerce(raw, default)
    except (TypeError, ValueError) as exc:
        log.warning("setting %s=%r is not usable (%s); using %r", spec.name, raw, exc, default)
        return default
    low, high = spec.metadata["minimum"], spec.metadata["maximum"]
    if isinstance(value, int | float) and not isinstance(value, bool) and (
            (low is not None and value < low) or (high is not None and value > high)):
        clamped = type(default)(min(max(value, low if low is not None else value),
                                    high if high is not None else value))
        log.warning("setting %s=%r is out of range; using %r", spec.name, value, clamped)
        return clamped
    if spec.name == "rotation" and value not in ROTATIONS:
        log.warning("setting rotation=%r is not one of %s; using 0", value, ROTATIONS)
        return 0
    return value


def _coerce(raw: Any, default: Any) -> Any:
    """Environment values are strings; the file gives TOML types. Both become the default's."""
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError("expected true or false")
    if isinstance(default, int):
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError("expected a whole number")
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, str):
        if not isinstance(raw, str):
            raise TypeError("expected text")
        return raw
    if isinstance(default, tuple):
        return _argv(raw)
    return json.loads(raw) if isinstance(raw, str) else raw


def _argv(raw: Any) -> tuple[str, ...]:
    """A command as an argument list: a TOML array, or in the environment a JSON array
    (``["vcgencmd", "display_power", "0"]``) or words split as a shell would (no shell runs)."""
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.lstrip().startswith("[") else shlex.split(raw)
    if not isinstance(raw, list | tuple) or not all(isinstance(arg, str) for arg in raw):
        raise TypeError("expected a list of strings")
    return tuple(raw)


@dataclass(frozen=True)
class DataLayout:
    """Where each piece of the kiosk's state lives inside its data dir (see docs/kiosk.md)."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    @property
    def journal(self) -> Path:
        return self.root / "journal.sqlite"

    @property
    def media(self) -> Path:
        return self.root / "media"

    def ensure(self) -> None:
        """Create the data dir owner-only (0700): it holds the token and the journal."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o700)
            self.media.mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot use data dir {self.root}: {exc}") from exc


@dataclass(frozen=True)
class Credentials:
    """What enrollment gave this kiosk; stored in ``credentials.json`` with mode 0600."""

    server_url: str
    kiosk_id: int
    venue_id: int
    token: str
    server_public_key: str
    presence_secret: str
    #: The broker with this kiosk's own account; empty when the server has no broker.
    mqtt_url: str = ""


def save_credentials(layout: DataLayout, credentials: Credentials) -> None:
    """Write the credentials atomically, readable by the kiosk's user only."""
    layout.ensure()
    target = layout.credentials
    temp = target.with_suffix(".json.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(credentials.__dict__, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, target)
        recovery.fsync_dir(target.parent)  # else a power cut can undo the rename
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc}") from exc


def load_credentials(layout: DataLayout) -> Credentials | None:
    """The stored credentials, or None when the kiosk was never enrolled."""
    try:
        data = json.loads(layout.credentials.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise DamagedCredentials(f"cannot read {layout.credentials}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {layout.credentials}: {exc}") from exc
    try:
        return Credentials(**{f.name: data[f.name] for f in fields(Credentials)
                              if f.name in data or f.default is MISSING})
    except (KeyError, TypeError) as exc:
        raise DamagedCredentials(f"{layout.credentials} is incomplete: {exc}") from exc


class DamagedCredentials(ConfigError):
    """``credentials.json`` is there but is not what enrollment wrote (a power cut, a card
    that corrupts data): only a new enrollment can replace it."""


def recover_credentials(layout: DataLayout, now: float) -> Credentials | None:
    """The stored credentials for ``run``: damaged ones are set aside
    (``credentials.json.corrupt-<time>``, see ``kiosk.recovery``) and the kiosk goes on
    unenrolled, playing what it has, instead of failing at every restart. A temporary file
    left by an enrollment cut short (it holds the token) is removed."""
    layout.credentials.with_suffix(".json.tmp").unlink(missing_ok=True)
    try:
        return load_credentials(layout)
    except DamagedCredentials as exc:
        problem = exc
    try:
        aside = recovery.set_aside(layout.credentials, now)
    except OSError as exc:
        raise ConfigError(f"{problem}; cannot move it aside: {exc}") from exc
    log.error("credentials were unreadable (%s): set aside as %s; this kiosk must be "
              "enrolled again (signage-kiosk enroll)", problem.__cause__ or problem, aside.name)
    return None


def credentials_set_aside(layout: DataLayout) -> list[Path]:
    """Damaged credential files kept for diagnosis, oldest first (``status`` shows them)."""
    return recovery.set_aside_copies(layout.credentials)


def server_url_of(config: KioskConfig, credentials: Credentials | None) -> str:
    """The server to talk to: the configured URL, else the one the kiosk enrolled with."""
    url = config.server_url or (credentials.server_url if credentials else "")
    return url.rstrip("/")
