"""The weekly adoption report on a national fleet's data, against the database's own time.

A scratch PostgreSQL database is migrated with ``signage_server.migrate`` and filled
deterministically (``--seed``) through ``COPY``: at ``--scale 1``, 63 provinces with 10
districts each, 1,000 venues, 3,000 kiosks, 1,000,000 check-ins, 5,000,000 plays, 50,000 QR
scans and a heartbeat row per kiosk and daytime hour, spread over the ``--weeks`` weeks that end
with the report's week (so the report reads this week and last week: half the data with the
default four weeks). Secondary indexes are dropped during the load and rebuilt after it, then
the tables are analysed, as an operator would after a bulk import.

Then, ``--rounds`` times each, for the whole country and for one province:

- the report: ``reports.weekly.build`` (every query, through SQLAlchemy) plus the HTML page;
- the ceiling: PostgreSQL's own ``EXPLAIN (ANALYZE)`` execution time of the report's main query
  (plays per venue, promo and week: the largest table), and of all its queries added up.

Printed: medians, the targets (country <= 5 s, province <= 1 s), and report time / ceiling.

    python -m bench weekly_report -- --help
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ._common import machine, median, pg_base_url, postgres_problem, say, scratch_postgres, table

TARGETS = {"country": 5.0, "province": 1.0}
ZONE = "Asia/Ho_Chi_Minh"
DAY = 86_400
TABLES = ("area", "venue", "kiosk", "media_asset", "playlist", "playlist_item", "checkin",
          "play_event", "qr_scan", "kiosk_hour")
#: (title, kind, duration in ms, share of plays)
PROMOS = (("Video 8 giây", "video", 8_000, 30), ("Video 15 giây", "video", 15_000, 25),
          ("Video 30 giây", "video", 30_000, 15), ("Hướng dẫn cài đặt", "video", 60_000, 10),
          ("Áp phích 1", "image", 10_000, 10), ("Áp phích 2", "image", 10_000, 10))
HAS_APP = (("yes", 25), ("no", 50), ("installed_now", 5), ("unknown", 20))
METHODS = (("button", 55), ("staff", 20), ("scanner", 10), ("self", 10), ("self_static", 5))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench weekly_report",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the full data set (0.01 for a quick run)")
    parser.add_argument("--weeks", type=int, default=4, help="weeks of data (>= 2)")
    parser.add_argument("--week", default="2026-W47", help="the report's ISO week")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-url", help="PostgreSQL server to create a scratch database on "
                        "(default: SIGNAGE_BENCH_PG_URL, SIGNAGE_TEST_DATABASE_URL or "
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    parser.add_argument("--plans", action="store_true", help="print the main query's plans")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny data set and one round: checks the benchmark works")
    parser.add_argument("--json", dest="json_out", metavar="FILE",
                        help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.rounds = 0.002, 1
    if args.weeks < 2 or not 0 < args.scale <= 10:
        parser.error("--weeks must be >= 2 and --scale in (0, 10]")
    return args


# ----------------------------------------------------------------------------------------------
# the data set


@dataclass(frozen=True)
class Sizes:
    provinces: int
    districts_per_province: int
    venues: int
    kiosks: int
    checkins: int
    plays: int
    scans: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        venues = max(2, round(1000 * scale))
        return cls(provinces=max(1, min(63, round(venues * 63 / 1000))),
                   districts_per_province=10,
                   venues=venues, kiosks=max(venues, round(3000 * scale)),
                   checkins=round(1_000_000 * scale), plays=round(5_000_000 * scale),
                   scans=round(50_000 * scale))


def _cumulative(weighted: tuple[tuple[Any, ...], ...]) -> list[int]:
    """A lookup table of 100 slots: ``table[int(random() * 100)]`` is an index, weighted."""
    slots: list[int] = []
    for index, row in enumerate(weighted):
        slots += [index] * row[-1]
    assert len(slots) == 100
    return slots


class Stamps:
    """Fast ``timestamptz`` text for seconds since the data window's first local midnight."""

    def __init__(self, start_utc: datetime, days: int) -> None:
        self.start = start_utc
        self.days = [(start_utc + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days + 2)]
        self.start_hour = start_utc.hour

    def __call__(self, offset: int) -> str:
        total = offset + self.start_hour * 3600
        day, rest = divmod(total, DAY)
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        return f"{self.days[day]} {hour:02d}:{minute:02d}:{second:02d}+00"


