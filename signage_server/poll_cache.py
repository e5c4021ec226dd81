"""What a 304 manifest poll needs, kept in the process on PostgreSQL and told when it changes.

A manifest poll answered 304 reads one row (``manifests.poll_state``). On PostgreSQL that
read is a round trip costing the worker several times the rest of the poll in CPU
(docs/benchmarks.md, manifest_poll), so each server process keeps, per engine, the last
``PollState`` it read for each token hash, and ``GET /api/v1/kiosk/manifest`` answers a
poll from it when that state is fresh and ``If-None-Match`` matches. Nothing else trusts
it: a miss, a stale state, a 200 with the body and every other request (heartbeats,
check-ins, plays) read the database as before and put what they read here.

It stays correct because PostgreSQL tells it of every change a poll depends on: migration
0008's triggers send the kiosk id (its token, revocation, venue or cached manifest changed)
or ``*`` (the manifest generation moved) on the channel ``signage_poll_state``, delivered
when the writing transaction commits. Each process keeps one connection per engine that
LISTENs on it and, before each look-up, reads what arrived without waiting (one non-blocking
``recv``), dropping the kiosk's entry or everything. A process that stops getting polls
would leave its notifications unread, and PostgreSQL keeps its notification queue from the
slowest listener on (when the queue is full, NOTIFY, and so the writing transaction, fails);
so a background thread reads them too once no look-up has for ``DRAIN_SECONDS``.

The rules that keep a stale state from being served longer than PostgreSQL takes to deliver
a notification (normally well under a millisecond):

- Nothing is stored or served without a live listener, and nothing read before its
  ``LISTEN`` is kept: (re)connecting empties the cache. A listener that fails or is closed
  by the server empties it too, and polls go to the database until a later poll connects
  again. TCP keepalives notice a silently dead network path within about 11 s.
- Every change heard (and every reconnect) moves ``epoch``. A state read from the database
  is stored only if ``epoch`` has not moved since just before the read, so a read that
  raced a change is not kept even when the change was heard before the store.
- Writes committed by this process's own SQLAlchemy sessions drop their entries at commit
  (``watch_writes``), without waiting for the notification, so a revocation here stops the
  kiosk's very next poll here.

A kiosk revoked, or a manifest replaced, by another process may therefore still get a 304
during that window; a 304 carries no data, and every other request is checked against the
database. ``POLL_CACHE`` turns it off; ``POLL_CACHE_ENTRIES`` bounds it (the oldest entries
go first). SQLite has no notifications, and its poll is an in-process read anyway: there
the cache is never used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstanceState, ORMExecuteState, Session, SessionTransaction

from .models import Kiosk, ManifestGeneration

if TYPE_CHECKING:
    from flask import Flask

    from .manifests import PollState

log = logging.getLogger(__name__)

CHANNEL = "signage_poll_state"
EVERYTHING = "*"
#: Kiosk columns a ``PollState`` (or the poll query's WHERE) is made of; migration 0008's
#: trigger notifies on updates of exactly these.
WATCHED = ("token_hash", "revoked_at", "venue_id", "manifest_generation", "manifest_version",
           "manifest_etag")
TABLES = frozenset({Kiosk.__tablename__, ManifestGeneration.__tablename__})
#: After a failed connect, polls go to the database this long before the next attempt.
RETRY_SECONDS = 1.0
#: TCP keepalive of the listener: idle seconds, interval, probes (about 11 s in all).
KEEPALIVE = (5, 2, 3)
#: A listener no look-up has read for this long is read by the cache's drain thread.
DRAIN_SECONDS = 30.0
_PENDING = "signage_poll_cache"  # ``Session.info`` key: what the transaction changed


class PollCache:
    """token hash -> ``PollState`` for one engine in one process, with its listener."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.lock = threading.Lock()
        self.states: dict[str, PollState] = {}  # in insertion order: the oldest go first
        self.tokens: dict[int, str] = {}  # kiosk id -> its cached token hash
        self.listener: Any = None  # psycopg connection that ran LISTEN, or None
        self.broken = False  # the server said it is closing the listener
        self.epoch = 0  # moves with every change heard and every (re)connect
        self.connecting = False
        self.retry_at = 0.0
        self.closed = False
        self.read_at = 0.0  # monotonic: the listener's input was last read
        self.stopped = threading.Event()  # the drain thread ends
        self.drainer: threading.Thread | None = None

    def lookup(self, engine: Engine, token_hash: str) -> PollState | None:
        """The state last read for this token, if nothing since said it may have changed."""
        with self.lock:
            if self._listening():
                return self.states.get(token_hash)
        self._listen(engine)
        return None

    def mark(self, engine: Engine) -> int | None:
        """Call just before reading a state from the database; pass the result to ``put``."""
        with self.lock:
            if self._listening():
                return self.epoch
        self._listen(engine)
        with self.lock:
            return self.epoch if self.listener is not None else None

    def put(self, mark: int | None, token_hash: str, state: PollState | None) -> None:
        """Keep a state read after ``mark``, unless a change was heard since."""
        with self.lock:
            if state is None:  # unknown or revoked: forgetting is always safe
                self._drop_token(token_hash)
            elif mark is not None and mark == self.epoch and self.listener is not None:
                self._store(token_hash, state)

    def forget(self, kiosk_ids: set[int] | None) -> None:
        """Drop these kiosks' entries, or (None) everything: changed by this process."""
        with self.lock:
            self.epoch += 1
            if kiosk_ids is None:
                self._clear()
            else:
                for kiosk_id in kiosk_ids:
                    self._drop_kiosk(kiosk_id)

    def close(self, _engine: Engine | None = None) -> None:
        """Close the listener for good (the engine is disposed)."""
        with self.lock:
            self.closed = True
            self._drop_listener()
        self.stopped.set()

    def _drain(self) -> None:
        """Read the listener's notifications whenever look-ups have not for a while."""
        while not self.stopped.wait(DRAIN_SECONDS / 2):
            with self.lock:
                if self.listener is not None and \
                        time.monotonic() - self.read_at >= DRAIN_SECONDS:
                    try:
                        self._listening()
                    except Exception:  # the thread must go on; polls see what is wrong
                        log.exception("poll cache: reading the listener failed")

    def _store(self, token_hash: str, state: PollState) -> None:
        previous = self.tokens.get(state.kiosk_id)
        if previous is not None and previous != token_hash:
            self.states.pop(previous, None)  # the kiosk has a new token: the old one is dead
        if token_hash not in self.states:
            if self.capacity <= 0:
                return
            while len(self.states) >= self.capacity:
                self._drop_token(next(iter(self.states)))
        self.states[token_hash] = state
        self.tokens[state.kiosk_id] = token_hash

    def _drop_token(self, token_hash: str) -> None:
        state = self.states.pop(token_hash, None)
        if state is not None and self.tokens.get(state.kiosk_id) == token_hash:
            del self.tokens[state.kiosk_id]

    def _drop_kiosk(self, kiosk_id: int) -> None:
        token_hash = self.tokens.pop(kiosk_id, None)
        if token_hash is not None:
            self.states.pop(token_hash, None)

    def _clear(self) -> None:
        self.states.clear()
        self.tokens.clear()

    def _listening(self) -> bool:
        """Apply what the listener has received; False (cache empty) without a listener.
        Called with the lock held: a psycopg connection is not for two threads at once."""
        if self.listener is None:
            return False
        pgconn = self.listener.pgconn
        self.read_at = time.monotonic()
        try:
            pgconn.consume_input()  # the socket is non-blocking: nothing there, no wait
            while (notify := pgconn.notifies()) is not None:
                self._heard(notify.extra.decode("utf-8", "replace"))
        except self.listener.Error as exc:
            log.warning("poll cache: lost its listener (%s); polls read the database", exc)
            self._drop_listener()
            return False
        if self.broken:
            log.warning("poll cache: the database is closing its listener; polls read it")
            self._drop_listener()
            return False
        return True

    def _heard(self, payload: str) -> None:
        self.epoch += 1
        if payload.isdigit():
            self._drop_kiosk(int(payload))
        else:  # "*", or anything this version does not know: everything may be stale
            self._clear()

    def _drop_listener(self) -> None:
        listener, self.listener = self.listener, None
        self.epoch += 1
        self._clear()
        if listener is not None:
            with contextlib.suppress(Exception):  # thrown away: nothing to save
                listener.close()

    def _notice(self, diagnostic: Any) -> None:
        """An error arriving while idle is the server saying why it closes the connection
        (terminated, shutting down); the end of the stream may only be read later."""
        if diagnostic.severity_nonlocalized in {"ERROR", "FATAL", "PANIC"}:
            self.broken = True

    def _listen(self, engine: Engine) -> None:
        """Open the listener unless one is open, opening, or a failed attempt was recent."""
        with self.lock:
            if (self.listener is not None or self.connecting or self.closed
                    or time.monotonic() < self.retry_at):
                return
            self.connecting = True
        listener = None
        try:
            listener = _open_listener(engine, self._notice)
        except (SQLAlchemyError, OSError, engine.dialect.loaded_dbapi.Error) as exc:
            log.warning("poll cache: cannot listen (%s); polls read the database", exc)
        with self.lock:
            self.connecting = False
            if listener is None:
                self.retry_at = time.monotonic() + RETRY_SECONDS
            elif self.closed:
                with contextlib.suppress(Exception):
                    listener.close()
            else:
                self.listener, self.broken = listener, False
                self.read_at = time.monotonic()
                self.epoch += 1
                self._clear()
                log.info("poll cache: listening on %s", CHANNEL)
                if self.drainer is None:
                    self.drainer = threading.Thread(target=self._drain, daemon=True,
                                                    name="poll-cache-drain")
                    self.drainer.start()


