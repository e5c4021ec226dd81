"""Which items may play at a given moment, in the venue's local time.

Pure functions of ``now``: no clock is read here, so tests walk through days, midnights and
validity dates with plain tables. A window that crosses midnight (``22:00-06:00``) belongs to
the day it starts on: at 02:00 on Tuesday it is Monday's window, so Monday's weekday and
validity dates decide. If nothing in the playlist is playable the caller falls back to the
default content; ``pick`` itself never returns nothing while it has items to choose from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiosk.manifest import Item, Schedule, Window


def is_playable(schedule: Schedule, now: datetime, zone: ZoneInfo) -> bool:
    """True when ``now`` (aware) falls in the schedule, read in ``zone``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if schedule.never:
        return False
    local = now.astimezone(zone)
    today, clock = local.date(), local.time().replace(tzinfo=None)
    if not schedule.windows:
        return _day_allowed(schedule, today)
    return any(_in_window(schedule, w, today, clock) for w in schedule.windows)


def playable(items: Sequence[Item], now: datetime, zone: ZoneInfo) -> tuple[Item, ...]:
    """The items of ``items`` that may play at ``now``, in playlist order."""
    return tuple(item for item in items if is_playable(item.schedule, now, zone))


def pick(
    items: Sequence[Item],
    after: int,
    allowed: Callable[[Item], bool],
) -> int | None:
    """Index of the first item after position ``after`` (cycling) that ``allowed`` accepts.

    ``after`` -1 starts at the top; with one item, the item follows itself.
    """
    count = len(items)
    for step in range(1, count + 1):
        index = (after + step) % count
        if allowed(items[index]):
            return index
    return None


def _in_window(schedule: Schedule, window: Window, today: date, clock: time) -> bool:
    if window.end is not None and window.end <= window.start:  # crosses midnight
        if clock >= window.start:
            return _day_allowed(schedule, today)
        return clock < window.end and _day_allowed(schedule, today - timedelta(days=1))
    inside = window.start <= clock and (window.end is None or clock < window.end)
    return inside and _day_allowed(schedule, today)


def _day_allowed(schedule: Schedule, day: date) -> bool:
    if day.isoweekday() not in schedule.days:
        return False
    if schedule.valid_from is not None and day < schedule.valid_from:
        return False
    return schedule.valid_until is None or day <= schedule.valid_until
