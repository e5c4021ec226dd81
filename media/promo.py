"""The promo clips: which scenes each one shows, and how frame ``i`` of a clip looks.

A frame is a pure function of (campaign, spec, frame count, index): no clock, no randomness, so
the encoder sees the same pictures on every run. Each frame carries a progress bar and a frame
counter, so a frozen or dropped frame on a kiosk is visible to the eye and to a screenshot test.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from .campaign import Campaign
from .render import (
    INK,
    Fonts,
    Line,
    Palette,
    gradient,
    mix,
    paste,
    phone,
    ring,
    step_row,
    text_block,
)

FPS = 30
SIZE = (1280, 720)
PHONE_BOX = (110, 140, 220, 440)  # x, y, width, height
TEXT_BOX = (520, 40, 730, 620)
SLIDE_FRAMES = 12  # a layer slides in over 0.4 s
RING_PERIOD_S = 1.5


@dataclass(frozen=True)
class PromoSpec:
    """One promo clip: its name, length, colours and scenes ((kind, seconds), in order)."""

    name: str
    seconds: int
    palette: Palette
    scenes: tuple[tuple[str, float], ...]

    @property
    def frames(self) -> int:
        return self.seconds * FPS

    @property
    def file_name(self) -> str:
        return f"{self.name}.mp4"


PROMOS = (
    PromoSpec("promo-8s", 8,
              Palette(top=(8, 48, 120), bottom=(21, 101, 192), accent=(129, 212, 250),
                      highlight=(255, 213, 79)),
              (("intro", 3), ("tagline", 5))),
    PromoSpec("promo-15s", 15,
              Palette(top=(0, 77, 64), bottom=(0, 137, 123), accent=(178, 223, 219),
                      highlight=(255, 238, 88)),
              (("intro", 3), ("tagline", 4), ("steps", 8))),
    PromoSpec("promo-30s", 30,
              Palette(top=(49, 27, 146), bottom=(81, 45, 168), accent=(255, 171, 145),
                      highlight=(255, 209, 128)),
              (("intro", 4), ("tagline", 6), ("steps", 14), ("cta", 6))),
)


def ease_out(t: float) -> float:
    """Cubic ease-out on [0, 1]: fast start, soft landing."""
    t = min(max(t, 0.0), 1.0)
    return 1 - (1 - t) ** 3


def timeline(spec: PromoSpec, frames: int) -> list[tuple[str, int, int]]:
    """Scenes as (kind, first frame, end frame), scaled to ``frames`` so a short test clip
    still passes through every scene."""
    total = sum(seconds for _, seconds in spec.scenes)
    out, elapsed = [], 0.0
    for kind, seconds in spec.scenes:
        start = round(elapsed / total * frames)
        elapsed += seconds
        out.append((kind, start, round(elapsed / total * frames)))
    return out


class PromoRenderer:
    """Draws the frames of one clip. Everything that does not move (background, phone, text
    blocks) is drawn once here; a frame is then a copy, a few rings and some pastes."""

    def __init__(self, spec: PromoSpec, campaign: Campaign, frames: int | None = None,
                 fonts: Fonts | None = None) -> None:
        self.spec = spec
        self.frames = frames or spec.frames
        self._fonts = fonts or Fonts()
        self._palette = spec.palette
        self._timeline = timeline(spec, self.frames)
        self._background = gradient(SIZE, spec.palette.top, spec.palette.bottom)
        self._phone = phone(PHONE_BOX[2:], spec.palette, self._fonts, campaign.app_name)
        self._blocks = self._text_blocks(campaign)
        self._steps = self._step_rows(campaign)

    def frame(self, index: int) -> Image.Image:
        """Frame ``index`` (0-based) as an RGB image of SIZE."""
        image = self._background.copy()
        draw = ImageDraw.Draw(image)
        self._draw_rings(draw, index)
        paste(image, self._phone, PHONE_BOX[:2])
        for kind, start, end in self._timeline:
            if start <= index < end:
                self._draw_scene(image, kind, index, start, end)
        self._draw_progress(draw, index)
        return image

    def _text_blocks(self, c: Campaign) -> dict[str, Image.Image]:
        f, p, width = self._fonts, self._palette, TEXT_BOX[2]
        return {
            "intro": text_block([Line(c.app_name, f.get(120, True), p.ink, 8),
                                 Line(c.slogan_vi, f.get(46), p.ink, 4),
                                 Line(c.slogan_en, f.get(32), p.accent)], width),
            "tagline": text_block([Line(c.tagline_vi, f.get(54, True), p.ink, 24),
                                   Line(c.tagline_en, f.get(32), p.accent)], width),
            "steps": text_block([Line(c.guide_title_vi, f.get(40, True), p.ink),
                                 Line(c.guide_title_en, f.get(26), p.accent)], width),
            "cta": text_block([Line(c.title_vi, f.get(72, True), p.highlight, 8),
                               Line(c.title_en, f.get(46), p.ink, 28),
                               Line(c.slogan_vi, f.get(34), p.accent),
                               Line(c.slogan_en, f.get(26), p.accent)], width),
        }

    def _step_rows(self, c: Campaign) -> list[tuple[Image.Image, Image.Image]]:
        """Each step twice: with a highlighted badge (the step just shown) and a dimmed one."""
        f, p, width = self._fonts, self._palette, TEXT_BOX[2]
        rows = []
        for number, (vi, en) in enumerate(zip(c.steps_vi, c.steps_en, strict=True), start=1):
            lines = [Line(vi, f.get(30), p.ink), Line(en, f.get(22), p.accent)]
            rows.append((step_row(number, lines, width, (p.highlight, INK), f.get(28, True)),
                         step_row(number, lines, width, (p.accent, INK), f.get(28, True))))
        return rows

    def _draw_rings(self, draw: ImageDraw.ImageDraw, index: int) -> None:
        """Three rings leaving the phone, like the Bluetooth signal the app relies on."""
        x, y, w, h = PHONE_BOX
        cx, cy = x + w // 2, y + h // 2
        fade_to = mix(self._palette.top, self._palette.bottom, cy / SIZE[1])
        for k in range(3):
            phase = (index / (FPS * RING_PERIOD_S) + k / 3) % 1.0
            radius = round(150 + 130 * phase)
            colour = mix(self._palette.accent, fade_to, phase)
            width = max(2, round(8 * (1 - phase)))
            ring(draw, (cx, cy), radius, colour, width)

    def _draw_scene(self, image: Image.Image, kind: str, index: int, start: int,
                    end: int) -> None:
        block = self._blocks[kind]
        if kind != "steps":
            self._slide_in(image, block, self._centred_top(block.height), index - start)
            return
        rows = [pair[0] for pair in self._steps]
        gap = 16
        height = block.height + gap + sum(row.height + gap for row in rows)
        top = self._centred_top(height)
        self._slide_in(image, block, top, index - start)
        y = top + block.height + gap
        shown = 1 + (index - start) * len(rows) // max(1, end - start)
        for number, (active, dimmed) in enumerate(self._steps[:shown]):
            appear = start + number * (end - start) // len(rows)
            self._slide_in(image, active if number == shown - 1 else dimmed, y, index - appear)
            y += active.height + gap

    def _slide_in(self, image: Image.Image, layer: Image.Image, top: int, age: int) -> None:
        offset = round(80 * (1 - ease_out(age / SLIDE_FRAMES)))
        paste(image, layer, (TEXT_BOX[0] + offset, top))

    def _centred_top(self, height: int) -> int:
        return TEXT_BOX[1] + max(0, (TEXT_BOX[3] - height) // 2)

    def _draw_progress(self, draw: ImageDraw.ImageDraw, index: int) -> None:
        """Progress bar and frame counter: every frame differs visibly from its neighbours."""
        width, height = SIZE
        p = self._palette
        draw.rectangle((0, height - 10, width, height), fill=mix(p.top, p.ink, 0.15))
        draw.rectangle((0, height - 10, width * (index + 1) // self.frames - 1, height),
                       fill=p.highlight)
        draw.text((width - 24, height - 20), f"{self.spec.name}  {index + 1:03d}/{self.frames}",
                  font=self._fonts.get(18), fill=mix(p.ink, p.bottom, 0.35), anchor="rs")