def _open_listener(engine: Engine, on_notice: Any) -> Any:
    """A connection of the engine's own (its connect events, pre-ping), out of the pool."""
    fairy = engine.raw_connection()
    fairy.detach()  # the pool forgets it: it is the cache's to close
    connection: Any = fairy.dbapi_connection
    try:
        connection.autocommit = True
        connection.add_notice_handler(on_notice)
        connection.execute(f"LISTEN {CHANNEL}")
        _keepalive(connection.fileno())
    except BaseException:
        connection.close()
        raise
    return connection


def _keepalive(fileno: int) -> None:
    """The listener only ever reads, so a dead network path would pass unnoticed; TCP
    keepalives notice it. A Unix socket has no such path (nor these options)."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fileno)) as sock:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            idle, interval, count = KEEPALIVE
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)


class _Caches:
    """One ``PollCache`` per engine and process. A forked child starts with none: the
    parent's listener socket is never used or closed in it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.by_engine: weakref.WeakKeyDictionary[Engine, PollCache | None] = \
            weakref.WeakKeyDictionary()

    def get(self, engine: Engine, app: Flask) -> PollCache | None:
        if self.pid == os.getpid():
            try:
                return self.by_engine[engine]
            except KeyError:
                pass
        with self.lock:
            if self.pid != os.getpid():
                self.pid, self.by_engine = os.getpid(), weakref.WeakKeyDictionary()
            if engine not in self.by_engine:
                self.by_engine[engine] = self._new(engine, app.config)
            return self.by_engine[engine]

    def _new(self, engine: Engine, config: Any) -> PollCache | None:
        dialect = engine.dialect
        if not config["POLL_CACHE"] or (dialect.name, dialect.driver) != ("postgresql",
                                                                          "psycopg"):
            return None
        cache = PollCache(int(config["POLL_CACHE_ENTRIES"]))
        if not event.contains(engine, "engine_disposed", self.close):  # used after dispose
            event.listen(engine, "engine_disposed", self.close)
        watch_writes()
        return cache

    def close(self, engine: Engine) -> None:
        with self.lock:
            cache = self.by_engine.pop(engine, None) if self.pid == os.getpid() else None
        if cache is not None:
            cache.close()

    def all(self) -> list[PollCache]:
        if self.pid != os.getpid():
            return []
        with self.lock:
            return [c for c in self.by_engine.values() if c is not None]


