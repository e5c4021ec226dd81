"""Schedules as tables: the wire format's schedule, a moment in the venue's time, the verdict.

2026-11-23 is a Monday. The venue is in Ho Chi Minh City (UTC+7, no daylight saving).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.manifest import Item, parse_schedule
from kiosk.schedule import is_playable, pick, playable

VENUE = ZoneInfo("Asia/Ho_Chi_Minh")


def local(text: str) -> datetime:
    """A venue-local moment, written "YYYY-MM-DD HH:MM"."""
    return datetime.fromisoformat(text).replace(tzinfo=VENUE)


NIGHT_MONDAY = {"days": [1], "windows": [["22:00", "06:00"]]}


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        ({}, "2026-11-23 03:00", True),
        ({"days": [1, 2, 3, 4, 5, 6, 7], "windows": []}, "2026-11-28 23:59", True),
        ({"days": [1, 2, 3, 4, 5]}, "2026-11-23 10:00", True),
        ({"days": [1, 2, 3, 4, 5]}, "2026-11-28 10:00", False),
        ({"windows": [["07:00", "21:00"]]}, "2026-11-23 06:59", False),
        ({"windows": [["07:00", "21:00"]]}, "2026-11-23 07:00", True),
        ({"windows": [["07:00", "21:00"]]}, "2026-11-23 20:59", True),
        ({"windows": [["07:00", "21:00"]]}, "2026-11-23 21:00", False),
        ({"windows": [["07:00", "11:00"], ["13:00", "17:00"]]}, "2026-11-23 12:00", False),
        ({"windows": [["07:00", "11:00"], ["13:00", "17:00"]]}, "2026-11-23 13:30", True),
        # a window crossing midnight belongs to the day it starts on
        (NIGHT_MONDAY, "2026-11-23 23:00", True),
        (NIGHT_MONDAY, "2026-11-24 02:00", True),
        (NIGHT_MONDAY, "2026-11-24 06:00", False),
        (NIGHT_MONDAY, "2026-11-23 02:00", False),
        (NIGHT_MONDAY, "2026-11-24 23:00", False),
        ({**NIGHT_MONDAY, "valid_until": "2026-11-23"}, "2026-11-24 02:00", True),
        ({**NIGHT_MONDAY, "valid_from": "2026-11-24"}, "2026-11-24 02:00", False),
        # valid_from and valid_until are inclusive local dates
        ({"valid_from": "2026-11-24"}, "2026-11-23 23:59", False),
        ({"valid_from": "2026-11-24"}, "2026-11-24 00:00", True),
        ({"valid_until": "2026-11-23"}, "2026-11-23 23:59", True),
        ({"valid_until": "2026-11-23"}, "2026-11-24 00:00", False),
        ({"valid_from": "2026-11-25", "valid_until": "2026-11-24"}, "2026-11-24 12:00", False),
        # "24:00" ends at midnight; equal ends make a whole day
        ({"windows": [["18:00", "24:00"]]}, "2026-11-23 23:59", True),
        ({"windows": [["18:00", "24:00"]]}, "2026-11-24 00:00", False),
        ({"windows": [["08:00", "08:00"]]}, "2026-11-23 07:59", True),
        # unreadable parts are dropped, never raised
        ({"windows": [["25:00", "26:00"], ["x", "y"]]}, "2026-11-23 12:00", False),
        ({"windows": [["bad"], ["09:00", "17:00"]]}, "2026-11-23 12:00", True),
        ({"days": [0, 8, "1"]}, "2026-11-23 12:00", True),
        ({"valid_from": "next week"}, "2026-11-23 12:00", True),
        (None, "2026-11-23 12:00", True),
    ],
)
def test_schedule(schedule: Any, now: str, expected: bool) -> None:
    assert is_playable(parse_schedule(schedule), local(now), VENUE) is expected


def test_schedule_reads_any_timezone_in_the_venues() -> None:
    utc_evening = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 23:00 in the venue
    assert is_playable(parse_schedule(NIGHT_MONDAY), utc_evening, VENUE)
    assert not is_playable(parse_schedule(NIGHT_MONDAY), utc_evening, ZoneInfo("UTC"))


def test_schedule_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_playable(parse_schedule({}), datetime(2026, 11, 23, 12, 0), VENUE)


def slide(item_id: int, schedule: Any = None) -> Item:
    return Item(id=item_id, kind="qr", duration_s=5.0, schedule=parse_schedule(schedule))


def test_playable_keeps_playlist_order() -> None:
    items = [slide(1), slide(2, {"days": [6]}), slide(3)]
    assert [i.id for i in playable(items, local("2026-11-23 12:00"), VENUE)] == [1, 3]


@pytest.mark.parametrize(
    ("allowed_ids", "after", "expected"),
    [
        ({1, 2, 3}, -1, 0),
        ({1, 2, 3}, 0, 1),
        ({1, 2, 3}, 2, 0),
        ({1, 3}, 0, 2),
        ({2}, 1, 1),
        (set(), 0, None),
    ],
)
def test_pick_cycles_through_allowed_items(
    allowed_ids: set[int], after: int, expected: int | None
) -> None:
    items = [slide(1), slide(2), slide(3)]
    assert pick(items, after, lambda item: item.id in allowed_ids) == expected