@dataclass
class Fleet:
    """What the event generators draw from."""

    kiosk_venue: list[int]
    items: list[tuple[int, str, str, int]]  # item id, sha256, kind, duration ms


def _copy(conn: Any, name: str, columns: str, rows: Iterator[str], chunk: int = 50_000) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
        buffer: list[str] = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= chunk:
                copy.write("".join(buffer))
                count += len(buffer)
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
            count += len(buffer)
    return count


def _places(conn: Any, sizes: Sizes, rng: random.Random, created: str) -> None:
    provinces = [f"{i}\tTỉnh {i:02d}\tprovince\t\\N\t{created}\n"
                 for i in range(1, sizes.provinces + 1)]
    districts = [f"{sizes.provinces + (p - 1) * sizes.districts_per_province + d}\t"
                 f"Huyện {p:02d}-{d:02d}\tdistrict\t{p}\t{created}\n"
                 for p in range(1, sizes.provinces + 1)
                 for d in range(1, sizes.districts_per_province + 1)]
    _copy(conn, "area", "id, name, kind, parent_id, created_at", iter(provinces + districts))
    areas = sizes.provinces * (1 + sizes.districts_per_province)
    kinds = ("office", "bus_station", "hotel", "hospital", "other")

    def venues() -> Iterator[str]:
        for v in range(1, sizes.venues + 1):
            area = rng.randint(1, areas)  # a province itself or one of the districts
            yield (f"{v}\tĐịa điểm {v:04d}\t{kinds[v % 5]}\t{area}\t\t{ZONE}\tcount\t21\t\t\t1\t"
                   f"{created}\n")

    _copy(conn, "venue", "id, name, kind, area_id, address, timezone, privacy_mode, "
          "retention_days, consent_text_vi, consent_text_en, consent_version, created_at",
          venues())


def _fleet(conn: Any, sizes: Sizes, rng: random.Random, created: str, now: datetime) -> Fleet:
    kiosk_venue = [v for v in range(1, sizes.venues + 1)]  # every venue has one kiosk
    kiosk_venue += [rng.randint(1, sizes.venues) for _ in range(sizes.kiosks - sizes.venues)]
    secret = "\\\\x" + "6b" * 32

    def kiosks() -> Iterator[str]:
        for k, venue in enumerate(kiosk_venue, start=1):
            silent = timedelta(days=3) if rng.random() < 0.05 else timedelta(minutes=1)
            last = (now - silent).strftime("%Y-%m-%d %H:%M:%S+00")
            yield (f"{k}\t{venue}\tKi-ốt {k}\t{created}\t{secret}\t{last}\t{{}}\t-1\t"
                   f"{created}\n")

    _copy(conn, "kiosk", "id, venue_id, name, enrolled_at, presence_secret, last_heartbeat_at, "
          "status, manifest_generation, created_at", kiosks())
    media = [(i, f"{i:064x}", kind, title, ms) for i, (title, kind, ms, _) in
             enumerate(PROMOS, start=1)]
    _copy(conn, "media_asset", "id, sha256, kind, mime, bytes, duration_ms, title, created_at",
          (f"{i}\t{sha}\t{kind}\t{'video/mp4' if kind == 'video' else 'image/png'}\t1000\t{ms}\t"
           f"{title}\t{created}\n" for i, sha, kind, title, ms in media))
    _copy(conn, "playlist", "id, name, created_at, updated_at",
          iter([f"1\tChiến dịch\t{created}\t{created}\n"]))
    _copy(conn, "playlist_item", "id, playlist_id, position, kind, media_id, days, windows, data",
          (f"{i}\t1\t{i}\t{kind}\t{i}\t[1,2,3,4,5,6,7]\t[]\t{{}}\n"
           for i, _sha, kind, _title, _ms in media))
    return Fleet(kiosk_venue, [(i, sha, kind, ms) for i, sha, kind, _t, ms in media])


