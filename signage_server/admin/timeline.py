"""What a playlist plays over one day at one venue: the editor's preview.

The same schedule rules as the kiosk (``kiosk/schedule.py``), restated here because the
server never imports the kiosk: ISO weekdays, validity dates (inclusive), local ``HH:MM``
windows in the venue's time zone, ``24:00`` as the end of the day, and a window that
crosses midnight (``22:00-06:00``) belonging to the day it starts on. Pure functions of
the day: the view passes it in.

The day is cut wherever any item's eligibility changes; within each segment the kiosk
loops over the eligible items in playlist order, so the preview lists them with the loop
length and roughly how many times it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

DAY = 24 * 60


@dataclass(frozen=True)
class Entry:
    """One playlist item as the preview needs it."""

    label: str
    kind: str
    duration_s: float
    days: frozenset[int]
    windows: tuple[tuple[int, int | None], ...]  # minutes; None = end of day
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class Segment:
    start: int  # minutes since local midnight
    end: int
    entries: tuple[int, ...]  # indexes into the playlist, in playing order

    @property
    def minutes(self) -> int:
        return self.end - self.start

    def loop_s(self, items: Sequence[Entry]) -> float:
        return sum(items[i].duration_s for i in self.entries)

    def loops(self, items: Sequence[Entry]) -> int:
        loop = self.loop_s(items)
        return int(self.minutes * 60 // loop) if loop else 0


def minutes(hhmm: str) -> int | None:
    """``"08:30"`` → 510; ``"24:00"`` → 1440; anything else → None."""
    hours, sep, mins = hhmm.partition(":")
    if not (sep and hours.isdigit() and mins.isdigit()):
        return None
    value = int(hours) * 60 + int(mins)
    return value if 0 <= value <= DAY and int(mins) < 60 else None


def parse_windows(raw: Sequence[Sequence[str]]) -> tuple[tuple[int, int | None], ...]:
    windows = []
    for pair in raw:
        if len(pair) != 2:
            continue
        start, end = minutes(pair[0]), minutes(pair[1])
        if start is not None and end is not None:
            windows.append((start % DAY, None if end == DAY else end))
    return tuple(windows)


def _day_allowed(entry: Entry, day: date) -> bool:
    if day.isoweekday() not in entry.days:
        return False
    if entry.valid_from is not None and day < entry.valid_from:
        return False
    return entry.valid_until is None or day <= entry.valid_until


def intervals(entry: Entry, day: date) -> list[tuple[int, int]]:
    """The minutes of ``day`` when ``entry`` may play, as [start, end) pairs."""
    today, yesterday = _day_allowed(entry, day), _day_allowed(entry, day - timedelta(days=1))
    if not entry.windows:
        return [(0, DAY)] if today else []
    spans = []
    for start, end in entry.windows:
        if end is not None and end <= start:  # crosses midnight: yesterday's window ends
            if yesterday and end > 0:
                spans.append((0, end))
            if today:
                spans.append((start, DAY))
        elif today:
            spans.append((start, DAY if end is None else end))
    return spans


def day_plan(entries: Sequence[Entry], day: date) -> list[Segment]:
    """The day cut into segments with the items eligible in each (merged when equal)."""
    spans = [intervals(e, day) for e in entries]
    cuts = sorted({0, DAY} | {t for s in spans for pair in s for t in pair})
    segments: list[Segment] = []
    for start, end in pairwise(cuts):
        if start == end:
            continue
        active = tuple(i for i, s in enumerate(spans) if any(a <= start < b for a, b in s))
        if segments and segments[-1].entries == active:
            segments[-1] = Segment(segments[-1].start, end, active)
        else:
            segments.append(Segment(start, end, active))
    return segments


def clock(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"
