"""The screenshot file: written atomically, and no temporary file left by a killed kiosk stays."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kiosk.snapshot import Capture, ScreenshotWriter, remove_stale_temporaries


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_dead_writers_go_and_a_live_ones_stays(tmp_path: Path) -> None:
    shot = tmp_path / "kiosk.png"
    stale = tmp_path / f".kiosk.png.{dead_pid()}.tmp"
    live = tmp_path / f".kiosk.png.{os.getppid()}.tmp"  # a running process's file
    others = [tmp_path / ".other.png.1.tmp", tmp_path / "kiosk.png.tmp", tmp_path / "kiosk.png"]
    for path in [stale, live, *others]:
        path.write_bytes(b"half a png")
    assert remove_stale_temporaries(shot) == 1
    assert not stale.exists()
    assert live.exists() and all(path.exists() for path in others)


def test_a_new_writer_cleans_up_then_writes(tmp_path: Path) -> None:
    shot = tmp_path / "kiosk.png"
    stale = tmp_path / f".kiosk.png.{dead_pid()}.tmp"
    stale.write_bytes(b"\x89PNG half")
    writer = ScreenshotWriter(shot)
    try:
        assert not stale.exists()
        writer.submit(Capture((4, 2), bytes(range(24)), time.monotonic()))
    finally:
        writer.close()
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["kiosk.png"]
