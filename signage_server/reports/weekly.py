"""The weekly report the campaign letters ask for, as a value: ``build`` runs the grouped
queries for an ISO week and the week before, and lays out what the formats print.

Period 0 is last week, period 1 the report's week, each bounded in every venue's own time
zone (see ``periods``). "Kiosks offline for more than 24 hours" is the fleet as it stands when
the report is made (``now``): that list is for acting on, not for the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import queries
from .figures import Counts, Grouped, Promo, Settings, collect, merged, ranked, total
from .periods import IsoWeek, Periods
from .scope import DbSession, Scope, timezones

LAST, THIS = 0, 1
WEEK_HOURS = 7 * 24


@dataclass
class VenueRow:
    id: int
    name: str
    area: str
    timezone: str
    kiosks: int
    offline_now: int
    this: Counts
    last: Counts
    plays_by_promo: dict[str, int]


@dataclass(frozen=True)
class OfflineKiosk:
    id: int
    name: str
    venue_id: int
    venue_name: str
    timezone: str
    last_heartbeat_at: datetime | None


@dataclass
class WeeklyReport:
    scope: Scope
    week: IsoWeek
    generated_at: datetime
    settings: Settings
    zones: list[str]
    this: Counts
    last: Counts
    kiosks: int
    venues: list[VenueRow]
    promos: list[Promo]
    offline: list[OfflineKiosk]
    promo_columns: list[Promo] = field(default_factory=list)

    @property
    def previous(self) -> IsoWeek:
        return self.week.shifted(-1)

    @property
    def below_target(self) -> list[VenueRow]:
        """Venues whose app share this week is under the target, lowest first."""
        rows = [v for v in self.venues
                if v.this.share is not None and v.this.share < self.settings.target]
        return sorted(rows, key=lambda v: (v.this.share or 0.0, v.name, v.id))

    @property
    def without_answers(self) -> list[VenueRow]:
        return [v for v in self.venues if v.this.share is None]

    def uptime_share(self, counts: Counts, kiosks: int) -> float | None:
        """Screen hours over the hours the kiosks could have been on."""
        if not kiosks:
            return None
        return counts.screen_hours(self.settings.heartbeat_seconds) / (kiosks * WEEK_HOURS)

    def change(self, name: str) -> float | None:
        """This week minus last week for a count or the share (percentage points / 100)."""
        now_value, then_value = _value(self.this, name), _value(self.last, name)
        if now_value is None or then_value is None:
            return None
        return now_value - then_value


def _value(counts: Counts, name: str) -> float | None:
    value: Any = getattr(counts, name)
    return value if value is None else float(value)


def build(session: DbSession, scope: Scope, week: IsoWeek, now: datetime,
          settings: Settings, promo_columns: int = 6) -> WeeklyReport:
    zones = timezones(session, scope) or [settings.default_timezone]
    periods = Periods.weeks(week.shifted(-1), week)
    grouped = collect(session, scope, periods, zones, per_venue=True)
    offline_after = timedelta(hours=settings.offline_hours)
    fleet = {r.venue_id: (int(r.kiosks), int(r.offline))
             for r in session.execute(queries.fleet(scope, now, offline_after))}
    venues = [_venue_row(r, grouped, fleet) for r in session.execute(queries.venues(scope))]
    promos = ranked(merged(grouped.promos_of(THIS, v.id) for v in venues).values())
    offline = [OfflineKiosk(r.id, r.name, r.venue_id, r.venue_name, r.timezone,
                            r.last_heartbeat_at)
               for r in session.execute(queries.offline_kiosks(scope, now, offline_after))]
    return WeeklyReport(
        scope=scope, week=week, generated_at=now, settings=settings, zones=zones,
        this=total(v.this for v in venues), last=total(v.last for v in venues),
        kiosks=sum(k for k, _ in fleet.values()), venues=venues, promos=promos,
        offline=offline, promo_columns=[p for p in promos if p.plays][:promo_columns])


def _venue_row(row: Any, grouped: Grouped, fleet: dict[int, tuple[int, int]]) -> VenueRow:
    kiosks, offline = fleet.get(row.id, (0, 0))
    plays = {key: p.plays for key, p in grouped.promos_of(THIS, row.id).items() if p.plays}
    return VenueRow(id=row.id, name=row.name, area=row.area_name or "", timezone=row.timezone,
                    kiosks=kiosks, offline_now=offline, this=grouped.counts_of(row.id, THIS),
                    last=grouped.counts_of(row.id, LAST), plays_by_promo=plays)
