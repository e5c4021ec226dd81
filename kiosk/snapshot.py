"""Pictures of the screen, as PNG: the headless screenshot file and the heartbeat's thumbnail.

The screen thread only copies the pixels (a few milliseconds); compressing a PNG takes tens
of milliseconds, which would cost a playing video late frames, so it happens elsewhere:
``ScreenshotWriter`` has its own thread for the ``--screenshot`` file, and the heartbeat's
thumbnail is encoded by whoever asks for it. Pillow releases the GIL while it compresses.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capture:
    """The screen as a viewer sees it (upright), RGB, taken at ``taken_at`` (monotonic)."""

    size: tuple[int, int]
    rgb: bytes
    taken_at: float

    def image(self) -> Image.Image:
        return Image.frombytes("RGB", self.size, self.rgb)


def encode_png(capture: Capture, max_width: int | None = None) -> bytes:
    """PNG bytes of ``capture``, scaled down to ``max_width`` when it is wider."""
    picture = capture.image()
    if max_width is not None and picture.width > max_width > 0:
        height = max(1, round(picture.height * max_width / picture.width))
        picture = picture.resize((max_width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def write_png_atomically(capture: Capture, path: Path) -> None:
    """Write the PNG beside ``path`` and rename it into place: a reader (the admin page, a
    test) never sees half a file."""
    temporary = _temporary(path, os.getpid())
    temporary.write_bytes(encode_png(capture))
    os.replace(temporary, path)


def _temporary(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.tmp")


def remove_stale_temporaries(path: Path) -> int:
    """Delete the temporary files of ``path`` that a process killed mid-write left behind
    (each is named after its writer's pid; a live writer's file is left alone). Returns how
    many were removed."""
    prefix, removed = f".{path.name}.", 0
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return 0
    for entry in entries:
        pid = entry.name.removeprefix(prefix).removesuffix(".tmp")
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp") and \
                pid.isdigit() and not _alive(int(pid)):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class ScreenshotWriter:
    """Keeps ``path`` up to date in a thread of its own; only the newest capture counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0
        self._lock = threading.Condition()
        self._pending: Capture | None = None
        self._closed = False
        self._last_error: str | None = None
        if remove_stale_temporaries(path):
            log.info("removed screenshot temporaries left by a killed kiosk")
        self._thread = threading.Thread(target=self._run, name="screenshot", daemon=True)
        self._thread.start()

    def submit(self, capture: Capture) -> None:
        with self._lock:
            self._pending = capture
            self._lock.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Finish the file in hand, then stop."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._lock.wait()
                capture, self._pending = self._pending, None
                closed = self._closed
            if capture is not None:
                self._write(capture)
            if closed:
                return

    def _write(self, capture: Capture) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_png_atomically(capture, self.path)
        except OSError as exc:
            if str(exc) != self._last_error:  # once per new problem, not every few seconds
                log.warning("screenshot %s not written: %s", self.path, exc)
            self._last_error = str(exc)
            return
        self.written += 1
        self._last_error = None


class Snapshots:
    """When the screen thread should copy the screen, and what became of the copies.

    Two customers: the ``--screenshot`` file, rewritten every ``every`` seconds, and
    ``latest_png`` (the heartbeat's thumbnail), which asks for a fresh copy at most every
    ``FRESH_S`` seconds and waits ``WAIT_S`` for the screen thread to take it.
    """

    FRESH_S = 3.0
    WAIT_S = 1.0

    def __init__(self, path: Path | None, every: float) -> None:
        self.path = path
        self.every = every
        self.writer: ScreenshotWriter | None = None
        self.next_file = 0.0
        self._lock = threading.Condition()
        self._latest: Capture | None = None
        self._wanted = False
        self._open = False

    def start(self, now: float) -> None:
        """The screen is up: copies can be asked for, the file is due at once."""
        self.writer = ScreenshotWriter(self.path) if self.path is not None else None
        self.next_file = now
        with self._lock:
            self._open = True

    def due(self, now: float) -> bool:
        """Should the picture drawn at ``now`` (monotonic) be copied?"""
        with self._lock:
            wanted = self._wanted
        return wanted or (self.writer is not None and now >= self.next_file)

    def next_due(self) -> float | None:
        return self.next_file if self.writer is not None else None

    def keep(self, shot: Capture, now: float) -> None:
        if self.writer is not None and now >= self.next_file:
            self.writer.submit(shot)
            self.next_file = now + self.every
        with self._lock:
            self._latest, self._wanted = shot, False
            self._lock.notify_all()

    def latest_png(self, max_width: int) -> bytes | None:
        """A PNG of the screen at most ``max_width`` wide (encoded in the caller's thread)."""
        with self._lock:
            if not self._fresh() and self._open:
                self._wanted = True
                self._lock.wait_for(self._fresh, timeout=self.WAIT_S)
            capture = self._latest
        return encode_png(capture, max_width) if capture is not None else None

    def close(self) -> None:
        """No more copies will come: nobody waits for one any more."""
        with self._lock:
            self._open = False
            self._lock.notify_all()
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _fresh(self) -> bool:
        latest = self._latest
        return latest is not None and time.monotonic() - latest.taken_at < self.FRESH_S
