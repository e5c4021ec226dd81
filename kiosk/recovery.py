"""Damaged state files are set aside, so the kiosk starts fresh instead of failing again.

A kiosk under systemd that exits because ``journal.sqlite`` or ``credentials.json`` cannot be
read is restarted into the same failure every few seconds: a black screen, although the media
cache and the built-in content are fine. So a file that is damaged (not merely busy or
forbidden) is renamed to ``<name>.corrupt-<UTC time stamp>`` beside itself, kept for a human
to look at, and the kiosk goes on with a fresh one. Only the newest ``KEEP`` such copies of
each file are kept, so a card that keeps corrupting cannot fill itself up with them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

KEEP = 3
_SUFFIX = r"\.corrupt-\d{8}T\d{6}Z(?:-\d+)?"


def set_aside(path: Path, now: float, companions: Sequence[str] = ()) -> Path:
    """Rename ``path`` (and each ``path + companion`` that exists, e.g. SQLite's ``-wal``) to
    a time-stamped name beside it; return the new name of ``path``. Older copies beyond
    ``KEEP`` are deleted. The directory is fsynced, so the rename survives a power cut."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    serial = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{serial}")
        serial += 1
    os.replace(path, target)
    for companion in companions:
        extra = path.with_name(path.name + companion)
        if extra.exists():
            os.replace(extra, target.with_name(target.name + companion))
    _prune(path, companions)
    fsync_dir(path.parent)
    return target


def set_aside_copies(path: Path) -> list[Path]:
    """The copies of ``path`` set aside so far, oldest first."""
    pattern = re.compile(re.escape(path.name) + _SUFFIX + "$")
    try:
        names = [entry.name for entry in path.parent.iterdir() if pattern.match(entry.name)]
    except FileNotFoundError:
        return []
    return [path.with_name(name) for name in sorted(names, key=_age_key)]


def fsync_dir(folder: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(path: Path, companions: Sequence[str]) -> None:
    for old in set_aside_copies(path)[:-KEEP]:
        old.unlink(missing_ok=True)
        for companion in companions:
            old.with_name(old.name + companion).unlink(missing_ok=True)


def _age_key(name: str) -> tuple[str, int]:
    """Sort by time stamp, then by the serial of copies made within the same second."""
    stamp, _, serial = name.rpartition(".corrupt-")[2].partition("-")
    return stamp, int(serial or 0)
