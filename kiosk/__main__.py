"""``signage-kiosk``: enroll, run and inspect a kiosk.

This is the one place that builds the real adapters (the requests session, the journal, the
media cache, the sync thread, MQTT, the player) and hands them to each other; every other
module receives what it needs. ``run`` imports the player lazily, so ``enroll`` and ``status``
work without pygame or a display.

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
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import requests

from kiosk import config as config_module
from kiosk.cache import MediaCache, disk_free
from kiosk.client import ClockOffset, KioskClient
from kiosk.config import Credentials, DataLayout, KioskConfig
from kiosk.errors import KioskError, RequestRejected
from kiosk.events import PlayRecord, Quit
from kiosk.heartbeat import Device, PlayerView
from kiosk.journal import CHECKIN, PLAY, Journal, PlayWriter, current_boot_id
from kiosk.mqtt import MqttWaker
from kiosk.sync import Sync, SyncSettings
from kiosk.watchdog import Notifier

log = logging.getLogger("kiosk")


def kiosk_version() -> str:
    """The installed distribution's version, sent at enrollment and in heartbeats."""
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
    credentials = config_module.load_credentials(layout)
    facts: dict[str, Any] = {
        "enrolled": credentials is not None,
        "kiosk_id": credentials.kiosk_id if credentials else None,
        "venue_id": credentials.venue_id if credentials else None,
        "server_url": config_module.server_url_of(config, credentials) or None,
        "mqtt": bool(config.mqtt_url or (credentials.mqtt_url if credentials else "")),
        "data_dir": str(layout.root),
        "last_sync_at": None, "manifest_version": None, "clock_offset_s": None,
        "unsynced": {"plays": 0, "checkins": 0}, "rejected": 0,
        "cache_bytes": MediaCache(layout.media, 0).size_bytes(),
    }
    if layout.journal.exists():
        journal = Journal(layout.journal, current_boot_id())
        try:
            stored = journal.last_manifest()
            last_sync = journal.get("last_sync_at")
            counts = journal.unsynced()
            facts.update(
                last_sync_at=_iso(float(last_sync)) if last_sync else None,
                manifest_version=stored[0].get("manifest_version") if stored else None,
                clock_offset_s=journal.clock_offset,
                unsynced={"plays": counts[PLAY], "checkins": counts[CHECKIN]},
                rejected=len(journal.dead_letters()))
        finally:
            journal.close()
    return facts


def _iso(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="seconds")


# -- run --------------------------------------------------------------------------------------

def run(layout: DataLayout, config: KioskConfig, args: argparse.Namespace) -> int:
    """Build every adapter, start sync in the background, play in the foreground."""
    config = config_module.load(layout.root, overrides={
        "screenshot_path": str(args.screenshot) if args.screenshot else None,
        "screenshot_seconds": args.screenshot_every})
    logging.basicConfig(stream=sys.stderr, level=config.log_level.upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    layout.ensure()
    mode = "headless" if args.headless else "windowed" if args.windowed else "fullscreen"
    credentials = config_module.load_credentials(layout)
    events: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    with ExitStack() as stack:
        journal = Journal(layout.journal, current_boot_id())
        stack.callback(journal.close)
        writer = PlayWriter(journal, time.time)
        stack.callback(writer.close)
        # Proof of play is for a server: an unenrolled kiosk would only pile records up.
        on_play = writer.submit if credentials is not None else _ignore
        player = _player(config, mode, events, on_play, credentials)
        stack.enter_context(sync_side(layout, config, credentials, journal, events, player))
        stack.enter_context(_stop_on_signals(stop, events))
        log.info("kiosk %s started (%s)", kiosk_version(), mode)
        player.run(stop=stop, max_seconds=args.max_seconds)
    return 0


def _ignore(_record: PlayRecord) -> None:
    """The ``on_play`` of a kiosk that has no server to report to."""


def _player(config: KioskConfig, mode: str, events: queue.Queue[Any],
            on_play: Callable[[PlayRecord], None], credentials: Credentials | None) -> Any:
    """The pygame player, imported here so that enroll and status never load pygame."""
    from kiosk.display_options import DisplayOptions
    from kiosk.player import Player

    options = DisplayOptions(
        mode=mode, size=(config.screen_width, config.screen_height), rotation=config.rotation,
        screenshot=Path(config.screenshot_path) if config.screenshot_path else None,
        screenshot_every=config.screenshot_seconds)
    secret = base64.b64decode(credentials.presence_secret) if credentials else None
    return Player(options, events, on_play=on_play, clock=time.time,
                  presence_secret=secret,
                  kiosk_id=credentials.kiosk_id if credentials else None,
                  notifier=Notifier())


@contextmanager
def sync_side(layout: DataLayout, config: KioskConfig, credentials: Credentials | None,
              journal: Journal, events: queue.Queue[Any],
              player: PlayerView | None) -> Iterator[Sync | None]:
    """The sync thread and MQTT push for an enrolled kiosk, running for the duration of the
    block; None and nothing running when it is not enrolled (the player then shows its
    built-in default content). The push-latency benchmark runs the same wiring."""
    server = config_module.server_url_of(config, credentials)
    if credentials is None or not server:
        log.warning("not enrolled: playing the default content (run `signage-kiosk enroll`)")
        yield None
        return
    with requests.Session() as session:
        session.headers["User-Agent"] = f"signage-kiosk/{kiosk_version()}"
        client = KioskClient(session, server, credentials.token,
                             config.request_timeout_seconds,
                             clock_offset=ClockOffset(journal.clock_offset))
        cache = MediaCache(layout.media, config.journal_reserve_bytes)
        device = Device(kiosk_version(), layout.root, disk_free)
        sync = Sync(client, journal, cache, events, SyncSettings.from_config(config), device,
                    player=player)
        waker = MqttWaker.from_url(config.mqtt_url or credentials.mqtt_url, sync.wake,
                                   credentials.kiosk_id)
        if waker is not None:
            sync.on_topics(waker.set_topics)
            waker.start()
        sync.start()
        try:
            yield sync
        finally:
            sync.stop()
            if waker is not None:
                waker.stop()


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
