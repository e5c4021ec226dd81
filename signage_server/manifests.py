"""What each kiosk shows: the manifest, its version, and the generation that invalidates it.

A manifest depends only on the database (schedules are evaluated by the kiosk), so its version
is a hash of its content. Computing it takes several queries, so each kiosk row remembers the
version it last got together with the global *generation*; anything that may change a
manifest bumps the generation in the same transaction. A poll is then one indexed query
whenever nothing changed, and any server process can answer any kiosk. On PostgreSQL a
poll answered 304 usually needs not even that: each process keeps what the query read,
until PostgreSQL notifies it of a change (``poll_cache``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app
from sqlalchemy import bindparam, event, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import selectinload

from . import poll_cache
from .extensions import db
from .models import Area, Assignment, Kiosk, ManifestGeneration, Playlist, PlaylistItem, Venue
from .models.places import PRIVACY_FIELDS

GENERATION_ROW = 1


def bump_generation() -> None:
    """Mark every cached manifest stale. Call inside the transaction that changes content."""
    db.session.execute(update(ManifestGeneration)
                       .where(ManifestGeneration.id == GENERATION_ROW)
                       .values(value=ManifestGeneration.value + 1))


def area_chain(area_id: int | None) -> list[int]:
    """The area and its ancestors, nearest first (district, then province)."""
    chain: list[int] = []
    while area_id is not None and area_id not in chain:
        chain.append(area_id)
        area_id = db.session.scalar(select(Area.parent_id).where(Area.id == area_id))
    return chain


def playlist_for(venue: Venue) -> Playlist | None:
    """The venue's own assignment, else its district's, else its province's."""
    chain = area_chain(venue.area_id)
    rows = db.session.scalars(
        select(Assignment).where(or_(Assignment.venue_id == venue.id,
                                     Assignment.area_id.in_(chain)))
    ).all()
    if not rows:
        return None
    rank = {area: i + 1 for i, area in enumerate(chain)}
    best = min(rows, key=lambda a: 0 if a.venue_id is not None else rank[cast(int, a.area_id)])
    return db.session.scalars(
        select(Playlist).where(Playlist.id == best.playlist_id)
        .options(selectinload(Playlist.items).selectinload(PlaylistItem.media))
    ).first()


def _item(item: PlaylistItem, base: str) -> dict[str, Any]:
    media = item.media
    duration = item.duration_s
    if duration is None:
        duration = (media.duration_ms or 0) / 1000 if media and media.kind == "video" else 10.0
    return {
        "id": item.id, "kind": item.kind,
        "sha256": media.sha256 if media else None,
        "url": f"{base}/media/{media.sha256}" if media else None,
        "mime": media.mime if media else None,
        "bytes": media.bytes if media else None,
        "duration_s": float(duration),
        "width": media.width if media else None,
        "height": media.height if media else None,
        "schedule": {
            "days": list(item.days or [1, 2, 3, 4, 5, 6, 7]),
            "windows": [list(w) for w in (item.windows or [])],
            "valid_from": item.valid_from.isoformat() if item.valid_from else None,
            "valid_until": item.valid_until.isoformat() if item.valid_until else None,
        },
        "data": dict(item.data or {}),
    }


