"""The adoption dashboard of an area, a venue or a kiosk, per day or per ISO week, as a value.

One grouped query per event table over the whole range (``figures.collect`` without the
per-venue split): the database returns one row per period (and per promo for plays and
scans), whatever the number of events behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from . import queries
from .figures import Counts, Promo, Settings, collect, merged, ranked
from .periods import IsoWeek, PeriodError, Periods
from .scope import DbSession, Scope, timezones

Granularity = Literal["day", "week"]
#: How many periods a page shows by default, and at most.
DEFAULT_SPAN: dict[str, int] = {"day": 28, "week": 12}
MAX_SPAN: dict[str, int] = {"day": 92, "week": 53}


@dataclass
class Dashboard:
    scope: Scope
    granularity: Granularity
    periods: Periods
    series: list[Counts]
    promos: list[Promo]
    kiosks: int
    offline_now: int
    settings: Settings
    zones: list[str]

    @property
    def starts(self) -> list[date]:
        return self.periods.labels()

    def period_hours(self, index: int) -> float:
        return (self.periods.starts[index + 1] - self.periods.starts[index]).days * 24.0

    def uptime(self, index: int) -> float | None:
        """Screen hours over the hours the scope's kiosks could have been on."""
        if not self.kiosks:
            return None
        hours = self.series[index].screen_hours(self.settings.heartbeat_seconds)
        return hours / (self.kiosks * self.period_hours(index))


def periods_for(granularity: Granularity, until: date, span: int) -> Periods:
    """``span`` days or ISO weeks ending with the one that holds ``until``."""
    if granularity not in DEFAULT_SPAN:
        raise PeriodError(f"granularity {granularity!r}: use day or week")
    if not 1 <= span <= MAX_SPAN[granularity]:
        raise PeriodError(f"show 1 to {MAX_SPAN[granularity]} {granularity}s, not {span}")
    if granularity == "day":
        return Periods.days(until - timedelta(days=span - 1), until)
    last = IsoWeek.of(until)
    return Periods.weeks(last.shifted(-(span - 1)), last)


def today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def build(session: DbSession, scope: Scope, periods: Periods, granularity: Granularity,
          now: datetime, settings: Settings) -> Dashboard:
    zones = timezones(session, scope) or [settings.default_timezone]
    grouped = collect(session, scope, periods, zones, per_venue=False)
    series = [grouped.counts_of(None, i) for i in range(len(periods))]
    promos = ranked(merged(grouped.promos_of(i) for i in range(len(periods))).values())
    offline_after = timedelta(hours=settings.offline_hours)
    fleet = session.execute(queries.fleet(scope, now, offline_after)).all()
    return Dashboard(scope=scope, granularity=granularity, periods=periods, series=series,
                     promos=promos, kiosks=sum(int(r.kiosks) for r in fleet),
                     offline_now=sum(int(r.offline) for r in fleet), settings=settings,
                     zones=zones)
