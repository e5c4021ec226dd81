"""The weekly report: figures counted by hand on a fixture week (report_week.py) equal the
report's, on SQLite and PostgreSQL; the command's inputs, errors and three formats."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from openpyxl import load_workbook
from report_week import DATABASES, EXPECTED, NOW, SHA8, SHA15, SHA30, Week, build, week_app

from signage_server.extensions import db
from signage_server.reports.figures import Settings
from signage_server.reports.formats import escape_formula, render
from signage_server.reports.periods import IsoWeek
from signage_server.reports.scope import resolve
from signage_server.reports.weekly import WeeklyReport
from signage_server.reports.weekly import build as build_report

W47 = IsoWeek(2026, 47)


@pytest.fixture(scope="module", params=DATABASES)
def shared(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Week]]:
    """One database per module and database kind: these tests only read the week."""
    template = request.getfixturevalue("sqlite_template") if request.param == "sqlite" else None
    with week_app(request.param, tmp_path_factory.mktemp("week"), template) as app:
        yield app, build(app)


@pytest.fixture
def app(shared: tuple[Flask, Week]) -> Flask:
    return shared[0]


@pytest.fixture
def week(shared: tuple[Flask, Week]) -> Week:
    return shared[1]


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def report_of(app: Flask, kind: Any, ident: int | None, iso: IsoWeek = W47) -> WeeklyReport:
    with app.app_context():
        scope = resolve(db.session, kind, ident)
        return build_report(db.session, scope, iso, NOW, Settings.from_config(app.config))


@pytest.fixture
def province(app: Flask, week: Week) -> WeeklyReport:
    return report_of(app, "area", week.province)


def test_summary_equals_the_hand_count(province: WeeklyReport) -> None:
    this, last = province.this, province.last
    assert (this.arrivals, this.departures, this.answered, this.with_app) == (
        EXPECTED["arrivals"], EXPECTED["departures"], EXPECTED["answered"],
        EXPECTED["with_app"])
    assert (this.installed_now, this.self_static) == (EXPECTED["installed_now"],
                                                      EXPECTED["self_static"])
    assert this.share == pytest.approx(EXPECTED["share"])
    assert (this.plays, this.duration_ms, this.scans) == (
        EXPECTED["plays"], EXPECTED["duration_ms"], EXPECTED["scans"])
    assert (this.beats, this.footfall, this.kiosks_online) == (
        EXPECTED["beats"], EXPECTED["footfall"], EXPECTED["kiosks_online"])
    assert this.screen_hours(60) == pytest.approx(EXPECTED["screen_hours"])
    assert province.kiosks == EXPECTED["kiosks"]
    assert province.uptime_share(this, province.kiosks) == pytest.approx(EXPECTED["uptime"])
    assert (last.arrivals, last.kiosks_online, last.beats, last.footfall) == (
        EXPECTED["last_arrivals"], EXPECTED["last_kiosks_online"], EXPECTED["last_beats"],
        EXPECTED["last_footfall"])
    assert last.share == pytest.approx(EXPECTED["last_share"])
    assert province.change("share") == pytest.approx(EXPECTED["share"] - EXPECTED["last_share"])


def test_a_venue_row_per_venue_of_the_province_and_its_districts(
        province: WeeklyReport, week: Week) -> None:
    rows = {v.id: v for v in province.venues}
    assert set(rows) == {week.venue_a, week.venue_b, week.venue_t}
    a, b, t = rows[week.venue_a], rows[week.venue_b], rows[week.venue_t]
    assert (a.kiosks, a.offline_now, a.this.kiosks_online) == (2, 1, 1)
    assert (a.this.arrivals, a.this.answered, a.this.with_app) == (12, 10, 4)
    assert a.this.share == pytest.approx(0.4)
    assert a.this.promo_hours == pytest.approx(1_820_000 / 3_600_000)
    assert a.plays_by_promo == {f"media:{SHA8}": 100, f"media:{SHA15}": 50,
                                f"item:{week.item_qr}": 10, "kind:default": 5,
                                f"media:{SHA30}": 4}
    assert (a.this.scans, b.this.scans) == (7, 1)
    assert (b.this.arrivals, b.this.share, b.plays_by_promo) == (5, 0.2, {f"media:{SHA8}": 20})
    assert (b.kiosks, b.offline_now, b.area) == (1, 1, "Ba Đình")
    assert (t.this.arrivals, t.this.share, t.kiosks) == (1, 1.0, 0)
    assert a.last.share == pytest.approx(0.25)
    assert b.last.share is None


def test_promos_rank_by_plays_with_scans_per_thousand_plays(province: WeeklyReport,
                                                            week: Week) -> None:
    found = {p.key: (p.plays, p.scans, p.scans_per_1000) for p in province.promos}
    assert found == {
        f"media:{SHA8}": (120, 3, 25.0),
        f"media:{SHA15}": (50, 1, 20.0),
        f"item:{week.item_qr}": (10, 1, 100.0),
        "kind:default": (5, 0, 0.0),
        f"media:{SHA30}": (4, 0, 0.0),
        "poster": (0, 2, None),
        "kind:other": (0, 1, None),
    }
    assert [p.key for p in province.promos][:2] == [f"media:{SHA8}", f"media:{SHA15}"]
    titles = {p.key: p.title for p in province.promos}
    assert titles[f"media:{SHA30}"] == "Video 30 giây"  # its playlist item is gone


def test_below_target_and_offline_kiosks(province: WeeklyReport, week: Week) -> None:
    assert [v.id for v in province.below_target] == [week.venue_b]
    assert province.without_answers == []
    assert [(k.id, k.last_heartbeat_at is None) for k in province.offline] == [
        (week.kiosk_a2, True), (week.kiosk_b1, False)]


def test_each_venue_week_starts_at_its_own_local_midnight(app: Flask, week: Week) -> None:
    """Sunday 23:30 in Hà Nội is Monday 01:30 in Tokyo: last week for A, this week for T."""
    tokyo = report_of(app, "venue", week.venue_t)
    a = report_of(app, "venue", week.venue_a)
    assert (tokyo.this.arrivals, tokyo.last.arrivals) == (1, 0)
    assert (a.this.arrivals, a.last.arrivals) == (12, 4)


def test_venue_report_covers_only_that_venue(app: Flask, week: Week) -> None:
    report = report_of(app, "venue", week.venue_b)
    assert [v.id for v in report.venues] == [week.venue_b]
    assert (report.this.arrivals, report.this.plays, report.this.scans) == (5, 20, 1)
    assert [k.id for k in report.offline] == [week.kiosk_b1]


def test_the_whole_country_adds_the_other_province(app: Flask, week: Week) -> None:
    report = report_of(app, "all", None)
    assert report.this.arrivals == EXPECTED["arrivals"] + 7
    assert report.this.plays == EXPECTED["plays"] + 30
    assert report.this.scans == EXPECTED["scans"] + 4


def test_a_week_without_data_reports_zeros_not_errors(app: Flask, week: Week) -> None:
    report = report_of(app, "area", week.province, IsoWeek(2025, 1))
    assert (report.this.arrivals, report.this.share, report.promos) == (0, None, [])
    assert len(report.venues) == 3


# -- formats ------------------------------------------------------------------------------------


def rendered(app: Flask, report: WeeklyReport, fmt: str, lang: str = "vi") -> bytes:
    with app.app_context():
        return render(report, fmt, lang)


def renamed(report: WeeklyReport, old: str, new: str) -> WeeklyReport:
    """The same report with a venue called something else (as if typed so by a person)."""
    changed = copy.deepcopy(report)
    for venue in changed.venues:
        if venue.name == old:
            venue.name = new
    return changed


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def first_by_label(rows: list[list[str]]) -> dict[str, list[str]]:
    """Each row's cells after its first, under the first row with that label."""
    found: dict[str, list[str]] = {}
    for row in rows:
        if row:
            found.setdefault(row[0], row[1:])
    return found


