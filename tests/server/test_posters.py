"""Venue posters: both QR codes decode (zxing-cpp) from the PNG and from the image inside the
PDF, the pages are A4 / A3 at 300 dpi, and the install code, followed through the real app
with a phone's User-Agent, reaches the store and counts one scan for the venue."""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from PIL import Image
from sqlalchemy import select

from signage_server import checkin_links, posters
from signage_server.extensions import db
from signage_server.models import QrScan

SECRET = "poster-test-secret"
BASE = "http://127.0.0.1:5000"
ANDROID = "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 Chrome/120 Mobile"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari"
POINTS_PER_INCH = 72


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SECRET_KEY": SECRET}


def content(venue_id: int, lang: str = "vi", name: str = "Bến xe Miền Đông") -> Any:
    return posters.PosterContent(
        venue_id=venue_id, venue_name=name, address="292 Đinh Bộ Lĩnh, Bình Thạnh",
        app_name="Bluezone", lang=lang, install_url=checkin_links.install_url(BASE, venue_id),
        checkin_url=checkin_links.static_url(BASE, SECRET, venue_id))


@functools.cache
def poster(venue_id: int, size: str, fmt: str, lang: str = "vi") -> bytes:
    """Each poster is drawn once per test session (they do not depend on the database)."""
    fonts = posters.Fonts(posters.font_dir(None))
    return posters.render(content(venue_id, lang), size, fmt, fonts)


@functools.cache
def codes_in(data: bytes) -> frozenset[str]:
    image = Image.open(io.BytesIO(data))
    return frozenset(r.text for r in zxingcpp.read_barcodes(image)
                     if r.format == zxingcpp.BarcodeFormat.QRCode)


def pdf_page(data: bytes) -> tuple[float, float, bytes]:
    """The page size in points and the page image (the JPEG stream) of a one-page PDF."""
    box = re.search(rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+) ?\]", data)
    assert box, "no MediaBox"
    start = re.search(rb"/Subtype /Image.*?stream\r?\n", data, re.DOTALL)
    assert start, "no image stream"
    end = data.index(b"endstream", start.end())
    return float(box[1]), float(box[2]), data[start.end():end].rstrip(b"\r\n")


def expected_codes(venue_id: int) -> frozenset[str]:
    return frozenset({f"{BASE}/q/v/{venue_id}", checkin_links.static_url(BASE, SECRET, venue_id)})


@pytest.mark.parametrize(("size", "lang"), [("A4", "vi"), ("A4", "en"), ("A5", "vi")])
def test_png_is_300_dpi_paper_with_both_codes(size: str, lang: str) -> None:
    data = poster(7, size, "png", lang)
    image = Image.open(io.BytesIO(data))
    assert image.size == posters.SIZES[size]
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert codes_in(data) == expected_codes(7)


@pytest.mark.parametrize(("size", "millimetres"), [("A4", (210, 297)), ("A3", (297, 420))])
def test_pdf_page_is_the_paper_and_holds_the_same_codes(size: str,
                                                         millimetres: tuple[int, int]) -> None:
    width, height, jpeg = pdf_page(poster(7, size, "pdf"))
    assert width / POINTS_PER_INCH * 25.4 == pytest.approx(millimetres[0], abs=0.5)
    assert height / POINTS_PER_INCH * 25.4 == pytest.approx(millimetres[1], abs=0.5)
    assert Image.open(io.BytesIO(jpeg)).size == posters.SIZES[size]
    assert codes_in(jpeg) == expected_codes(7)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) missing")
def test_pdf_rasterized_by_poppler_still_scans(tmp_path: Path) -> None:
    """What a printer would get: poppler renders the PDF page at 150 dpi."""
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(poster(7, "A4", "pdf"))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=60)
    page = (tmp_path / "page.png").read_bytes()
    assert Image.open(io.BytesIO(page)).size == (1240, 1754)
    assert codes_in(page) == expected_codes(7)


def test_checkin_code_is_the_venues_static_self_checkin_link() -> None:
    (link,) = [c for c in codes_in(poster(7, "A4", "png")) if "/s/" in c]
    token = link.rsplit("/", 1)[1]
    assert checkin_links.static_token_valid(SECRET, 7, token)
    assert not checkin_links.static_token_valid(SECRET, 8, token)


def scans(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context():
        return [(s.kiosk_id, s.venue_id, s.item_id, s.platform)
                for s in db.session.scalars(select(QrScan).order_by(QrScan.id))]


def install_path(venue: int) -> str:
    (link,) = [c for c in codes_in(poster(venue, "A4", "png")) if "/q/" in c]
    assert link.startswith(BASE)
    return link.removeprefix(BASE)


@pytest.mark.parametrize(("agent", "platform", "store"), [
    (ANDROID, "android", "https://play.google.com/"),
    (IPHONE, "ios", "https://apps.apple.com/"),
    (DESKTOP, "other", None),
])
def test_install_code_leads_to_the_store_and_counts_once(app: Flask, client: FlaskClient,
                                                         venue: int, agent: str, platform: str,
                                                         store: str | None) -> None:
    path = install_path(venue)
    response = client.get(path, headers={"User-Agent": agent})
    if store:
        assert response.status_code == 302
        assert response.headers["Location"].startswith(store)
    else:
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "play.google.com" in page and "apps.apple.com" in page
    assert scans(app) == [(None, venue, None, platform)]
    client.get(path, headers={"User-Agent": agent})  # the reload within a minute
    assert len(scans(app)) == 1


# -- the command and its settings ---------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_command_writes_the_poster(runner: FlaskCliRunner, venue: int, tmp_path: Path,
                                   fmt: str, magic: bytes) -> None:
    out = tmp_path / f"poster.{fmt}"
    result = runner.invoke(args=["poster", "--venue", str(venue), "--size", "A5", "--lang", "en",
                                 "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize(("args", "message"), [
    (["--venue", "999999"], "no venue with id 999999"),
    (["--venue", "{venue}", "--size", "B5"], "'B5' is not one of"),
    (["--venue", "{venue}", "--format", "svg"], "'svg' is not one of"),
    ([], "Missing option '--venue'"),
])
def test_command_refuses_bad_input(runner: FlaskCliRunner, venue: int, args: list[str],
                                   message: str) -> None:
    result = runner.invoke(args=["poster", *[a.format(venue=venue) for a in args]])
    assert result.exit_code != 0
    assert message in result.output


def test_fonts_fall_back_from_a_missing_folder(tmp_path: Path) -> None:
    assert posters.font_dir(str(tmp_path / "missing")) in (posters.REPO_FONTS,
                                                           posters.SYSTEM_FONTS)


def test_no_fonts_anywhere_is_a_clear_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(posters, "REPO_FONTS", tmp_path / "a")
    monkeypatch.setattr(posters, "SYSTEM_FONTS", tmp_path / "b")
    with pytest.raises(posters.PosterError, match="set FONT_DIR"):
        posters.font_dir(None)


def test_a_very_long_venue_name_still_fits_the_page() -> None:
    fonts = posters.Fonts(posters.font_dir(None))
    name = "Trung tâm Hành chính công tỉnh Bà Rịa - Vũng Tàu, chi nhánh huyện Côn Đảo " * 2
    image = posters.draw(content(7, name=name.strip()), "A5", fonts)
    assert len(codes_in(_png(image))) == 2


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
