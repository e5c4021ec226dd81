"""Push latency: from publishing a playlist change on the server to the kiosk having applied it.

The server is the real one under gunicorn, set up with its own CLI (``db upgrade``, ``venue
add``, ``kiosk add``) on a scratch SQLite instance; the kiosk is enrolled with
``signage-kiosk enroll`` and runs its real sync side (``kiosk.__main__.sync_side``: requests
session, journal, media cache, sync thread and, when configured, MQTT on the local Mosquitto).
In place of the screen, a thread takes the kiosk's events and notes when each ``ManifestReady``
arrives: that is the moment the kiosk has fetched the manifest, downloaded and verified every
new file, and handed the manifest to the player ("applied"; the player switches at its next
item boundary, and the heartbeat sent right then reports the new version to the server).

Each trial uploads a new poster to the library (not timed: an editor uploads before
publishing), then, after a random pause so trials do not lock onto the poll timer, starts the
clock and publishes the playlist change as the admin pages do (``playlists.replace_items`` and
``playlists.publish``, which commits and pushes on MQTT), and stops it when the kiosk's
``ManifestReady`` names the new poster.

Targets (DESIGN.md section 8): p95 <= 5 s with MQTT; p95 <= the poll interval without. The
kiosk draws each wait from 80 to 100 % of the interval (``kiosk.backoff.poll_delay``), so the
wait for the next poll is at most one interval (its 95th percentile is about 0.87 of it) plus
the time to fetch the manifest and the new poster.

    python -m bench push_latency -- --help
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import Gunicorn, Instance, machine, percentile, say, table, temp_folder

SERVER_APP = "signage_server:create_app()"
BROKER = "mqtt://127.0.0.1:1883"
TARGET_MQTT_S = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench push_latency",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="changes published per mode")
    parser.add_argument("--poll-seconds", type=int, default=5,
                        help="the server's poll interval for kiosks (default 5 s, so the "
                             "mode without MQTT finishes in minutes; the target scales)")
    parser.add_argument("--mode", choices=("mqtt", "poll", "both"), default="both")
    parser.add_argument("--quick", action="store_true",
                        help="3 trials and a 2 s poll interval: checks the benchmark works")
    parser.add_argument("--json", dest="json_out", metavar="FILE",
                        help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.poll_seconds = 3, 2
    return args


@dataclass
class Arrivals:
    """The kiosk's ``ManifestReady`` events, stamped on the monotonic clock as they arrive."""

    events: queue.Queue[Any]

    def __post_init__(self) -> None:
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self._changed = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._take, name="bench-screen", daemon=True)
        self._thread.start()

    def _take(self) -> None:
        from kiosk.events import ManifestReady

        while not self._stop:
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(event, ManifestReady):
                with self._changed:
                    self.seen.append((time.monotonic(), event.manifest))
                    self._changed.notify_all()

    def wait_for(self, sha256: str, timeout: float) -> float | None:
        """When a manifest naming ``sha256`` arrived (monotonic), or None after ``timeout``."""
        def found() -> float | None:
            for at, manifest in self.seen:
                items = (manifest.get("playlist") or {}).get("items") or []
                if any(item.get("sha256") == sha256 for item in items):
                    return at
            return None

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
            return found()

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)


def poster(rng: random.Random) -> bytes:
    """A fresh 640 x 360 poster, different every time (about 40 KB of PNG)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 360), tuple(rng.randrange(256) for _ in range(3)))
    noise = Image.frombytes("L", (200, 200), rng.randbytes(200 * 200))
    image.paste(noise, (20, 20))
    ImageDraw.Draw(image).text((260, 160), f"Bluezone {rng.random():.6f}", fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Editor:
    """Changes the programme the way the admin pages do, from this process, on the same
    instance the gunicorn workers serve."""

    def __init__(self, instance: Path, settings: dict[str, Any], venue_id: int) -> None:
        from signage_server import create_app, playlists
        from signage_server.extensions import db

        self.app = create_app(settings, instance_path=instance)
        self.venue_id = venue_id
        with self.app.app_context():
            playlist = playlists.create("Push latency", [self._text("start")])
            playlists.assign(playlist.id, venue_id=venue_id)
            playlists.publish([venue_id])
            self.playlist_id = int(playlist.id)
            db.session.remove()

    @staticmethod
    def _text(title: str) -> Any:
        from signage_server import playlists

        return playlists.ItemSpec("text", data={"title_vi": title, "lines_vi": ["…"]})

    def upload(self, data: bytes) -> str:
        from signage_server import library
        from signage_server.extensions import db

        with self.app.app_context():
            asset, _ = library.add(io.BytesIO(data), "poster.png")
            db.session.commit()
            return str(asset.sha256)

    def publish(self, sha256: str) -> None:
        """The timed part: the change, its commit, and the MQTT push."""
        from signage_server import playlists
        from signage_server.extensions import db

        with self.app.app_context():
            playlists.replace_items(self.playlist_id, [
                playlists.ItemSpec("image", media_sha256=sha256, duration_s=10.0),
                self._text(sha256[:8])])
            playlists.publish([self.venue_id])
            db.session.remove()

    def close(self) -> None:
        from signage_server.extensions import db

        with self.app.app_context():
            db.engine.dispose()


@contextmanager
def kiosk(data: Path, server_url: str, code: str, mqtt_url: str) -> Iterator[Arrivals]:
    """An enrolled kiosk's sync side, with a stand-in screen that stamps arrivals."""
    from kiosk import config as kiosk_config
    from kiosk.__main__ import main as kiosk_main
    from kiosk.__main__ import sync_side
    from kiosk.config import DataLayout
    from kiosk.journal import Journal

    with redirect_stdout(io.StringIO()):
        if kiosk_main(["--data", str(data), "enroll", code, "--server", server_url]) != 0:
            raise RuntimeError("kiosk enrollment failed")
    layout = DataLayout(data)
    config = kiosk_config.load(data, environ={}, overrides={"mqtt_url": mqtt_url})
    credentials = kiosk_config.load_credentials(layout)
    journal = Journal(layout.journal)
    events: queue.Queue[Any] = queue.Queue()
    arrivals = Arrivals(events)
    try:
        with sync_side(layout, config, credentials, journal, events, player=None):
            yield arrivals
    finally:
        arrivals.close()
        journal.close()


