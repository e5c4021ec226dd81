"""A streaming YUV texture on pygame's SDL renderer, through SDL's own C API (ctypes).

pygame's ``_sdl2.video.Texture`` only accepts RGB surfaces, so uploading decoded video
would need a YUV to RGB conversion on the CPU first. SDL itself takes the three planes of a
decoded frame directly (``SDL_UpdateYUVTexture``) and converts and scales them while drawing:
on a Raspberry Pi the GPU does that work, and even SDL's software renderer does it faster
than swscale (measurements in ``kiosk.display``). This module binds the handful of SDL
functions needed, on the very library pygame has loaded, and does nothing else.

``YuvTexture.attach`` returns None when that library cannot be found or does not know the
window (another platform, another SDL): the display then falls back to RGB conversion.
"""

from __future__ import annotations

import ctypes
import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

PIXELFORMAT_IYUV = 0x56555949  # SDL_PIXELFORMAT_IYUV: Y plane, then U, then V (yuv420p)
TEXTUREACCESS_STREAMING = 1
SCALE_NEAREST, SCALE_LINEAR = 0, 1
_SDL_LIBRARY = re.compile(r"libSDL2-2[.-][^/]*\.so[^/]*$")


class _Rect(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int)]


class _RendererInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("flags", ctypes.c_uint32),
        ("num_texture_formats", ctypes.c_uint32),
        ("texture_formats", ctypes.c_uint32 * 16),
        ("max_texture_width", ctypes.c_int),
        ("max_texture_height", ctypes.c_int),
    ]


def loaded_sdl_library(maps: Path = Path("/proc/self/maps")) -> str | None:
    """The path of the SDL2 library mapped into this process (pygame's), if any."""
    try:
        lines = maps.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and _SDL_LIBRARY.search(fields[5]):
            return fields[5]
    return None


def _bind(path: str) -> ctypes.CDLL:
    sdl = ctypes.CDLL(path)
    ptr, cint, u32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32
    signatures: dict[str, tuple[list[type], type | None]] = {
        "SDL_GetWindowFromID": ([u32], ptr),
        "SDL_GetRenderer": ([ptr], ptr),
        "SDL_GetRendererInfo": ([ptr, ptr], cint),
        "SDL_CreateTexture": ([ptr, u32, cint, cint, cint], ptr),
        "SDL_DestroyTexture": ([ptr], None),
        "SDL_SetTextureScaleMode": ([ptr, cint], cint),
        "SDL_UpdateYUVTexture": ([ptr, ptr, ptr, cint, ptr, cint, ptr, cint], cint),
        "SDL_RenderCopyEx": (
            [ptr, ptr, ptr, ctypes.POINTER(_Rect), ctypes.c_double, ptr, cint],
            cint,
        ),
        "SDL_GetError": ([], ctypes.c_char_p),
    }
    for name, (args, result) in signatures.items():
        function = getattr(sdl, name)
        function.argtypes, function.restype = args, result
    return sdl


