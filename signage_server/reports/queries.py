"""The aggregate queries behind the dashboard and the weekly report (SQLAlchemy Core).

Each function returns a ``Select`` that groups event rows in the database, by period number
(``bucket``, see ``periods``) and, when ``per_venue`` is set, by venue. What comes back is
at most venues x periods x promos rows, never the events themselves. The selects are pure
values: the report runs them, the benchmark runs ``EXPLAIN ANALYZE`` on the very same ones.

Definitions (docs/reports.md explains them for readers):

- check-ins are arrivals (direction ``in``); departures are counted apart;
- app share = (has_app ``yes`` + ``installed_now``) / (``yes`` + ``no`` + ``installed_now``):
  visitors who were not asked (``unknown``) are left out of both sides;
- a promo is what was played: the video or image by its sha256, else the playlist item, else
  the kind of built-in content; a scan is credited to the item the kiosk showed when it drew
  the QR code, hence to that item's media;
- screen uptime = heartbeats received x the heartbeat interval; footfall = motion counts; a
  kiosk is online in a period when it sent at least one heartbeat in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select
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
from .periods import Periods, bucketing
from .scope import Scope


def _count_if(condition: ColumnElement[bool], name: str) -> Any:
    return func.count().filter(condition).label(name)


def _grouped(scope: Scope, periods: Periods, zones: Sequence[str], *, per_venue: bool,
             ts: Any, venue_id: Any, kiosk_id: Any, keys: Sequence[Any],
             measures: Sequence[Any]) -> Select[Any]:
    """``SELECT [venue_id,] bucket, keys..., measures... GROUP BY [venue_id,] bucket, keys``
    over the rows of one event table inside the periods and the scope."""
    several_zones = len(set(zones)) > 1
    buckets = bucketing(ts, periods, zones, Venue.timezone if several_zones else None)
    bucket = buckets.number.label("bucket")
    group: list[Any] = [venue_id.label("venue_id")] if per_venue else []
    group += [bucket, *keys]
    query = select(*group, *measures).where(buckets.within, scope.condition(venue_id, kiosk_id))
    if several_zones:
        query = query.join_from(venue_id.table, Venue, Venue.id == venue_id)
    return query.group_by(*group)


def checkins(scope: Scope, periods: Periods, zones: Sequence[str], *,
             per_venue: bool) -> Select[Any]:
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
          per_venue: bool) -> Select[Any]:
    """Plays and time on screen per promo (media sha256, item id, kind)."""
    keys = [PlayEvent.media_sha256, PlayEvent.item_id, PlayEvent.kind]
    measures = [func.count().label("plays"),
                func.coalesce(func.sum(PlayEvent.duration_ms), 0).label("duration_ms")]
    return _grouped(scope, periods, zones, per_venue=per_venue, ts=PlayEvent.started_at,
                    venue_id=PlayEvent.venue_id, kiosk_id=PlayEvent.kiosk_id, keys=keys,
                    measures=measures)


def scans(scope: Scope, periods: Periods, zones: Sequence[str], *,
          per_venue: bool) -> Select[Any]:
    """QR scans per item on screen when the code was drawn; ``from_poster`` for the printed
    poster's code (no kiosk)."""
    keys = [QrScan.item_id, QrScan.kiosk_id.is_(None).label("from_poster")]
    return _grouped(scope, periods, zones, per_venue=per_venue, ts=QrScan.at,
                    venue_id=QrScan.venue_id, kiosk_id=QrScan.kiosk_id, keys=keys,
                    measures=[func.count().label("scans")])


def kiosk_hours(scope: Scope, periods: Periods, zones: Sequence[str], *,
                per_venue: bool) -> Select[Any]:
    """Kiosks online (at least one heartbeat), heartbeats and footfall. A UTC hour counts
    in the period its start falls in."""
    measures = [func.count(func.distinct(KioskHour.kiosk_id)).label("kiosks_online"),
                func.coalesce(func.sum(KioskHour.beats), 0).label("beats"),
                func.coalesce(func.sum(KioskHour.footfall), 0).label("footfall")]
    return _grouped(scope, periods, zones, per_venue=per_venue, ts=KioskHour.hour,
                    venue_id=KioskHour.venue_id, kiosk_id=KioskHour.kiosk_id, keys=(),
                    measures=measures)


def _active_kiosks(scope: Scope) -> ColumnElement[bool]:
    return and_(Kiosk.enrolled_at.is_not(None), Kiosk.revoked_at.is_(None),
                scope.condition(Kiosk.venue_id, Kiosk.id))


def fleet(scope: Scope, now: datetime, offline_after: timedelta) -> Select[Any]:
    """Per venue: enrolled kiosks not revoked, and how many of them are offline now (no
    heartbeat for longer than ``offline_after``, or none at all since enrollment)."""
    offline = func.coalesce(Kiosk.last_heartbeat_at, Kiosk.enrolled_at) < now - offline_after
    return (select(Kiosk.venue_id, func.count().label("kiosks"),
                   _count_if(offline, "offline"))
            .where(_active_kiosks(scope)).group_by(Kiosk.venue_id))


def offline_kiosks(scope: Scope, now: datetime, offline_after: timedelta,
                   limit: int = 500) -> Select[Any]:
    """The kiosks offline for longer than ``offline_after``, longest silent first."""
    since = func.coalesce(Kiosk.last_heartbeat_at, Kiosk.enrolled_at)
    return (select(Kiosk.id, Kiosk.name, Kiosk.venue_id, Venue.name.label("venue_name"),
                   Venue.timezone, Kiosk.last_heartbeat_at)
            .join(Venue, Venue.id == Kiosk.venue_id)
            .where(_active_kiosks(scope), since < now - offline_after)
            .order_by(since, Kiosk.id).limit(limit))


def venues(scope: Scope) -> Select[Any]:
    """Every venue in scope with its area's name, for the per-venue table."""
    query = (select(Venue.id, Venue.name, Venue.timezone, Area.name.label("area_name"))
             .outerjoin(Area, Area.id == Venue.area_id).order_by(Venue.name, Venue.id))
    ids = scope.venue_ids()
    return query if ids is None else query.where(Venue.id.in_(ids))


def items(item_ids: Sequence[int]) -> Select[Any]:
    """What each playlist item shows: kind, media sha256 and title, slide data."""
    return (select(PlaylistItem.id, PlaylistItem.kind, PlaylistItem.data,
                   MediaAsset.sha256, MediaAsset.title)
            .outerjoin(MediaAsset, MediaAsset.id == PlaylistItem.media_id)
            .where(PlaylistItem.id.in_(sorted(set(item_ids)))))


def media_titles(shas: Sequence[str]) -> Select[Any]:
    return (select(MediaAsset.sha256, MediaAsset.title, MediaAsset.kind)
            .where(MediaAsset.sha256.in_(sorted(set(shas)))))
