"""The default content: what is committed in media/default is what the kiosk and the server
are promised (720p H.264 promos of 8/15/30 s, posters, a playlist in the manifest's item
format), and the script that made it makes the same bytes again."""

from __future__ import annotations

import json
import struct
import unicodedata
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from media.build import (
    DEFAULT_OUT,
    POSTERS,
    build,
    build_promo,
    guide_data,
    qr_data,
    sha256_of,
)
from media.campaign import Campaign, load_campaign
from media.promo import PROMOS, PromoRenderer, PromoSpec
from media.render import Fonts, wrap
from media.video import VideoInfo, probe
from signage_server.api.schemas import ManifestItem

# One worker for the whole file: the committed clips are decoded once, not once per worker.
pytestmark = pytest.mark.xdist_group("media_build")

ORDER = ["promo-8s.mp4", "poster-vi.png", "promo-15s.mp4", "text", "promo-30s.mp4",
         "poster-en.png", "qr"]
# The letters pygame's default font lacks, and a few more the texts rely on.
VIETNAMESE = "ặụứảểồ"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    playlist: dict[str, Any] = json.loads((DEFAULT_OUT / "playlist.json").read_text("utf-8"))
    return playlist


@pytest.fixture(scope="module")
def clips() -> dict[str, VideoInfo]:
    """Each committed clip decoded to the last frame, once."""
    return {spec.name: probe(DEFAULT_OUT / spec.file_name) for spec in PROMOS}


def files_of(playlist: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in playlist["items"] if item["file"]]


def png_chunks(path: Path) -> list[bytes]:
    data = path.read_bytes()
    chunks, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunks.append(kind)
        offset += 12 + length
    return chunks


def glyph(font: Any, char: str) -> bytes:
    image = Image.new("L", (font.size * 2, font.size * 2))
    ImageDraw.Draw(image).text((0, 0), char, font=font, fill=255)
    return image.tobytes()


@pytest.mark.parametrize("spec", PROMOS, ids=lambda s: s.name)
def test_committed_promo_is_720p30_h264_of_its_length(
        spec: PromoSpec, clips: dict[str, VideoInfo]) -> None:
    info = clips[spec.name]
    assert (info.codec, info.profile in {"Main", "High"}) == ("h264", True)
    assert (info.width, info.height, info.fps) == (1280, 720, Fraction(30))
    assert (info.frames, info.duration_s) == (spec.seconds * 30, spec.seconds)


@pytest.mark.parametrize("spec", PROMOS, ids=lambda s: s.name)
def test_committed_promo_is_small(spec: PromoSpec) -> None:
    assert (DEFAULT_OUT / spec.file_name).stat().st_size < 1_500_000


@pytest.mark.parametrize(("name", "lang", "size"), POSTERS)
def test_committed_poster_has_its_size_and_no_time_chunk(name: str, lang: str,
                                                         size: tuple[int, int]) -> None:
    with Image.open(DEFAULT_OUT / name) as poster:
        assert (poster.format, poster.mode, poster.size) == ("PNG", "RGB", size)
    assert set(png_chunks(DEFAULT_OUT / name)) == {b"IHDR", b"IDAT", b"IEND"}


def test_playlist_describes_the_committed_files(committed: dict[str, Any],
                                                clips: dict[str, VideoInfo]) -> None:
    for item in files_of(committed):
        path = DEFAULT_OUT / item["file"]
        assert (item["sha256"], item["bytes"]) == (sha256_of(path), path.stat().st_size)
        if item["kind"] == "video":
            info = clips[path.stem]
            assert (item["width"], item["height"]) == (info.width, info.height)
            assert item["duration_s"] == info.duration_s
        else:
            with Image.open(path) as image:
                assert (item["width"], item["height"]) == image.size


def test_playlist_plays_promos_posters_guide_and_qr_in_order(committed: dict[str, Any]) -> None:
    assert [item["file"] or item["kind"] for item in committed["items"]] == ORDER
    assert [item["id"] for item in committed["items"]] == list(range(-1, -8, -1))
    assert (committed["id"], committed["name"]) == (0, "Mặc định / Default")


