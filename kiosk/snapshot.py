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
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(encode_png(capture))
    os.replace(temporary, path)


class ScreenshotWriter:
    """Keeps ``path`` up to date in a thread of its own; only the newest capture counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0
        self._lock = threading.Condition()
        self._pending: Capture | None = None
        self._closed = False
        self._last_error: str | None = None
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
