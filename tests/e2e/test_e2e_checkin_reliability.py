"""Check-in reliability (issue 4), with real processes: the kiosk killed with SIGKILL at random
points while it records 2,000 check-ins, and a week with the server unreachable and 50,000
records queued. The harness is tests/e2e/checkin_reliability.py (its docstring says exactly
what is done and checked); ``python -m bench checkin_kill_soak`` runs the SIGKILL part longer.

``SIGNAGE_CHECKIN_KILL_SEED`` replays a seed's kill points.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from checkin_reliability import KillSettings, kill_run, tmpfs_or, week_offline

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("checkin_reliability")]


def test_sigkill_while_recording_2000_checkins(tmp_path: Path) -> None:
    seed = int(os.environ.get("SIGNAGE_CHECKIN_KILL_SEED") or random.randrange(1_000_000))
    lines: list[str] = []
    settings = KillSettings(checkins=2_000, seed=seed, log=lines.append)
    with kill_run(settings, tmp_path) as run:
        report = run.run()
    figures = report.figures()
    story = f"seed {seed}\n" + "\n".join(lines) + "\n" + json.dumps(figures, indent=1)
    print(story)

    assert report.problems == [], story
    assert len(report.confirmed) == 2_000, story
    assert report.kills >= 3, story
    assert {"button", "scan", "staff"} <= set(report.kinds), story
    # exactly the confirmed ones, plus at most the one in flight at each kill
    assert report.server_distinct == report.server_total, story
    assert report.server_total == len(report.confirmed) + len(report.committed_unshown), story
    assert len(report.committed_unshown) <= report.kills, story


def test_a_week_offline_with_50000_queued_checkins(tmp_path: Path) -> None:
    lines: list[str] = []
    data_root = tmpfs_or(tmp_path / "data")
    try:
        report = week_offline(tmp_path, data_root, log=lines.append)
    finally:
        shutil.rmtree(data_root, ignore_errors=True)
    figures = report.figures()
    story = "\n".join(lines) + "\n" + json.dumps(figures, indent=1)
    print(story)

    assert report.problems == [], story
    assert report.server_distinct == report.server_total == 50_000, story
    assert max(report.request_sizes) <= min(report.batch_size, report.server_cap), story
    assert report.frames_after > report.frames_before, story
