"""The weekly report laid out as titled tables of typed cells, once, for every format.

HTML, CSV and XLSX all print these tables, so the three can never disagree about a figure:
each only decides how a kind of cell looks (``37,5 %`` on paper, ``0.375`` in a CSV file,
``0.375`` formatted ``0.0%`` in a spreadsheet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .figures import Counts
from .texts import Texts
from .weekly import VenueRow, WeeklyReport

Kind = Literal["text", "int", "hours", "percent", "ratio"]


@dataclass(frozen=True)
class Cell:
    value: object
    kind: Kind = "text"
    #: A difference (this week minus last): printed with its sign.
    change: bool = False


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    #: What to print instead of an empty table.
    empty: str = ""


def _cells(kinds: tuple[Kind, ...], values: tuple[object, ...]) -> tuple[Cell, ...]:
    return tuple(Cell(v, k) for k, v in zip(kinds, values, strict=True))


def tables(report: WeeklyReport, t: Texts) -> list[Table]:
    return [summary(report, t), venues(report, t), promos(report, t), below(report, t),
            offline(report, t)]


def summary(report: WeeklyReport, t: Texts) -> Table:
    this, last = report.this, report.last

    def row(key: str, kind: Kind, now: float | None, then: float | None) -> tuple[Cell, ...]:
        change = None if now is None or then is None else now - then
        return (Cell(t(key)), Cell(now, kind), Cell(then, kind), Cell(change, kind, change=True))

    rows = [
        row("checkins", "int", this.arrivals, last.arrivals),
        row("answered", "int", this.answered, last.answered),
        row("with_app", "int", this.with_app, last.with_app),
        row("installed_now", "int", this.installed_now, last.installed_now),
        row("share", "percent", this.share, last.share),
        row("self_static", "int", this.self_static, last.self_static),
        row("scans", "int", this.scans, last.scans),
        row("plays", "int", this.plays, last.plays),
        row("promo_hours", "hours", this.promo_hours, last.promo_hours),
        row("screen_hours", "hours", _screen(report, this), _screen(report, last)),
        row("uptime", "percent", report.uptime_share(this, report.kiosks),
            report.uptime_share(last, report.kiosks)),
        row("footfall", "int", this.footfall, last.footfall),
        row("kiosks_online", "int", this.kiosks_online, last.kiosks_online),
        row("venues_below", "int", len(report.below_target), _below_last(report)),
    ]
    columns = (t("metric"), t("this_week"), t("last_week"), t("change"))
    return Table("summary", t("summary", target=t.percent(report.settings.target, 0)), columns,
                 tuple(rows))


def _screen(report: WeeklyReport, counts: Counts) -> float:
    return counts.screen_hours(report.settings.heartbeat_seconds)


def _below_last(report: WeeklyReport) -> int:
    target = report.settings.target
    return sum(1 for v in report.venues if v.last.share is not None and v.last.share < target)


def venues(report: WeeklyReport, t: Texts) -> Table:
    shown = [p.key for p in report.promo_columns]
    other = any(p.plays for p in report.promos if p.key not in shown)
    columns = [t("venue"), t("area"), t("kiosks_online"), t("kiosk") + " (Σ)", t("promo_hours")]
    columns += [t("plays_of", title=t.promo(p)) for p in report.promo_columns]
    columns += [t("plays_of", title=t("promo.other"))] if other else []
    columns += [t("scans"), t("checkins"), t("share"), f"{t('share')} ({t('last_week').lower()})"]
    rows = tuple(_venue_cells(v, shown, other) for v in report.venues)
    return Table("venues", t("venues"), tuple(columns), rows)


def _venue_cells(v: VenueRow, shown: list[str], other: bool) -> tuple[Cell, ...]:
    plays = [v.plays_by_promo.get(key, 0) for key in shown]
    if other:
        plays.append(sum(n for key, n in v.plays_by_promo.items() if key not in shown))
    return (Cell(v.name), Cell(v.area), Cell(v.this.kiosks_online, "int"), Cell(v.kiosks, "int"),
            Cell(v.this.promo_hours, "hours"), *[Cell(n, "int") for n in plays],
            Cell(v.this.scans, "int"), Cell(v.this.arrivals, "int"),
            Cell(v.this.share, "percent"), Cell(v.last.share, "percent"))


def promos(report: WeeklyReport, t: Texts) -> Table:
    columns = (t("promo"), t("plays"), t("scans"), t("per_1000"))
    kinds: tuple[Kind, ...] = ("text", "int", "int", "ratio")
    rows = tuple(_cells(kinds, (t.promo(p), p.plays, p.scans, p.scans_per_1000))
                 for p in report.promos)
    return Table("promos", t("promos"), columns, rows)


def below(report: WeeklyReport, t: Texts) -> Table:
    columns = (t("venue"), t("area"), t("checkins"), t("answered"), t("share"))
    kinds: tuple[Kind, ...] = ("text", "text", "int", "int", "percent")
    rows = tuple(_cells(kinds, (v.name, v.area, v.this.arrivals, v.this.answered, v.this.share))
                 for v in report.below_target)
    target = t.percent(report.settings.target, 0)
    return Table("below", t("below_title", target=target), columns, rows, t("none_below"))


def offline(report: WeeklyReport, t: Texts) -> Table:
    columns = (t("kiosk"), t("venue"), t("last_heartbeat"))
    rows = tuple((Cell(k.name or f"#{k.id}"), Cell(k.venue_name),
                  Cell(t.moment(k.last_heartbeat_at, k.timezone))) for k in report.offline)
    return Table("offline", t("offline_title", hours=report.settings.offline_hours), columns,
                 rows, t("none_offline"))
