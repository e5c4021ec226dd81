"""What the headless screen draws, read back like a visitor would: QR codes decoded with a real
reader (zxing-cpp), glyphs checked in the fonts, posters measured for distortion."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy
import pytest
import zxingcpp
from PIL import Image

from kiosk.bar import WEEKDAYS_VI, BarContent, bar_content
from kiosk.display import BACKGROUND, Display
from kiosk.display_options import DisplayOptions
from kiosk.manifest import (
    DEFAULT_QR,
    Item,
    Programme,
    QrLinks,
    QrSlide,
    builtin_slides,
    default_content_dir,
    install_steps,
)
from kiosk.picture import PictureSource
from kiosk.snapshot import Capture, write_png_atomically
from kiosk.video import VideoSource
from kiosk.yuv_texture import YuvTexture

SMART_URL = "http://server/q/12"
PROGRAMME = Programme(
    version="v1",
    venue_name="Bến xe Miền Đông",
    qr=QrLinks("Bluezone", DEFAULT_QR.android_url, DEFAULT_QR.ios_url, SMART_URL),
    self_checkin_url="http://server/v/3/12/",
    kiosk_id=12,
)
NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


def decoded(capture: Capture) -> set[str]:
    return {result.text for result in zxingcpp.read_barcodes(capture.image())}


def bar_for(item: Item | None, presence: bytes | None = None) -> BarContent:
    return bar_content(PROGRAMME, item, NOW, presence_secret=presence)


def test_bar_qr_is_the_manifests_smart_url(screen: Display, tmp_path: Path) -> None:
    shot = screen.render(None, None, bar_for(None), capture=True)
    assert shot is not None and shot.size == (1280, 720)
    write_png_atomically(shot, tmp_path / "screen.png")
    with Image.open(tmp_path / "screen.png") as reread:
        assert {r.text for r in zxingcpp.read_barcodes(reread)} == {SMART_URL}


def test_bar_qr_names_the_item_on_screen(screen: Display) -> None:
    steps = Item(9, "text", 10.0, text=install_steps("Bluezone"))
    shot = screen.render(screen.slide(steps, SMART_URL), None, bar_for(steps), capture=True)
    assert shot is not None and decoded(shot) == {f"{SMART_URL}?i=9"}


def test_a_qr_slide_without_link_shows_the_install_link(screen: Display) -> None:
    slide = Item(8, "qr", 10.0, qr=QrSlide(None, "Quét mã", "Scan"))
    link = f"{SMART_URL}?i=8"
    shot = screen.render(screen.slide(slide, link), None, bar_for(slide), capture=True)
    assert shot is not None
    assert [r.text for r in zxingcpp.read_barcodes(shot.image())] == [link, link]


def test_without_smart_url_the_bar_links_the_store(screen: Display) -> None:
    bar = bar_content(Programme(), None, NOW)
    shot = screen.render(None, None, bar, capture=True)
    assert shot is not None and decoded(shot) == {DEFAULT_QR.android_url}


def test_qr_slide_and_presence_code_are_readable(screen: Display) -> None:
    slide = Item(8, "qr", 10.0, qr=QrSlide("https://example.org/app", "Quét mã", "Scan"))
    bar = bar_for(slide, presence=b"k" * 32)
    shot = screen.render(screen.slide(slide, SMART_URL), None, bar, capture=True)
    assert shot is not None
    assert decoded(shot) == {"https://example.org/app", f"{SMART_URL}?i=8", bar.checkin_url}


def shown_texts() -> Iterator[str]:
    """Every text the screen may show: bar, built-in slides, the default playlist's."""
    bar = bar_for(None)
    yield from (bar.caption_vi, bar.caption_en, bar.venue_name, bar.date, *WEEKDAYS_VI)
    yield "0123456789:/,."
    for item in builtin_slides():
        yield from _texts_of(item)
    playlist = default_content_dir() / "playlist.json"
    if playlist.exists():
        for raw in json.loads(playlist.read_text("utf-8")).get("items", []):
            yield from _strings(raw.get("data", {}))


def _texts_of(item: Item) -> Iterator[str]:
    if item.qr:
        yield from (item.qr.caption_vi, item.qr.caption_en)
    if item.text:
        yield from (item.text.title_vi, item.text.title_en, *item.text.lines_vi)
        yield from item.text.lines_en


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str) and not value.startswith(("http://", "https://")):
        yield value
    elif isinstance(value, list | tuple):
        for entry in value:
            yield from _strings(entry)
    elif isinstance(value, dict):
        for entry in value.values():
            yield from _strings(entry)


def test_every_glyph_shown_is_in_the_fonts(screen: Display) -> None:
    texts = list(shown_texts())
    assert "ặ" in "".join(texts) and "ụ" in "".join(texts) and "ứ" in "".join(texts)
    missing = {text: screen.missing_glyphs(text) for text in texts}
    assert {text: chars for text, chars in missing.items() if chars} == {}


