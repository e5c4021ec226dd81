"""Batch ingest of check-ins and proof-of-play records.

Each record is validated alone (pydantic), so a malformed one is rejected with its reason and
never fails its neighbours. Valid records go in with one multi-row
``INSERT ... ON CONFLICT (client_uuid) DO NOTHING RETURNING client_uuid``: what comes back was
accepted, the rest were already stored. Resending a batch is therefore harmless and cheap.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import itertools
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from .api.schemas import CheckInRecord, PersonalFields, PlayRecord
from .extensions import db
from .models import CheckIn, PlayEvent
from .models.places import PRIVACY_FIELDS

log = logging.getLogger(__name__)
_CHECKIN = TypeAdapter(CheckInRecord)
_PLAY = TypeAdapter(PlayRecord)
_PERSONAL = TypeAdapter(PersonalFields)


@dataclass(frozen=True)
class Context:
    """Who is sending, and what their venue allows."""

    kiosk_id: int
    venue_id: int
    privacy_mode: str
    now: datetime
    future_tolerance: timedelta
    sealing_key: PrivateKey


@dataclass
class Outcome:
    results: list[dict[str, Any]] = field(default_factory=list)

    def add(self, index: int, client_uuid: str | None, status: str,
            reason: str | None = None, flagged: str | None = None) -> None:
        self.results.append({"index": index, "client_uuid": client_uuid, "status": status,
                             "reason": reason, "flagged": flagged})

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r["status"] == status)


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{where}: {first['msg']}"[:300]


def _claimed_uuid(raw: object) -> str | None:
    if isinstance(raw, dict):
        value = raw.get("client_uuid")
        if isinstance(value, str) and len(value) <= 64:
            return value
    return None


#: Before this, a stamp can only come from a Pi that booted without a clock.
EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)


def _when(claimed: datetime, ctx: Context) -> tuple[datetime, str | None]:
    """A time too far in the future, or before the system existed, is not trusted: the
    record is kept with the receive time and flagged, the claimed time kept beside it."""
    if claimed.tzinfo is None:
        raise ValueError("time zone required (end the time with Z or +07:00)")
    try:
        claimed = claimed.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("time out of range: not representable in UTC") from exc
    if claimed > ctx.now + ctx.future_tolerance:
        return ctx.now, "future"
    if claimed < EARLIEST:
        return ctx.now, "past"
    return claimed, None


def _open_sealed(sealed: str, ctx: Context) -> dict[str, str]:
    try:
        box = base64.b64decode(sealed, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise ValueError("sealed: not base64") from exc
    try:
        content = json.loads(SealedBox(ctx.sealing_key).decrypt(box).decode("utf-8"))
    except (CryptoError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("sealed: cannot be opened with this server's key") from exc
    except RecursionError as exc:  # [[[[...]]]] inside a valid box
        raise ValueError("sealed: nested too deeply") from exc
    fields = _PERSONAL.validate_python(content)
    allowed = set(PRIVACY_FIELDS[ctx.privacy_mode])
    if allowed:
        allowed.add("id_last4")
    return {k: v for k, v in fields.model_dump(exclude_none=True).items() if k in allowed}


def _checkin_row(rec: CheckInRecord, ctx: Context) -> dict[str, Any]:
    occurred, flag = _when(rec.occurred_at, ctx)
    row: dict[str, Any] = {
        "client_uuid": rec.client_uuid, "venue_id": ctx.venue_id, "kiosk_id": ctx.kiosk_id,
        "occurred_at": occurred, "received_at": ctx.now, "time_untrusted": flag is not None,
        "claimed_at": rec.occurred_at if flag else None, "_flag": flag,
        "clock_uncorrected": rec.clock_uncorrected, "direction": rec.direction,
        "method": rec.method, "has_app": rec.has_app, "consent_version": rec.consent_version,
        "name": None, "phone": None, "organisation": None, "purpose": None, "host": None,
        "id_last4": None,
    }
    if rec.sealed:
        row.update(_open_sealed(rec.sealed, ctx))
    return row


def _play_row(rec: PlayRecord, ctx: Context) -> dict[str, Any]:
    started, flag = _when(rec.started_at, ctx)
    return {
        "client_uuid": rec.client_uuid, "kiosk_id": ctx.kiosk_id, "venue_id": ctx.venue_id,
        "item_id": rec.item_id, "media_sha256": rec.sha256, "kind": rec.kind,
        "started_at": started, "duration_ms": rec.duration_ms,
        "manifest_version": rec.manifest_version, "clock_uncorrected": rec.clock_uncorrected,
        "time_untrusted": flag is not None, "claimed_at": rec.started_at if flag else None,
        "received_at": ctx.now, "_flag": flag,
    }


def _insert_stmt(table: Table, dialect: Dialect) -> Any:
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    return (insert(table).on_conflict_do_nothing(index_elements=["client_uuid"])
            .returning(table.c.client_uuid))


@dataclass(frozen=True)
class _InsertPlan:
    """The multi-row insert, rendered once per table, dialect and column set.

    SQLAlchemy compiles the one-row statement (with the casts it renders) and supplies each
    column's bind processor, so values reach the database exactly as a Core insert sends
    them. Repeating the VALUES group for the rows and applying the processors column by
    column skips SQLAlchemy's per-row parameter handling, which cost more CPU than the
    database spent storing the rows; on psycopg, numbered ``$n`` placeholders and a raw
    cursor also skip the driver's rewriting of the statement's thousands of ``%s``
    (docs/benchmarks.md has the measurements).
    """

    head: str  # "INSERT INTO t (a, b) VALUES "
    pieces: tuple[str, ...]  # the VALUES group around its placeholders: "(", ", ", ")"
    tail: str  # " ON CONFLICT (client_uuid) DO NOTHING RETURNING client_uuid"
    names: tuple[str, ...]  # the row key of each placeholder of the group, in order
    processors: tuple[Callable[[Any], Any] | None, ...]
    rows_per_statement: int
    numbered: bool  # $1, $2, ... (psycopg raw cursor) instead of ?

    @functools.lru_cache(maxsize=16)  # noqa: B019  (a few plans, kept for the process)
    def sql(self, rows: int) -> str:
        width = len(self.names)
        groups = []
        for row in range(rows):
            marks = [f"${row * width + i + 1}" if self.numbered else "?" for i in range(width)]
            groups.append("".join(p + m for p, m in zip(self.pieces, [*marks, ""],
                                                        strict=True)))
        return self.head + ", ".join(groups) + self.tail


_PLANS: dict[tuple[str, str, str, tuple[str, ...]], _InsertPlan | None] = {}
_NAMED = re.compile(r"%\((\w+)\)s")


def _raw_cursor_class(dialect: Dialect) -> Any:
    """psycopg's RawCursor (psycopg >= 3.2) when the driver is psycopg, else None."""
    if dialect.driver != "psycopg":
        return None
    import psycopg

    raw = getattr(psycopg, "RawCursor", None)
    return None if raw is None else functools.partial(raw, row_factory=psycopg.rows.tuple_row)