_CACHES = _Caches()


def for_engine(engine: Engine, app: Flask) -> PollCache | None:
    """The engine's cache in this process; None on SQLite or with ``POLL_CACHE`` off.
    ``app`` (``current_app`` will do) is read only the first time: its settings."""
    return _CACHES.get(engine, app)


# Same-process writes: collected while the transaction flushes and executes, applied once
# it commits (a rollback changed nothing). They are applied to every engine's cache in the
# process: a process has one engine except in tests, where dropping more is only slower.

def watch_writes() -> None:
    """Register the session hooks, once per process; they run for every session."""
    hooks: tuple[tuple[Any, str, Any], ...] = (
        (Kiosk, "after_insert", _kiosk_written),
        (Kiosk, "after_update", _kiosk_written),
        (Kiosk, "after_delete", _kiosk_written),
        (ManifestGeneration, "after_insert", _generation_written),
        (ManifestGeneration, "after_update", _generation_written),
        (ManifestGeneration, "after_delete", _generation_written),
        (Session, "do_orm_execute", _statement_executed),
        (Session, "after_commit", _committed),
        (Session, "after_transaction_end", _transaction_ended),
    )
    for target, name, hook in hooks:
        if not event.contains(target, name, hook):
            event.listen(target, name, hook)


def _pending(session: Session | None, kiosk_id: int | None) -> None:
    """Note a changed kiosk (None: everything) for when ``session`` commits."""
    if session is None:
        return
    pending = session.info.get(_PENDING, set())
    if kiosk_id is None or pending is None:
        session.info[_PENDING] = None
    else:
        pending.add(kiosk_id)
        session.info[_PENDING] = pending


def _kiosk_written(_mapper: Any, _connection: Any, kiosk: Kiosk) -> None:
    state: InstanceState[Kiosk] = inspect(kiosk)
    if not state.persistent or any(state.attrs[name].history.has_changes()
                                   for name in WATCHED):
        _pending(state.session, kiosk.id)


def _generation_written(_mapper: Any, _connection: Any, row: ManifestGeneration) -> None:
    _pending(inspect(row).session, None)


def _statement_executed(execute: ORMExecuteState) -> None:
    """A bulk INSERT, UPDATE or DELETE (``session.execute(update(Kiosk)...)``: enrollment,
    ``manifests.bump_generation``) names no rows: everything may be stale."""
    if execute.is_update or execute.is_delete or execute.is_insert:
        table = getattr(execute.statement, "table", None)
        if getattr(table, "name", None) in TABLES:
            _pending(execute.session, None)


def _committed(session: Session) -> None:
    if _PENDING not in session.info:
        return
    pending = session.info.pop(_PENDING)
    for cache in _CACHES.all():
        cache.forget(pending)


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
