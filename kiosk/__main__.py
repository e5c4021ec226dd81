"""``signage-kiosk``: enroll, run and inspect a kiosk.

This is the one place that builds the real adapters (the requests session, the journal, the
media cache, the sync thread, MQTT, the player) and hands them to each other; every other
module receives what it needs. ``run`` imports the player lazily, so ``enroll`` and ``status``
work without pygame or a display.

Start-up is on the clock (first frame within 2 s, docs/kiosk.md "Start-up"): before the first
frame ``run`` loads only what that frame needs (the journal, the cache, the last good manifest,
pygame and the decoders); HTTP (requests) and MQTT (paho) are imported by the sync thread once
the frame is on screen. A damaged journal or credentials file is set aside (``kiosk.recovery``)
instead of stopping the kiosk.

    signage-kiosk [--data DIR] enroll CODE --server URL [--name NAME] [--json]
    signage-kiosk [--data DIR] run [--windowed | --headless] [--screenshot PNG]
                                   [--screenshot-every SECONDS]
    signage-kiosk [--data DIR] status [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk import config as config_module
from kiosk.cache import MediaCache, disk_free
from kiosk.checkin import Recorder
from kiosk.config import Credentials, DamagedCredentials, DataLayout, KioskConfig
from kiosk.errors import JournalError, KioskError
from kiosk.events import ManifestReady, PlayRecord, Quit
from kiosk.hardware import Hardware, open_hardware
from kiosk.heartbeat import Device, PlayerView
from kiosk.journal import (
    CHECKIN,
    PLAY,
    Journal,
    PlayWriter,
    current_boot_id,
    journal_damage,
    open_journal,
)
from kiosk.recovery import set_aside_copies
from kiosk.sync import FootfallSource, Sync, SyncSettings, last_good_manifest
from kiosk.watchdog import Notifier

log = logging.getLogger("kiosk")


def kiosk_version() -> str:
    """The installed distribution's version, sent at enrollment and in heartbeats."""
    from importlib.metadata import PackageNotFoundError, version  # not before the 1st frame

    try:
        return version("signage-kiosk-system")
    except PackageNotFoundError:
        return "0.0.0"


