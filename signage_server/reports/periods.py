"""Calendar periods in each venue's local time, and how events fall into them in SQL.

A report period (a day, an ISO week) is bounded in the **venue's own time zone**: Monday
2026-11-16 of a venue in Asia/Ho_Chi_Minh runs from 2026-11-15 17:00 UTC to 2026-11-16 17:00
UTC, while for a venue in Asia/Tokyo the same "Monday" starts two hours earlier. An area report
therefore adds up each venue's own Monday, which is what a venue manager sees on the kiosk's
clock. The bounds are computed here, in Python, for each time zone present in the scope (one in
practice), and handed to the database as UTC timestamps, so the SQL is the same on SQLite and
PostgreSQL, daylight saving time is exact, and the event tables are filtered on a plain range
that an index can serve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from ..errors import BadRequest

WEEK_PATTERN = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$", re.ASCII)


class PeriodError(BadRequest):
    """A malformed or impossible week or date range."""

    code = "bad_period"


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """``2026-W47`` (also ``2026W47``, ``2026-w47``); refuses weeks the year does not have."""
        found = WEEK_PATTERN.match(text or "")
        if not found:
            raise PeriodError(f"not an ISO week: {text!r} (expected YYYY-Www, e.g. 2026-W47)")
        year, week = int(found[1]), int(found[2])
        weeks = weeks_in_year(year)
        if not 1 <= week <= weeks:
            raise PeriodError(f"{year} has weeks 1 to {weeks}, not {week}")
        return cls(year, week)

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def shifted(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday + timedelta(weeks=weeks))

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def weeks_in_year(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last."""
    return date(year, 12, 28).isocalendar().week


def last_complete_week(now: datetime, zone: str) -> IsoWeek:
    """The ISO week before the one ``now`` falls in, in ``zone``."""
    return IsoWeek.of(now.astimezone(ZoneInfo(zone)).date()).shifted(-1)


@dataclass(frozen=True)
class Periods:
    """Consecutive local periods: period ``i`` runs from ``starts[i]`` (00:00 local) to
    ``starts[i + 1]``. Days, ISO weeks, or any other run of whole days."""

    starts: tuple[date, ...]

    def __post_init__(self) -> None:
        if len(self.starts) < 2 or any(b <= a for a, b in zip(self.starts, self.starts[1:],
                                                              strict=False)):
            raise PeriodError("periods need at least two increasing dates")

    @classmethod
    def days(cls, first: date, last: date) -> Periods:
        """Every day from ``first`` to ``last`` included."""
        if last < first:
            raise PeriodError(f"the range ends ({last}) before it starts ({first})")
        count = (last - first).days + 1
        return cls(tuple(first + timedelta(days=i) for i in range(count + 1)))

    @classmethod
    def weeks(cls, first: IsoWeek, last: IsoWeek) -> Periods:
        """Every ISO week from ``first`` to ``last`` included."""
        if last < first:
            raise PeriodError(f"the range ends ({last}) before it starts ({first})")
        count = (last.monday - first.monday).days // 7 + 1
        return cls(tuple(first.monday + timedelta(weeks=i) for i in range(count + 1)))

    def __len__(self) -> int:
        return len(self.starts) - 1

    def labels(self) -> list[date]:
        return list(self.starts[:-1])

    def utc_bounds(self, zone: str) -> list[datetime]:
        """Each local midnight of ``starts`` in ``zone``, as an aware UTC datetime."""
        tz = ZoneInfo(zone)
        return [datetime.combine(d, time(0), tz).astimezone(UTC) for d in self.starts]


def period_conditions(ts: ColumnElement[datetime], periods: Periods, zones: Sequence[str],
                      zone_column: ColumnElement[str] | None = None) -> list[ColumnElement[bool]]:
    """For each period, the condition that ``ts`` falls in it, in the local time of each of
    ``zones``.

    With one zone (the usual case) no time zone column is needed: the condition is a single
    range on ``ts``. With several, ``zone_column`` (the venue's timezone) picks the bounds, and
    a range covering every zone's bounds keeps the condition usable by an index on ``ts``.
    """
    by_zone: Mapping[str, list[datetime]] = {z: periods.utc_bounds(z) for z in sorted(set(zones))}
    if not by_zone:
        raise ValueError("no time zone to bound the periods in")
    conditions: list[ColumnElement[bool]] = []
    for i in range(len(periods)):
        if len(by_zone) == 1:
            (bounds,) = by_zone.values()
            conditions.append(and_(ts >= bounds[i], ts < bounds[i + 1]))
            continue
        if zone_column is None:
            raise ValueError("several time zones need the venue's timezone column")
        lowest = min(b[i] for b in by_zone.values())
        highest = max(b[i + 1] for b in by_zone.values())
        conditions.append(and_(ts >= lowest, ts < highest, or_(
            *[and_(zone_column == zone, ts >= b[i], ts < b[i + 1])
              for zone, b in by_zone.items()])))
    return conditions