def run_mode(mode: str, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Set up a server and a kiosk, publish ``args.trials`` changes, time each one."""
    use_mqtt = mode == "mqtt"
    prefix = f"bench{os.getpid()}{mode}"
    with temp_folder("bench-push-") as tmp:
        instance = Instance(tmp / "instance", None)
        instance.upgrade()
        venue_id = instance.add_venue()
        _, code = instance.add_kiosk(venue_id)
        server = Gunicorn(SERVER_APP, env={}, log_dir=tmp, workers=2)
        # gunicorn picks its port when it starts, so the manifest cannot name it: an empty
        # PUBLIC_URL gives relative media URLs (/media/<sha256>), which the kiosk resolves
        # against the server it talks to.
        settings = {"MQTT_URL": BROKER if use_mqtt else "", "MQTT_TOPIC_PREFIX": prefix,
                    "MANIFEST_POLL_SECONDS": args.poll_seconds, "PUBLIC_URL": "",
                    "LOG_LEVEL": "WARNING"}
        server.env = {**instance.env, **{f"SIGNAGE_{k}": str(v) for k, v in settings.items()}}
        editor = Editor(instance.folder, settings, venue_id)
        latencies: list[float] = []
        misses = 0
        try:
            with server, kiosk(tmp / "kiosk", server.url, code,
                               BROKER if use_mqtt else "") as arrivals:
                first = editor.upload(poster(rng))
                editor.publish(first)
                if arrivals.wait_for(first, args.poll_seconds * 3 + 10) is None:
                    raise RuntimeError("the kiosk never received the first playlist")
                time.sleep(1.0 if use_mqtt else 0.0)  # MQTT subscriptions settle
                for trial in range(args.trials):
                    sha = editor.upload(poster(rng))
                    pause = rng.uniform(0.2, 1.0) if use_mqtt else \
                        rng.uniform(0, args.poll_seconds)
                    time.sleep(pause)
                    started = time.monotonic()
                    editor.publish(sha)
                    arrived = arrivals.wait_for(sha, args.poll_seconds * 2 + 30)
                    if arrived is None:
                        misses += 1
                        say(f"  {mode} trial {trial + 1}: not applied within the wait")
                        continue
                    latencies.append(arrived - started)
        finally:
            editor.close()
    target = TARGET_MQTT_S if use_mqtt else float(args.poll_seconds)
    p95 = percentile(latencies, 95)
    return {"mode": mode, "trials": args.trials, "applied": len(latencies), "missed": misses,
            "p50_s": percentile(latencies, 50), "p95_s": p95,
            "max_s": max(latencies) if latencies else float("nan"),
            "target_p95_s": target, "ratio": p95 / target,
            "ok": misses == 0 and p95 <= target, "latencies_s": latencies}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # paho's one-shot publish helper (the server's push) logs a spurious "not connected"
    # error after each clean disconnect; it is noise here.
    logging.getLogger("paho.mqtt.client").setLevel(logging.CRITICAL)
    say("push_latency: publish a playlist change on the server, time until the kiosk applied "
        "it")
    say(machine())
    say(f"{args.trials} trials per mode; server poll interval {args.poll_seconds} s "
        "(each wait 80-100 % of it); MQTT broker " + BROKER)
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    modes = ["mqtt", "poll"] if args.mode == "both" else [args.mode]
    results = [run_mode(mode, args, rng) for mode in modes]
    rows = [[r["mode"], f"{r['applied']}/{r['trials']}", f"{r['p50_s'] * 1000:.0f} ms",
             f"{r['p95_s'] * 1000:.0f} ms", f"{r['max_s'] * 1000:.0f} ms",
             f"{r['target_p95_s']:g} s", f"{r['ratio']:.3f}", "ok" if r["ok"] else "MISSED"]
            for r in results]
    say(table(rows, ["mode", "applied", "p50", "p95", "max", "target p95", "p95/target",
                     "verdict"]))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
