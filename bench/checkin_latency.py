"""From a button press, and from the end of an ID-card scan, to the confirmation on screen.

One headless kiosk (``kiosk.player.Player``, SDL's dummy driver, the software renderer) plays
the default promo loop while check-ins arrive the way they do at a venue entrance:

- **button**: a gpiozero button on ``MockFactory`` pins (``kiosk.hardware``) is driven low;
  its callback posts ``ButtonPressed``. "Has the app" and "not yet" alternate (the second
  paints the install QR and steps);
- **scan**: the keys of a citizen ID card's QR are posted to pygame's event queue as a USB
  scanner types them (key down + text, 3 ms apart), then Enter.

The time runs from the press (the pin driven) or from Enter, to the moment the first frame of
the confirmation was presented; it includes the Recorder's durable commit (SQLite WAL,
``synchronous=FULL``, the name sealed). The ceiling is the bare commit: one row inserted and
committed in a WAL database with ``synchronous=FULL`` on the same disk, measured in the same
run. Targets: p99 <= 100 ms (scan) and <= 50 ms (button).

    python -m bench checkin_latency -- --presses 200 --scans 200
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ._common import machine, median, percentile, say, table

TARGETS_MS = {"button": 50.0, "scan": 100.0}
NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thu Dung", "Võ Minh Đức",
         "Đặng Quỳnh Giang", "Bùi Thị Hương", "Hồ Ngọc Khánh")
KEY_GAP_S = 0.003
MANIFEST = {"version": "bench", "venue": {"name": "Bến xe Miền Đông",
                                          "timezone": "Asia/Ho_Chi_Minh"},
            "items": [], "checkin": {"privacy_mode": "contact", "retention_days": 21,
                                     "consent_version": 1}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench checkin_latency",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=200, help="button presses to time")
    parser.add_argument("--scans", type=int, default=200, help="ID-card scans to time")
    parser.add_argument("--commits", type=int, default=300, help="bare commits (ceiling)")
    parser.add_argument("--size", default="1920x1080", help="headless screen, WxH")
    parser.add_argument("--quick", action="store_true", help="a few of each (smoke test)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def card(index: int) -> str:
    """A well-formed CCCD QR text (made up: the kiosk keeps only the name of it)."""
    number = f"0012{index:08d}"
    return f"{number}|123456789|{NAMES[index % len(NAMES)]}|01021990|Nam|12 Hàng Bài|05062021"


def bare_commits(folder: Path, count: int) -> list[float]:
    """The ceiling: one small row committed durably, as the journal does, ``count`` times."""
    db = sqlite3.connect(folder / "ceiling.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, uuid TEXT, body BLOB)")
    times = []
    for index in range(count):
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO outbox (uuid, body) VALUES (?, ?)",
                   (f"u{index}", os.urandom(300)))
        db.execute("COMMIT")
        times.append((time.perf_counter() - started) * 1000)
    db.close()
    return times


class TimedRecorder:
    """The real Recorder, with the time each durable ``record`` took written down."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.times_ms: list[float] = []
        self.settings: Any = None

    def use(self, settings: Any) -> None:
        self.recorder.use(settings)
        self.settings = settings

    def record(self, visitor: Any, wall: float) -> Any:
        started = time.perf_counter()
        try:
            return self.recorder.record(visitor, wall)
        finally:
            self.times_ms.append((time.perf_counter() - started) * 1000)


class Kiosk:
    """The player on its own thread, with the journal, the Recorder and mock GPIO pins."""

    def __init__(self, folder: Path, size: tuple[int, int]) -> None:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        from gpiozero.pins.mock import MockFactory
        from nacl.public import PrivateKey

        from kiosk.checkin import Recorder
        from kiosk.display_options import DisplayOptions
        from kiosk.events import ManifestReady
        from kiosk.hardware import Hardware, Pins
        from kiosk.journal import Journal
        from kiosk.player import Player

        self.journal = Journal(folder / "journal.sqlite")
        key = bytes(PrivateKey.generate().public_key)
        self.recorder = TimedRecorder(Recorder(self.journal, key))
        self.events: queue.Queue[Any] = queue.Queue()
        self.factory = MockFactory()
        self.hardware = Hardware(Pins(has_app="GPIO5", not_yet="GPIO6", led="GPIO17",
                                      buzzer="GPIO27"), self.events.put, holdoff_s=0.0,
                                 pin_factory=self.factory)
        self.player = Player(DisplayOptions(mode="headless", size=size), self.events,
                             lambda _: None, recorder=self.recorder, feedback=self.hardware)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.player.run, kwargs={"stop": self.stop},
                                       name="screen")
        self.thread.start()
        self._wait(lambda: self.player.status().first_frame_s is not None, 30)
        self.events.put(ManifestReady(MANIFEST, lambda _: None))

    def ready(self) -> None:
        """Wait until the manifest's check-in settings are in use."""
        self._wait(lambda: self.recorder.settings is not None, 30)

    def _wait(self, condition: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError("the kiosk did not get there in time")
            time.sleep(0.001)

    def confirmed_after(self, previous: tuple[str, float] | None, seconds: float = 5.0
                        ) -> tuple[str, float] | None:
        """The next confirmation shown after ``previous``, or None if none came in time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = self.player.last_confirmation()
            if shown is not None and shown != previous:
                return shown
            time.sleep(0.0005)
        return None

    def press(self, button: str) -> float | None:
        """Drive the button's pin low; ms until its confirmation was on screen."""
        pin = self.factory.pin("GPIO5" if button == "has_app" else "GPIO6")
        before = self.player.last_confirmation()
        pressed = time.monotonic()
        pin.drive_low()
        shown = self.confirmed_after(before)
        pin.drive_high()
        return (shown[1] - pressed) * 1000 if shown else None

    def scan(self, text: str) -> float | None:
        """Type ``text`` as a scanner does, then Enter; ms from Enter to the confirmation."""
        import pygame

        before = self.player.last_confirmation()
        started = time.monotonic()
        for index, char in enumerate(text):
            # A scanner's keys reach the event queue on the device's schedule, whatever this
            # thread's: when it wakes late, the keys that are due go in at once.
            wait = started + index * KEY_GAP_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=0, mod=0, unicode=char,
                                                 scancode=0))
            pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text=char))
        wait = started + len(text) * KEY_GAP_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        enter = time.monotonic()
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0,
                                             unicode="\r", scancode=0))
        shown = self.confirmed_after(before)
        return (shown[1] - enter) * 1000 if shown else None

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.hardware.close()
        self.journal.close()


