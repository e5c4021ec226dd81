"""Install posters: one language each, landscape for the kiosk's main zone, portrait for
rotated screens and for printing.

A poster is a text column (title, motto, the numbered install steps) beside a coloured "hero"
panel with the phone; landscape puts the panel on the right, portrait on top. Dark text on a light
background, because posters are read from a few metres away, often on a glossy TV.
"""

from __future__ import annotations

from typing import Literal

from PIL import Image, ImageDraw

from .campaign import Campaign
from .render import (
    INK,
    PAPER,
    WHITE,
    Fonts,
    Line,
    Palette,
    gradient,
    line_height,
    mix,
    paste,
    phone,
    ring,
    step_row,
    text_block,
)

Lang = Literal["vi", "en"]
POSTER_PALETTE = Palette(top=(8, 48, 120), bottom=(21, 101, 192), accent=(129, 212, 250),
                         highlight=(255, 213, 79))
LANDSCAPE = (1920, 1080)
PORTRAIT = (1080, 1920)


def _texts(campaign: Campaign, lang: Lang) -> tuple[str, str, tuple[str, ...]]:
    if lang == "vi":
        return campaign.title_vi, campaign.motto_vi, campaign.steps_vi
    return campaign.title_en, campaign.motto_en, campaign.steps_en


def hero(size: tuple[int, int], palette: Palette, fonts: Fonts, app_name: str) -> Image.Image:
    """The coloured panel: gradient, signal rings and the phone, centred."""
    w, h = size
    panel = gradient(size, palette.top, palette.bottom)
    draw = ImageDraw.Draw(panel)
    phone_h = min(h * 3 // 5, w * 6 // 5)
    phone_w = phone_h // 2
    centre = (w // 2, h // 2)
    for k in range(4):
        radius = phone_h * (6 + 2 * k) // 16
        ring(draw, centre, radius, mix(palette.accent, palette.bottom, k / 4),
             max(2, phone_h // 60 - 2 * k))
    paste(panel, phone((phone_w, phone_h), palette, fonts, app_name),
          (centre[0] - phone_w // 2, centre[1] - phone_h // 2))
    return panel


def column(campaign: Campaign, lang: Lang, width: int, scale: float, palette: Palette,
           fonts: Fonts) -> Image.Image:
    """Title, motto and the numbered steps, stacked; ``scale`` sizes the type to the poster."""
    title, motto, steps = _texts(campaign, lang)

    def px(size: int) -> int:
        return round(size * scale)

    head = text_block([Line(title, fonts.get(px(112), True), palette.top, px(12)),
                       Line(motto, fonts.get(px(48)), palette.bottom)], width)
    rows = [step_row(n, [Line(step, fonts.get(px(48)), INK)], width,
                     (palette.bottom, WHITE), fonts.get(px(44), True))
            for n, step in enumerate(steps, start=1)]
    gap = px(40)
    height = head.height + gap * 2 + sum(row.height + gap for row in rows) - gap
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    paste(layer, head, (0, 0))
    y = head.height + gap
    ImageDraw.Draw(layer).rectangle((0, y - px(4), px(160), y), fill=(*palette.highlight, 255))
    y += gap
    for row in rows:
        paste(layer, row, (0, y))
        y += row.height + gap
    return layer


def render_poster(campaign: Campaign, lang: Lang, size: tuple[int, int],
                  palette: Palette = POSTER_PALETTE, fonts: Fonts | None = None) -> Image.Image:
    """The install poster in one language, at ``size`` (landscape or portrait)."""
    fonts = fonts or Fonts()
    w, h = size
    poster = Image.new("RGB", size, PAPER)
    if w >= h:
        panel_w = w * 3 // 10
        paste_hero = (w - panel_w, 0)
        hero_size = (panel_w, h)
        text = column(campaign, lang, w - panel_w - w // 10, h / 1080, palette, fonts)
        text_xy = (w // 16, (h - text.height) // 2)
    else:
        hero_size = (w, h * 2 // 5)
        paste_hero = (0, 0)
        text = column(campaign, lang, w - w // 6, w / 1080, palette, fonts)
        free = h - hero_size[1]
        text_xy = (w // 12, hero_size[1] + (free - text.height) // 2)
    poster.paste(hero(hero_size, palette, fonts, campaign.app_name), paste_hero)
    paste(poster, text, text_xy)
    _footer(poster, palette, fonts)
    return poster


def _footer(poster: Image.Image, palette: Palette, fonts: Fonts) -> None:
    """A thin band in the campaign colour, so the poster's edge is visible on a white wall."""
    w, h = poster.size
    band = line_height(fonts.get(max(12, h // 60))) // 2
    ImageDraw.Draw(poster).rectangle((0, h - band, w, h), fill=palette.top)
