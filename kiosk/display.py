"""The screen: the only module that imports pygame.

It draws what it is given — the main zone's media and the bar — through pygame's SDL2
renderer (``pygame._sdl2.video``), on the physical framebuffer, rotated for portrait panels.
Layout decisions live in ``kiosk.layout`` and ``kiosk.text``; what to show, in
``kiosk.state`` and ``kiosk.bar``.

How video frames reach the screen (the one place this choice is made): the decoded YUV 4:2:0
planes are uploaded to a streaming texture (``kiosk.yuv_texture``) and the renderer converts
and scales them. Measured on the 2-core development machine, headless (SDL's software
renderer), 60 frames each, decode excluded, per frame::

    path                                         720p -> 1024x576   1080p -> 1024x576
    YUV texture, nearest, incl. bar + present        1.7 ms CPU          3.0 ms CPU
    YUV texture, linear filtering                    3.4 ms CPU          4.7 ms CPU
    swscale to RGB at the target size (bilinear)     9.0 ms CPU          9.0 ms CPU
      ... fast-bilinear                              5.5 ms CPU          5.4 ms CPU
      ... plus the blit and present of the RGB frame  +1-2 ms

(decoding itself: 4.3 ms a 720p frame, 9.3 ms a 1080p frame). The texture path is cheaper even
without a GPU, and on a Raspberry Pi the GPU does the conversion and the scaling (the issue's
prototype: 10.4 ms against 17.3 ms on a 1080p screen). The software renderer scales with
nearest-neighbour, an accelerated one with linear filtering. When SDL's C API cannot be reached
the frames are converted to RGB instead (``_RgbTexture``): slower, but the screen still plays.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy
import pygame
import pygame.freetype
from pygame._sdl2 import video as sdl2

from kiosk.bar import BarContent
from kiosk.display_options import DisplayOptions
from kiosk.events import Event, KeyPressed, Quit
from kiosk.layout import Box, ScreenLayout, fit, logical_size, place, screen_layout
from kiosk.manifest import Item, QrSlide, TextSlide
from kiosk.picture import PictureSource
from kiosk.qr import QUIET_MODULES, QrCache
from kiosk.snapshot import Capture
from kiosk.text import font_sizes, largest_fitting, wrap
from kiosk.video import Frame, VideoSource
from kiosk.yuv_texture import YuvTexture

log = logging.getLogger(__name__)

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
Color = tuple[int, int, int]
NAVY: Color = (11, 37, 69)
WHITE: Color = (255, 255, 255)
INK: Color = (16, 36, 62)
ACCENT: Color = (0, 114, 206)
SOFT: Color = (190, 214, 240)
GREY: Color = (92, 106, 124)
ACCENT_LIGHT: Color = (110, 190, 255)
BACKGROUND = NAVY  # letterbox and main-zone background


class Slide:
    """A QR or text slide, painted once when prepared (it needs the screen's fonts)."""

    ready = True
    error: str | None = None

    def __init__(self, surface: pygame.Surface) -> None:
        self.surface: pygame.Surface | None = surface

    def start(self, now: float) -> None:
        """A slide does not move."""

    def close(self) -> None:
        self.surface = None


Source = VideoSource | PictureSource | Slide


class _RgbTexture:
    """The fallback video path: convert each frame to RGB, then upload it."""

    def __init__(self, renderer: sdl2.Renderer) -> None:
        self._renderer = renderer
        self._texture: sdl2.Texture | None = None

    def upload(self, frame: Frame) -> None:
        picture = frame.picture
        size = (picture.width, picture.height)
        rgb = picture.to_ndarray(format="rgb24")
        surface = pygame.image.frombuffer(rgb.tobytes(), size, "RGB")
        if self._texture is None or (self._texture.width, self._texture.height) != size:
            self._texture = sdl2.Texture(self._renderer, size, streaming=True)
        self._texture.update(surface)

    def draw(self, dest: tuple[int, int, int, int], angle: float) -> None:
        if self._texture is not None:
            self._texture.draw(dstrect=dest, angle=angle)


class Display:
    """Owns the window and renderer; every method must be called from one thread."""

    def __init__(self, options: DisplayOptions, fonts_dir: Path = FONTS_DIR) -> None:
        self.options = options
        self.fonts_dir = fonts_dir
        self.physical: tuple[int, int] = options.size
        self.logical: tuple[int, int] = logical_size(options.size, options.rotation)
        self.layout: ScreenLayout = screen_layout(self.logical)
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self.qr_codes = QrCache()
        self._window: sdl2.Window | None = None
        self._renderer: sdl2.Renderer | None = None
        self._video: YuvTexture | _RgbTexture | None = None
        self._textures: dict[PictureSource | Slide, sdl2.Texture] = {}
        self._bar: tuple[BarContent, sdl2.Texture] | None = None
        self._keeps_picture = False  # software rendering: the last picture stays in place
        self._drawn: tuple[Source | None, BarContent] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> None:
        """Create the window (or the headless framebuffer) and its renderer."""
        mode = self.options.mode
        if mode == "headless":
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        pygame.display.init()
        pygame.font.init()
        size = self.options.size
        if mode == "fullscreen":
            size = pygame.display.get_desktop_sizes()[0]
        self._window = sdl2.Window(
            self.options.title, size=size, fullscreen_desktop=(mode == "fullscreen")
        )
        vsync = self.options.vsync and mode != "headless"
        self._renderer = sdl2.Renderer(self._window, vsync=vsync)
        if mode == "fullscreen":
            pygame.mouse.set_visible(False)
        self.physical = tuple(self._window.size)  # type: ignore[assignment]
        self.logical = logical_size(self.physical, self.options.rotation)
        self.layout = screen_layout(self.logical, self.layout.bar_position)
        yuv = YuvTexture.attach(self._window.id)
        self._video = yuv if yuv is not None else _RgbTexture(self._renderer)
        self._keeps_picture = yuv is not None and not yuv.accelerated
        renderer_name = yuv.renderer_name if yuv else "pygame"
        log.info(
            "screen %dx%d (%s, rotation %d, renderer %s, video via %s)",
            *self.physical,
            mode,
            self.options.rotation,
            renderer_name,
            "YUV texture" if yuv else "RGB conversion",
        )

    def close(self) -> None:
        self.qr_codes.close()
        if isinstance(self._video, YuvTexture):
            self._video.close()
        self._textures.clear()
        self._video = self._bar = self._drawn = None
        self._fonts.clear()
        self._renderer = None
        if self._window is not None:
            self._window.destroy()
            self._window = None
        pygame.freetype.quit()
        pygame.font.quit()
        pygame.display.quit()

    def poll(self) -> list[Event]:
        """Window and keyboard input as loop events."""
        events: list[Event] = []
        for event in pygame.event.get():
            if event.type in (pygame.QUIT, pygame.WINDOWCLOSE):
                events.append(Quit())
            elif event.type == pygame.KEYDOWN:
                if event.key == pygame.K_ESCAPE and self.options.mode == "windowed":
                    events.append(Quit())
                else:
                    events.append(KeyPressed(pygame.key.name(event.key)))
        return events

    # -- drawing -------------------------------------------------------------------------

    def render(
        self,
        main: Source | None,
        frame: Frame | None,
        bar: BarContent,
        capture: bool = False,
    ) -> Capture | None:
        """Draw a picture and show it; ``frame`` is a new video frame, if any (the last one
        uploaded stays otherwise). With ``capture``, the picture is also copied (upright)
        before it is shown.

        An accelerated renderer redraws everything every time (its back buffer is undefined
        after a present, and the GPU does not mind). The software renderer draws into the
        window's own surface, which keeps the last picture: when only the video frame
        changed, only the video is drawn — clearing and copying a 1080p screen would cost
        more than converting the frame itself.
        """
        assert self._renderer is not None, "open() first"
        if bar.position != self.layout.bar_position:
            self.layout = screen_layout(self.logical, bar.position)
            self._drawn = None
        unchanged = self._keeps_picture and self._drawn == (main, bar)
        if unchanged and isinstance(main, VideoSource) and frame is not None:
            self._draw_video(main, frame)
        else:
            self._renderer.draw_color = (*BACKGROUND, 255)
            self._renderer.clear()
            if isinstance(main, VideoSource):
                self._draw_video(main, frame)
            elif main is not None:
                self._draw_still(main)
            self._draw_bar(bar)
        self._drawn = (main, bar)
        snapshot = self._capture() if capture else None
        self._renderer.present()
        return snapshot

    def prepare(self, source: Source) -> None:
        """Get ``source`` ready to be drawn in no time (call it once it is ``ready``, while
        another item plays): its texture exists, so the switch to it only draws."""
        if isinstance(source, VideoSource):
            if isinstance(self._video, YuvTexture) and source.error is None:
                self._video.prepare(source.size)
        elif source.error is None:
            self._still_texture(source)

    def release(self, source: Source) -> None:
        """Forget ``source``'s texture (the item is gone)."""
        if not isinstance(source, VideoSource):
            self._textures.pop(source, None)

    def slide(self, item: Item, install_link: str) -> Slide:
        """Paint a QR or text slide for the main zone; a QR slide without its own link
        shows ``install_link``."""
        size = (self.layout.main.w, self.layout.main.h)
        if item.qr is not None:
            return Slide(self._paint_qr_slide(item.qr, item.qr.url or install_link, size))
        assert item.text is not None, f"item {item.id} is neither a QR nor a text slide"
        return Slide(self._paint_text_slide(item.text, size))

    def missing_glyphs(self, text: str) -> set[str]:
        """Characters of ``text`` that the regular or the bold font has no glyph for.

        Asked through FreeType directly: ``pygame.font`` reports metrics of the fallback
        glyph (an empty box) for a character the font lacks, so it cannot tell.
        """
        pygame.freetype.init()
        missing: set[str] = set()
        for name in (REGULAR, BOLD):
            metrics = pygame.freetype.Font(self.fonts_dir / name, 24).get_metrics(text)
            missing |= {ch for ch, m in zip(text, metrics, strict=True) if m is None}
        return missing

    def _draw(self, texture: sdl2.Texture, box: Box) -> None:
        dest, angle = place(box, self.logical, self.options.rotation)
        texture.draw(dstrect=dest.as_tuple(), angle=angle)

    def _draw_video(self, source: VideoSource, frame: Frame | None) -> None:
        assert self._video is not None
        if frame is not None:
            if isinstance(self._video, YuvTexture):
                self._video.upload(source.size, frame.planes)
            else:
                self._video.upload(frame)
        height = source.size[1]
        box = fit((height * source.aspect, height), self.layout.main)
        dest, angle = place(box, self.logical, self.options.rotation)
        self._video.draw(dest.as_tuple(), angle)

    def _draw_still(self, source: PictureSource | Slide) -> None:
        texture = self._still_texture(source)
        if texture is not None:
            self._draw(texture, fit((texture.width, texture.height), self.layout.main))

    def _still_texture(self, source: PictureSource | Slide) -> sdl2.Texture | None:
        texture = self._textures.get(source)
        if texture is None:
            surface = _surface_of(source)
            if surface is None:
                return None
            assert self._renderer is not None
            texture = self._textures[source] = sdl2.Texture.from_surface(self._renderer, surface)
            source.close()  # the texture holds the picture now: free the pixels
        return texture

    def _draw_bar(self, content: BarContent) -> None:
        assert self._renderer is not None
        if self._bar is None or self._bar[0] != content:
            surface = self._paint_bar(content)
            self._bar = (content, sdl2.Texture.from_surface(self._renderer, surface))
        self._draw(self._bar[1], self.layout.bar)

    def _capture(self) -> Capture:
        assert self._renderer is not None
        surface = self._renderer.to_surface()
        if self.options.rotation:
            surface = pygame.transform.rotate(surface, self.options.rotation)
        return Capture(surface.get_size(), pygame.image.tobytes(surface, "RGB"), time.monotonic())

    # -- painting (on surfaces, upright) -------------------------------------------------

    def _paint_bar(self, content: BarContent) -> pygame.Surface:
        layout = self.layout
        origin = layout.bar
        surface = pygame.Surface((origin.w, origin.h))
        surface.fill(WHITE)
        edge_y = 0 if content.position == "bottom" else origin.h - max(2, origin.h // 40)
        surface.fill(ACCENT, (0, edge_y, origin.w, max(2, origin.h // 40)))

        def local(box: Box) -> Box:
            return Box(box.x - origin.x, box.y - origin.y, box.w, box.h)

        self._paint_qr(surface, content.install_url, local(layout.install_qr))
        caption = local(layout.caption)
        upper = Box(caption.x, caption.y, caption.w, round(caption.h * 0.56))
        lower = Box(caption.x, upper.y + upper.h, caption.w, caption.h - upper.h)
        self._paint_text(surface, content.caption_vi, upper, True, INK, 2, "left")
        self._paint_text(surface, content.caption_en, lower, False, GREY, 2, "left")
        if content.venue_name:
            self._paint_text(surface, content.venue_name, local(layout.venue), True, INK, 2)
        clock = local(layout.clock)
        time_box = Box(clock.x, clock.y, clock.w, round(clock.h * 0.66))
        date_box = Box(clock.x, time_box.y + time_box.h, clock.w, clock.h - time_box.h)
        self._paint_text(surface, content.clock, time_box, True, ACCENT, 1)
        self._paint_text(surface, content.date, date_box, False, GREY, 1)
        if content.checkin_url:
            self._paint_qr(surface, content.checkin_url, local(layout.checkin_qr))
        return surface

    def _paint_qr_slide(self, slide: QrSlide, url: str, size: tuple[int, int]) -> pygame.Surface:
        width, height = size
        surface = pygame.Surface(size)
        surface.fill(WHITE)
        if width >= height:
            side = round(min(height * 0.9, width * 0.46))
            code = Box(round(width * 0.05), (height - side) // 2, side, side)
            text = Box(code.x + side + round(width * 0.04), round(height * 0.15), 0, 0)
            text = Box(text.x, text.y, width - text.x - round(width * 0.05), height - 2 * text.y)
        else:
            side = round(min(width * 0.86, height * 0.62))
            code = Box((width - side) // 2, round(height * 0.04), side, side)
            top = code.y + side + round(height * 0.02)
            text = Box(round(width * 0.06), top, round(width * 0.88), height - top - 8)
        self._paint_qr(surface, url, code)
        upper = Box(text.x, text.y, text.w, round(text.h * 0.55))
        lower = Box(text.x, upper.y + upper.h, text.w, text.h - upper.h)
        align = "left" if width >= height else "center"
        self._paint_text(surface, slide.caption_vi, upper, True, INK, 3, align, valign="bottom")
        self._paint_text(surface, slide.caption_en, lower, False, GREY, 3, align, valign="top")
        return surface

    def _paint_text_slide(self, slide: TextSlide, size: tuple[int, int]) -> pygame.Surface:
        width, height = size
        surface = pygame.Surface(size)
        surface.fill(NAVY)
        margin = round(min(width, height) * 0.06)
        area = Box(0, 0, width, height).inset(margin)
        if width >= height:
            column_w = (area.w - margin) // 2
            first = Box(area.x, area.y, column_w, area.h)
            second = Box(area.x + column_w + margin, area.y, column_w, area.h)
            divider_x = area.x + column_w + margin // 2
            pygame.draw.line(surface, SOFT, (divider_x, area.y), (divider_x, area.y + area.h), 2)
        else:
            column_h = (area.h - margin) // 2
            first = Box(area.x, area.y, area.w, column_h)
            second = Box(area.x, area.y + column_h + margin, area.w, column_h)
        columns = (
            (slide.title_vi, slide.lines_vi, first),
            (slide.title_en, slide.lines_en, second),
        )
        sizes = font_sizes(round(min(width, height) * 0.075), 10)
        text_size = largest_fitting(
            sizes,
            lambda s: all(self._steps_height(t, ls, c.w, s) <= c.h for t, ls, c in columns),
        )
        for (title, lines, column), colors in zip(
            columns, ((WHITE, WHITE), (SOFT, SOFT)), strict=True
        ):
            self._paint_steps(surface, title, lines, column, text_size, colors)
        return surface

    def _steps_height(self, title: str, lines: tuple[str, ...], width: int, size: int) -> int:
        title_font, font = self._font(round(size * 1.25), True), self._font(size, False)
        indent = font.size("0. ")[0]
        height = len(wrap(title, width, _width(title_font))) * title_font.get_linesize()
        height += round(size * 0.7)
        for line in lines:
            height += len(wrap(line, width - indent, _width(font))) * font.get_linesize()
            height += round(size * 0.35)
        return height

    def _paint_steps(
        self,
        surface: pygame.Surface,
        title: str,
        lines: tuple[str, ...],
        box: Box,
        size: int,
        colors: tuple[Color, Color],
    ) -> None:
        title_font, font = self._font(round(size * 1.25), True), self._font(size, False)
        indent = font.size("0. ")[0]
        y = box.y + max(0, (box.h - self._steps_height(title, lines, box.w, size)) // 2)
        for row in wrap(title, box.w, _width(title_font)):
            surface.blit(title_font.render(row, True, colors[0]), (box.x, y))
            y += title_font.get_linesize()
        y += round(size * 0.7)
        for number, line in enumerate(lines, start=1):
            surface.blit(font.render(f"{number}.", True, ACCENT_LIGHT), (box.x, y))
            for row in wrap(line, box.w - indent, _width(font)):
                surface.blit(font.render(row, True, colors[1]), (box.x + indent, y))
                y += font.get_linesize()
            y += round(size * 0.35)

    def _paint_text(
        self,
        surface: pygame.Surface,
        text: str,
        box: Box,
        bold: bool,
        color: Color,
        max_lines: int,
        align: str = "center",
        valign: str = "center",
    ) -> None:
        """Wrap and shrink ``text`` until it fits ``box`` in at most ``max_lines`` lines."""
        if not text or box.w <= 0 or box.h <= 0:
            return

        def fits(size: int) -> bool:
            font = self._font(size, bold)
            rows = wrap(text, box.w, _width(font))
            widest = max(font.size(row)[0] for row in rows)
            return (
                len(rows) <= max_lines
                and widest <= box.w
                and len(rows) * font.get_linesize() <= box.h
            )

        size = largest_fitting(font_sizes(max(8, round(box.h * 0.8)), 8), fits)
        font = self._font(size, bold)
        rows = wrap(text, box.w, _width(font))[:max_lines]
        total = len(rows) * font.get_linesize()
        y = {"top": box.y, "bottom": box.y + box.h - total}.get(
            valign, box.y + (box.h - total) // 2
        )
        for row in rows:
            rendered = font.render(row, True, color)
            x = {"left": box.x, "right": box.x + box.w - rendered.get_width()}.get(
                align, box.x + (box.w - rendered.get_width()) // 2
            )
            surface.blit(rendered, (x, y))
            y += font.get_linesize()

    def _paint_qr(self, surface: pygame.Surface, data: str, box: Box) -> None:
        """Whole-pixel modules, centred in ``box``, on white with the full quiet zone: the
        matrix is drawn one pixel per module and scaled up without smoothing."""
        matrix = self.qr_codes.get(data)
        module = matrix.module_px(min(box.w, box.h))
        modules = matrix.size + 2 * QUIET_MODULES
        light = numpy.full((modules, modules), 255, dtype=numpy.uint8)
        inner = slice(QUIET_MODULES, QUIET_MODULES + matrix.size)
        light[inner, inner] = numpy.where(numpy.array(matrix.rows, dtype=bool), 0, 255)
        code = pygame.surfarray.make_surface(numpy.dstack([light.T] * 3))
        code = pygame.transform.scale(code, (modules * module, modules * module))
        side = code.get_width()
        surface.blit(code, (box.x + (box.w - side) // 2, box.y + (box.h - side) // 2))

    def _font(self, size: int, bold: bool) -> pygame.font.Font:
        key = (size, bold)
        if key not in self._fonts:
            self._fonts[key] = pygame.font.Font(self.fonts_dir / (BOLD if bold else REGULAR), size)
        return self._fonts[key]


def _width(font: pygame.font.Font) -> Callable[[str], int]:
    return lambda text: font.size(text)[0]


def _surface_of(source: PictureSource | Slide) -> pygame.Surface | None:
    if isinstance(source, Slide):
        return source.surface
    if not source.pixels:
        return None
    surface = pygame.Surface(source.size)  # XRGB8888: the texture is then a plain copy
    surface.get_buffer().write(source.pixels)
    return surface
