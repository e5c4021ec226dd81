"""The kiosk's durable memory: one SQLite file in WAL mode with ``synchronous=FULL``.

It holds
- ``outbox``: every record waiting for the server (proof of play now, check-ins next), one row
  per ``client_uuid`` with its ``kind`` and the JSON record exactly as it goes on the wire. A
  row leaves only when the server acknowledged it (``accepted`` or ``duplicate``); so a crash
  or a lost answer means a resend, which the server's idempotency turns into a duplicate;
- ``dead_letter``: records the server ``rejected``, with its reason: kept for a human, never
  resent (a malformed record would be rejected forever);
- ``kv``: the last good manifest (raw JSON and its ETag) and the learned clock offset, so a
  kiosk that restarts with the server down plays what it played before, on time.

``synchronous=FULL`` makes each commit durable before it returns (the next issue confirms a
check-in on screen only after its commit). One connection is shared by the draw loop (which
journals plays) and the sync thread, behind a lock; no network call ever runs under it.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from kiosk import recovery
from kiosk.errors import JournalError
from kiosk.events import PlayRecord

log = logging.getLogger(__name__)

PLAY = "play"
CHECKIN = "checkin"
SCHEMA_VERSION = 1
OFFSET_WRITE_THRESHOLD_S = 1.0  # smaller drifts stay in memory: spare the SD card
QUICK_CHECK_MAX_BYTES = 8 * 1024 * 1024  # ~25,000 outbox rows: a full check at start below it
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    client_uuid TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_kind ON outbox (kind, seq);
CREATE TABLE IF NOT EXISTS dead_letter (
    client_uuid TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    rejected_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxRow:
    """One record waiting for the server, as it goes on the wire."""

    client_uuid: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Settled:
    """What one batch answer did to the outbox."""

    acknowledged: int
    rejected: int
    unanswered: int


def current_boot_id(path: Path = Path("/proc/sys/kernel/random/boot_id")) -> str | None:
    """This boot's random id (Linux), which tells a process restart from a reboot."""
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def rfc3339(unix_time: float) -> str:
    """UTC with milliseconds and a ``Z``, the API's time format."""
    stamp = datetime.fromtimestamp(unix_time, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def open_journal(path: Path, boot_id: str | None, now: float) -> Journal:
    """Open the journal, or, when SQLite finds it damaged (``journal_damage``), set it aside
    with its ``-wal`` and ``-shm`` (``kiosk.recovery``) and start a fresh one: the records it
    held are lost to the server but kept on the card for diagnosis, and the kiosk plays
    instead of failing the same way at every restart. A busy or forbidden file is not damaged
    and still raises ``JournalError``."""
    problem = journal_damage(path, QUICK_CHECK_MAX_BYTES)
    if problem is not None:
        try:
            aside = recovery.set_aside(path, now, companions=("-wal", "-shm"))
        except OSError as exc:
            raise JournalError(f"journal {path} is damaged ({problem}) and cannot be moved "
                               f"aside: {exc}") from exc
        log.error("journal %s was damaged (%s): set aside as %s; starting a fresh journal",
                  path, problem, aside.name)
    return Journal(path, boot_id)


def journal_damage(path: Path, max_bytes: int | None = None) -> str | None:
    """What SQLite's ``quick_check`` finds wrong with the journal, or None when it is sound,
    missing, or cannot be opened for another reason (``Journal`` then says why). A read-only
    connection: closing it never checkpoints a damaged WAL into the file, so what is set aside
    is what was found.

    ``quick_check`` reads every page: about 1 ms for a thousand rows, 0.1-0.3 s for 50,000
    (16 MB). Above ``max_bytes`` (database and WAL) only the header and the schema are read,
    which still finds a file that is not a database, so that a kiosk back from weeks offline
    keeps its start-up time; damage deep inside such a file shows when it is written."""
    if not path.is_file():
        return None
    size = path.stat().st_size + _size_or_zero(path.with_name(path.name + "-wal"))
    pragma = "quick_check" if max_bytes is None or size <= max_bytes else "schema_version"
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return None
    try:
        rows = db.execute(f"PRAGMA {pragma}").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc) if _is_damage(exc) else None
    finally:
        db.close()
    if pragma != "quick_check":
        return None
    verdict = "; ".join(str(row[0]) for row in rows[:3])
    return None if verdict == "ok" else verdict


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _is_damage(error: BaseException | None) -> bool:
    """SQLite's own verdict: the file is corrupt or not a database at all."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.DatabaseError) and code is not None and \
        code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class Journal:
    """The outbox, dead letters and the kiosk's remembered state, in one SQLite file."""

    def __init__(self, path: Path, boot_id: str | None = None) -> None:
        self.path = path
        self.boot_id = boot_id
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=10)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise JournalError(f"{path}: WAL mode refused ({mode})")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self._db.close()
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        self._offset = self._read_offset()
        self._offset_written = self._offset

    def close(self) -> None:
        """Close the connection (pending WAL content is checkpointed by SQLite)."""
        with self._lock:
            self._db.close()

    def pragma(self, name: str) -> Any:
        """Read one PRAGMA (tests and ``status`` use it to show the durability settings)."""
        with self._lock:
            return self._db.execute(f"PRAGMA {name}").fetchone()[0]

    # -- the outbox -------------------------------------------------------------------

    def add(self, kind: str, client_uuid: str, payload: Mapping[str, Any], now: float) -> bool:
        """Journal one record durably; False when that ``client_uuid`` is already there."""
        return self.add_many(kind, [(client_uuid, payload)], now) == 1

    def add_many(self, kind: str, records: Sequence[tuple[str, Mapping[str, Any]]],
                 now: float) -> int:
        """Journal several records in one durable commit; returns how many were new."""
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO outbox (client_uuid, kind, payload, created_at) "
                "VALUES (?, ?, ?, ?)",
                [(uuid, kind, json.dumps(payload, ensure_ascii=False), now)
                 for uuid, payload in records])
            return db.total_changes - before

    def add_play(self, record: PlayRecord, now: float) -> bool:
        """Journal a proof-of-play record, its start time corrected by the learned offset."""
        return self.add(PLAY, record.client_uuid, self.play_payload(record), now)

    def play_payload(self, record: PlayRecord) -> dict[str, Any]:
        """The wire form of a play record, its start corrected by the learned clock offset."""
        started, uncorrected = self.corrected(record.started_at)
        return {
            "client_uuid": record.client_uuid, "item_id": record.item_id,
            "sha256": record.sha256, "kind": record.kind, "started_at": started,
            "duration_ms": max(int(record.duration_ms), 0),
            "manifest_version": record.manifest_version, "clock_uncorrected": uncorrected,
        }

    def corrected(self, device_time: float) -> tuple[str, bool]:
        """A device time as the API's UTC text, corrected by the offset, and whether it could
        not be (no offset learned yet: the record then carries ``clock_uncorrected``)."""
        offset = self._offset
        return rfc3339(device_time + (offset or 0.0)), offset is None

    def pending(self, kind: str, limit: int) -> list[OutboxRow]:
        """The oldest ``limit`` records of ``kind`` still waiting for an acknowledgement."""
        with self._lock:
            rows = self._run(lambda db: db.execute(
                "SELECT client_uuid, payload FROM outbox WHERE kind = ? ORDER BY seq LIMIT ?",
                (kind, limit)).fetchall())
        return [OutboxRow(uuid, json.loads(payload)) for uuid, payload in rows]

    def settle(self, kind: str, sent: Sequence[OutboxRow],
               results: Sequence[Mapping[str, Any]], now: float) -> Settled:
        """Apply a batch answer: acknowledged rows leave, rejected ones go to the dead letters,
        rows without a (matching) result stay for the next batch."""
        acked: list[str] = []
        rejected: list[tuple[str, str]] = []
        for result in results:
            row = _row_for(sent, result)
            if row is None:
                continue
            if result.get("status") in ("accepted", "duplicate"):
                acked.append(row.client_uuid)
            elif result.get("status") == "rejected":
                rejected.append((row.client_uuid, str(result.get("reason") or "rejected")))
        # A dead check-in keeps its counts (direction, method, has_app, time), never its
        # sealed personal fields: the server refused it, so nobody will ever open that box.
        kept = "json_remove(payload, '$.sealed')" if kind == CHECKIN else "payload"
        erase = kind == CHECKIN and bool(acked or rejected)
        with self._personal_purge(erase), self._transaction() as db:
            db.executemany("DELETE FROM outbox WHERE client_uuid = ?", [(u,) for u in acked])
            db.executemany(
                "INSERT OR REPLACE INTO dead_letter (client_uuid, kind, payload, reason, "
                f"rejected_at) SELECT client_uuid, kind, {kept}, ?, ? FROM outbox "
                "WHERE client_uuid = ?", [(reason, now, u) for u, reason in rejected])
            db.executemany("DELETE FROM outbox WHERE client_uuid = ?",
                           [(u,) for u, _ in rejected])
        if rejected:
            log.warning("server rejected %d %s record(s); kept in dead_letter (first: %s)",
                        len(rejected), kind, rejected[0][1])
        return Settled(len(acked), len(rejected), len(sent) - len(acked) - len(rejected))

    def expire_personal(self, before: str) -> int:
        """Drop the sealed personal fields of check-ins still waiting for
        the server that happened before ``before`` (API time text, UTC): past the venue's
        retention, the server would delete them on arrival anyway, and a kiosk offline for
        weeks should not carry them around. Counts stay and are still sent. Records stamped
        with an uncorrected clock are left alone: their time says nothing reliable."""
        with self._personal_purge(True), self._transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET payload = json_set(payload, '$.sealed', NULL) "
                "WHERE kind = ? AND json_extract(payload, '$.sealed') IS NOT NULL "
                "AND json_extract(payload, '$.clock_uncorrected') = 0 "
                "AND json_extract(payload, '$.occurred_at') < ?", (CHECKIN, before))
            expired = cursor.rowcount
        if expired:
            log.info("dropped the personal fields of %d unsent check-in(s) past retention",
                     expired)
        return expired

    def unsynced(self) -> dict[str, int]:
        """Records waiting per kind (every known kind appears, zero included)."""
        with self._lock:
            rows = self._run(lambda db: db.execute(
                "SELECT kind, count(*) FROM outbox GROUP BY kind").fetchall())
        counts = {PLAY: 0, CHECKIN: 0}
        counts.update(dict(rows))
        return counts

    def dead_letters(self) -> list[dict[str, Any]]:
        """Rejected records with their reasons, oldest first."""
        with self._lock:
            rows = self._run(lambda db: db.execute(
                "SELECT client_uuid, kind, reason, rejected_at FROM dead_letter "
                "ORDER BY rejected_at").fetchall())
        return [dict(zip(("client_uuid", "kind", "reason", "rejected_at"), row, strict=True))
                for row in rows]

    # -- remembered state -------------------------------------------------------------

    def save_manifest(self, manifest: Mapping[str, Any], etag: str | None) -> None:
        """Remember the manifest now in effect, for a restart with the server down."""
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", [
                ("manifest", json.dumps(manifest, ensure_ascii=False)),
                ("manifest_etag", etag or ""),
            ])

    def last_manifest(self) -> tuple[dict[str, Any], str | None] | None:
        """The last good manifest and its ETag, or None when there never was one."""
        raw = self.get("manifest")
        if raw is None:
            return None
        try:
            manifest = json.loads(raw)
        except ValueError:
            log.warning("stored manifest is unreadable; ignoring it")
            return None
        return manifest, self.get("manifest_etag") or None

    @property
    def clock_offset(self) -> float | None:
        """The last learned clock offset (server minus device), None when never learned."""
        return self._offset

    def set_clock_offset(self, value: float | None) -> None:
        """Use a new offset at once; write it to disk only when it moved noticeably."""
        if value is None:
            return
        self._offset = value
        written = self._offset_written
        if written is None or abs(value - written) > OFFSET_WRITE_THRESHOLD_S:
            with self._transaction() as db:
                db.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", [
                    ("clock_offset", repr(value)), ("clock_offset_boot", self.boot_id or "")])
            self._offset_written = value

    def get(self, key: str) -> str | None:
        """A remembered value, or None."""
        with self._lock:
            row = self._run(lambda db: db.execute(
                "SELECT value FROM kv WHERE key = ?", (key,)).fetchone())
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        """Remember a value durably."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    def _read_offset(self) -> float | None:
        """The stored offset, unless the machine rebooted since: a Pi without a battery-backed
        clock starts from whatever time it saved, so an offset learned before the reboot says
        nothing about the clock now (records are flagged uncorrected until a server answers)."""
        if self.boot_id and self.get("clock_offset_boot") != self.boot_id:
            return None
        raw = self.get("clock_offset")
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return None

    @contextmanager
    def _personal_purge(self, erase: bool) -> Iterator[None]:
        """For check-ins, make the deletes inside really erase: ``secure_delete`` overwrites
        the freed pages (sealed boxes overflow onto pages of their own), and a truncating
        checkpoint afterwards empties the WAL, which still holds the rows' older frames.
        Plays carry nothing personal and skip the extra writes."""
        if not erase:
            yield
            return
        with self._lock:
            self._run(lambda db: db.execute("PRAGMA secure_delete=ON"))
        try:
            yield
        finally:
            with self._lock:
                self._run(lambda db: db.execute("PRAGMA secure_delete=OFF"))
                busy = self._run(lambda db: db.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
            if busy:
                log.warning("journal checkpoint was blocked by a reader; the WAL still holds "
                            "settled check-ins until the next one")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction under the lock; sqlite errors become JournalError."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise JournalError(f"journal write failed: {exc}") from exc

    def _run(self, query: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return query(self._db)
        except sqlite3.Error as exc:
            raise JournalError(f"journal read failed: {exc}") from exc


def _row_for(sent: Sequence[OutboxRow], result: Mapping[str, Any]) -> OutboxRow | None:
    """The sent row a per-record result is about: by index, checked against its client_uuid."""
    index = result.get("index")
    if not isinstance(index, int) or not 0 <= index < len(sent):
        return None
    row = sent[index]
    named = result.get("client_uuid")
    return row if named is None or str(named).lower() == row.client_uuid.lower() else None


class PlayWriter:
    """Journals proof-of-play records on a thread of its own, so the draw loop hands a
    record over in microseconds and never waits for a durable (fsync'd) commit at an item
    boundary, where a stall would show as a late frame."""

    def __init__(self, journal: Journal, clock: Callable[[], float]) -> None:
        self._journal = journal
        self._clock = clock
        self._queue: queue.SimpleQueue[PlayRecord | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="kiosk-plays", daemon=True)
        self._thread.start()

    def submit(self, record: PlayRecord) -> None:
        """Queue one record for the journal (the player's ``on_play`` callback)."""
        self._queue.put(record)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _drain(self) -> None:
        while (record := self._queue.get()) is not None:
            try:
                self._journal.add_play(record, self._clock())
            except JournalError:
                log.exception("could not journal a play record")
