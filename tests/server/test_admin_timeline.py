"""The day preview follows the kiosk's schedule rules (kiosk/schedule.py), as tables."""

from __future__ import annotations

from datetime import date

import pytest

from signage_server.admin.timeline import Entry, clock, day_plan, intervals, minutes, parse_windows

MONDAY = date(2026, 11, 23)
EVERY_DAY = frozenset(range(1, 8))


def entry(windows: list[list[str]] | None = None, days: frozenset[int] = EVERY_DAY,
          duration: float = 10, **dates: date) -> Entry:
    return Entry("item", "image", duration, days, parse_windows(windows or []), **dates)


@pytest.mark.parametrize(("text", "value"), [
    ("00:00", 0), ("08:30", 510), ("24:00", 1440), ("24:01", None), ("8", None),
    ("12:60", None), ("ab:cd", None), ("", None),
])
def test_minutes(text: str, value: int | None) -> None:
    assert minutes(text) == value


@pytest.mark.parametrize(("windows", "day", "spans"), [
    ([], MONDAY, [(0, 1440)]),
    ([["08:00", "12:00"]], MONDAY, [(480, 720)]),
    ([["18:00", "24:00"]], MONDAY, [(1080, 1440)]),
    # crossing midnight: Monday's window starts Monday evening; Sunday's ends Monday morning
    ([["22:00", "06:00"]], MONDAY, [(0, 360), (1320, 1440)]),
    ([["07:00", "07:00"]], MONDAY, [(0, 420), (420, 1440)]),  # a full 24 hours from 07:00
])
def test_intervals(windows: list[list[str]], day: date, spans: list[tuple[int, int]]) -> None:
    assert intervals(entry(windows), day) == spans


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    weekdays_only = entry([["22:00", "06:00"]], days=frozenset({1, 2, 3, 4, 5}))
    assert intervals(weekdays_only, date(2026, 11, 28)) == [(0, 360)]  # Sat: Friday's night
    assert intervals(weekdays_only, date(2026, 11, 29)) == []          # Sun: nothing
    assert intervals(weekdays_only, MONDAY) == [(1320, 1440)]          # Mon: evening only


@pytest.mark.parametrize(("dates", "plays"), [
    ({"valid_from": MONDAY}, True),
    ({"valid_from": date(2026, 11, 24)}, False),
    ({"valid_until": MONDAY}, True),       # inclusive
    ({"valid_until": date(2026, 11, 22)}, False),
])
def test_validity_dates_are_inclusive(dates: dict[str, date], plays: bool) -> None:
    assert bool(intervals(entry(**dates), MONDAY)) is plays


def test_day_plan_merges_equal_segments_and_keeps_playlist_order() -> None:
    items = [entry([["08:00", "12:00"]], duration=15), entry(duration=10),
             entry([["10:00", "12:00"]], duration=5)]
    plan = day_plan(items, MONDAY)
    assert [(clock(s.start), clock(s.end), s.entries) for s in plan] == [
        ("00:00", "08:00", (1,)), ("08:00", "10:00", (0, 1)), ("10:00", "12:00", (0, 1, 2)),
        ("12:00", "24:00", (1,))]
    assert plan[2].loop_s(items) == 30
    assert plan[2].loops(items) == 240  # two hours of 30-second loops


def test_a_day_with_nothing_scheduled_is_one_empty_segment() -> None:
    plan = day_plan([entry(days=frozenset({6, 7}))], MONDAY)
    assert [(s.start, s.end, s.entries) for s in plan] == [(0, 1440, ())]
    assert plan[0].loops([]) == 0
