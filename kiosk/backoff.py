"""When to talk to the server next: poll jitter and failure backoff, as pure functions.

They take the random source as an argument (a function returning a float in [0, 1)), so the
tables in ``tests/kiosk/test_kiosk_backoff.py`` pin every case without patching anything.
"""

from __future__ import annotations

from collections.abc import Callable


def poll_delay(poll_seconds: float, jitter: float, rnd: Callable[[], float]) -> float:
    """Seconds until the next poll, drawn uniformly from the last ``jitter`` (relative) of the
    interval: 24 to 30 s for 30 s and 0.2. ``rnd`` returns a float in [0, 1).

    Each wait is jittered, so a fleet that polled together (after a boot, a broadcast push or
    an outage) drifts apart again within a few rounds. The jitter is taken below the interval
    rather than around it (±20 %): with ±20 % a change is seen up to 1.2 intervals later and
    the 95th percentile of that delay is exactly one interval, so "without push, within the
    poll interval" (DESIGN.md section 8) would hold only half the time; this way it always
    holds, for 11 % more polls than the nominal rate."""
    return poll_seconds * (1.0 - jitter * rnd())


def backoff_delay(attempt: int, rnd: Callable[[], float], base_s: float = 2.0,
                  cap_s: float = 300.0) -> float:
    """Seconds to wait after the ``attempt``-th failure in a row (1, 2, ...): the ceiling doubles
    from ``base_s`` up to ``cap_s`` and the delay is drawn from its upper half ("equal jitter"),
    so retries neither synchronise across a fleet nor come back too soon."""
    doublings = min(max(attempt - 1, 0), 62)  # beyond that the cap has long been reached
    ceiling = min(cap_s, base_s * 2.0 ** doublings)
    return ceiling / 2.0 + rnd() * ceiling / 2.0