def test_playlist_items_are_manifest_items_plus_a_file_name(committed: dict[str, Any]) -> None:
    for item in committed["items"]:
        ManifestItem.model_validate({k: v for k, v in item.items() if k != "file"})
        assert item["url"] is None
        assert item["schedule"] == {"days": [1, 2, 3, 4, 5, 6, 7], "windows": [],
                                    "valid_from": None, "valid_until": None}


def test_playlist_slides_say_what_the_campaign_says(committed: dict[str, Any]) -> None:
    slides = {item["kind"]: item for item in committed["items"] if not item["file"]}
    assert slides["text"]["data"] == guide_data(Campaign())
    assert slides["qr"]["data"] == qr_data(Campaign())
    assert slides["qr"]["data"]["url"] is None  # the kiosk uses the manifest's install link


@pytest.mark.slow
def test_building_a_promo_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    spec = PROMOS[0]
    assert sha256_of(build_promo(spec, Campaign(), first)) == sha256_of(
        build_promo(spec, Campaign(), second))


def test_a_short_build_writes_every_file_and_a_matching_playlist(tmp_path: Path) -> None:
    playlist = build(tmp_path, frames=6)
    for item in files_of(playlist):
        assert item["sha256"] == sha256_of(tmp_path / item["file"])
    videos = [item for item in playlist["items"] if item["kind"] == "video"]
    assert [item["duration_s"] for item in videos] == [0.2, 0.2, 0.2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [spec.file_name for spec in PROMOS] + [name for name, _, _ in POSTERS]
        + ["playlist.json"])


def test_promo_frames_are_a_pure_function_of_the_index() -> None:
    renderer = PromoRenderer(PROMOS[0], Campaign(), frames=10)
    assert renderer.frame(3).tobytes() == renderer.frame(3).tobytes()
    assert renderer.frame(3).tobytes() != renderer.frame(4).tobytes()


def test_every_character_shown_has_a_glyph_in_both_fonts() -> None:
    texts = [*Campaign().texts(), "Mặc định / Default", "\u00a0"]
    assert set(VIETNAMESE) <= set("".join(texts))
    fonts = Fonts()
    for font in (fonts.get(40), fonts.get(40, bold=True)):
        missing = glyph(font, "\U0010fffd")
        absent = {c for c in "".join(texts) if not c.isspace() and glyph(font, c) == missing}
        assert absent == set()


def test_texts_are_nfc_so_each_vietnamese_letter_is_one_glyph() -> None:
    assert all(unicodedata.is_normalized("NFC", text) for text in Campaign().texts())


def test_a_campaign_file_overrides_texts_and_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "campaign.json"
    decomposed = unicodedata.normalize("NFD", "Cài đặt PC-Covid")
    path.write_text(json.dumps({"app_name": "PC-Covid", "title_vi": decomposed,
                                "steps_en": ["Open the store"]}), encoding="utf-8")
    campaign = load_campaign(path)
    assert (campaign.app_name, campaign.title_vi) == ("PC-Covid", "Cài đặt PC-Covid")
    assert campaign.steps_en == ("Open the store",)
    assert campaign.qr_caption_en == Campaign().qr_caption_en


def test_a_campaign_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps({"app_nmae": "PC-Covid"}), encoding="utf-8")
    with pytest.raises(ValueError, match="app_nmae"):
        load_campaign(path)


@pytest.mark.parametrize(("text", "size", "lines"), [
    ("Cài đặt Bluezone — bảo vệ mình, bảo vệ cộng đồng", 54,
     ["Cài đặt Bluezone\u00a0—", "bảo vệ mình,", "bảo vệ cộng đồng"]),
    ("Bảo vệ mình, bảo vệ cộng đồng", 30, ["Bảo vệ mình, bảo vệ cộng đồng"]),
    ("Mở ứng dụng và cấp các quyền mà ứng dụng yêu cầu", 54,
     ["Mở ứng dụng và cấp", "các quyền mà ứng dụng", "yêu cầu"]),
])
def test_wrap_prefers_breaking_after_a_dash_or_comma_else_fills_lines(text: str, size: int,
                                                     lines: list[str]) -> None:
    assert wrap(text, Fonts().get(size, bold=True), 730) == lines
