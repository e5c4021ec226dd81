"""Poll jitter and failure backoff are pure functions of the attempt and a random source."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from kiosk.backoff import backoff_delay, poll_delay


def fixed(value: float) -> Callable[[], float]:
    """A random source that always draws ``value``."""
    return lambda: value


@pytest.mark.parametrize(("attempt", "rnd", "expected"), [
    (1, 0.0, 1.0),      # ceiling 2 s, lower half
    (1, 0.999, 1.999),  # ... up to the ceiling
    (2, 0.0, 2.0),      # ceiling 4 s
    (3, 0.5, 6.0),      # ceiling 8 s: 4 + 0.5 * 4
    (4, 0.0, 8.0),
    (8, 0.0, 128.0),    # ceiling 256 s
    (9, 0.0, 150.0),    # ceiling capped at 300 s
    (9, 0.999, 299.85),
    (50, 0.0, 150.0),   # stays capped, no overflow
    (10_000, 0.999, 299.85),
    (0, 0.0, 1.0),      # nonsense attempt numbers behave like the first
])
def test_backoff_table(attempt: int, rnd: float, expected: float) -> None:
    assert backoff_delay(attempt, fixed(rnd), base_s=2.0, cap_s=300.0) == pytest.approx(expected)


def test_backoff_never_exceeds_the_cap_whatever_the_draw() -> None:
    source = random.Random(7).random
    delays = [backoff_delay(n, source, 2.0, 300.0) for n in range(1, 200)]
    assert max(delays) <= 300.0
    assert min(delays) >= 1.0


def test_backoff_grows_until_the_cap() -> None:
    floors = [backoff_delay(n, fixed(0.0), 2.0, 300.0) for n in range(1, 12)]
    assert floors == sorted(floors)
    assert floors[-1] == 150.0


@pytest.mark.parametrize(("rnd", "expected"), [
    (0.0, 30.0),   # never later than the interval: a change is seen within it
    (0.5, 27.0),
    (0.75, 25.5),
    (1.0, 24.0),   # 30 s - 20 % (the open end of the random range)
])
def test_poll_jitter_table(rnd: float, expected: float) -> None:
    assert poll_delay(30.0, 0.2, fixed(rnd)) == pytest.approx(expected)


def test_poll_without_jitter_is_exact() -> None:
    assert poll_delay(30.0, 0.0, fixed(0.123)) == 30.0


def test_poll_jitter_spreads_a_fleet() -> None:
    source = random.Random(1).random
    delays = [poll_delay(30.0, 0.2, source) for _ in range(1000)]
    assert 24.0 <= min(delays) < 24.5
    assert 29.5 < max(delays) <= 30.0
