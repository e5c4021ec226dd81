"""Posters (PNG, JPEG): decoded and fitted to the main zone in a worker thread.

Decoding and scaling a 1080p poster takes tens of milliseconds; done on the screen thread it
would cost a video playing at the same time a few late frames. Pillow releases the GIL while
it decodes and resamples, so the screen thread keeps its pace. The result is RGB bytes of
exactly the letterboxed size, in the byte order of the renderer's textures (BGRX, that is
XRGB8888 in a little-endian word), so that becoming a texture is a plain copy.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

from PIL import Image, ImageOps

from kiosk.layout import Box, fit

log = logging.getLogger(__name__)

MAX_PIXELS = 40_000_000  # larger files are refused, not decoded (a poster needs ~2 MP)
PICTURE_ERRORS = (OSError, ValueError, Image.DecompressionBombError, MemoryError)


class PictureSource:
    """One poster being prepared for a box of ``box_size`` pixels."""

    def __init__(self, path: Path, box_size: tuple[int, int], background: tuple[int, int, int]):
        self.path = path
        self.box_size = box_size
        self.background = background
        self.size: tuple[int, int] = (0, 0)
        self.pixels: bytes = b""  # BGRX
        self.error: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._load, name=f"picture:{path.name}", daemon=True).start()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self, now: float) -> None:
        """Nothing moves in a poster: the start time does not matter."""

    def close(self) -> None:
        self.pixels = b""

    def _load(self) -> None:
        try:
            picture = self._fitted()
            self.size, self.pixels = picture.size, picture.tobytes("raw", "BGRX")
        except PICTURE_ERRORS as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("poster %s: %s", self.path.name, self.error)
        finally:
            self._ready.set()

    def _fitted(self) -> Image.Image:
        """The poster at its letterboxed size, holding as few full-size copies at a time as
        possible (this runs while a video plays, within the kiosk's memory budget)."""
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(self.path) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise ValueError(f"{opened.width}x{opened.height} is too large")
                target = fit(opened.size, Box(0, 0, *self.box_size))
                opened.draft("RGB", (target.w, target.h))  # JPEG: decode at a smaller scale
                opened.load()
                ImageOps.exif_transpose(opened, in_place=True)
                picture = self._flat(opened)
        target = fit(picture.size, Box(0, 0, *self.box_size))
        if picture.size != (target.w, target.h):
            picture = picture.resize((target.w, target.h), Image.Resampling.LANCZOS)
        return picture

    def _flat(self, picture: Image.Image) -> Image.Image:
        """RGB, transparent parts on the background colour."""
        if picture.mode == "RGB":
            return picture  # loaded: usable once its file is closed
        if picture.mode not in ("RGBA", "LA", "P", "PA"):
            return picture.convert("RGB")
        with_alpha = picture.convert("RGBA")
        flat = Image.new("RGB", picture.size, self.background)
        flat.paste(with_alpha, mask=with_alpha.getchannel("A"))
        return flat
