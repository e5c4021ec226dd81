"""The screen: the only module that imports pygame.

It draws what it is given — the main zone's media and the bar — through pygame's SDL2
renderer (``pygame._sdl2.video``), on the physical framebuffer, rotated for portrait panels.
Layout decisions live in ``kiosk.layout`` and ``kiosk.text``; what to show, in
``kiosk.state`` and ``kiosk.bar``.

How video frames reach the screen (the one place this choice is made): the decoded YUV 4:2:0
planes are uploaded to a streaming texture (``kiosk.yuv_texture``) and the renderer converts
and scales them. Measured on the 2-core development machine, headless (SDL's software
renderer), CPU per frame for drawing and presenting only (decoding excluded)::

    content on screen              YUV texture        swscale to RGB at the target size
    720p  on a 1280x720 screen     1.8-2.1 ms         5.5 ms (fast bilinear) to 9 ms
    720p  on a 1920x1080 screen    3.1 ms             (bilinear), plus 1-2 ms to blit
    1080p on a 1920x1080 screen    4.1 ms
      of which the upload          0.7-0.9 ms (720p), 2.2 ms (1080p)

(decoding itself: 1.8-2.3 ms a frame of the 720p promos, 4.2 ms of a busy 1080p clip). The
texture path is cheaper even without a GPU, and on a Raspberry Pi the GPU does the conversion
and the scaling (the issue's prototype: 10.4 ms against 17.3 ms on a 1080p screen). The
software renderer scales with nearest-neighbour (linear filtering doubled its time), an
accelerated one with linear filtering. When SDL's C API cannot be reached the frames are
converted to RGB instead (``_RgbTexture``): slower, but the screen still plays.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import av
import pygame
import pygame.freetype
from pygame._sdl2 import video as sdl2

from kiosk.bar import BarContent
from kiosk.checkin import Confirmation
from kiosk.checkin_flow import (
    FIELD_LABELS,
    Confirmed,
    Editing,
    Form,
    Message,
    Recording,
    Screen,
    form_problem,
    mask,
)
from kiosk.display_options import DisplayOptions
from kiosk.events import Event, KeyPressed, Quit, Tapped, TextTyped
from kiosk.layout import (
    Box,
    FormLayout,
    ScreenLayout,
    confirmation_layout,
    fit,
    form_layout,
    hit,
    logical_size,
    place,
    qr_slide_layout,
    screen_layout,
    split_rows,
    text_slide_layout,
    to_logical,
)
from kiosk.manifest import Item, Programme, QrSlide, TextSlide, install_steps
from kiosk.picture import PictureSource
from kiosk.qr import QUIET_MODULES, QrCache
from kiosk.snapshot import Capture
from kiosk.text import Line, fit_block, steps_block, steps_size
from kiosk.video import Frame, VideoSource
from kiosk.yuv_texture import YuvTexture

log = logging.getLogger(__name__)

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
Color = tuple[int, int, int]
NAVY: Color = (11, 37, 69)
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)  # QR modules
INK: Color = (16, 36, 62)
ACCENT: Color = (0, 114, 206)
SOFT: Color = (190, 214, 240)
GREY: Color = (92, 106, 124)
ACCENT_LIGHT: Color = (110, 190, 255)
BACKGROUND = NAVY  # letterbox and main-zone background
CONFIRMED: Color = (0, 122, 61)  # a recorded check-in
PROBLEM: Color = (178, 34, 34)  # a refused one, a scan that is not an ID card
BUTTON: Color = (226, 235, 246)
#: What ``Display.poll`` turns into kiosk events (besides the window's own).
INPUT_EVENTS = (pygame.KEYDOWN, pygame.TEXTINPUT, pygame.MOUSEBUTTONDOWN, pygame.FINGERDOWN,
                pygame.QUIT, pygame.WINDOWCLOSE)


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
        rgb = frame.picture.reformat(format="rgb24")
        size = (rgb.width, rgb.height)
        if self._texture is None or (self._texture.width, self._texture.height) != size:
            self._texture = sdl2.Texture(self._renderer, size, streaming=True)
        self._texture.update(_rgb_surface(rgb.planes[0], size))

    def draw(self, dest: tuple[int, int, int, int], angle: float) -> None:
        if self._texture is not None:
            self._texture.draw(dstrect=dest, angle=angle)


def _rgb_surface(plane: av.video.plane.VideoPlane, size: tuple[int, int]) -> pygame.Surface:
    """A surface over an RGB24 plane's own memory (no numpy, no copy when rows hold whole
    pixels). PyAV pads each row to ``line_size``, and this pygame's ``frombuffer`` takes no
    pitch (pygame-ce's does): the padded rows are read as a wider picture and the frame's
    width cut out as a subsurface, which keeps the parent's pitch."""
    width, height = size
    if plane.line_size % 3:  # padding that is no whole pixel: copy the rows out
        rows, pitch = memoryview(plane), plane.line_size
        data = b"".join(rows[y * pitch : y * pitch + width * 3] for y in range(height))
        return pygame.image.frombuffer(data, size, "RGB")
    padded = pygame.image.frombuffer(plane, (plane.line_size // 3, height), "RGB")
    return padded.subsurface((0, 0, width, height))


class Display:
    """Owns the window and renderer; every method must be called from one thread."""

    def __init__(self, options: DisplayOptions, fonts_dir: Path = FONTS_DIR) -> None:
        self.options = options
        self.fonts_dir = fonts_dir
        self.physical: tuple[int, int] = options.size
        self.logical: tuple[int, int] = logical_size(options.size, options.rotation)
        self.layout: ScreenLayout = screen_layout(self.logical)
        self._fonts = _Fonts(fonts_dir)
        self.qr_codes = QrCache()
        self._window: sdl2.Window | None = None
        self._renderer: sdl2.Renderer | None = None
        self._video: YuvTexture | _RgbTexture | None = None
        self._textures: dict[PictureSource | Slide, sdl2.Texture] = {}
        self._bar: tuple[BarContent, sdl2.Texture] | None = None
        self._keeps_picture = False  # software rendering: the last picture stays in place
        self._drawn: tuple[Source | None, BarContent] | None = None
        #: What a tap can hit on the picture shown (logical coordinates), by name.
        self._targets: tuple[tuple[str, Box], ...] = ()

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

    def poll(self, since: float | None = None) -> list[Event]:
        """Window and keyboard input as loop events. ``since``: when the loop looked last
        (monotonic), which keys and text carry: they came at some moment after it."""
        events: list[Event] = []
        for event in pygame.event.get():
            if event.type in (pygame.QUIT, pygame.WINDOWCLOSE):
                events.append(Quit())
            elif event.type == pygame.KEYDOWN:
                if event.key == pygame.K_ESCAPE and self.options.mode == "windowed":
                    events.append(Quit())
                else:
                    events.append(KeyPressed(pygame.key.name(event.key), since))
            else:
                events.extend(self._input_event(event, since))
        return events

    def input_waiting(self) -> bool:
        """Whether a key, a text, a tap or a close is waiting for ``poll`` (nothing is taken
        off the queue): the loop then puts off work that can wait."""
        return bool(pygame.event.peek(INPUT_EVENTS))

    def _input_event(self, event: pygame.event.Event, since: float | None) -> list[Event]:
        """Text (TEXTINPUT: Unicode, whatever the keyboard layout or input method) and taps
        (mouse button, or a finger on a touch screen) as kiosk events."""
        if event.type == pygame.TEXTINPUT:
            return [TextTyped(event.text, since)] if event.text else []
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1 \
                and getattr(event, "touch", False) is False:
            return self._tap(event.pos)
        if event.type == pygame.FINGERDOWN:
            return self._tap((round(event.x * self.physical[0]),
                              round(event.y * self.physical[1])))
        return []

    def _tap(self, physical: tuple[int, int]) -> list[Event]:
        point = to_logical(physical, self.physical, self.options.rotation)
        if self.layout.bar.x <= point[0] < self.layout.bar.x + self.layout.bar.w and \
                self.layout.bar.y <= point[1] < self.layout.bar.y + self.layout.bar.h:
            return [Tapped("open_form")]
        main = self.layout.main
        target = hit(self._targets, (point[0] - main.x, point[1] - main.y))
        return [Tapped(target if target is not None else "screen")]  # "screen" wakes it

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

    def blank(self, capture: bool = False) -> Capture | None:
        """The whole screen black, bar included: the screen sleeps (``kiosk.state``). The
        next ``render`` draws everything again."""
        assert self._renderer is not None, "open() first"
        self._renderer.draw_color = (0, 0, 0, 255)
        self._renderer.clear()
        self._drawn = None
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

    # -- check-in screens (kiosk.checkin_flow) --------------------------------------------

    def checkin_slide(self, screen: Screen, programme: Programme, install_link: str) -> Slide:
        """Paint a check-in screen for the main zone; taps then hit its targets."""
        size = (self.layout.main.w, self.layout.main.h)
        self._targets = ()
        match screen:
            case Editing(form=form):
                layout = form_layout(size, form.fields)
                self._targets = layout.targets
                surface = self._paint_form(form, programme, layout, size)
            case Confirmed(confirmation=confirmation):
                self._targets = (("dismiss", Box(0, 0, *size)),)
                surface = self._paint_confirmation(confirmation, programme, install_link, size)
            case Message(vi=vi, en=en, kind=kind):
                self._targets = (("dismiss", Box(0, 0, *size)),)
                surface = self._paint_message(vi, en, size, problem=kind != "direction")
            case Recording():
                surface = self._paint_message("Đang ghi nhận…", "Recording…", size, False)
        return Slide(surface)

    def checkin_targets(self, screen: Screen) -> None:
        """The targets of a check-in screen painted ahead (a confirmation: tap to close)."""
        self._targets = (("dismiss", Box(0, 0, self.layout.main.w, self.layout.main.h)),)

    def checkin_closed(self) -> None:
        """No check-in screen any more: nothing in the main zone is a target."""
        self._targets = ()

    def _paint_message(
        self, vi: str, en: str, size: tuple[int, int], problem: bool
    ) -> pygame.Surface:
        surface = pygame.Surface(size)
        surface.fill(PROBLEM if problem else NAVY)
        area = Box(0, 0, *size).inset(round(min(size) * 0.08))
        upper, lower = split_rows(area, 0.55)
        lines = fit_block(vi, upper, self._fonts, True, 3, "center", "bottom")
        self._draw_lines(surface, lines, WHITE)
        if lines:  # the English beneath, never larger than the Vietnamese
            lower = Box(lower.x, lower.y, lower.w, min(lower.h, round(2.4 * lines[0].size)))
        self._draw_lines(surface, fit_block(en, lower, self._fonts, False, 3, "center", "top"),
                         SOFT)
        return surface

    def _paint_confirmation(
        self,
        confirmation: Confirmation,
        programme: Programme,
        install_link: str,
        size: tuple[int, int],
    ) -> pygame.Surface:
        """The masked name, in or out, the day the data is deleted; for "not yet" the
        install QR, large, and the install steps."""
        not_yet = confirmation.has_app == "no"
        surface = pygame.Surface(size)
        surface.fill(WHITE if not_yet else CONFIRMED)
        layout = confirmation_layout(size, with_code=not_yet)
        vi, en = confirmation_texts(confirmation, programme.qr.app_name)
        head_ink, detail_ink = (INK, GREY) if not_yet else (WHITE, WHITE)
        upper, lower = split_rows(layout.headline, 0.6)
        fonts = self._fonts
        align = "left" if not_yet and size[0] >= size[1] else "center"
        self._draw_lines(surface, fit_block(vi[0], upper, fonts, True, 2, align, "bottom"),
                         head_ink)
        self._draw_lines(surface, fit_block(en[0], lower, fonts, False, 2, align, "top"),
                         detail_ink)
        rows = [row for pair in zip(vi[1:], en[1:], strict=True) for row in pair]
        cells = _rows(layout.details, len(rows))
        for index, (row, cell) in enumerate(zip(rows, cells, strict=True)):
            self._draw_lines(surface, fit_block(row, cell, fonts, index % 2 == 0, 1, align),
                             head_ink if index % 2 == 0 else detail_ink)
        if layout.code is not None and layout.steps is not None:
            self._paint_qr(surface, install_link, layout.code)
            guide = install_steps(programme.qr.app_name)
            half_vi, half_en = split_rows(layout.steps, 0.5)
            text_size = steps_size(((guide.title_vi, guide.lines_vi, half_vi),
                                    (guide.title_en, guide.lines_en, half_en)), fonts,
                                   max(12, layout.steps.h // 12))
            self._draw_lines(surface, steps_block(guide.title_vi, guide.lines_vi, half_vi,
                                                  text_size, fonts), INK)
            self._draw_lines(surface, steps_block(guide.title_en, guide.lines_en, half_en,
                                                  text_size, fonts), GREY)
        return surface

    def _paint_form(
        self, form: Form, programme: Programme, layout: FormLayout, size: tuple[int, int]
    ) -> pygame.Surface:
        surface = pygame.Surface(size)
        surface.fill(WHITE)
        fonts = self._fonts
        upper, lower = split_rows(layout.title, 0.6)
        self._draw_lines(surface, fit_block("Ghi nhận khách ra vào", upper, fonts, True, 1,
                                            "left"), INK)
        self._draw_lines(surface, fit_block("Visitor check-in", lower, fonts, False, 1, "left"),
                         GREY)
        app = programme.qr.app_name
        for target, box in layout.targets:
            kind, _, value = target.partition(":")
            if kind == "field":
                self._paint_field(surface, form, value, box)
            elif kind == "key":
                self._paint_button(surface, box, *key_label(value, form.telex), False, small=True)
            else:
                vi, en = answer_label(target, app)
                chosen = (kind == "has_app" and form.has_app == value) or (
                    kind == "direction" and form.direction == value) or kind == "confirm"
                self._paint_button(surface, box, vi, en, chosen)
        problem = form.problem
        if problem is None and form.has_app is not None:
            problem = form_problem(form)
        if problem is not None:
            self._draw_lines(surface, fit_block(f"{problem[0]} / {problem[1]}", layout.problem,
                                                fonts, True, 2), PROBLEM)
        consent = programme.checkin.consent_text_vi if programme.checkin else ""
        if consent and form.fields:
            consent_en = programme.checkin.consent_text_en if programme.checkin else ""
            self._draw_lines(surface, fit_block(f"{consent} / {consent_en}".strip(" /"),
                                                layout.consent, fonts, False, 2), GREY)
        return surface

    def _paint_field(self, surface: pygame.Surface, form: Form, name: str, box: Box) -> None:
        label_vi, label_en = FIELD_LABELS[name]
        label, value_box = split_rows(box, 0.42)
        self._draw_lines(surface, fit_block(f"{label_vi} · {label_en}", label, self._fonts,
                                            False, 1, "left"), GREY)
        focused = form.focus == name
        pygame.draw.rect(surface, ACCENT if focused else SOFT, value_box.as_tuple(),
                         width=max(2, value_box.h // 14), border_radius=value_box.h // 6)
        text = form.value(name)
        shown = f"{text}|" if focused else mask(name, text)
        inner = value_box.inset(max(4, value_box.h // 6))
        self._draw_lines(surface, fit_block(shown, inner, self._fonts, True, 1, "left"), INK)

    def _paint_button(self, surface: pygame.Surface, box: Box, vi: str, en: str, chosen: bool,
                      small: bool = False) -> None:
        pygame.draw.rect(surface, ACCENT if chosen else BUTTON, box.as_tuple(),
                         border_radius=max(4, min(box.w, box.h) // 8))
        ink, soft = (WHITE, WHITE) if chosen else (INK, GREY)
        inner = box.inset(max(2, min(box.w, box.h) // 10))
        if not en:
            self._draw_lines(surface, fit_block(vi, inner, self._fonts, True, 1), ink)
            return
        upper, lower = split_rows(inner, 0.58)
        self._draw_lines(surface, fit_block(vi, upper, self._fonts, True, 1), ink)
        self._draw_lines(surface, fit_block(en, lower, self._fonts, False, 1), soft)

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
            source.close()  # the surface holds the picture now: free the pixels first
            texture = self._textures[source] = sdl2.Texture.from_surface(self._renderer, surface)
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
        edge = max(2, origin.h // 40)
        edge_y = 0 if content.position == "bottom" else origin.h - edge
        surface.fill(ACCENT, (0, edge_y, origin.w, edge))

        def local(box: Box) -> Box:
            return Box(box.x - origin.x, box.y - origin.y, box.w, box.h)

        self._paint_qr(surface, content.install_url, local(layout.install_qr))
        fonts = self._fonts
        self._draw_lines(
            surface,
            fit_block(content.caption_vi, local(layout.caption_vi), fonts, True, 2, "left")
            + fit_block(content.venue_name, local(layout.venue), fonts, True, 2),
            INK,
        )
        self._draw_lines(
            surface,
            fit_block(content.caption_en, local(layout.caption_en), fonts, False, 2, "left")
            + fit_block(content.date, local(layout.date), fonts, False, 1),
            GREY,
        )
        clock = fit_block(content.clock, local(layout.time), fonts, True, 1)
        self._draw_lines(surface, clock, ACCENT)
        if content.checkin_url:
            self._paint_qr(surface, content.checkin_url, local(layout.checkin_qr))
        return surface

    def _paint_qr_slide(self, slide: QrSlide, url: str, size: tuple[int, int]) -> pygame.Surface:
        surface = pygame.Surface(size)
        surface.fill(WHITE)
        layout = qr_slide_layout(size)
        self._paint_qr(surface, url, layout.code)
        fonts, align = self._fonts, layout.align
        vi = fit_block(slide.caption_vi, layout.caption_vi, fonts, True, 3, align, "bottom")
        en = fit_block(slide.caption_en, layout.caption_en, fonts, False, 3, align, "top")
        self._draw_lines(surface, vi, INK)
        self._draw_lines(surface, en, GREY)
        return surface

    def _paint_text_slide(self, slide: TextSlide, size: tuple[int, int]) -> pygame.Surface:
        surface = pygame.Surface(size)
        surface.fill(NAVY)
        layout = text_slide_layout(size)
        if layout.divider is not None:
            pygame.draw.line(surface, SOFT, *layout.divider, 2)
        columns = (
            (slide.title_vi, slide.lines_vi, layout.vietnamese),
            (slide.title_en, slide.lines_en, layout.english),
        )
        text_size = steps_size(columns, self._fonts, layout.largest_font)
        for (title, steps, box), color in zip(columns, (WHITE, SOFT), strict=True):
            self._draw_lines(surface, steps_block(title, steps, box, text_size, self._fonts), color)
        return surface

    def _draw_lines(self, surface: pygame.Surface, lines: list[Line], color: Color) -> None:
        for line in lines:
            ink = ACCENT_LIGHT if line.role == "number" else color
            rendered = self._fonts.font(line.size, line.bold).render(line.text, True, ink)
            surface.blit(rendered, (line.x, line.y))

    def _paint_qr(self, surface: pygame.Surface, data: str, box: Box) -> None:
        """Whole-pixel modules, centred in ``box``, on white with the full quiet zone: the
        matrix is drawn one pixel per module and scaled up without smoothing."""
        matrix = self.qr_codes.get(data)
        module = matrix.module_px(min(box.w, box.h))
        modules = matrix.size + 2 * QUIET_MODULES
        code = pygame.Surface((modules, modules))
        code.fill(WHITE)
        for y, row in enumerate(matrix.rows, QUIET_MODULES):
            for x, dark in enumerate(row, QUIET_MODULES):
                if dark:
                    code.set_at((x, y), BLACK)
        code = pygame.transform.scale(code, (modules * module, modules * module))
        side = code.get_width()
        surface.blit(code, (box.x + (box.w - side) // 2, box.y + (box.h - side) // 2))


class _Fonts:
    """The kiosk's two fonts at any size, loaded once each (``kiosk.text.Metrics``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: dict[tuple[int, bool], pygame.font.Font] = {}

    def font(self, size: int, bold: bool) -> pygame.font.Font:
        key = (size, bold)
        if key not in self._loaded:
            self._loaded[key] = pygame.font.Font(self.folder / (BOLD if bold else REGULAR), size)
        return self._loaded[key]

    def width(self, text: str, size: int, bold: bool) -> int:
        return int(self.font(size, bold).size(text)[0])

    def line_height(self, size: int, bold: bool) -> int:
        return int(self.font(size, bold).get_linesize())

    def clear(self) -> None:
        self._loaded.clear()


def _surface_of(source: PictureSource | Slide) -> pygame.Surface | None:
    if isinstance(source, Slide):
        return source.surface
    if not source.pixels:
        return None
    surface = pygame.Surface(source.size)  # XRGB8888: the texture is then a plain copy
    surface.get_buffer().write(source.pixels)
    return surface


# -- check-in texts (pure; tested for glyph coverage) ------------------------------------------

DIRECTION_TEXTS = {"in": ("VÀO", "IN"), "out": ("RA", "OUT")}


def confirmation_texts(confirmation: Confirmation, app: str) -> tuple[list[str], list[str]]:
    """The confirmation's lines, Vietnamese and English, pairwise: headline, who, deletion."""
    word_vi, word_en = DIRECTION_TEXTS.get(confirmation.direction, DIRECTION_TEXTS["in"])
    if confirmation.has_app == "no":
        vi = [f"Đã ghi nhận {word_vi}. Mời cài đặt {app}", ]
        en = [f"Checked {word_en.lower()}. Please install {app}"]
    else:
        vi = [f"Đã ghi nhận: {word_vi}"]
        en = [f"Checked {word_en.lower()} - thank you"]
    if confirmation.masked_name:
        vi.append(f"Khách: {confirmation.masked_name}")
        en.append(f"Visitor: {confirmation.masked_name}")
    if getattr(confirmation, "personal_dropped", False):
        vi.append("Chưa lưu được thông tin cá nhân")
        en.append("Personal details could not be kept")
    elif confirmation.delete_on is not None:
        vi.append(f"Thông tin cá nhân được xóa ngày {confirmation.delete_on:%d/%m/%Y}")
        en.append(f"Personal data deleted on {confirmation.delete_on:%d %b %Y}")
    else:
        vi.append("Không lưu thông tin cá nhân")
        en.append("No personal data kept")
    return vi, en


def answer_label(target: str, app: str) -> tuple[str, str]:
    """The two-language label of a form button."""
    labels = {
        "has_app:yes": (f"Đã có {app}", "Has the app"),
        "has_app:no": ("Chưa có", "Not yet"),
        "has_app:installed_now": ("Vừa cài xong", "Installed now"),
        "direction:in": ("Vào", "In"),
        "direction:out": ("Ra", "Out"),
        "confirm": ("Xác nhận", "Confirm"),
        "cancel": ("Hủy", "Cancel"),
    }
    return labels.get(target, (target, ""))


def key_label(key: str, telex: bool) -> tuple[str, str]:
    """What an on-screen key shows."""
    specials = {
        "backspace": ("⌫", "Xóa"),
        "space": ("Dấu cách", "Space"),
        "next": ("Tiếp ▸", "Next"),
        "telex": ("Telex: bật" if telex else "Telex: tắt", "Telex on" if telex else "Telex off"),
    }
    return specials.get(key, (key.upper() if key.isalpha() else key, ""))


def _rows(box: Box, count: int) -> list[Box]:
    if count <= 0:
        return []
    height = box.h // count
    return [Box(box.x, box.y + i * height, box.w, height) for i in range(count)]
