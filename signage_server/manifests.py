"""What each kiosk shows: the manifest, its version, and the generation that invalidates it.

A manifest depends only on the database (schedules are evaluated by the kiosk), so its version
is a hash of its content. Computing it takes several queries, so each kiosk row remembers the
version it last got together with the global *generation*; anything that may change a
manifest bumps the generation in the same transaction. A poll is then one indexed query
whenever nothing changed, and any server process can answer any kiosk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import selectinload

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
    best = min(rows, key=lambda a: 0 if a.venue_id is not None else rank[a.area_id])
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


def poll_state(token_hash: str) -> PollState | None:
    """Read on every request, never cached in the process, so a revoked token stops at once.

    This is most of the work of a poll answered 304, so it runs as the one compiled query on
    a DB-API cursor of a pooled connection (pre-pinged as configured), outside the ORM
    session, and on PostgreSQL in autocommit: no BEGIN and ROLLBACK round trips around a
    single read. Each of these cut the CPU of a poll (docs/benchmarks.md). Nothing in it
    needs the request's transaction: the generation is read before anything it guards.
    """
    engine = db.engine
    query = _driver_query(engine.dialect)
    if query is None:
        row = db.session.connection().execute(_POLL_STATE, {"token_hash": token_hash}).first()
        return None if row is None else PollState(*row)
    connection = engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        single = (engine.dialect.name == "postgresql" and not driver.autocommit
                  and driver.info.transaction_status == 0)  # idle, as after check-out
        if single:
            driver.autocommit = True  # sends nothing to the server
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(query.sql, query.params(token_hash))
                found = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            if single:
                driver.autocommit = False
    finally:
        connection.close()  # back to the pool
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