def _plan(table: Table, dialect: Dialect, keys: tuple[str, ...]) -> _InsertPlan | None:
    """The plan for rows with ``keys``, or None where the fast path does not apply (another
    driver, or a statement not of the plain shape): then SQLAlchemy inserts the rows."""
    cache_key = (table.name, dialect.name, dialect.driver, keys)
    if cache_key in _PLANS:
        return _PLANS[cache_key]
    compiled = _insert_stmt(table, dialect).compile(dialect=dialect, column_keys=list(keys))
    sql = compiled.string
    names: tuple[str, ...] = ()
    marker = "?"
    if dialect.paramstyle == "qmark" and dialect.name == "sqlite":
        names = tuple(compiled.positiontup or ())
    elif dialect.paramstyle == "pyformat" and _raw_cursor_class(dialect) is not None:
        names = tuple(_NAMED.findall(sql))
        sql = _NAMED.sub(marker, sql)  # no "?" in the rest: it only names columns
    start = sql.find(" VALUES (") + len(" VALUES ")
    depth, end = 0, -1
    for i in range(start, len(sql)):  # the group ends at its matching parenthesis
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if depth == 0:
            end = i + 1
            break
    plan = None
    if names and set(names) <= set(keys) and start > len(" VALUES ") and end > start \
            and sql[start:end].count(marker) == len(names):
        max_params = getattr(dialect, "insertmanyvalues_max_parameters", 32700)
        page = getattr(dialect, "insertmanyvalues_page_size", 1000)
        plan = _InsertPlan(
            head=sql[:start], pieces=tuple(sql[start:end].split(marker)), tail=sql[end:],
            names=names,
            processors=tuple(table.c[n].type.dialect_impl(dialect).bind_processor(dialect)
                             for n in names),
            rows_per_statement=max(1, min(page, max_params // len(names))),
            numbered=dialect.name != "sqlite")
    _PLANS[cache_key] = plan
    return plan


def _processed(values: list[Any], process: Callable[[Any], Any] | None) -> list[Any]:
    """``values`` as bound. A column holding one object in every row (the receive time, the
    venue, the kiosk) is processed once; the rest in one comprehension, which costs about
    half of a loop that appends."""
    if process is None:
        return values
    first = values[0]
    if all(value is first for value in values):
        return [None if first is None else process(first)] * len(values)
    return [None if value is None else process(value) for value in values]


def _filled(rows: list[dict[str, Any]]) -> tuple[str, ...]:
    """The row keys with a value in at least one row. A column that is empty in every row
    is left out of the statement (it is stored as NULL all the same): binding the eight
    empty columns of a count-mode check-in (claimed time, consent version, the personal
    fields) cost SQLite 4.5 of the 9.5 ms it spent storing 500 rows."""
    keys = []
    for key in rows[0]:
        values = [row[key] for row in rows]
        if values.count(None) < len(values):
            keys.append(key)
    return tuple(keys)


def _insert_new(table: Table, rows: list[dict[str, Any]]) -> set[int]:
    """Insert, skipping rows whose client_uuid is stored already; return the positions in
    ``rows`` of the inserted ones (ints: cheaper to hash than the UUIDs they stand for)."""
    if not rows:
        return set()
    connection = db.session.connection()
    plan = _plan(table, connection.dialect, _filled(rows))
    if plan is None:
        at = {row["client_uuid"]: i for i, row in enumerate(rows)}
        returned = db.session.scalars(_insert_stmt(table, connection.dialect), rows).all()
        return {at[_as_uuid(value)] for value in returned}
    inserted: set[int] = set()
    key_at = plan.names.index("client_uuid")
    for first in range(0, len(rows), plan.rows_per_statement):
        chunk = rows[first:first + plan.rows_per_statement]
        columns = [_processed([row[name] for row in chunk], process)
                   for name, process in zip(plan.names, plan.processors, strict=True)]
        params = list(itertools.chain.from_iterable(zip(*columns, strict=True)))
        sql = plan.sql(len(chunk))
        # A DB-API cursor on the session's connection, inside its transaction: psycopg's
        # RawCursor for the numbered placeholders; on SQLite this skips SQLAlchemy's result
        # wrapping of every returned row (1.3 ms of a 500-row batch).
        driver = connection.connection.driver_connection
        if plan.numbered:
            with _raw_cursor_class(connection.dialect)(driver) as cursor:
                returned = [r[0] for r in cursor.execute(sql, params).fetchall()]
        else:
            cursor = driver.cursor()
            try:
                returned = [r[0] for r in cursor.execute(sql, params).fetchall()]
            finally:
                cursor.close()
        if len(returned) == len(chunk):  # all new: the usual case, no need to match them
            inserted.update(range(first, first + len(chunk)))
            continue
        bound_at = {value: first + i for i, value in enumerate(columns[key_at])}
        by_uuid: dict[uuid.UUID, int] = {}
        for value in returned:
            at = bound_at.get(value)
            if at is None:  # the driver gave the key back in another form than it was bound
                if not by_uuid:
                    by_uuid = {row["client_uuid"]: first + i for i, row in enumerate(chunk)}
                at = by_uuid[_as_uuid(value)]
            inserted.add(at)
    return inserted


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


class _WriterTurns:
    """SQLite: the server's processes take turns to write a batch, by a lock the kernel
    hands over the moment it is released.

    SQLite lets one transaction write at a time; a second writer is told "busy" and its
    busy handler sleeps 1, 2, 5, 10, 25... ms before trying again, however soon the lock
    is free. Two gunicorn workers storing batches collide on most batches, so the time
    went to those sleeps: at 500-record batches the bare ceiling's workers were busy 44 %
    of the time and a batch's p99 was 600 ms (bench server_ingest, 2 workers). Waiting on
    ``flock`` here instead, the waiter wakes as the other commits.

    Only the batch insert and its commit are inside (no other write comes before them in
    the request), so holding this lock never waits for something that waits for it; other
    writers (the console, the CLI) still meet SQLite's busy handler as before. One lock
    file per database, beside it, opened for each turn (some microseconds; a descriptor
    kept per database would pile up in a process that serves many databases, such as the
    test suite); a ``threading.Lock`` orders the threads of one process, which ``flock``
    on one open file would not. The file is opened read-only (``flock`` needs no more) and
    made readable by all, so processes of different users share it; where it cannot be
    opened at all (a directory made read-only, a file left by another user with no read
    access) the batch goes in without a turn, as before, and the log says why once."""

    def __init__(self) -> None:
        self.threads = threading.Lock()
        self.unusable: set[str] = set()  # lock files already reported

    @contextlib.contextmanager
    def turn(self, sqlite_file: str | None) -> Iterator[None]:
        """Hold the turn of the SQLite database in ``sqlite_file``; None: not SQLite (or
        in memory), nothing to take."""
        if not sqlite_file or sqlite_file == ":memory:":
            yield
            return
        path = f"{os.path.abspath(sqlite_file)}-writer.lock"
        with self.threads:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                if path not in self.unusable:
                    self.unusable.add(path)
                    log.warning("cannot open %s (%s): batches wait in SQLite's busy "
                                "handler instead; give the server's user read access to it",
                                path, exc.strerror)
                yield
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing the last descriptor releases the lock


#: Also taken by bench/ceiling_app.py, so the ceiling writes the way the server does.
WRITER_TURNS = _WriterTurns()


def _sqlite_file() -> str | None:
    url = db.engine.url
    return url.database if url.get_backend_name() == "sqlite" else None


def _ingest(records: Iterable[object], ctx: Context, adapter: TypeAdapter[Any],
            to_row: Callable[[Any, Context], dict[str, Any]], table: Table) -> Outcome:
    outcome = Outcome()
    rows: list[dict[str, Any]] = []
    pending: list[tuple[int, str, str | None]] = []
    seen: set[str] = set()
    for index, raw in enumerate(records):
        try:
            rec: BaseModel = adapter.validate_python(raw)
            row = to_row(rec, ctx)
        except ValidationError as exc:
            outcome.add(index, _claimed_uuid(raw), "rejected", _reason(exc))
            continue
        except ValueError as exc:
            outcome.add(index, _claimed_uuid(raw), "rejected", str(exc)[:300])
            continue
        key = str(row["client_uuid"])  # the one str() of the record: results need it
        if key in seen:
            outcome.add(index, key, "duplicate")
            continue
        seen.add(key)
        rows.append(row)
        pending.append((index, key, row.pop("_flag")))
    with WRITER_TURNS.turn(_sqlite_file()):
        inserted = _insert_new(table, rows)
        db.session.commit()
    in_order = not outcome.results  # no record was answered yet: these come in index order
    results = outcome.results
    for position, (index, key, flag) in enumerate(pending):
        results.append({"index": index, "client_uuid": key,
                        "status": "accepted" if position in inserted else "duplicate",
                        "reason": None, "flagged": flag})
    if not in_order:
        results.sort(key=lambda r: r["index"])
    return outcome


def checkins(records: Iterable[object], ctx: Context) -> Outcome:
    return _ingest(records, ctx, _CHECKIN, _checkin_row, CheckIn.__table__)


def plays(records: Iterable[object], ctx: Context) -> Outcome:
    return _ingest(records, ctx, _PLAY, _play_row, PlayEvent.__table__)
