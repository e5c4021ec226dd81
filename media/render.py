"""Drawing the default content with Pillow: promo video frames and install posters.

Everything is flat colour and text on purpose: flat areas cost x264 almost nothing, so the promos
stay small enough to sync to a fleet over a venue's slow uplink, and a picture that is a pure
function of (campaign, palette, frame index) is what makes the build reproducible.

Text uses Pillow's BASIC layout, not Raqm: whether libraqm is present differs between machines and
would move glyphs by a pixel, changing every file's hash. Vietnamese needs no shaping once NFC
normalised (see ``campaign.py``), and DejaVu Sans holds every precomposed letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
FONT_DIR = Path(__file__).resolve().parent.parent / "kiosk" / "fonts"
WHITE: RGB = (255, 255, 255)
INK: RGB = (18, 32, 64)
PAPER: RGB = (246, 249, 255)


@dataclass(frozen=True)
class Palette:
    """The colours of one clip or poster; each promo has its own so staff can tell them apart."""

    top: RGB
    bottom: RGB
    accent: RGB
    highlight: RGB
    ink: RGB = WHITE


class Fonts:
    """DejaVu Sans (the kiosk's own font files) at any size, each size loaded once."""

    def __init__(self, directory: Path = FONT_DIR) -> None:
        self._directory = directory
        self._loaded: dict[tuple[int, bool], ImageFont.FreeTypeFont] = {}

    def get(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        key = (size, bold)
        if key not in self._loaded:
            name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
            self._loaded[key] = ImageFont.truetype(
                str(self._directory / name), size, layout_engine=ImageFont.Layout.BASIC)
        return self._loaded[key]


@dataclass(frozen=True)
class Line:
    """One paragraph of a text block: wrapped to the block's width, then stacked."""

    text: str
    font: ImageFont.FreeTypeFont
    fill: RGB
    gap_after: int = 0


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Word wrap that prefers to break after a comma or a dash, so a slogan reads in phrases
    ("Cài đặt Bluezone —" / "bảo vệ mình," / "bảo vệ cộng đồng") rather than leaving one word
    alone on the last line. A dash sticks to the word before it."""
    lines: list[str] = []
    for clause in re.split(r"(?<=[,;—]) ", text.replace(" —", "\u00a0—")):
        if lines and font.getlength(f"{lines[-1]} {clause}") <= width:
            lines[-1] = f"{lines[-1]} {clause}"
        elif font.getlength(clause) <= width:
            lines.append(clause)
        else:
            _pack_words(clause.split(" "), lines, font, width)
    return lines


def _pack_words(words: list[str], lines: list[str], font: ImageFont.FreeTypeFont,
                width: int) -> None:
    """Greedy word wrap onto ``lines``, continuing its last line; a word too long for any
    line gets one to itself rather than being cut."""
    for word in words:
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)


def line_height(font: ImageFont.FreeTypeFont) -> int:
    """Ascent plus descent plus a little air; Vietnamese stacks marks above capitals (Ể)."""
    ascent, descent = font.getmetrics()
    return round((ascent + descent) * 1.12)


def text_block(lines: list[Line], width: int, align: str = "left") -> Image.Image:
    """A transparent layer holding the wrapped lines, to be drawn once and pasted many times."""
    rows = [(row, line) for line in lines for row in wrap(line.text, line.font, width)]
    height = sum(line_height(line.font) for _, line in rows)
    height += sum(line.gap_after for line in lines)
    layer = Image.new("RGBA", (width, max(height, 1)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    y = 0
    for index, (row, line) in enumerate(rows):
        x = {"left": 0, "center": width // 2}[align]
        draw.text((x, y), row, font=line.font, fill=(*line.fill, 255),
                  anchor="la" if align == "left" else "ma")
        y += line_height(line.font)
        last_row_of_line = index + 1 == len(rows) or rows[index + 1][1] is not line
        y += line.gap_after if last_row_of_line else 0
    return layer


def gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    """A vertical gradient; static across a clip, so it costs bits only in the first frame."""
    mask = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Colour a faded towards b: flat colours instead of alpha keep frames cheap to draw."""
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


def phone(size: tuple[int, int], palette: Palette, fonts: Fonts, app_name: str) -> Image.Image:
    """A phone showing the app's name: the one picture every slide and poster shares."""
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    r = w // 7
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=r, fill=(*INK, 255))
    m = w // 16
    draw.rounded_rectangle((m, m * 2, w - 1 - m, h - 1 - m * 2), radius=r // 2,
                           fill=(*PAPER, 255))
    cx, cy = w // 2, h * 2 // 5
    for k, radius in enumerate((w * 5 // 16, w * 7 // 32, w // 8)):
        colour = palette.bottom if k % 2 == 0 else PAPER
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(*colour, 255))
    font = fonts.get(max(10, w // 7), bold=True)
    draw.text((cx, h * 3 // 4), app_name, font=font, fill=(*palette.bottom, 255), anchor="mm")
    draw.rounded_rectangle((cx - w // 8, h - m * 3 // 2 - 3, cx + w // 8, h - m * 3 // 2 + 3),
                           radius=3, fill=(*PAPER, 255))
    return layer


def ring(draw: ImageDraw.ImageDraw, centre: tuple[int, int], radius: int, colour: RGB,
         width: int) -> None:
    """One circle outline: the Bluetooth "signal" that surrounds the phone everywhere."""
    x, y = centre
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=width)


def paste(canvas: Image.Image, layer: Image.Image, xy: tuple[int, int]) -> None:
    """Paste a transparent layer using its own alpha, so antialiased edges blend."""
    canvas.paste(layer, xy, layer)


def number_badge(diameter: int, number: int, fill: RGB, ink: RGB,
                 font: ImageFont.FreeTypeFont) -> Image.Image:
    """A filled circle with a step number, as used in the guide and on posters."""
    layer = Image.new("RGBA", (diameter, diameter), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.ellipse((0, 0, diameter - 1, diameter - 1), fill=(*fill, 255))
    draw.text((diameter // 2, diameter // 2), str(number), font=font, fill=(*ink, 255),
              anchor="mm")
    return layer


def step_row(number: int, lines: list[Line], width: int, badge: tuple[RGB, RGB],
             badge_font: ImageFont.FreeTypeFont) -> Image.Image:
    """One install step: a numbered badge (fill, ink) beside the step's lines."""
    main = lines[0]
    diameter = round(line_height(main.font) * 1.15)
    badge_layer = number_badge(diameter, number, badge[0], badge[1], badge_font)
    indent = diameter + diameter // 2
    body = text_block(lines, width - indent)
    top = max(0, (diameter - line_height(main.font)) // 2)
    row = Image.new("RGBA", (width, max(diameter, top + body.height)), (0, 0, 0, 0))
    paste(row, badge_layer, (0, 0))
    paste(row, body, (indent, top))
    return row
