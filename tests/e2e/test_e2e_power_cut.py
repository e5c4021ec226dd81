"""Power cuts (issue 7, part 4): the kiosk is killed (SIGKILL) again and again at random
moments, while it starts, plays and journals plays, and while it downloads a new video of a few
MB from a real server on 127.0.0.1, with the server down for a while, and with the files a
power cut can tear torn between kills. Every restart must come back to playing, the journal
must pass ``PRAGMA integrity_check`` after every kill, no partially written or torn media file
may ever be used, and after the final sync every play record the kiosk ever journaled is on the
server exactly once. Last, with its journal and credentials made garbage, the kiosk must set them
aside and play within the same time.

The harness is tests/e2e/power_cut.py (its docstring says what exactly is done and checked);
``python -m bench power_cut_soak`` runs the same for 200 cycles and prints the figures.

The time to playing is checked against the 2 s target in CPU seconds (what the kiosk itself
needs, whatever else runs on the machine), and in wall seconds against the target stretched by
how oversubscribed the CPU was during the cycle (the suite runs beside other tests on two
cores; ``SIGNAGE_POWER_CUT_SEED`` replays a seed's choices of kill modes and tears).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from power_cut import Report, Settings, soak

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("power_cut")]

TARGET_S = 2.0


def wall_limit(load: float, target: float = TARGET_S) -> float:
    """The wall-clock allowance for a restart when ``load`` runnable tasks share the cores: a
    CPU-bound start-up gets about cores/load of a core (never more than one)."""
    return target * max(1.0, load / (os.cpu_count() or 1)) + 0.5


def slow_restarts(report: Report) -> list[str]:
    late = []
    for cycle in report.cycles:
        limit = wall_limit(cycle.load)
        cpu = cycle.cpu_to_playing_s
        if cycle.playing_s is None and cycle.lived_s >= limit:
            late.append(f"{cycle.label}: alive {cycle.lived_s:.2f} s, never playing")
        elif cycle.playing_s is not None and cycle.playing_s > limit:
            late.append(f"{cycle.label}: playing after {cycle.playing_s:.2f} s > {limit:.2f} s "
                        f"(load {cycle.load:.1f})")
        if cpu is not None and cpu > TARGET_S:
            late.append(f"{cycle.label}: {cpu:.2f} CPU seconds before playing")
    return late


def test_kiosk_survives_power_cuts(tmp_path: Path) -> None:
    seed = int(os.environ.get("SIGNAGE_POWER_CUT_SEED") or random.randrange(1_000_000))
    lines: list[str] = []
    settings = Settings(cycles=12, seed=seed, big_at=3, big_seconds=2.0, down_at=8, down_cycles=2,
                        tear_probability=0.6, final_timeout_s=75, log=lines.append)
    with soak(settings, tmp_path) as harness:
        report = harness.run()
        destroyed = harness.destroyed_run()
    figures = report.figures()
    story = f"seed {seed}\n" + "\n".join(lines) + "\n" + json.dumps(figures, indent=1)
    print(story)  # shown by pytest -rP, and with any failure below

    assert report.integrity_failures == [], story
    assert report.partial_media_used == [], story
    assert report.duplicates == 0 and report.lost == [], story
    assert report.dead_letters == [], story
    assert report.big_cached and report.big_played, story
    assert report.all_problems() == [], story
    assert report.integrity_checks > len(report.cycles), story
    assert sum(c.killed_mid_download for c in report.cycles) >= 1 or \
        figures["kiosk_log"].get("download_interrupted", 0) >= 1, story
    # with the server down, what comes on screen is the last good manifest, from the cache
    offline = [c for c in report.cycles if not c.server_up and c.playing_s is not None]
    assert offline, story
    # (unless a file of it was torn and has not been fetched again yet)
    assert [c.label for c in offline
            if c.default_first and not c.programme_incomplete] == [], story
    assert report.measured, story
    assert slow_restarts(report) == [], story
    # a journal and credentials made garbage: set aside, and playing as fast as ever
    assert destroyed.playing_s is not None, story
    assert destroyed.playing_s <= wall_limit(destroyed.load), story
