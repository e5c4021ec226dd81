"""The aggregate queries behind the dashboard and the weekly report (SQLAlchemy Core).

Each function returns a statement that groups event rows in the database, by period number
(``bucket``, see ``periods``) and, when ``per_venue`` is set, by venue. What comes back is
at most venues x periods x promos rows, never the events themselves. The selects are pure
values: the report runs them, the benchmark runs ``EXPLAIN ANALYZE`` on the very same ones.

Definitions (docs/reports.md explains them for readers):

- check-ins are arrivals (direction ``in``); departures are counted apart;
- app share = (has_app ``yes`` + ``installed_now``) / (``yes`` + ``no`` + ``installed_now``):
  visitors who were not asked (``unknown``) are left out of both sides;
- a promo is what was played: the video or image (by sha256) of the playlist item, else the
  item itself (a QR or text slide), else the kind of built-in content. Plays and scans both
  carry the item on screen, so both are credited to that item's media;
- screen uptime = heartbeats received x the heartbeat interval; footfall = motion counts; a
  kiosk is online in a period when it sent at least one heartbeat in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, select, text, union_all
from sqlalchemy.sql.elements import ColumnElement

from ..models import (
    Area,
    CheckIn,
    Kiosk,
    KioskHour,
    MediaAsset,
    PlayEvent,
    PlaylistItem,
    QrScan,
    Venue,
)
from .periods import Periods, period_conditions
from .scope import DbSession, Scope


def tune(session: DbSession) -> None:
    """PostgreSQL: no JIT compilation for this transaction. Report queries are short scans
    and aggregates, where compiling (0.3-0.5 s measured) costs more than it saves."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _count_if(condition: ColumnElement[bool], name: str) -> Any:
    return func.count().filter(condition).label(name)


def _grouped(scope: Scope, periods: Periods, zones: Sequence[str], *, per_venue: bool,
             ts: Any, venue_id: Any, kiosk_id: Any, keys: Sequence[Any],
             measures: Sequence[Any]) -> Any:
    """``SELECT [venue_id,] <i> AS bucket, keys..., measures... WHERE <in period i>
    GROUP BY [venue_id,] keys`` for each period ``i``, as one ``UNION ALL``.

    One branch per period, rather than one scan bucketed by a CASE expression, lets each
    branch read only its own time range from the index and lets PostgreSQL estimate the
    number of groups (and so choose a parallel hash aggregate) from the table's statistics.
    """
    several_zones = len(set(zones)) > 1
    zone: Any = Venue.timezone if several_zones else None
    conditions = period_conditions(ts, periods, zones, zone)
    group: list[Any] = [venue_id.label("venue_id")] if per_venue else []
    branches = []
    for number, within in enumerate(conditions):
        bucket: Any = literal_column(str(number)).label("bucket")
        query = (select(*group, bucket, *keys, *measures)
                 .where(within, scope.condition(venue_id, kiosk_id)))
        if several_zones:
            query = query.join_from(venue_id.table, Venue, Venue.id == venue_id)
        branches.append(query.group_by(*group, *keys) if group or keys else query)
    return branches[0] if len(branches) == 1 else union_all(*branches)


def checkins(scope: Scope, periods: Periods, zones: Sequence[str], *,
             per_venue: bool) -> Any:
    """Arrivals, departures, the has_app answers and the static self check-ins."""
    arriving = CheckIn.direction == "in"
    measures = [
        _count_if(arriving, "arrivals"),
        _count_if(CheckIn.direction == "out", "departures"),
        _count_if(and_(arriving, CheckIn.has_app == "yes"), "app_yes"),
        _count_if(and_(arriving, CheckIn.has_app == "no"), "app_no"),
        _count_if(and_(arriving, CheckIn.has_app == "installed_now"), "installed_now"),
        _count_if(and_(arriving, CheckIn.method == "self_static"), "self_static"),
    ]
    return _grouped(scope, periods, zones, per_venue=per_venue, ts=CheckIn.occurred_at,
                    venue_id=CheckIn.venue_id, kiosk_id=CheckIn.kiosk_id, keys=(),
                    measures=measures)


def plays(scope: Scope, periods: Periods, zones: Sequence[str], *,
          per_venue: bool) -> Any:
    """Plays and time on screen per playlist item (and kind, for built-in content that has
    no item). The item's media is looked up once per item afterwards (``items``), so the
    grouping reads only narrow columns: an index-only scan on PostgreSQL."""
    keys = [PlayEvent.item_id, PlayEvent.kind]
    measures = [func.count().label("plays"),
                func.coalesce(func.sum(PlayEvent.duration_ms), 0).label("duration_ms")]
    return _grouped(scope, periods, zones, per_venue=per_venue, ts=PlayEvent.started_at,
                    venue_id=PlayEvent.venue_id, kiosk_id=PlayEvent.kiosk_id, keys=keys,
                    measures=measures)


