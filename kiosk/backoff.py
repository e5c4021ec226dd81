"""When to talk to the server next: poll jitter and failure backoff, as pure functions.

They take the random source as an argument (a function returning a float in [0, 1)), so the
tables in ``tests/kiosk/test_kiosk_backoff.py`` pin every case without patching anything.
"""

from __future__ import annotations

from collections.abc import Callable


def poll_delay(poll_seconds: float, jitter: float, rnd: Callable[[], float]) -> float:
    """Seconds until the next poll: ``poll_seconds`` ± ``jitter`` (relative), uniformly, so a
    fleet that booted together spreads out. ``rnd`` returns a float in [0, 1)."""
    return poll_seconds * (1.0 + jitter * (2.0 * rnd() - 1.0))


def backoff_delay(attempt: int, rnd: Callable[[], float], base_s: float = 2.0,
                  cap_s: float = 300.0) -> float:
    """Seconds to wait after the ``attempt``-th failure in a row (1, 2, ...): the ceiling doubles
    from ``base_s`` up to ``cap_s`` and the delay is drawn from its upper half ("equal jitter"),
    so retries neither synchronise across a fleet nor come back too soon."""
    doublings = min(max(attempt - 1, 0), 62)  # beyond that the cap has long been reached
    ceiling = min(cap_s, base_s * 2.0 ** doublings)
    return ceiling / 2.0 + rnd() * ceiling / 2.0
