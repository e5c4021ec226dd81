"""QR codes as module matrices, drawn by the kiosk itself.

The kiosk renders its own QR codes (the ``qrcode`` library builds the matrix, the display
paints it) because the presence code changes every 30 seconds and must work offline; no
image file or network round trip is involved. The quiet zone is left to the painter, which
knows the size of the box it fills.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

QUIET_MODULES = 4  # the margin the QR standard asks for, in modules


@dataclass(frozen=True)
class QrMatrix:
    """The dark (True) and light modules of one code, row by row, without quiet zone."""

    data: str
    rows: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> int:
        return len(self.rows)

    def module_px(self, box_px: int) -> int:
        """The largest whole module size that fits ``box_px`` with the quiet zone: whole
        pixels keep every module the same size, which is what a phone camera reads best."""
        return max(1, box_px // (self.size + 2 * QUIET_MODULES))


def qr_matrix(data: str) -> QrMatrix:
    """The matrix for ``data`` at medium error correction (survives glare and a scratched
    screen; a URL of the length we show still fits a small version)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    return QrMatrix(data, tuple(tuple(bool(m) for m in row) for row in code.get_matrix()))


class QrCache:
    """Matrices by content, computed ahead in a thread of their own when asked to.

    Building a matrix (``qrcode`` chooses the best of eight masks in pure Python) takes 15 to
    80 ms: too long for the screen thread at an item boundary, where it would hold the next
    item's first frame back. The player asks for the next item's install link and the next
    presence token ahead of time (``prefetch``); ``get`` then finds them ready. A thread
    switch every few milliseconds keeps the screen thread's pace meanwhile.
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._matrices: dict[str, QrMatrix] = {}
        self._computing: set[str] = set()
        self._lock = threading.Condition()
        self._wanted: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def get(self, data: str) -> QrMatrix:
        """The matrix for ``data``: from the cache, from the thread computing it already,
        else computed now."""
        with self._lock:
            self._lock.wait_for(lambda: data not in self._computing, timeout=2.0)
            found = self._matrices.get(data)
        return found if found is not None else self._store(qr_matrix(data))

    def prefetch(self, data: str) -> None:
        """Compute ``data``'s matrix in the background unless it is cached already."""
        with self._lock:
            if data in self._matrices or data in self._computing:
                return
            self._computing.add(data)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qr", daemon=True)
                self._thread.start()
        self._wanted.put(data)

    def close(self) -> None:
        if self._thread is not None:
            self._wanted.put(None)

    def _store(self, matrix: QrMatrix) -> QrMatrix:
        with self._lock:
            if len(self._matrices) >= self.capacity:
                self._matrices.pop(next(iter(self._matrices)))  # the oldest entry
            self._matrices[matrix.data] = matrix
            self._computing.discard(matrix.data)
            self._lock.notify_all()
        return matrix

    def _run(self) -> None:
        while (data := self._wanted.get()) is not None:
            try:
                self._store(qr_matrix(data))
            except DataOverflowError:  # too long for any QR code: ``get`` will say so
                with self._lock:
                    self._computing.discard(data)
                    self._lock.notify_all()
