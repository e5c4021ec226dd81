"""The check-in reliability harness (issue 4), shared by tests/e2e/test_e2e_checkin_reliability.py
and ``python -m bench checkin_kill_soak``.

Real processes on 127.0.0.1 only: ``signage-server run`` (``power_cut.Server``: an instance
set up with the server's CLI; here its venue records personal data), a kiosk enrolled with
``signage-kiosk enroll`` and run by ``checkin_driver.py`` (``signage-kiosk run --headless``
plus a stdin thread that records check-ins through ``kiosk.checkin.Recorder``).

``kills()``: check-ins (button presses, ID card scans, staff records) are recorded one after
the other; after a random number of confirmations plus a random few milliseconds (so the kill
often lands inside a ``record``: sealing, the commit, its fsync), the kiosk gets SIGKILL, is
restarted, and the visitors whose check-in was not confirmed press again (a new attempt). The
sync thread runs all along with the server up, so kills also land in uploads and settles. At
the end the kiosk runs until its outbox is empty. The rule checked:

- every check-in confirmed on screen is on the server exactly once (none lost, none twice);
- anything else on the server was committed by the kiosk but killed before its confirmation
  was printed: only the attempt in flight when a kill came (at most one per kill), never an
  attempt that was not made, never two records of one attempt;
- the journal passes ``PRAGMA integrity_check`` after every kill; no record is dead-lettered.

Each attempt gets its own device time (``WALL_STEP`` apart): the client UUID is a UUIDv7 of
that time, so every record on the server names the attempt it came from.

``week_offline()``: the server is stopped (its port closed); 50,000 check-ins stamped over
the past week (the time is injected at the leaf: ``Recorder.record``'s ``wall``) are recorded
while the player keeps drawing; the server comes back; everything syncs in batches no bigger
than the kiosk's batch size (the server stamps one ``received_at`` per request, so the sizes
it saw are read from its table), none twice, the outbox empties, and the sealed personal
fields of the acknowledged records are gone from the journal's files (bytes, not just rows).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from power_cut import (
    REPO,
    Server,
    _script,
    clean_env,
    end_process,
    integrity,
    look,
    opened_copy,
)

DRIVER = Path(__file__).with_name("checkin_driver.py")
WALL_STEP = 0.01  # device seconds between two attempts' stamps
KINDS = ("button", "button", "scan", "staff")  # a busy entrance: mostly buttons
ANSWERS = ("CONFIRMED", "REFUSED")  # the driver's answer to one check-in


# ----------------------------------------------------------------------------------------------
# the server, with a venue that keeps names


class CheckinServer(Server):
    """``power_cut.Server`` whose venue records personal data (``privacy``)."""

    def __init__(self, folder: Path, privacy: str) -> None:
        super().__init__(folder)
        self.privacy = privacy
        self.set_public_url(self.url)

    def setup(self) -> None:
        super().setup()
        from signage_server.extensions import db
        from signage_server.models import Venue

        with self._editor().app_context():  # what the venue page does
            venue = db.session.get(Venue, self.venue_id)
            venue.privacy_mode = self.privacy
            db.session.commit()
            db.session.remove()
        self.close_editor()

    def checkins(self) -> list[tuple[str, str | None, str, str]]:
        """(client_uuid, name, method, received_at) of every check-in of the kiosk."""
        database = self.folder / "signage.sqlite"
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("SELECT client_uuid, name, method, received_at FROM checkin "
                                "WHERE kiosk_id = ?", (self.kiosk_id,)).fetchall()
        finally:
            conn.close()
        return [(str(uuid.UUID(str(u))), name, method, str(received))
                for u, name, method, received in rows]


def enroll(data: Path, server: Server, env: dict[str, str]) -> None:
    done = subprocess.run(
        [*_script("signage-kiosk"), "--data", str(data), "enroll", server.code, "--server",
         server.url, "--json"], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=120, check=False)
    if done.returncode:
        raise RuntimeError(f"enrollment failed: {done.stderr[-2000:]}")


# ----------------------------------------------------------------------------------------------
# the kiosk, driven


class DriverProcess:
    """``checkin_driver.py --data DIR run --headless``; stdout lines collected as they come,
    stderr (the kiosk's log) appended to a file."""

    def __init__(self, data: Path, log: Path, env: dict[str, str], screenshot: Path,
                 screenshot_every: float = 0.5) -> None:
        self.data, self.log, self.env = data, log, env
        self.screenshot, self.screenshot_every = screenshot, screenshot_every
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self.lines = []
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(DRIVER), "--data", str(self.data), "run", "--headless",
                 "--screenshot", str(self.screenshot), "--screenshot-every",
                 str(self.screenshot_every)],
                env=self.env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=log, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True,
                                        name="checkin-driver-out")
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def send(self, *commands: str) -> bool:
        """Write commands; False when the process is gone (killed)."""
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write("".join(f"{c}\n" for c in commands))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def wait_for(self, prefix: str | tuple[str, ...], timeout: float,
                 count: int = 1) -> list[str]:
        """The first ``count`` lines starting with ``prefix``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                found = [line for line in self.lines if line.startswith(prefix)]
                errors = [line for line in self.lines if line.startswith("DRIVER-ERROR")]
                if errors:
                    raise RuntimeError(f"{errors[0]}\n{self.log_tail()}")
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.process is not None and self.process.poll() is not None
                                 and not self._reader_alive()):
                    raise RuntimeError(f"no {count} line(s) {prefix!r} within {timeout:.0f} s; "
                                       f"got {self.lines[-5:]}\n{self.log_tail()}")
                self._seen.wait(min(left, 0.5))

    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def count(self, prefix: str) -> int:
        with self._seen:
            return sum(1 for line in self.lines if line.startswith(prefix))

    def stop(self, sig: int) -> int | None:
        process, self.process = self.process, None
        return end_process(process, sig, self._reader, wait_s=30, join_s=10)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


def kiosk_env(backoff_cap_s: float) -> dict[str, str]:
    env = clean_env()
    env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy",
               SIGNAGE_KIOSK_BACKOFF_BASE_SECONDS="0.5",
               SIGNAGE_KIOSK_BACKOFF_CAP_SECONDS=str(backoff_cap_s),
               SIGNAGE_KIOSK_HEARTBEAT_SCREENSHOT="false", PYTHONUNBUFFERED="1")
    return env


# ----------------------------------------------------------------------------------------------
# reading the journal from outside


@dataclass(frozen=True)
class JournalLook:
    verdict: str
    checkins: frozenset[str]  # client UUIDs of check-ins waiting in the outbox
    plays: int
    dead_letters: int


def read_journal(journal: Path, scratch: Path) -> JournalLook:
    """``PRAGMA integrity_check`` and the outbox, on a copy of the journal and its WAL as the
    next start will open them (``power_cut.opened_copy``: nothing in the kiosk's folder
    changes)."""
    if not journal.exists():
        return JournalLook("ok", frozenset(), 0, 0)
    try:
        with opened_copy(journal, scratch) as conn:
            verdict, tables = integrity(conn)
            if "outbox" not in tables:
                return JournalLook(verdict, frozenset(), 0, 0)
            checkins = frozenset(str(uuid.UUID(r[0])) for r in conn.execute(
                "SELECT client_uuid FROM outbox WHERE kind = 'checkin'"))
            plays = conn.execute("SELECT count(*) FROM outbox WHERE kind = 'play'").fetchone()[0]
            dead = conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0]
    except (sqlite3.Error, ValueError) as exc:
        return JournalLook(f"{type(exc).__name__}: {exc}", frozenset(), 0, 0)
    return JournalLook(verdict, checkins, int(plays), int(dead))


def queued_checkins(journal: Path) -> int:
    """Check-ins waiting in the outbox, read from the live journal (a WAL reader blocks no
    writer; cheaper than ``read_journal``'s copy while the kiosk runs)."""
    try:
        conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
        try:
            return int(conn.execute("SELECT count(*) FROM outbox WHERE kind = 'checkin'")
                       .fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def uuid_millis(client_uuid: str) -> int:
    """The unix milliseconds a UUIDv7 was made for."""
    return uuid.UUID(client_uuid).int >> 80


def wait_until(done: Callable[[], bool], timeout: float, poll: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(poll)
    return done()


# ----------------------------------------------------------------------------------------------
# SIGKILL while recording


@dataclass
class KillSettings:
    checkins: int = 2_000  # confirmed check-ins to reach
    seed: int = 7
    min_per_run: int = 40  # confirmations before a kill is armed
    max_per_run: int = 400
    kill_jitter_s: float = 0.008  # after the armed confirmation: inside the next record()
    final_timeout_s: float = 120.0
    log: Callable[[str], None] = field(default=lambda _line: None)


@dataclass
class KillReport:
    settings: KillSettings
    kills: int = 0
    attempts: int = 0
    confirmed: dict[int, str] = field(default_factory=dict)  # attempt -> client UUID
    kinds: Counter[str] = field(default_factory=Counter)
    path: str = ""  # how check-ins were put in: "player" or "recorder" (checkin_driver.py)
    in_flight: list[int] = field(default_factory=list)  # the unconfirmed attempt of each kill
    runs: list[tuple[float, float, bool]] = field(default_factory=list)  # walls, killed
    resends: int = 0  # outbox rows after a kill that the server already had (killed mid-settle)
    committed_unshown: list[int] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    server_total: int = 0
    server_distinct: int = 0
    lost: list[int] = field(default_factory=list)
    twice: list[int] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    dead_letters: int = 0
    outbox_left: int = 0
    problems: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    final_sync_s: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {"seed": self.settings.seed, "path": self.path, "kills": self.kills,
                "commands_queued": self.attempts,  # most never ran: a kill came first
                "confirmed": len(self.confirmed), "kinds": dict(self.kinds),
                "committed_but_not_confirmed": len(self.committed_unshown),
                "acknowledged_but_unsettled_at_a_kill": self.resends,
                "server_total": self.server_total, "server_distinct": self.server_distinct,
                "lost": len(self.lost), "twice": len(self.twice),
                "unexplained": len(self.unexplained), "dead_letters": self.dead_letters,
                "outbox_left": self.outbox_left, "integrity_failures": len(self.integrity),
                "final_sync_s": round(self.final_sync_s, 1), "wall_s": round(self.wall_s, 1),
                "problems": self.problems}


class KillRun:
    """Server up, kiosk recording and killed again and again (see the module's docstring)."""

    def __init__(self, settings: KillSettings, work: Path) -> None:
        self.settings = settings
        self.work = work
        self.rng = random.Random(settings.seed)
        self.report = KillReport(settings)
        self.server = CheckinServer(work / "instance", "full")
        self.data = work / "kiosk"
        env = kiosk_env(2.0)  # a small screen: 2,000 confirmation frames drawn in software
        env.update(SIGNAGE_KIOSK_SCREEN_WIDTH="640", SIGNAGE_KIOSK_SCREEN_HEIGHT="360")
        self.kiosk = DriverProcess(self.data, work / "kiosk.log", env,
                                   work / "screen" / "kiosk.png", screenshot_every=5.0)
        self.base = time.time() - 3600.0  # attempts are stamped in the past hour

    def close(self) -> None:
        self.kiosk.stop(signal.SIGKILL)
        self.server.stop()
        self.server.close_editor()

    def wall(self, attempt: int) -> float:
        return self.base + attempt * WALL_STEP

    def attempt_of(self, client_uuid: str) -> int:
        return round((uuid_millis(client_uuid) / 1000 - self.base) / WALL_STEP)

    def run(self) -> KillReport:
        started = time.monotonic()
        self.server.setup()
        self.server.start()
        (self.work / "screen").mkdir(parents=True, exist_ok=True)
        enroll(self.data, self.server, self.kiosk.env)
        waiting: list[str] = []  # visitors not confirmed yet: they press again
        number = 0
        while len(self.report.confirmed) < self.settings.checkins:
            need = self.settings.checkins - len(self.report.confirmed)
            while len(waiting) < need:
                waiting.append(KINDS[number % len(KINDS)])
                number += 1
            waiting = self.one_run(waiting)
        self.final()
        self.report.wall_s = time.monotonic() - started
        return self.report

    def one_run(self, waiting: list[str]) -> list[str]:
        """Start the kiosk, record ``waiting`` until the kill; who still waits afterwards."""
        report, kiosk = self.report, self.kiosk
        kiosk.start()
        report.path = kiosk.wait_for("READY", 120)[0].split()[1]
        kiosk.send("settings")
        kiosk.wait_for("SETTINGS", 120)
        first = report.attempts
        began = time.time()
        commands = [f"record {first + i} {self.wall(first + i):.6f} {kind}"
                    for i, kind in enumerate(waiting)]
        report.attempts += len(waiting)
        arm = self.rng.randint(self.settings.min_per_run, self.settings.max_per_run)
        last_run = arm >= len(waiting)
        writer = threading.Thread(target=self._feed, args=(commands,), daemon=True)
        writer.start()
        if last_run:
            kiosk.wait_for(ANSWERS, 300, len(waiting))
        else:
            kiosk.wait_for(ANSWERS, 300, arm)
            time.sleep(self.rng.uniform(0, self.settings.kill_jitter_s))
            kiosk.stop(signal.SIGKILL)
            report.kills += 1
        writer.join(30)
        if report.path == "player":  # the player stamps with the device's own clock
            report.runs.append((began, time.time(), not last_run))
        else:
            report.runs.append((self.wall(first), self.wall(report.attempts), not last_run))
        confirmed = {int(line.split()[1]): line.split()[2] for line in kiosk.lines
                     if line.startswith("CONFIRMED")}
        report.problems.extend(f"{line} ({waiting[int(line.split()[1]) - first]})"
                               for line in kiosk.lines if line.startswith("REFUSED"))
        for attempt, client_uuid in confirmed.items():
            report.confirmed[attempt] = client_uuid
            report.kinds[waiting[attempt - first]] += 1
        left = [kind for i, kind in enumerate(waiting) if first + i not in confirmed]
        if not last_run:
            report.in_flight.append(first + len(confirmed))
            look_after = read_journal(self.data / "journal.sqlite", self.work / "scratch")
            if look_after.verdict != "ok":
                report.integrity.append(f"after kill {report.kills}: {look_after.verdict}")
            report.resends += len(look_after.checkins & {u for u, _, _, _ in
                                                         self.server.checkins()})
            self.settings.log(f"kill {report.kills}: {len(confirmed)} confirmed of "
                              f"{len(waiting)} sent, outbox {len(look_after.checkins)} "
                              f"check-ins")
        else:
            kiosk.stop(signal.SIGTERM)
        return left

    def _feed(self, commands: list[str]) -> None:
        for start in range(0, len(commands), 200):
            if not self.kiosk.send(*commands[start:start + 200]):
                return

    def final(self) -> None:
        """The kiosk runs, with the server up, until its outbox is empty; then the checks."""
        report, kiosk = self.report, self.kiosk
        journal = self.data / "journal.sqlite"
        began = time.monotonic()
        kiosk.start()
        kiosk.wait_for("READY", 120)
        empty = wait_until(lambda: queued_checkins(journal) == 0,
                           self.settings.final_timeout_s, 0.25)
        report.final_sync_s = time.monotonic() - began
        code = kiosk.stop(signal.SIGTERM)
        if code != 0:
            report.problems.append(f"SIGTERM ended the kiosk with status {code}")
        if not empty:
            report.problems.append("the outbox did not empty in the final run")
        after = read_journal(journal, self.work / "scratch")
        report.outbox_left, report.dead_letters = len(after.checkins), after.dead_letters
        if after.verdict != "ok":
            report.integrity.append(f"at the end: {after.verdict}")
        rows = self.server.checkins()
        uuids = [u for u, _, _, _ in rows]
        report.server_total, report.server_distinct = len(uuids), len(set(uuids))
        on_server = set(uuids)
        report.lost = sorted(a for a, u in report.confirmed.items() if u not in on_server)
        if report.path == "recorder":  # each attempt had its own stamp: one record at most
            per_attempt = Counter(self.attempt_of(u) for u in uuids)
            report.twice = sorted(a for a, n in per_attempt.items() if n > 1)
        self.explain(on_server - set(report.confirmed.values()))
        for what, bad in (("confirmed check-in(s) lost", report.lost),
                          ("attempt(s) on the server twice", report.twice),
                          ("record(s) on the server from no in-flight attempt",
                           report.unexplained),
                          ("journal integrity failure(s)", report.integrity)):
            if bad:
                report.problems.append(f"{len(bad)} {what}: {bad[:5]}")
        if report.server_total != report.server_distinct:
            report.problems.append("a client UUID twice on the server")
        if report.dead_letters:
            report.problems.append(f"{report.dead_letters} dead letter(s)")
        self.settings.log(f"final: outbox empty after {report.final_sync_s:.1f} s; server "
                          f"{report.server_total} check-ins, {len(report.confirmed)} confirmed, "
                          f"{len(report.committed_unshown)} committed but not confirmed")


    def explain(self, unconfirmed: set[str]) -> None:
        """Records on the server that were never confirmed: each must come from a killed run
        (by its UUIDv7's time), at most one per kill (the check-in in flight), and on the
        recorder path be exactly that run's in-flight attempt."""
        report = self.report
        per_run: Counter[int] = Counter()
        in_flight = set(report.in_flight)
        for client_uuid in sorted(unconfirmed):
            at = uuid_millis(client_uuid) / 1000
            run = next((i for i, (lo, hi, killed) in enumerate(report.runs)
                        if killed and lo - 0.002 <= at <= hi + 0.002), None)
            attempt = self.attempt_of(client_uuid)
            if run is None or (report.path == "recorder" and attempt not in in_flight):
                report.unexplained.append(f"{client_uuid} (attempt {attempt}, run {run})")
                continue
            per_run[run] += 1
            report.committed_unshown.append(attempt)
        report.twice.extend(-run - 1 for run, n in per_run.items() if n > 1)


@contextlib.contextmanager
def kill_run(settings: KillSettings, work: Path) -> Iterator[KillRun]:
    run = KillRun(settings, work)
    try:
        yield run
    finally:
        run.close()


# ----------------------------------------------------------------------------------------------
# a week offline


@dataclass
class WeekReport:
    records: int = 0
    fill_s: float = 0.0
    frames_before: int = 0
    frames_after: int = 0
    items_after: int = 0
    playing_screenshot: bool = False
    queued: int = 0
    sync_s: float = 0.0
    server_total: int = 0
    server_distinct: int = 0
    named_on_server: int = 0
    request_sizes: list[int] = field(default_factory=list)
    batch_size: int = 0
    server_cap: int = 0
    outbox_left: int = 0
    plays_left: int = 0
    dead_letters: int = 0
    sealed_bytes_left: int = 0
    sealed_sampled: int = 0
    stop_code: int | None = None
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        sizes = self.request_sizes
        return {"records": self.records, "fill_s": round(self.fill_s, 1),
                "fill_per_s": round(self.records / self.fill_s) if self.fill_s else None,
                "frames_drawn_while_filling": self.frames_after - self.frames_before,
                "items_shown": self.items_after, "playing_screenshot": self.playing_screenshot,
                "sync_s": round(self.sync_s, 1), "server_total": self.server_total,
                "server_distinct": self.server_distinct, "named": self.named_on_server,
                "requests": len(sizes), "largest_request": max(sizes) if sizes else 0,
                "batch_size": self.batch_size, "server_cap": self.server_cap,
                "outbox_left": self.outbox_left, "plays_left": self.plays_left,
                "dead_letters": self.dead_letters,
                "sealed_boxes_still_in_journal_files": self.sealed_bytes_left,
                "sealed_boxes_sampled": self.sealed_sampled, "problems": self.problems}


def sealed_sample(journal: Path, scratch: Path, count: int) -> list[bytes]:
    """Some sealed boxes (base64, as stored) from a copy of the outbox."""
    with opened_copy(journal, scratch) as conn:
        rows = conn.execute("SELECT json_extract(payload, '$.sealed') FROM outbox WHERE "
                            "kind = 'checkin' AND json_extract(payload, '$.sealed') IS NOT "
                            "NULL ORDER BY random() LIMIT ?", (count,)).fetchall()
    return [str(r[0]).encode() for r in rows]


def bytes_left(folder: Path, needles: list[bytes]) -> int:
    """How many of ``needles`` still appear in the journal's files (database, WAL, index)."""
    blobs = [p.read_bytes() for p in folder.glob("journal.sqlite*") if p.is_file()]
    return sum(1 for needle in needles if any(needle in blob for blob in blobs))


def week_offline(work: Path, data_root: Path, records: int = 50_000,
                 sync_timeout_s: float = 240.0,
                 log: Callable[[str], None] = lambda _line: None) -> WeekReport:
    """See the module's docstring. ``data_root`` holds the kiosk's data folder (tmpfs makes
    the fill's one-fsync-per-record cheap; nothing else differs)."""
    report = WeekReport(records=records)
    server = CheckinServer(work / "instance", "contact")
    data = data_root / "kiosk"
    screenshot = work / "screen" / "kiosk.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    kiosk = DriverProcess(data, work / "kiosk.log", kiosk_env(3.0), screenshot, 1.0)
    journal = data / "journal.sqlite"
    scratch = work / "scratch"
    try:
        server.setup()
        server.start()
        enroll(data, server, kiosk.env)
        kiosk.start()
        kiosk.wait_for("READY", 120)
        kiosk.send("settings")
        kiosk.wait_for("SETTINGS", 120)
        server.stop()  # the port is closed: "connection refused" for a week
        log("server down")
        kiosk.send("status")
        before = status_of(kiosk.wait_for("STATUS", 30)[-1])
        report.frames_before = int(before["frames_shown"])
        now = time.time()
        kiosk.send(f"fill {records} {now - 7 * 24 * 3600:.3f} {7 * 24 * 3600 / records:.6f}")
        filled = kiosk.wait_for("FILLED", 900)[0].split()
        report.fill_s = float(filled[2])
        kiosk.send("status")
        after = status_of(kiosk.wait_for("STATUS", 30, 2)[-1])
        report.frames_after, report.items_after = int(after["frames_shown"]), int(
            after["items_shown"])
        shot_taken = time.time()
        wait_until(lambda: screenshot.exists() and screenshot.stat().st_mtime > shot_taken, 10)
        shown = look(screenshot) if screenshot.exists() else None
        report.playing_screenshot = bool(shown and shown.playing)
        queued = read_journal(journal, scratch)
        report.queued = len(queued.checkins)
        sealed = sealed_sample(journal, scratch, 50)
        report.sealed_sampled = len(sealed)
        log(f"filled {records} in {report.fill_s:.1f} s; {report.queued} queued; frames "
            f"{report.frames_before} -> {report.frames_after}")
        server.start()
        back = time.monotonic()
        log("server up")
        wait_until(lambda: queued_checkins(journal) == 0, sync_timeout_s, 0.1)
        report.sync_s = time.monotonic() - back
        report.stop_code = kiosk.stop(signal.SIGTERM)
        left = read_journal(journal, scratch)
        report.outbox_left, report.plays_left = len(left.checkins), left.plays
        report.dead_letters = left.dead_letters
        report.sealed_bytes_left = bytes_left(data, sealed)
        rows = server.checkins()
        report.server_total, report.server_distinct = len(rows), len({r[0] for r in rows})
        report.named_on_server = sum(1 for r in rows if r[1])
        report.request_sizes = sorted(Counter(r[3] for r in rows).values(), reverse=True)
        from kiosk.config import KioskConfig
        from signage_server.config import SETTINGS

        report.batch_size = KioskConfig().batch_size
        report.server_cap = int(next(s.default for s in SETTINGS
                                     if s.name == "MAX_BATCH_RECORDS"))
    finally:
        kiosk.stop(signal.SIGKILL)
        server.stop()
        server.close_editor()
    check_week(report)
    return report


def status_of(line: str) -> dict[str, Any]:
    import json

    return dict(json.loads(line.split(" ", 1)[1]))


def check_week(report: WeekReport) -> None:
    problems = report.problems
    if report.queued != report.records:
        problems.append(f"{report.queued} queued after recording {report.records}")
    if report.frames_after <= report.frames_before:
        problems.append("the player drew no frame while the backlog was recorded")
    if not report.playing_screenshot:
        problems.append("the screenshot after the fill shows no content")
    if report.server_total != report.records or report.server_distinct != report.records:
        problems.append(f"server: {report.server_total} rows, {report.server_distinct} "
                        f"distinct, for {report.records} recorded")
    if report.named_on_server != (report.records + 1) // 2:
        problems.append(f"{report.named_on_server} named check-ins on the server, "
                        f"{(report.records + 1) // 2} sealed")
    if not report.request_sizes or max(report.request_sizes) > min(report.batch_size,
                                                                     report.server_cap):
        problems.append(f"request sizes {report.request_sizes[:5]} over the batch size "
                        f"{report.batch_size} or the server's cap {report.server_cap}")
    if report.outbox_left or report.dead_letters:  # (plays go on being journaled: not checked)
        problems.append(f"left in the journal: {report.outbox_left} check-ins, "
                        f"{report.dead_letters} dead letters")
    if report.sealed_sampled == 0 or report.sealed_bytes_left:
        problems.append(f"{report.sealed_bytes_left} of {report.sealed_sampled} sampled sealed "
                        "boxes still in the journal's files after acknowledgement")
    if report.stop_code != 0:
        problems.append(f"SIGTERM ended the kiosk with status {report.stop_code}")


def tmpfs_or(fallback: Path) -> Path:
    """A fresh folder on /dev/shm when there is one, else ``fallback``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        import tempfile

        return Path(tempfile.mkdtemp(prefix="checkin-week-", dir=shm))
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback
