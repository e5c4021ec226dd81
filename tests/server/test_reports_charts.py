"""Dashboard charts: server-side SVG without script, integer axes for counts."""

from __future__ import annotations

import sys
from datetime import date

import pytest

from signage_server.reports import charts
from signage_server.reports.dashboard import Dashboard, periods_for
from signage_server.reports.figures import Counts, Promo, Settings
from signage_server.reports.periods import PeriodError
from signage_server.reports.scope import Scope
from signage_server.reports.texts import Texts


def board(promos: list[Promo]) -> Dashboard:
    periods = periods_for("day", date(2026, 11, 22), 7)
    series = [Counts(arrivals=10 + i, app_yes=3, app_no=5, installed_now=1, scans=i,
                     plays=100, beats=600, footfall=40, kiosks_online=2) for i in range(7)]
    return Dashboard(Scope("all"), "day", periods, series, promos, 3, 1, Settings(),
                     ["Asia/Ho_Chi_Minh"])


def test_pygal_leaves_no_legacy_import_hook() -> None:
    assert not [f for f in sys.meta_path if type(f).__name__ == "PluginImportFixer"]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_chart_is_svg_without_script_or_remote_resource(lang: str) -> None:
    drawn = charts.render_all(board([Promo("media:" + "a" * 64, "video", "Video 8 giây",
                                           plays=1200, scans=30)]), Texts(lang))
    assert [name for name, _title, _svg in drawn] == [name for name, _ in charts.CHARTS]
    for _name, title, svg in drawn:
        assert svg.startswith("<svg") and "<script" not in svg
        assert "googleapis" not in svg and "xlink:href=\"http" not in svg
        assert title


def test_promo_charts_are_left_out_without_plays() -> None:
    names = [name for name, _title, _svg in charts.render_all(board([]), Texts("vi"))]
    assert "conversion" not in names and "plays" not in names and "share" in names


@pytest.mark.parametrize(("highest", "ticks"), [
    (0, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (99, [0, 20, 40, 60, 80, 100]),
    (1234, [0, 500, 1000, 1500]),
])
def test_count_axes_have_whole_ticks(highest: int, ticks: list[int]) -> None:
    assert charts.whole_ticks(highest) == ticks


@pytest.mark.parametrize(("by", "span"), [("day", 0), ("day", 93), ("week", 54), ("hour", 3)])
def test_dashboard_spans_are_bounded(by: str, span: int) -> None:
    with pytest.raises(PeriodError):
        periods_for(by, date(2026, 11, 22), span)  # type: ignore[arg-type]


def test_weekly_dashboard_periods_are_iso_weeks() -> None:
    periods = periods_for("week", date(2026, 11, 22), 12)
    assert len(periods) == 12
    assert periods.starts[-1] == date(2026, 11, 23)
    assert all(d.isoweekday() == 1 for d in periods.starts)