def parser() -> argparse.ArgumentParser:
    """The command line of DESIGN.md section 4."""
    root = argparse.ArgumentParser(prog="signage-kiosk",
                                   description="Signage and check-in kiosk.")
    root.add_argument("--data", metavar="DIR", type=Path,
                      help="data folder (default: $SIGNAGE_KIOSK_DATA, /var/lib/signage-kiosk "
                           "if writable, else ~/.local/share/signage-kiosk)")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = commands.add_parser("enroll", help="trade a one-time code for this kiosk's keys")
    enroll.add_argument("code", metavar="CODE")
    enroll.add_argument("--server", required=True, metavar="URL",
                        help="the management server, e.g. http://10.0.0.2:5000")
    enroll.add_argument("--name", help="name shown in the admin pages (default: host name)")
    enroll.add_argument("--json", action="store_true", help="print one JSON object")

    run = commands.add_parser("run", help="play the loop and sync in the background")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    mode.add_argument("--headless", action="store_true",
                      help="no display at all (see --screenshot)")
    run.add_argument("--screenshot", metavar="PNG", type=Path,
                     help="keep rewriting this PNG with what the screen shows")
    run.add_argument("--screenshot-every", metavar="SECONDS", type=float,
                     help="seconds between screenshots (default 5)")
    run.add_argument("--max-seconds", type=float, help=argparse.SUPPRESS)  # tests, benches

    status = commands.add_parser("status", help="enrollment, sync and cache state")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status."""
    args = parser().parse_args(argv)
    layout = DataLayout(args.data or config_module.default_data_dir(os.environ, Path.home()))
    try:
        config = config_module.load(layout.root)
        if args.command == "enroll":
            return enroll(layout, config, args.code, args.server, args.name, args.json)
        if args.command == "status":
            return status(layout, config, args.json)
        return run(layout, config, args)
    except KioskError as exc:
        print(f"signage-kiosk: {exc}", file=sys.stderr)
        return 1


# -- enroll -----------------------------------------------------------------------------------

def enroll(layout: DataLayout, config: KioskConfig, code: str, server: str,
           name: str | None, as_json: bool) -> int:
    """Trade the code for credentials and store them owner-only in the data folder."""
    import requests

    from kiosk.client import KioskClient
    from kiosk.errors import RequestRejected

    layout.ensure()
    with requests.Session() as session:
        client = KioskClient(session, server, None, config.request_timeout_seconds)
        try:
            answer = client.enroll(code, name or config.kiosk_name or socket.gethostname(),
                                   kiosk_version())
        except RequestRejected as exc:
            print(f"signage-kiosk: enrollment refused: {exc.message}", file=sys.stderr)
            return 1
    credentials = Credentials(
        server_url=client.base_url, kiosk_id=int(answer["kiosk_id"]),
        venue_id=int(answer["venue_id"]), token=str(answer["token"]),
        server_public_key=str(answer["server_public_key"]),
        presence_secret=str(answer["presence_secret"]),
        mqtt_url=str(answer.get("mqtt_url") or ""))
    config_module.save_credentials(layout, credentials)
    summary = {"kiosk_id": credentials.kiosk_id, "venue_id": credentials.venue_id,
               "server_url": credentials.server_url, "data_dir": str(layout.root)}
    print(json.dumps(summary) if as_json else
          f"enrolled as kiosk {credentials.kiosk_id} of venue {credentials.venue_id} at "
          f"{credentials.server_url}; credentials in {layout.credentials}")
    return 0


# -- status -----------------------------------------------------------------------------------

def status(layout: DataLayout, config: KioskConfig, as_json: bool) -> int:
    """Report without changing anything (a missing journal is not created)."""
    facts = status_facts(layout, config)
    if as_json:
        print(json.dumps(facts, ensure_ascii=False))
        return 0
    for key, value in facts.items():
        print(f"{key:>18}: {value}")
    return 0


def status_facts(layout: DataLayout, config: KioskConfig) -> dict[str, Any]:
    """What ``status`` shows, as one flat dictionary."""
    try:
        credentials = config_module.load_credentials(layout)
        damaged_credentials = False
    except DamagedCredentials:
        credentials, damaged_credentials = None, True
    set_aside = [*config_module.credentials_set_aside(layout), *set_aside_copies(layout.journal)]
    facts: dict[str, Any] = {
        "enrolled": credentials is not None,
        # Credentials that were damaged (and set aside by `run`) cannot be rebuilt here:
        # only a new enrollment code gives the kiosk a token again.
        "must_enroll_again": credentials is None and (
            damaged_credentials or bool(config_module.credentials_set_aside(layout))),
        "kiosk_id": credentials.kiosk_id if credentials else None,
        "venue_id": credentials.venue_id if credentials else None,
        "server_url": config_module.server_url_of(config, credentials) or None,
        "mqtt": bool(config.mqtt_url or (credentials.mqtt_url if credentials else "")),
        "data_dir": str(layout.root),
        "last_sync_at": None, "manifest_version": None, "clock_offset_s": None,
        "unsynced": {"plays": 0, "checkins": 0}, "rejected": 0,
        "cache_bytes": MediaCache(layout.media, 0).size_bytes(),
        "journal_problem": None,
        "set_aside": [path.name for path in set_aside],
    }
    if layout.journal.exists():
        try:
            facts.update(_journal_facts(layout))
        except JournalError as exc:
            facts["journal_problem"] = str(exc)
    return facts


def _journal_facts(layout: DataLayout) -> dict[str, Any]:
    damage = journal_damage(layout.journal)
    if damage is not None:
        return {"journal_problem": f"damaged: {damage} (the next run sets it aside)"}
    journal = Journal(layout.journal, current_boot_id())
    try:
        stored = journal.last_manifest()
        last_sync = journal.get("last_sync_at")
        counts = journal.unsynced()
        return {"last_sync_at": _iso(float(last_sync)) if last_sync else None,
                "manifest_version": stored[0].get("manifest_version") if stored else None,
                "clock_offset_s": journal.clock_offset,
                "unsynced": {"plays": counts[PLAY], "checkins": counts[CHECKIN]},
                "rejected": len(journal.dead_letters())}
    finally:
        journal.close()


def _iso(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="seconds")


# -- run --------------------------------------------------------------------------------------

FIRST_FRAME_WAIT_S = 5.0  # the sync side starts after the first frame, or after this long


def run(layout: DataLayout, config: KioskConfig, args: argparse.Namespace) -> int:
    """Build every adapter, play in the foreground, sync in the background."""
    config = config_module.load(layout.root, overrides={
        "screenshot_path": str(args.screenshot) if args.screenshot else None,
        "screenshot_seconds": args.screenshot_every})
    logging.basicConfig(stream=sys.stderr, level=config.log_level.upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    layout.ensure()
    mode = "headless" if args.headless else "windowed" if args.windowed else "fullscreen"
    credentials = config_module.recover_credentials(layout, time.time())
    events: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    with ExitStack() as stack:
        # First: a stop that comes while the kiosk is still starting (systemd, a test) ends
        # it cleanly, with the journal closed, instead of killing it half-built.
        stack.enter_context(_stop_on_signals(stop, events))
        journal = open_journal(layout.journal, current_boot_id(), time.time())
        stack.callback(journal.close)
        cache = MediaCache(layout.media, config.journal_reserve_bytes)
        restored = _restore(journal, cache, events)
        writer = PlayWriter(journal, time.time)
        stack.callback(writer.close)
        # Proof of play is for a server: an unenrolled kiosk would only pile records up.
        on_play = writer.submit if credentials is not None else _ignore
        notifier = Notifier()
        hardware = open_hardware(config, events.put)  # no pins set: nothing, no gpiozero
        stack.callback(hardware.close)
        recorder = Recorder(journal, credentials.server_public_key if credentials else None)
        player = _player(config, mode, events, on_play, credentials, notifier,
                         recorder=recorder, feedback=hardware)
        stack.enter_context(sync_side(
            layout, config, credentials, journal, events, player, cache=cache,
            restored=restored, notifier=notifier,
            footfall=hardware.footfall if hardware.has_motion_sensor else None))
        log.info("kiosk started (%s)", mode)
        player.run(stop=stop, max_seconds=args.max_seconds)
    return 0


def _restore(journal: Journal, cache: MediaCache,
             events: queue.Queue[Any]) -> tuple[dict[str, Any], str | None] | None:
    """Queue the last good manifest for the player before it picks its first item, so a
    restart plays the programme from the cache, enrolled or not, server up or down."""
    restored = last_good_manifest(journal, cache)
    if restored is not None:
        events.put(ManifestReady(restored[0], cache.resolve))
        log.info("stored manifest %s handed to the player", restored[0].get("manifest_version"))
    return restored


def _ignore(_record: PlayRecord) -> None:
    """The ``on_play`` of a kiosk that has no server to report to."""


def _player(config: KioskConfig, mode: str, events: queue.Queue[Any],
            on_play: Callable[[PlayRecord], None], credentials: Credentials | None,
            notifier: Notifier, *, recorder: Recorder | None = None,
            feedback: Hardware | None = None) -> Any:
    """The pygame player, imported here so that enroll and status never load pygame."""
    from kiosk.display_options import DisplayOptions

    with _absent("pkg_resources"), _absent("numpy"):  # pygame loads both only if present
        from kiosk.player import Player
    from kiosk.screen_power import ScreenSwitch

    options = DisplayOptions(
        mode=mode, size=(config.screen_width, config.screen_height), rotation=config.rotation,
        screenshot=Path(config.screenshot_path) if config.screenshot_path else None,
        screenshot_every=config.screenshot_seconds)
    secret = base64.b64decode(credentials.presence_secret) if credentials else None
    sensor = feedback is not None and feedback.has_motion_sensor  # no PIR: never sleep
    return Player(options, events, on_play=on_play, clock=time.time,
                  presence_secret=secret,
                  kiosk_id=credentials.kiosk_id if credentials else None,
                  notifier=notifier, recorder=recorder, feedback=feedback,
                  sleep_after_s=config.screen_sleep_after_seconds if sensor else None,
                  screen_switch=ScreenSwitch(config.screen_off_command,
                                             config.screen_on_command))


@contextmanager
def _absent(module: str) -> Iterator[None]:
    """Make ``import module`` fail inside the block (unless it is loaded already).

    ``pygame.pkgdata`` imports ``pkg_resources`` when setuptools is installed and falls back
    to its own loader when it is not; the kiosk needs nothing from it, and importing it costs
    0.12-0.16 s of start-up (docs/kiosk.md "Start-up"). Outside the block it is importable
    again, so nothing else in the process loses it."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get(module, 0) is None:
            del sys.modules[module]


