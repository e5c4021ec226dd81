"""ISO weeks as people type them, and periods bounded at each venue's local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from signage_server.reports.periods import (
    IsoWeek,
    PeriodError,
    Periods,
    last_complete_week,
    weeks_in_year,
)


@pytest.mark.parametrize(("text", "week", "monday"), [
    ("2026-W47", IsoWeek(2026, 47), date(2026, 11, 16)),
    ("2026W47", IsoWeek(2026, 47), date(2026, 11, 16)),
    ("2026-w47", IsoWeek(2026, 47), date(2026, 11, 16)),
    (" 2026-W47 ", IsoWeek(2026, 47), date(2026, 11, 16)),
    ("2026-W1", IsoWeek(2026, 1), date(2025, 12, 29)),
    ("2026-W01", IsoWeek(2026, 1), date(2025, 12, 29)),
    ("2026-W53", IsoWeek(2026, 53), date(2026, 12, 28)),
    ("2020-W53", IsoWeek(2020, 53), date(2020, 12, 28)),
])
def test_weeks_people_type(text: str, week: IsoWeek, monday: date) -> None:
    assert IsoWeek.parse(text) == week
    assert week.monday == monday
    assert (week.sunday - week.monday).days == 6


@pytest.mark.parametrize(("text", "message"), [
    ("2026-W60", "2026 has weeks 1 to 53, not 60"),
    ("2026-W00", "2026 has weeks 1 to 53, not 0"),
    ("2027-W53", "2027 has weeks 1 to 52, not 53"),
    ("2026-W", "not an ISO week"),
    ("2026-47", "not an ISO week"),
    ("26-W47", "not an ISO week"),
    ("2026-W470", "not an ISO week"),
    ("2026-11-16", "not an ISO week"),
    ("", "not an ISO week"),
    ("2026-W4７", "not an ISO week"),
])
def test_malformed_or_impossible_weeks_are_refused(text: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        IsoWeek.parse(text)


@pytest.mark.parametrize(("year", "weeks"), [(2020, 53), (2021, 52), (2026, 53), (2027, 52)])
def test_weeks_in_year(year: int, weeks: int) -> None:
    assert weeks_in_year(year) == weeks


def test_str_round_trips() -> None:
    assert str(IsoWeek(2026, 3)) == "2026-W03"
    assert IsoWeek.parse(str(IsoWeek(2026, 3))) == IsoWeek(2026, 3)


def test_shifting_crosses_years() -> None:
    assert IsoWeek(2026, 1).shifted(-1) == IsoWeek(2025, 52)
    assert IsoWeek(2026, 53).shifted(1) == IsoWeek(2027, 1)


def test_last_complete_week_is_taken_in_local_time() -> None:
    # Monday 00:30 in Hà Nội is still Sunday in UTC
    now = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
    assert last_complete_week(now, "Asia/Ho_Chi_Minh") == IsoWeek(2026, 47)
    assert last_complete_week(now, "UTC") == IsoWeek(2026, 46)


@pytest.mark.parametrize(("zone", "first_bound"), [
    ("Asia/Ho_Chi_Minh", datetime(2026, 11, 15, 17, tzinfo=UTC)),
    ("Asia/Tokyo", datetime(2026, 11, 15, 15, tzinfo=UTC)),
    ("UTC", datetime(2026, 11, 16, tzinfo=UTC)),
])
def test_a_week_starts_at_local_midnight(zone: str, first_bound: datetime) -> None:
    bounds = Periods.weeks(IsoWeek(2026, 47), IsoWeek(2026, 47)).utc_bounds(zone)
    assert bounds[0] == first_bound
    assert (bounds[1] - bounds[0]).days == 7


def test_a_day_with_a_clock_change_is_23_hours_long() -> None:
    bounds = Periods.days(date(2026, 3, 29), date(2026, 3, 29)).utc_bounds("Europe/Berlin")
    assert (bounds[1] - bounds[0]).total_seconds() == 23 * 3600


def test_periods_count_and_label_their_days() -> None:
    periods = Periods.days(date(2026, 11, 16), date(2026, 11, 22))
    assert len(periods) == 7
    assert periods.labels()[0] == date(2026, 11, 16)
    assert len(Periods.weeks(IsoWeek(2026, 40), IsoWeek(2026, 47))) == 8


@pytest.mark.parametrize("make", [
    lambda: Periods.days(date(2026, 11, 22), date(2026, 11, 16)),
    lambda: Periods.weeks(IsoWeek(2026, 47), IsoWeek(2026, 46)),
    lambda: Periods((date(2026, 11, 16),)),
])
def test_backwards_ranges_are_refused(make: object) -> None:
    with pytest.raises(PeriodError):
        make()  # type: ignore[operator]