def test_csv_holds_the_figures(app: Flask, province: WeeklyReport) -> None:
    by_label = first_by_label(csv_rows(rendered(app, province, "csv", "en")))
    assert by_label["Check-ins (arrivals)"] == ["18", "4", "14"]
    assert by_label["App share"] == ["0.375", "0.25", "0.125"]
    assert by_label["Install QR scans"] == ["8", "1", "7"]
    assert by_label["Bến xe B"][:4] == ["Ba Đình", "1", "1", "0.04"]


@pytest.mark.parametrize(("name", "cell"), [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+84 Bến xe", "'+84 Bến xe"),
    ("-1 Bệnh viện", "'-1 Bệnh viện"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tTab", "'\tTab"),
    ("\rReturn", "'\rReturn"),
    ("Bệnh viện = tốt", "Bệnh viện = tốt"),
])
def test_csv_cells_that_look_like_formulas_are_escaped(app: Flask, province: WeeklyReport,
                                                       name: str, cell: str) -> None:
    rows = csv_rows(rendered(app, renamed(province, "Bến xe B", name), "csv"))
    assert [cell, "Ba Đình"] in [r[:2] for r in rows]
    assert escape_formula(name) == cell


def test_csv_negative_changes_stay_numbers(app: Flask, week: Week) -> None:
    by_label = first_by_label(csv_rows(rendered(
        app, report_of(app, "venue", week.venue_a, IsoWeek(2026, 48)), "csv", "en")))
    assert by_label["Check-ins (arrivals)"] == ["0", "12", "-12"]


def test_xlsx_opens_and_holds_the_same_numbers(app: Flask, province: WeeklyReport,
                                               week: Week) -> None:
    book = load_workbook(io.BytesIO(rendered(app, province, "xlsx", "en")))
    assert book.sheetnames == ["Summary", "Venues", "Promos", "Below target", "Offline kiosks"]
    summary = {r[0]: r[1:4] for r in book["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Check-ins (arrivals)"] == (18, 4, 14)
    assert summary["App share"] == (pytest.approx(0.375), pytest.approx(0.25),
                                    pytest.approx(0.125))
    assert summary["Plays"][0] == 189
    venues = {r[0]: r for r in book["Venues"].iter_rows(values_only=True)}
    assert venues["Bệnh viện A"][-2] == pytest.approx(0.4)
    promos = {r[0]: r[1:] for r in book["Promos"].iter_rows(values_only=True)}
    assert promos["Video 8 giây"] == (120, 3, 25.0)
    assert promos["Video ffffffff"] == (50, 1, 20.0)
    below = [r[0] for r in book["Below target"].iter_rows(values_only=True)]
    assert "Bến xe B" in below
    offline = [r[0] for r in book["Offline kiosks"].iter_rows(values_only=True)]
    assert "Cổng sau" in offline and "Cửa vào" in offline


def test_xlsx_never_turns_a_name_into_a_formula(app: Flask, province: WeeklyReport) -> None:
    data = rendered(app, renamed(province, "Bến xe B", "=1+2"), "xlsx")
    sheet = load_workbook(io.BytesIO(data))["Địa điểm"]
    cells = [row[0] for row in sheet.iter_rows() if row[0].value == "=1+2"]
    assert cells and all(c.data_type == "s" for c in cells)


@pytest.mark.parametrize(("lang", "words"), [
    ("vi", ["Báo cáo tuần", "Khu vực: Hà Nội", "Đạt mục tiêu", "37,5 %", "Bến xe B",
            "Ki-ốt mất liên lạc hơn 24 giờ", "Cổng sau", "chưa bao giờ", "@page"]),
    ("en", ["Weekly report", "Area: Hà Nội", "On target", "37.5 %", "Venues below the 30 %",
            "Kiosks offline for more than 24 h", "never", "Video 8 giây"]),
])
def test_html_is_one_printable_file_in_either_language(app: Flask, province: WeeklyReport,
                                                      lang: str, words: list[str]) -> None:
    page = rendered(app, province, "html", lang).decode("utf-8")
    assert page.startswith("<!doctype html>")
    for word in words:
        assert word in page, word
    assert "<script" not in page and "http" not in page.split("<body", 1)[0]


def test_html_escapes_what_people_typed(app: Flask, province: WeeklyReport) -> None:
    page = rendered(app, renamed(province, "Bến xe B", "<script>alert(1)</script>"), "html")
    assert b"<script>alert(1)</script>" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- the command --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["html", "csv", "xlsx"])
def test_command_writes_each_format(runner: FlaskCliRunner, week: Week, tmp_path: Path,
                                    fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(args=["report", "weekly", "--area", str(week.province), "--week",
                                 "2026-W47", "--format", fmt, "--lang", "en", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


def test_command_prints_csv_to_standard_output(runner: FlaskCliRunner, week: Week) -> None:
    result = runner.invoke(args=["report", "weekly", "--venue", str(week.venue_a), "--week",
                                 "2026-W47", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "Bệnh viện A" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--area", "999999", "--week", "2026-W47"], "no area with id 999999"),
    (["--venue", "999999", "--week", "2026-W47"], "no venue with id 999999"),
    (["--area", "{province}", "--week", "2026-W60"], "2026 has weeks 1 to 53, not 60"),
    (["--area", "{province}", "--week", "2027-W53"], "2027 has weeks 1 to 52, not 53"),
    (["--area", "{province}", "--week", "47"], "not an ISO week"),
    (["--area", "{province}", "--venue", "{venue}"], "exactly one of"),
    ([], "exactly one of"),
    (["--all", "--format", "pdf"], "'pdf' is not one of"),
    (["--all", "--lang", "fr"], "'fr' is not one of"),
])
def test_command_refuses_bad_input_clearly(runner: FlaskCliRunner, week: Week, args: list[str],
                                           message: str) -> None:
    args = [a.format(province=week.province, venue=week.venue_a) for a in args]
    result = runner.invoke(args=["report", "weekly", *args])
    assert result.exit_code != 0
    assert message in result.output