class YuvTexture:
    """Streaming IYUV textures, one per video size (at most ``KEEP_SIZES`` at a time).

    Creating a 1080p texture allocates and clears tens of megabytes; done at an item
    boundary it would hold the next clip's first frame back. ``prepare`` makes the texture
    for the next clip's size while the current clip plays. On a GPU the previous size's
    texture is kept too, so a loop that alternates two sizes never creates one again. The
    software renderer keeps its textures in the process's own memory — a 1080p one is
    11.4 MB: the planes (3.1 MB) and their RGB conversion (8.3 MB) — so there the old size
    goes as soon as a clip of another size is on screen, and is made again ahead of time
    by ``prepare`` when it comes back.
    """

    KEEP_SIZES = 2

    def __init__(self, sdl: ctypes.CDLL, renderer: int, renderer_name: str) -> None:
        self._sdl = sdl
        self._renderer = renderer
        self.renderer_name = renderer_name
        self._textures: dict[tuple[int, int], int] = {}
        self.size: tuple[int, int] = (0, 0)  # of the frame uploaded last
        self.keep_after_switch = self.KEEP_SIZES if self.accelerated else 1

    @classmethod
    def attach(cls, window_id: int) -> YuvTexture | None:
        """Bind to the renderer of pygame's window ``window_id``; None when not possible."""
        path = loaded_sdl_library()
        if path is None:
            log.info("SDL library not found in this process: video frames go through RGB")
            return None
        try:
            sdl = _bind(path)
        except (OSError, AttributeError) as exc:
            log.info("SDL library %s not usable (%s): video frames go through RGB", path, exc)
            return None
        window = sdl.SDL_GetWindowFromID(window_id)
        renderer = sdl.SDL_GetRenderer(window) if window else None
        if not renderer:
            log.info("SDL renderer of window %d not found: video frames go through RGB", window_id)
            return None
        info = _RendererInfo()
        sdl.SDL_GetRendererInfo(renderer, ctypes.byref(info))
        name = (info.name or b"?").decode("ascii", "replace")
        return cls(sdl, renderer, name)

    @property
    def accelerated(self) -> bool:
        return self.renderer_name != "software"

    def prepare(self, size: tuple[int, int]) -> None:
        """Have a texture of ``size`` ready (cheap when it exists)."""
        self._texture(size)

    def upload(self, size: tuple[int, int], planes: tuple[tuple[int, int], ...]) -> bool:
        """Copy the Y, U and V planes ((address, line size) each) of a ``size`` frame."""
        texture = self._texture(size)
        if texture is None:
            return False
        if size != self.size:
            self.size = size
            self._trim(self.keep_after_switch)
        (y, y_pitch), (u, u_pitch), (v, v_pitch) = planes
        result = self._sdl.SDL_UpdateYUVTexture(texture, None, y, y_pitch, u, u_pitch, v, v_pitch)
        return result == 0

    def draw(self, dest: tuple[int, int, int, int], angle: float) -> None:
        """Draw the last uploaded frame into ``dest``, rotated by ``angle`` degrees clockwise."""
        texture = self._textures.get(self.size)
        if texture is not None:
            rect = _Rect(*dest)
            self._sdl.SDL_RenderCopyEx(
                self._renderer, texture, None, ctypes.byref(rect), angle, None, 0
            )

    def close(self) -> None:
        for texture in self._textures.values():
            self._sdl.SDL_DestroyTexture(texture)
        self._textures.clear()

    def _texture(self, size: tuple[int, int]) -> int | None:
        texture = self._textures.pop(size, None)
        if texture is None:
            texture = self._create(size)
            if texture is None:
                return None
        self._textures[size] = texture  # most recently used last
        self._trim(self.KEEP_SIZES)
        return texture

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """The sizes that have a texture now, least recently used first."""
        return list(self._textures)

    def _trim(self, keep: int) -> None:
        """Destroy the least recently used textures beyond ``keep``, never the one on
        screen."""
        while len(self._textures) > keep:
            oldest = next(iter(self._textures))
            if oldest == self.size:
                self._textures[oldest] = self._textures.pop(oldest)
                oldest = next(iter(self._textures))
                if oldest == self.size:
                    return
            self._sdl.SDL_DestroyTexture(self._textures.pop(oldest))

    def _create(self, size: tuple[int, int]) -> int | None:
        texture = self._sdl.SDL_CreateTexture(
            self._renderer, PIXELFORMAT_IYUV, TEXTUREACCESS_STREAMING, *size
        )
        if not texture:
            error = self._sdl.SDL_GetError() or b""
            log.warning("YUV texture %dx%d refused: %s", *size, error.decode("utf-8", "replace"))
            return None
        # Linear filtering costs nothing on a GPU; the software renderer doubles its time
        # with it, and headless screenshots do not need it.
        mode = SCALE_LINEAR if self.accelerated else SCALE_NEAREST
        self._sdl.SDL_SetTextureScaleMode(texture, mode)
        return int(texture)