def played_media(item_id: int, since: datetime, until: datetime) -> Select:
    """The media a (since deleted) playlist item played, from one of its plays."""
    return (select(PlayEvent.media_sha256)
            .where(PlayEvent.item_id == item_id, PlayEvent.started_at >= since,
                   PlayEvent.started_at < until, PlayEvent.media_sha256.is_not(None))
            .limit(1))


def scans(scope: Scope, periods: Periods, zones: Sequence[str], *,
          per_venue: bool) -> Any:
    """QR scans per item on screen when the code was drawn; ``from_poster`` for the printed
    poster's code (no kiosk)."""
    keys = [QrScan.item_id, QrScan.kiosk_id.is_(None).label("from_poster")]
    return _grouped(scope, periods, zones, per_venue=per_venue, ts=QrScan.at,
                    venue_id=QrScan.venue_id, kiosk_id=QrScan.kiosk_id, keys=keys,
                    measures=[func.count().label("scans")])


def kiosk_hours(scope: Scope, periods: Periods, zones: Sequence[str], *,
                per_venue: bool) -> Any:
    """Kiosks online (at least one heartbeat), heartbeats and footfall. A UTC hour counts
    in the period its start falls in. Grouped by kiosk first, then counted: a hash aggregate
    twice instead of the sort a ``count(DISTINCT kiosk_id)`` needs."""
    per_kiosk = _grouped(scope, periods, zones, per_venue=per_venue, ts=KioskHour.hour,
                         venue_id=KioskHour.venue_id, kiosk_id=KioskHour.kiosk_id,
                         keys=[KioskHour.kiosk_id],
                         measures=[func.sum(KioskHour.beats).label("beats"),
                                   func.sum(KioskHour.footfall).label("footfall")]).subquery()
    group = [per_kiosk.c.venue_id] if per_venue else []
    return (select(*group, per_kiosk.c.bucket, func.count().label("kiosks_online"),
                   func.coalesce(func.sum(per_kiosk.c.beats), 0).label("beats"),
                   func.coalesce(func.sum(per_kiosk.c.footfall), 0).label("footfall"))
            .group_by(*group, per_kiosk.c.bucket))


def _active_kiosks(scope: Scope) -> ColumnElement[bool]:
    return and_(Kiosk.enrolled_at.is_not(None), Kiosk.revoked_at.is_(None),
                scope.condition(Kiosk.venue_id, Kiosk.id))


def fleet(scope: Scope, now: datetime, offline_after: timedelta) -> Select:
    """Per venue: enrolled kiosks not revoked, and how many of them are offline now (no
    heartbeat for longer than ``offline_after``, or none at all since enrollment)."""
    offline = func.coalesce(Kiosk.last_heartbeat_at, Kiosk.enrolled_at) < now - offline_after
    return (select(Kiosk.venue_id, func.count().label("kiosks"),
                   _count_if(offline, "offline"))
            .where(_active_kiosks(scope)).group_by(Kiosk.venue_id))


def offline_kiosks(scope: Scope, now: datetime, offline_after: timedelta,
                   limit: int = 500) -> Select:
    """The kiosks offline for longer than ``offline_after``, longest silent first."""
    since = func.coalesce(Kiosk.last_heartbeat_at, Kiosk.enrolled_at)
    return (select(Kiosk.id, Kiosk.name, Kiosk.venue_id, Venue.name.label("venue_name"),
                   Venue.timezone, Kiosk.last_heartbeat_at)
            .join(Venue, Venue.id == Kiosk.venue_id)
            .where(_active_kiosks(scope), since < now - offline_after)
            .order_by(since, Kiosk.id).limit(limit))


def venues(scope: Scope) -> Select:
    """Every venue in scope with its area's name, for the per-venue table."""
    query = (select(Venue.id, Venue.name, Venue.timezone, Area.name.label("area_name"))
             .outerjoin(Area, Area.id == Venue.area_id).order_by(Venue.name, Venue.id))
    ids = scope.venue_ids()
    return query if ids is None else query.where(Venue.id.in_(ids))


def items(item_ids: Sequence[int]) -> Select:
    """What each playlist item shows: kind, media sha256 and title, slide data."""
    return (select(PlaylistItem.id, PlaylistItem.kind, PlaylistItem.data,
                   MediaAsset.sha256, MediaAsset.title)
            .outerjoin(MediaAsset, MediaAsset.id == PlaylistItem.media_id)
            .where(PlaylistItem.id.in_(sorted(set(item_ids)))))


def media_titles(shas: Sequence[str]) -> Select:
    return (select(MediaAsset.sha256, MediaAsset.title, MediaAsset.kind)
            .where(MediaAsset.sha256.in_(sorted(set(shas)))))