def _moments(total: int, days: int, rand: Callable[[], float]) -> Iterator[int]:
    """``total`` moments (seconds into the window) spread evenly over the days, each at a
    local time between 06:00 and 22:00, in time order: kiosks upload as time goes by, so
    the tables are roughly in time order on disk, as in production."""
    per_day, extra = divmod(total, days)
    for day in range(days):
        count = per_day + (1 if day < extra else 0)
        for offset in sorted(int(rand() * 16 * 3600) for _ in range(count)):
            yield day * DAY + 6 * 3600 + offset


def _events(conn: Any, sizes: Sizes, fleet: Fleet, rng: random.Random, stamps: Stamps,
            days: int) -> dict[str, int]:
    kiosks = len(fleet.kiosk_venue)
    received = stamps(days * DAY)
    app_slots, method_slots = _cumulative(HAS_APP), _cumulative(METHODS)
    promo_slots = _cumulative(PROMOS)
    rand = rng.random

    def randrange(n: int) -> int:
        return int(rand() * n)

    def checkins() -> Iterator[str]:
        for n, moment in enumerate(_moments(sizes.checkins, days, rand), start=1):
            k = randrange(kiosks)
            method = METHODS[method_slots[int(rand() * 100)]][0]
            kiosk = "\\N" if method in ("self", "self_static") else str(k + 1)
            direction = "in" if rand() < 0.85 else "out"
            has_app = HAS_APP[app_slots[int(rand() * 100)]][0] if direction == "in" else "unknown"
            yield (f"{n}\t00000000-0000-4000-8000-{n:012x}\t{fleet.kiosk_venue[k]}\t{kiosk}\t"
                   f"{stamps(moment)}\t{received}\tf\tf\t{direction}\t{method}\t"
                   f"{has_app}\n")

    def plays() -> Iterator[str]:
        for n, moment in enumerate(_moments(sizes.plays, days, rand), start=1):
            k = randrange(kiosks)
            item, sha, kind, ms = fleet.items[promo_slots[int(rand() * 100)]]
            yield (f"{n}\t00000000-0000-4000-9000-{n:012x}\t{k + 1}\t{fleet.kiosk_venue[k]}\t"
                   f"{item}\t{sha}\t{kind}\t{stamps(moment)}\t{ms}\tf\tf\t"
                   f"{received}\n")

    def scans() -> Iterator[str]:
        for n, moment in enumerate(_moments(sizes.scans, days, rand), start=1):
            k = randrange(kiosks)
            if rand() < 0.1:  # the poster's code: no kiosk, no item
                kiosk, item = "\\N", "\\N"
            else:
                kiosk, item = str(k + 1), str(fleet.items[promo_slots[int(rand() * 100)]][0])
            platform = "android" if rand() < 0.7 else "ios"
            yield (f"{n}\t{stamps(moment)}\t{kiosk}\t{fleet.kiosk_venue[k]}\t"
                   f"{item}\t{platform}\n")

    def hours() -> Iterator[str]:
        for day in range(days):
            off = {k for k in range(kiosks) if rand() < 0.05}  # screens off that day
            for hour in range(6, 22):
                stamp = stamps(day * DAY + hour * 3600)
                for k in range(kiosks):
                    if k not in off:
                        yield (f"{k + 1}\t{stamp}\t{fleet.kiosk_venue[k]}\t"
                               f"{57 + randrange(4)}\t{randrange(40)}\n")

    return {
        "checkin": _copy(conn, "checkin", "id, client_uuid, venue_id, kiosk_id, occurred_at, "
                         "received_at, clock_uncorrected, time_untrusted, direction, method, "
                         "has_app", checkins()),
        "play_event": _copy(conn, "play_event", "id, client_uuid, kiosk_id, venue_id, item_id, "
                            "media_sha256, kind, started_at, duration_ms, clock_uncorrected, "
                            "time_untrusted, received_at", plays()),
        "qr_scan": _copy(conn, "qr_scan", "id, at, kiosk_id, venue_id, item_id, platform",
                         scans()),
        "kiosk_hour": _copy(conn, "kiosk_hour", "kiosk_id, hour, venue_id, beats, footfall",
                            hours()),
    }


def _secondary_indexes(conn: Any) -> list[tuple[str, str]]:
    """Indexes that back no constraint: dropped for the load, rebuilt after it."""
    return conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        [list(TABLES)]).fetchall()