def build(kiosk: Kiosk) -> dict[str, Any]:
    """The full manifest for ``kiosk``, with its content-derived version."""
    cfg = current_app.config
    base = cfg["PUBLIC_URL"].rstrip("/")
    venue = kiosk.venue
    playlist = playlist_for(venue)
    prefix = cfg["MQTT_TOPIC_PREFIX"]
    body: dict[str, Any] = {
        "kiosk": {"id": kiosk.id, "name": kiosk.name},
        "venue": {"id": venue.id, "name": venue.name, "kind": venue.kind,
                  "timezone": venue.timezone},
        "layout": {"bar": "bottom"},
        "playlist": None if playlist is None else {
            "id": playlist.id, "name": playlist.name,
            "items": [_item(i, base) for i in playlist.items],
        },
        "qr": {"app_name": cfg["APP_NAME"], "android_url": cfg["ANDROID_STORE_URL"],
               "ios_url": cfg["IOS_STORE_URL"], "smart_url": f"{base}/q/{kiosk.id}"},
        "checkin": {
            "privacy_mode": venue.privacy_mode,
            "fields": list(PRIVACY_FIELDS[venue.privacy_mode]),
            "retention_days": venue.retention_days,
            "consent": venue.consent_texts(),
            "consent_version": venue.consent_version,
            "self_checkin_url": f"{base}/v/{venue.id}/{kiosk.id}/",
        },
        "sync": {"poll_seconds": int(cfg["MANIFEST_POLL_SECONDS"]),
                 "heartbeat_seconds": int(cfg["HEARTBEAT_SECONDS"]),
                 "mqtt_topics": [f"{prefix}/kiosk/{kiosk.id}", f"{prefix}/venue/{venue.id}",
                                 f"{prefix}/all"]},
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    return {"manifest_version": version, **body}


@dataclass(frozen=True)
class PollState:
    """What the one-query fast path learns about a polling kiosk."""

    kiosk_id: int
    venue_id: int
    cached_generation: int
    cached_version: str | None
    generation: int

    @property
    def fresh(self) -> bool:
        return self.cached_version is not None and self.cached_generation == self.generation


#: The fast path's one query, built once: only the token hash changes from poll to poll.
_POLL_STATE = (
    select(Kiosk.id, Kiosk.venue_id, Kiosk.manifest_generation, Kiosk.manifest_version,
           select(ManifestGeneration.value)
           .where(ManifestGeneration.id == GENERATION_ROW).scalar_subquery())
    .where(Kiosk.token_hash == bindparam("token_hash"), Kiosk.revoked_at.is_(None)))


@dataclass(frozen=True)
class _DriverQuery:
    """``_POLL_STATE`` compiled once for a dialect, to run on a DB-API cursor."""

    sql: str
    order: tuple[str, ...] | None  # qmark: the parameter names in order; None: by name
    fixed: dict[str, Any]  # the parameters other than the token hash

    def params(self, token_hash: str) -> Any:
        values = {**self.fixed, "token_hash": token_hash}
        return values if self.order is None else tuple(values[n] for n in self.order)


_DRIVER_QUERIES: dict[tuple[str, str], _DriverQuery | None] = {}


def _driver_query(dialect: Any) -> _DriverQuery | None:
    key = (dialect.name, dialect.driver)
    if key not in _DRIVER_QUERIES:
        compiled = _POLL_STATE.compile(dialect=dialect)
        fixed = {k: v for k, v in compiled.params.items() if k != "token_hash"}
        query = None
        if key == ("sqlite", "pysqlite") and compiled.positiontup:
            query = _DriverQuery(compiled.string, tuple(compiled.positiontup), fixed)
        elif key == ("postgresql", "psycopg"):
            query = _DriverQuery(compiled.string, None, fixed)
        _DRIVER_QUERIES[key] = query
    return _DRIVER_QUERIES[key]


class _PollConnections:
    """One DB-API connection per engine, process and thread, kept for the poll query.

    A poll is one indexed read, yet checking a connection out of SQLAlchemy's pool costs
    more than the read itself: on PostgreSQL the pre-ping is a round trip of its own, and
    check-in resets the connection (another one). This connection is checked out once
    (pre-pinged, with the engine's ``connect`` set-up such as SQLite's pragmas), detached
    from the pool and kept: on PostgreSQL in autocommit, so each poll is exactly one
    statement and always sees the latest commit; on SQLite no transaction stays open
    between polls either, as the cursor is closed after its one row. Instead of pinging
    before every use, a poll that meets a dropped connection (server restart, idle
    timeout) reconnects and runs once more: the optimistic half of SQLAlchemy's disconnect
    handling. The connections close with the engine (``Engine.dispose``).
    """

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.opened: weakref.WeakKeyDictionary[Engine, list[Any]] = weakref.WeakKeyDictionary()
        self.closings = 0  # how many times ``close_all`` ran: threads then drop their own

    def _mine(self) -> dict[Engine, Any]:
        """This thread's connections. A new thread, a forked child (whose parent's sockets
        are never used or closed here) and a thread whose engine was disposed start over."""
        mark = (os.getpid(), self.closings)
        if getattr(self.local, "mark", None) != mark:
            self.local.mark = mark
            self.local.by_engine = weakref.WeakKeyDictionary()
        return cast(dict[Engine, Any], self.local.by_engine)

    def get(self, engine: Engine) -> Any:
        mine = self._mine()
        kept = mine.get(engine)
        if kept is not None:
            return kept
        fairy = engine.raw_connection()
        fairy.detach()  # the pool forgets it: it is ours to close
        connection: Any = fairy.dbapi_connection
        if engine.dialect.name == "postgresql":
            connection.autocommit = True  # idle after check-out, so this sends nothing
        mine[engine] = connection
        with self.lock:
            if engine not in self.opened:
                self.opened[engine] = []
                event.listen(engine, "engine_disposed", self.close_all)
            self.opened[engine].append(connection)
        return connection

    def drop(self, engine: Engine, connection: Any) -> None:
        self._mine().pop(engine, None)
        with self.lock, contextlib.suppress(ValueError):
            self.opened.get(engine, []).remove(connection)
        with contextlib.suppress(Exception):  # it is thrown away because it failed
            connection.close()

    def close_all(self, engine: Engine) -> None:
        """Close every thread's poll connection to ``engine`` (its ``engine_disposed``)."""
        with self.lock:
            connections = self.opened.pop(engine, [])
            self.closings += 1
        for connection in connections:
            with contextlib.suppress(Exception):  # closing for good: nothing to save
                connection.close()


_POLL_CONNECTIONS = _PollConnections()


def _fetch_one(connection: Any, query: _DriverQuery, token_hash: str) -> Any:
    cursor = connection.cursor()
    try:
        cursor.execute(query.sql, query.params(token_hash))
        return cursor.fetchone()
    finally:
        cursor.close()


def poll_state(token_hash: str,
               cached_if: Callable[[PollState], bool] | None = None) -> PollState | None:
    """The polling kiosk's state, read from the database.

    This is most of the work of a poll answered 304, so it runs as the one compiled query on
    a DB-API cursor of a connection kept for polls (``_PollConnections``), outside the ORM
    session: no pool check-out, no pre-ping, no BEGIN and ROLLBACK around a single read.
    Each of these cut the CPU of a poll (docs/benchmarks.md). Nothing in it needs the
    request's transaction: the generation is read before anything it guards.

    On PostgreSQL what it reads is also kept in the process (``poll_cache``) for one use
    only: the manifest poll passes ``cached_if`` (the state is fresh and matches
    ``If-None-Match``), and a kept state that passes it is returned without the query, so
    the poll is answered 304. Every other caller, and that poll when the kept state does not
    pass or is missing, gets the database's answer (and the cache that answer), so a revoked
    token stops them at once. A kept state is dropped when PostgreSQL notifies a change to
    the kiosk or to the generation (normally well under a millisecond after the commit), and
    at the commit itself when this process made the change: until another process's change
    is delivered, a 304 may still be answered from the old state.
    """
    engine = db.engine
    cache = poll_cache.for_engine(engine, current_app)
    if cache is None:  # SQLite, or POLL_CACHE off
        return _read_poll_state(engine, token_hash)
    if cached_if is not None:
        kept = cache.lookup(engine, token_hash)
        if kept is not None and cached_if(kept):
            return kept
    mark = cache.mark(engine)
    state = _read_poll_state(engine, token_hash)
    cache.put(mark, token_hash, state)
    return state


def _read_poll_state(engine: Engine, token_hash: str) -> PollState | None:
    query = _driver_query(engine.dialect)
    if query is None:
        row = db.session.connection().execute(_POLL_STATE, {"token_hash": token_hash}).first()
        return None if row is None else PollState(*row)
    for attempt in (1, 2):
        connection = _POLL_CONNECTIONS.get(engine)
        try:
            found = _fetch_one(connection, query, token_hash)
            break
        except engine.dialect.loaded_dbapi.Error as exc:
            _POLL_CONNECTIONS.drop(engine, connection)
            if attempt == 2 or not engine.dialect.is_disconnect(exc, connection, None):
                raise
    return None if found is None else PollState(*found)


def refresh(state: PollState) -> dict[str, Any]:
    """Compute the manifest and remember its version under the generation read before."""
    kiosk = db.session.get(Kiosk, state.kiosk_id)
    assert kiosk is not None
    manifest = build(kiosk)
    kiosk.manifest_generation = state.generation
    kiosk.manifest_version = manifest["manifest_version"]
    kiosk.manifest_etag = manifest["manifest_version"]
    db.session.commit()
    return manifest


def current_version(state: PollState) -> str:
    if state.fresh:
        assert state.cached_version is not None
        return state.cached_version
    return str(refresh(state)["manifest_version"])