@contextmanager
def sync_side(layout: DataLayout, config: KioskConfig, credentials: Credentials | None,
              journal: Journal, events: queue.Queue[Any], player: PlayerView | None, *,
              cache: MediaCache | None = None,
              restored: tuple[dict[str, Any], str | None] | None = None,
              notifier: Notifier | None = None,
              footfall: FootfallSource | None = None) -> Iterator[None]:
    """The background side for the duration of the block, in one thread: once ``notifier``
    says the first frame is on screen (at most ``FIRST_FRAME_WAIT_S`` later), it hashes the
    media files trusted on their stamp (``MediaCache.confirm``), then, for an enrolled kiosk,
    imports HTTP and MQTT and runs the sync loop with MQTT push. An unenrolled kiosk does not
    sync (the player shows the restored or built-in content). ``restored`` is what ``run``
    already handed to the player. The push-latency benchmark runs the same wiring."""
    cache = cache if cache is not None else MediaCache(layout.media,
                                                        config.journal_reserve_bytes)
    server = config_module.server_url_of(config, credentials)
    enrolled = credentials is not None and bool(server)
    if not enrolled:
        log.warning("not enrolled: playing what the cache holds or the default content "
                    "(run `signage-kiosk enroll`)")

    def connect(stack: ExitStack, bad_files: int) -> Sync | None:
        if credentials is None or not enrolled:
            return None
        # A file found bad was deleted: forget the restore, so the first round fetches the
        # manifest and its files again (the player skips the item until then).
        return _connected_sync(stack, layout, config, credentials, server, journal, cache,
                               events, player, None if bad_files else restored,
                               footfall=footfall)

    side = _BackgroundSide(cache, connect, notifier)
    thread = threading.Thread(target=side.run, name="kiosk-sync", daemon=True)
    thread.start()
    try:
        yield None
    finally:
        side.stop()
        thread.join(10.0)