def load(conninfo: str, sizes: Sizes, week_monday_utc: datetime, weeks: int, seed: int,
         now: datetime) -> dict[str, Any]:
    import psycopg

    rng = random.Random(seed)
    days = weeks * 7
    start = week_monday_utc - timedelta(days=days - 7)
    stamps = Stamps(start, days)
    created = stamps(0)
    timings: dict[str, Any] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        started = time.perf_counter()
        # consistent by construction: skip the per-row foreign key triggers during the load
        conn.execute("SET session_replication_role = replica")
        with conn.transaction():
            _places(conn, sizes, rng, created)
            fleet = _fleet(conn, sizes, rng, created, now)
            counts = _events(conn, sizes, fleet, rng, stamps, days)
        conn.execute("SET session_replication_role = DEFAULT")
        timings["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        for name in TABLES[:-1]:  # kiosk_hour has no id
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                         f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false) "
                         f"WHERE pg_get_serial_sequence('{name}', 'id') IS NOT NULL")
        conn.execute("VACUUM ANALYZE")
        timings["index_analyze_s"] = time.perf_counter() - started
    return {"rows": counts, **timings}


# ----------------------------------------------------------------------------------------------
# timing


def explain_ms(session: Any, statement: Any) -> float:
    """PostgreSQL's own execution time of ``statement`` (EXPLAIN ANALYZE, in ms)."""
    from signage_server.reports.queries import tune

    tune(session)  # the same settings as the report's own transaction
    compiled = statement.compile(dialect=session.get_bind().dialect)
    raw = session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, compiled.params).scalar_one()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return float(plan[0]["Execution Time"])


def plan_text(session: Any, statement: Any) -> str:
    from signage_server.reports.queries import tune

    tune(session)
    compiled = statement.compile(dialect=session.get_bind().dialect)
    rows = session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS) " + compiled.string, compiled.params).all()
    return "\n".join(r[0] for r in rows)


def report_statements(session: Any, scope: Any, week: Any, now: datetime,
                      settings: Any) -> list[tuple[str, Any]]:
    """The statements ``weekly.build`` runs, built the same way (main query first)."""
    from signage_server.reports import queries
    from signage_server.reports.periods import Periods
    from signage_server.reports.scope import timezones

    zones = timezones(session, scope) or [settings.default_timezone]
    periods = Periods.weeks(week.shifted(-1), week)
    args = (scope, periods, zones)
    offline = timedelta(hours=settings.offline_hours)
    return [("plays", queries.plays(*args, per_venue=True)),
            ("checkins", queries.checkins(*args, per_venue=True)),
            ("kiosk_hours", queries.kiosk_hours(*args, per_venue=True)),
            ("scans", queries.scans(*args, per_venue=True)),
            ("fleet", queries.fleet(scope, now, offline)),
            ("offline", queries.offline_kiosks(scope, now, offline)),
            ("venues", queries.venues(scope))]


