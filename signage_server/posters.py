"""Printable posters for a venue's entrance: the install QR, the static self check-in QR, the
install steps and the venue's name, in Vietnamese or English, A5 (leaflet), A4 or A3.

Drawn with Pillow at 300 dpi and saved as PNG (with its dpi recorded) or as a one-page PDF
through Pillow's own PDF writer (the page is the image, at 300 dpi, so the PDF page is exactly
A4 or A3). QR codes are drawn module by module with whole-pixel modules and a four-module quiet
zone, so a phone reads them from print as reliably as from a screen.

- the install QR is the venue's counting link (``checkin_links.install_url``): a scan is
  recorded for the venue, then the phone goes to its store;
- the check-in QR is the static self check-in link (``checkin_links.static_url``), recorded
  with method ``self_static`` so reports can tell it from the kiosk's rotating code.

Fonts are read by path (DejaVu, which covers Vietnamese): ``FONT_DIR``, else the kiosk's fonts
in this checkout, else the system's DejaVu. The server never imports the kiosk package.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_Q

from . import checkin_links
from .errors import BadRequest

DPI = 300
#: Paper sizes in pixels at 300 dpi (ISO 216, portrait).
SIZES: dict[str, tuple[int, int]] = {"A5": (1748, 2480), "A4": (2480, 3508), "A3": (3508, 4961)}
FORMATS = ("pdf", "png")
LANGUAGES = ("vi", "en")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
REPO_FONTS = Path(__file__).resolve().parent.parent / "kiosk" / "fonts"

BLUE = (11, 84, 158)
INK = (17, 17, 17)
GREY = (85, 85, 85)
PALE = (232, 240, 249)
WHITE = (255, 255, 255)

WORDS: dict[str, tuple[str, str]] = {
    "install": ("CÀI ĐẶT ỨNG DỤNG", "INSTALL THE APP"),
    "scan": ("Quét mã bằng camera điện thoại để cài đặt",
             "Scan with your phone's camera to install"),
    "how": ("Cách cài đặt", "How to install"),
    "step1": ("Mở CH Play (Android) hoặc App Store (iPhone).",
              "Open Google Play (Android) or the App Store (iPhone)."),
    "step2": ("Tìm “{app}”.", "Search for “{app}”."),
    "step3": ("Bấm Cài đặt.", "Tap Install."),
    "step4": ("Mở ứng dụng và cấp các quyền ứng dụng yêu cầu.",
              "Open the app and grant the permissions it asks for."),
    "checkin": ("KHAI BÁO VÀO / RA", "CHECK IN / OUT"),
    "checkin_text": ("Quét mã này để tự khai báo khi đến và khi rời {venue}.",
                     "Scan this code to check yourself in and out at {venue}."),
}


class PosterError(BadRequest):
    code = "bad_poster"


@dataclass(frozen=True)
class PosterContent:
    venue_id: int
    venue_name: str
    address: str
    app_name: str
    install_url: str
    checkin_url: str
    lang: str = "vi"

    def words(self, key: str, **values: str) -> str:
        vi, en = WORDS[key]
        return (vi if self.lang == "vi" else en).format(**values)


def content_for(venue: Any, cfg: Mapping[str, Any], lang: str = "vi") -> PosterContent:
    """What a venue's poster says, with both links derived from the configuration."""
    if lang not in LANGUAGES:
        raise PosterError(f"language {lang!r}: use one of {', '.join(LANGUAGES)}")
    base = str(cfg["PUBLIC_URL"])
    return PosterContent(
        venue_id=venue.id, venue_name=venue.name, address=venue.address or "",
        app_name=str(cfg["APP_NAME"]), lang=lang,
        install_url=checkin_links.install_url(base, venue.id),
        checkin_url=checkin_links.static_url(base, str(cfg["SECRET_KEY"]), venue.id))


def font_dir(configured: str | None) -> Path:
    """The first folder holding both DejaVu fonts: the setting, this checkout, the system."""
    candidates = [Path(configured)] if configured else []
    candidates += [REPO_FONTS, SYSTEM_FONTS]
    for folder in candidates:
        if all((folder / name).is_file() for name in FONT_FILES):
            return folder
    raise PosterError(f"no DejaVu fonts ({', '.join(FONT_FILES)}) in "
                      f"{', '.join(str(c) for c in candidates)}: set FONT_DIR")


class Fonts:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[tuple[bool, int], ImageFont.FreeTypeFont] = {}

    def get(self, size: float, bold: bool = False) -> ImageFont.FreeTypeFont:
        key = (bold, max(8, round(size)))
        if key not in self._cache:
            self._cache[key] = ImageFont.truetype(str(self.folder / FONT_FILES[bold]), key[1])
        return self._cache[key]

    def fitting(self, text: str, size: float, width: float,
                bold: bool = False) -> ImageFont.FreeTypeFont:
        """The font at ``size``, shrunk until ``text`` fits on one line of ``width``."""
        font = self.get(size, bold)
        while font.getlength(text) > width and font.size > 8:
            font = self.get(font.size * 0.94, bold)
        return font