def test_the_glyph_check_sees_a_missing_glyph(screen: Display) -> None:
    assert screen.missing_glyphs("Bluezone 中") == {"中"}


def wait_ready(source: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not source.ready:
        assert time.monotonic() < deadline, "media not ready"
        time.sleep(0.01)
    assert source.error is None


def test_a_poster_is_letterboxed_without_distortion(screen: Display, poster: Path) -> None:
    main = screen.layout.main
    picture = PictureSource(poster, (main.w, main.h), BACKGROUND)
    wait_ready(picture)
    shot = screen.render(picture, None, bar_for(None), capture=True)
    assert shot is not None
    pixels = numpy.asarray(shot.image())[main.y : main.y + main.h, main.x : main.x + main.w]
    orange = numpy.argwhere((pixels[..., 0] > 200) & (pixels[..., 2] < 80))
    (top, left), (bottom, right) = orange.min(axis=0), orange.max(axis=0)
    height, width = bottom - top + 1, right - left + 1
    assert height >= main.h - 4  # fills the height...
    assert abs(width / height - 300 / 600) < 0.01  # ...keeping its shape
    assert abs((left + right) / 2 - main.w / 2) <= 2  # centred
    assert tuple(pixels[main.h // 2, 5]) == BACKGROUND  # bands beside it


def test_a_video_frame_fills_the_main_zone(screen: Display, clips: tuple[Path, Path]) -> None:
    video = VideoSource(clips[1])
    wait_ready(video)
    video.start(100.0)
    frame = video.frame_due(100.0)
    assert frame is not None and frame.index == 0
    shot = screen.render(video, frame, bar_for(None), capture=True)
    video.close()
    assert shot is not None
    main = screen.layout.main
    red, _, blue = numpy.asarray(shot.image())[main.h // 2, main.w - 300]
    assert blue > 150 and red < 90  # the clip's blue, not the navy background
    assert tuple(numpy.asarray(shot.image())[main.h // 2, 20]) == BACKGROUND


@pytest.mark.parametrize("rotation", [90, 270])
def test_a_turned_panel_shows_an_upright_portrait_picture(headless: None, rotation: int) -> None:
    display = Display(DisplayOptions(mode="headless", size=(1280, 720), rotation=rotation))
    display.open()
    try:
        steps = Item(9, "text", 10.0, text=install_steps("Bluezone"))
        shot = display.render(display.slide(steps, SMART_URL), None, bar_for(steps), capture=True)
    finally:
        display.close()
    assert shot is not None and shot.size == (720, 1280)
    results = zxingcpp.read_barcodes(shot.image())
    assert [r.text for r in results] == [f"{SMART_URL}?i=9"]
    assert results[0].position.top_left.y > 1000  # the bar is at the bottom, upright


def test_screenshots_are_replaced_atomically(screen: Display, tmp_path: Path) -> None:
    target = tmp_path / "screen.png"
    for _ in range(2):
        shot = screen.render(None, None, bar_for(None), capture=True)
        assert shot is not None
        write_png_atomically(shot, target)
    with Image.open(target) as written:
        assert written.size == (1280, 720)
    assert [p.name for p in tmp_path.iterdir()] == ["screen.png"]


def first_picture(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def planes(picture: av.VideoFrame) -> tuple[tuple[int, int], ...]:
    return tuple((plane.buffer_ptr, plane.line_size) for plane in picture.planes)


@pytest.fixture
def two_sizes(clip_maker: Any, clips: tuple[Path, Path]) -> tuple[av.VideoFrame, av.VideoFrame]:
    return first_picture(clip_maker(size=(64, 48), frames=2)), first_picture(clips[0])


def test_the_software_renderer_keeps_one_video_texture_after_a_switch(
    screen: Display, two_sizes: tuple[av.VideoFrame, av.VideoFrame]
) -> None:
    small, large = two_sizes
    texture = screen._video
    assert isinstance(texture, YuvTexture) and not texture.accelerated
    assert texture.upload((64, 48), planes(small))
    texture.prepare((320, 180))  # the next clip's, made while this one plays
    assert texture.sizes == [(64, 48), (320, 180)]
    assert texture.upload((320, 180), planes(large))
    assert texture.sizes == [(320, 180)]  # 11 MB a 1080p one, in the process's memory


def test_a_gpu_keeps_the_previous_size_too(
    screen: Display, two_sizes: tuple[av.VideoFrame, av.VideoFrame]
) -> None:
    small, large = two_sizes
    software = screen._video
    assert isinstance(software, YuvTexture)
    gpu = YuvTexture(software._sdl, software._renderer, "opengles2")
    assert gpu.upload((64, 48), planes(small)) and gpu.upload((320, 180), planes(large))
    assert gpu.sizes == [(64, 48), (320, 180)]
    gpu.prepare((96, 54))  # a third size: the oldest one not on screen goes
    assert gpu.sizes == [(320, 180), (96, 54)]
    gpu.close()