def figures(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": round(median(values), 2),
            "p99_ms": round(percentile(values, 99), 2), "max_ms": round(max(values), 2)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.presses, args.scans, args.commits = 6, 6, 30
    width, height = (int(v) for v in args.size.lower().split("x"))
    say(f"checkin_latency on {machine()}; load average {os.getloadavg()[0]:.2f} "
        f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; screen {width}x{height} headless")
    rng = random.Random(4)
    results: dict[str, list[float]] = {"button": [], "scan": []}
    missed = {"button": 0, "scan": 0}
    with tempfile.TemporaryDirectory(prefix="checkin-latency-") as name:
        folder = Path(name)
        ceiling = bare_commits(folder, args.commits // 2)
        kiosk = Kiosk(folder, (width, height))
        try:
            kiosk.ready()
            warm_up = [kiosk.press("has_app"), kiosk.scan(card(0))]
            if None in warm_up:
                say(f"the warm-up check-ins were not confirmed: {warm_up}")
                return 1
            plan = ["button"] * args.presses + ["scan"] * args.scans
            rng.shuffle(plan)
            for index, kind in enumerate(plan, start=1):
                time.sleep(rng.uniform(0.03, 0.12))  # any phase of the loop's turn
                if kind == "button":
                    took = kiosk.press("has_app" if index % 2 else "not_yet")
                else:
                    took = kiosk.scan(card(index))
                if took is None:
                    missed[kind] += 1
                    view = kiosk.player.checkin_view()
                    say(f"{kind} {index} not confirmed; the screen shows "
                        f"{type(view).__name__}: {getattr(view, 'en', '')}")
                else:
                    results[kind].append(took)
            record_ms = kiosk.recorder.times_ms[2:]
        finally:
            kiosk.close()
        ceiling += bare_commits_again(folder, args.commits - args.commits // 2)
    load = os.getloadavg()
    base = figures(ceiling)
    rows: list[tuple[object, ...]] = []
    report: dict[str, Any] = {"ceiling_commit": base, "record": figures(record_ms),
                        "load_average": [round(v, 2) for v in load]}
    for kind in ("button", "scan"):
        if not results[kind]:
            say(f"{kind}: no confirmation came back")
            return 1
        got = figures(results[kind])
        got["missed"] = missed[kind]
        got["ratio_p99_to_ceiling_p99"] = round(got["p99_ms"] / base["p99_ms"], 1)
        got["target_p99_ms"] = TARGETS_MS[kind]
        report[kind] = got
        rows.append((kind, got["n"], got["p50_ms"], got["p99_ms"], got["max_ms"],
                     TARGETS_MS[kind], got["ratio_p99_to_ceiling_p99"], missed[kind]))
    rows.append(("record() (commit, sealed)", report["record"]["n"], report["record"]["p50_ms"],
                 report["record"]["p99_ms"], report["record"]["max_ms"], "", "", ""))
    rows.append(("ceiling: bare fsync'd commit", base["n"], base["p50_ms"], base["p99_ms"],
                 base["max_ms"], "", 1.0, ""))
    say(table(rows, ("to the confirmation frame", "n", "p50 ms", "p99 ms", "max ms",
                     "target p99", "p99 / ceiling p99", "missed")))
    verdicts = [f"{kind} p99 {report[kind]['p99_ms']} ms "
                f"{'<=' if report[kind]['p99_ms'] <= TARGETS_MS[kind] else '>'} "
                f"{TARGETS_MS[kind]:g} ms" for kind in ("button", "scan")]
    say("targets: " + "; ".join(verdicts) + f"; load average at the end {load[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if not any(missed.values()) else 1


def bare_commits_again(folder: Path, count: int) -> list[float]:
    """The ceiling again after the kiosk ran (a fresh file), so that both ends of the run
    count: the disk's pace can change while other work shares it."""
    sub = folder / "after"
    sub.mkdir(exist_ok=True)
    return bare_commits(sub, count)