def _time(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(app: Any, kind: str, ident: int | None, week: Any, now: datetime, rounds: int,
            show_plans: bool) -> dict[str, Any]:
    from signage_server.extensions import db
    from signage_server.reports.figures import Settings
    from signage_server.reports.formats import render
    from signage_server.reports.scope import resolve
    from signage_server.reports.weekly import build

    settings = Settings.from_config(app.config)
    builds, pages, mains, alls = [], [], [], []
    with app.app_context():
        session = db.session
        scope = resolve(session, kind, ident)  # type: ignore[arg-type]
        holder: dict[str, Any] = {}
        for _ in range(rounds):
            builds.append(_time(lambda: holder.update(
                report=build(session, resolve(session, kind, ident),  # type: ignore[arg-type]
                             week, now, settings))))
            pages.append(_time(lambda: render(holder["report"], "html", "vi")))
            session.rollback()
            statements = report_statements(session, scope, week, now, settings)
            times = [explain_ms(session, stmt) for _, stmt in statements]
            mains.append(times[0] / 1000)
            alls.append(sum(times) / 1000)
            session.rollback()
        if show_plans:
            say(f"--- plan of the main query ({scope.kind} {scope.name}) ---")
            say(plan_text(session, report_statements(session, scope, week, now, settings)[0][1]))
            session.rollback()
        report = holder["report"]
    totals = [b + p for b, p in zip(builds, pages, strict=True)]
    return {"scope": f"{kind} {ident or ''}".strip(), "venues": len(report.venues),
            "report_s": median(totals), "build_s": median(builds), "html_s": median(pages),
            "main_explain_s": median(mains), "all_explain_s": median(alls),
            "spread_s": statistics.pstdev(totals) if len(totals) > 1 else 0.0,
            "plays_in_week": report.this.plays, "checkins_in_week": report.this.arrivals}


def _largest_province(app: Any) -> int:
    """The province with the most venues (itself and its districts): the slowest one."""
    from sqlalchemy import func, select

    from signage_server.extensions import db
    from signage_server.models import Area, Venue

    with app.app_context():
        province = func.coalesce(Area.parent_id, Area.id)
        row = db.session.execute(
            select(province.label("p"), func.count(Venue.id).label("n"))
            .join(Venue, Venue.area_id == Area.id).group_by(province)
            .order_by(func.count(Venue.id).desc(), province).limit(1)).one()
        return int(row.p)


def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    from signage_server import create_app
    from signage_server.migrate import upgrade
    from signage_server.reports.periods import IsoWeek

    from ._common import libpq, temp_folder

    week = IsoWeek.parse(args.week)
    monday = datetime.combine(week.monday, datetime.min.time(), ZoneInfo(ZONE)).astimezone(UTC)
    now = monday + timedelta(days=7, hours=3)  # Monday morning after the report's week
    sizes = Sizes.at(args.scale)
    with scratch_postgres(base_url, f"bench_weekly_{os.getpid()}") as url, \
            temp_folder("weekly-report") as folder:
        app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}, instance_path=folder)
        upgrade(app)
        say(f"loading {sizes} over {args.weeks} weeks ending {week} ...")
        loaded = load(libpq(url), sizes, monday, args.weeks, args.seed, now)
        say(f"  {', '.join(f'{k} {v:,}' for k, v in loaded['rows'].items())} rows: COPY "
            f"{loaded['copy_s']:.1f} s, indexes and ANALYZE {loaded['index_analyze_s']:.1f} s")
        results = {"country": measure(app, "all", None, week, now, args.rounds, args.plans),
                   "province": measure(app, "area", _largest_province(app), week, now,
                                       args.rounds, args.plans)}
        with app.app_context():
            from signage_server.extensions import db

            db.engine.dispose()
    return {"sizes": sizes.__dict__, "load": loaded, "week": str(week), **results}


def print_results(results: dict[str, Any]) -> list[str]:
    rows, problems = [], []
    for name in ("country", "province"):
        r = results[name]
        ratio = r["report_s"] / r["main_explain_s"] if r["main_explain_s"] else float("nan")
        ratio_all = r["report_s"] / r["all_explain_s"] if r["all_explain_s"] else float("nan")
        r["ratio_main"], r["ratio_all"] = ratio, ratio_all
        ok = r["report_s"] <= TARGETS[name]
        if not ok:
            problems.append(f"{name}: {r['report_s']:.2f} s > {TARGETS[name]:.0f} s")
        rows.append((f"{name} ({r['venues']:,} venues)", f"{r['report_s']:.3f}",
                     f"<= {TARGETS[name]:.0f}", f"{r['build_s']:.3f}", f"{r['html_s']:.3f}",
                     f"{r['main_explain_s']:.3f}", f"{r['all_explain_s']:.3f}", f"{ratio:.2f}",
                     f"{ratio_all:.2f}", "ok" if ok else "MISSED"))
    say(table(rows, ("weekly report", "report s", "target", "queries+build s", "html s",
                     "EXPLAIN main s", "EXPLAIN all s", "/ main", "/ all", "")))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say(f"weekly_report on {machine()}, scale {args.scale:g}, {args.rounds} rounds (medians)")
    base = pg_base_url(args.pg_url)
    problem = postgres_problem(base)
    if problem:
        say(f"PostgreSQL at {base} is not usable ({problem}): this benchmark needs it.")
        return 1
    results = run(args, base)
    problems = print_results(results)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2, default=str)
    for line in problems:
        say(f"target missed: {line}")
    return 1 if problems and args.scale >= 1 else 0


if __name__ == "__main__":
    sys.exit(main())