def _connected_sync(stack: ExitStack, layout: DataLayout, config: KioskConfig,
                    credentials: Credentials, server: str, journal: Journal,
                    cache: MediaCache, events: queue.Queue[Any], player: PlayerView | None,
                    restored: tuple[dict[str, Any], str | None] | None, *,
                    footfall: FootfallSource | None = None) -> Sync:
    """The sync loop with its HTTP session and MQTT waker (closed by ``stack``)."""
    import requests

    from kiosk.client import ClockOffset, KioskClient
    from kiosk.mqtt import MqttWaker

    version = kiosk_version()
    session = stack.enter_context(requests.Session())
    session.headers["User-Agent"] = f"signage-kiosk/{version}"
    client = KioskClient(session, server, credentials.token, config.request_timeout_seconds,
                         clock_offset=ClockOffset(journal.clock_offset))
    device = Device(version, layout.root, disk_free)
    sync = Sync(client, journal, cache, events, SyncSettings.from_config(config), device,
                player=player, restored=restored, footfall=footfall)
    waker = MqttWaker.from_url(config.mqtt_url or credentials.mqtt_url, sync.wake,
                               credentials.kiosk_id)
    if waker is not None:
        sync.on_topics(waker.set_topics)
        waker.start()
        stack.callback(waker.stop)
    log.info("kiosk %s syncing with %s", version, server)
    return sync


class _BackgroundSide:
    """What ``sync_side``'s thread does, and how it is stopped at any point of it."""

    def __init__(self, cache: MediaCache, connect: Callable[[ExitStack, int], Sync | None],
                 notifier: Notifier | None) -> None:
        self._cache = cache
        self._connect = connect
        self._notifier = notifier
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sync: Sync | None = None

    def run(self) -> None:
        self._await_first_frame()
        with ExitStack() as stack:
            try:
                bad = 0 if self._stopping.is_set() else self._cache.confirm()
                sync = None if self._stopping.is_set() else self._connect(stack, bad)
            except Exception:  # keep playing: log it, the kiosk runs on without sync
                log.exception("sync side failed to start")
                return
            with self._lock:
                if sync is None or self._stopping.is_set():
                    return
                self._sync = sync
            sync.run()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            sync = self._sync
        if sync is not None:
            sync.stop()

    def _await_first_frame(self) -> None:
        if self._notifier is None:
            return
        deadline = time.monotonic() + FIRST_FRAME_WAIT_S
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if self._notifier.wait_ready(0.05):
                return


@contextmanager
def _stop_on_signals(stop: threading.Event, events: queue.Queue[Any]) -> Iterator[None]:
    """SIGTERM (systemd stopping the service) and SIGINT end the loop cleanly."""

    def handle(_signum: int, _frame: Any) -> None:
        stop.set()
        events.put(Quit())

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
