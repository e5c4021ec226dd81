"""QR codes as module matrices, drawn by the kiosk itself.

The kiosk renders its own QR codes (the ``qrcode`` library builds the matrix, the display
paints it) because the presence code changes every 30 seconds and must work offline; no
image file or network round trip is involved. The quiet zone is left to the painter, which
knows the size of the box it fills.
"""

from __future__ import annotations

from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M

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