def qr_image(data: str, target_px: int) -> Image.Image:
    """The code with whole-pixel modules and its quiet zone, at most ``target_px`` wide."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    module = max(1, target_px // n)
    small = Image.new("1", (n, n), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    return small.resize((n * module, n * module), Image.Resampling.NEAREST).convert("RGB")


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy word wrap to ``width`` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        attempt = f"{current} {word}".strip()
        if current and font.getlength(attempt) > width:
            lines.append(current)
            current = word
        else:
            current = attempt
    return [*lines, current] if current else lines


def draw(content: PosterContent, size: str, fonts: Fonts) -> Image.Image:
    """The poster as an RGB image at 300 dpi."""
    if size not in SIZES:
        raise PosterError(f"size {size!r}: use one of {', '.join(SIZES)}")
    width, height = SIZES[size]
    u = width / 100  # layout unit: every measure is a share of the page width
    page = Image.new("RGB", (width, height), WHITE)
    pen = ImageDraw.Draw(page)
    inner = width - 12 * u

    pen.rectangle((0, 0, width, 20 * u), fill=BLUE)
    heading = content.words("install")
    _centred(pen, heading, fonts.fitting(heading, 4.6 * u, inner, bold=True), 2.6 * u, width,
             WHITE)
    app = content.app_name.upper()
    _centred(pen, app, fonts.fitting(app, 9.5 * u, inner, bold=True), 8.2 * u, width, WHITE)

    code = qr_image(content.install_url, round(42 * u))
    top = round(23 * u)
    page.paste(code, ((width - code.width) // 2, top))
    y = top + code.height + 1.2 * u
    scan = content.words("scan")
    _centred(pen, scan, fonts.fitting(scan, 3.4 * u, inner, bold=True), y, width, INK)
    _centred(pen, content.install_url, fonts.fitting(content.install_url, 2.1 * u, inner),
             y + 4.6 * u, width, GREY)

    _steps(pen, content, fonts, y + 8.5 * u, u)
    footer = height - 10 * u
    _checkin(page, pen, content, fonts, footer - 25 * u, u)
    _footer(pen, content, fonts, width, footer, height, u)
    return page


def _centred(pen: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, y: float,
             width: float, fill: tuple[int, int, int]) -> None:
    pen.text((width / 2, y), text, font=font, fill=fill, anchor="ma")


def _steps(pen: ImageDraw.ImageDraw, content: PosterContent, fonts: Fonts, y: float,
           u: float) -> float:
    """The four install steps of the campaign letters; returns the y below them."""
    left = 8 * u
    pen.text((left, y), content.words("how"), font=fonts.get(3.8 * u, bold=True), fill=BLUE)
    y += 5.6 * u
    font = fonts.get(2.9 * u)
    for number in range(1, 5):
        radius = 1.8 * u
        cx, cy = left + radius, y + 1.6 * u
        pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=BLUE)
        pen.text((cx, cy), str(number), font=fonts.get(2.4 * u, bold=True), fill=WHITE,
                 anchor="mm")
        text = content.words(f"step{number}", app=content.app_name)
        for line in wrap(text, font, 100 * u - left - 5.5 * u - 8 * u):
            pen.text((left + 5.5 * u, y), line, font=font, fill=INK)
            y += 3.8 * u
        y += 0.6 * u
    return y


def _checkin(page: Image.Image, pen: ImageDraw.ImageDraw, content: PosterContent,
             fonts: Fonts, y: float, u: float) -> None:
    """The static self check-in code with its explanation, in a pale box."""
    left, right = 6 * u, 94 * u
    code = qr_image(content.checkin_url, round(21 * u))
    pen.rounded_rectangle((left, y, right, y + 23.5 * u), radius=2 * u, fill=PALE)
    page.paste(code, (round(left + 1.5 * u), round(y + 1.5 * u)))
    x = left + code.width + 4 * u
    text_width = right - x - 2 * u
    title = content.words("checkin")
    pen.text((x, y + 3 * u), title, font=fonts.fitting(title, 3.8 * u, text_width, bold=True),
             fill=BLUE)
    line_y = y + 8.6 * u
    font = fonts.get(2.6 * u)
    for line in wrap(content.words("checkin_text", venue=content.venue_name), font,
                     text_width)[:3]:
        pen.text((x, line_y), line, font=font, fill=INK)
        line_y += 3.4 * u
    pen.text((x, line_y + 0.8 * u), content.checkin_url,
             font=fonts.fitting(content.checkin_url, 1.9 * u, text_width), fill=GREY)


def _footer(pen: ImageDraw.ImageDraw, content: PosterContent, fonts: Fonts, width: int,
            top: float, height: int, u: float) -> None:
    pen.rectangle((0, top, width, height), fill=BLUE)
    inner = width - 12 * u
    name_font = fonts.fitting(content.venue_name, 4.2 * u, inner, bold=True)
    if content.address:
        _centred(pen, content.venue_name, name_font, top + 1.6 * u, width, WHITE)
        _centred(pen, content.address, fonts.fitting(content.address, 2.2 * u, inner),
                 top + 6.6 * u, width, WHITE)
    else:
        _centred(pen, content.venue_name, name_font, top + 2.8 * u, width, WHITE)


def render(content: PosterContent, size: str, fmt: str, fonts: Fonts) -> bytes:
    """The poster file: a 300-dpi PNG, or a one-page PDF of the same image."""
    if fmt not in FORMATS:
        raise PosterError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    image = draw(content, size, fonts)
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, format="PNG", dpi=(DPI, DPI))
    else:
        image.save(out, format="PDF", resolution=DPI, quality=95, subsampling=0,
                   title=f"{content.app_name} · {content.venue_name}")
    return out.getvalue()


def filename(content: PosterContent, size: str, fmt: str) -> str:
    return f"poster-venue-{content.venue_id}-{size}-{content.lang}.{fmt}"
