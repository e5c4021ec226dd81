"""Screen geometry, text wrapping, the bar's content and record ids: pure functions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from kiosk.bar import bar_content, install_url
from kiosk.ids import uuid7
from kiosk.layout import (
    Box,
    fit,
    logical_size,
    place,
    qr_slide_layout,
    rotate_box,
    screen_layout,
    text_slide_layout,
)
from kiosk.manifest import DEFAULT_QR, Item, Programme, QrLinks
from kiosk.text import fit_block, font_sizes, largest_fitting, steps_block, steps_size, wrap
from signage_shared.presence import verify


@pytest.mark.parametrize(
    ("content", "box", "expected"),
    [
        ((1280, 720), Box(0, 0, 1280, 576), Box(128, 0, 1024, 576)),
        ((1920, 1080), Box(0, 0, 1280, 576), Box(128, 0, 1024, 576)),
        ((300, 600), Box(0, 0, 1280, 576), Box(496, 0, 288, 576)),
        ((1000, 100), Box(10, 20, 500, 500), Box(10, 245, 500, 50)),
        ((0, 100), Box(0, 0, 10, 10), Box(0, 0, 0, 0)),
    ],
)
def test_fit_letterboxes_without_distortion(
    content: tuple[int, int], box: Box, expected: Box
) -> None:
    assert fit(content, box) == expected


@pytest.mark.parametrize(
    ("rotation", "expected"),
    [
        (0, Box(10, 20, 30, 40)),
        (90, Box(1280 - 20 - 40, 10, 40, 30)),
        (180, Box(1280 - 10 - 30, 720 - 20 - 40, 30, 40)),
        (270, Box(20, 720 - 10 - 30, 40, 30)),
    ],
)
def test_rotation_moves_boxes_clockwise(rotation: int, expected: Box) -> None:
    """A 1280x720 panel; turned a quarter, the picture on it is 720x1280."""
    logical = logical_size((1280, 720), rotation)
    assert rotate_box(Box(10, 20, 30, 40), logical, rotation) == expected


def test_a_turned_panel_shows_a_portrait_picture() -> None:
    assert logical_size((1280, 720), 90) == (720, 1280)
    assert logical_size((1280, 720), 180) == (1280, 720)


def test_place_keeps_the_picture_size_and_the_rotated_centre() -> None:
    box = Box(0, 0, 720, 405)  # the top of a portrait canvas
    dest, angle = place(box, (720, 1280), 90)
    assert angle == 90.0 and (dest.w, dest.h) == (720, 405)
    assert dest.center == pytest.approx(rotate_box(box, (720, 1280), 90).center, abs=0.5)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (720, 1280), (1080, 1920)])
@pytest.mark.parametrize("bar", ["bottom", "top"])
def test_layout_zones_tile_the_screen(size: tuple[int, int], bar: str) -> None:
    layout = screen_layout(size, bar)
    width, height = size
    assert layout.main.w == layout.bar.w == width
    assert layout.main.h + layout.bar.h == height
    assert (layout.bar.y == 0) is (bar == "top")
    inside = [
        layout.install_qr, layout.caption_vi, layout.caption_en, layout.venue, layout.time,
        layout.date, layout.checkin_qr,
    ]  # fmt: skip
    for box in inside:
        assert box.w > 0 and box.h > 0
        assert layout.bar.x <= box.x and box.x + box.w <= width
        assert layout.bar.y <= box.y and box.y + box.h <= layout.bar.y + layout.bar.h
    assert layout.install_qr.w == layout.install_qr.h == layout.checkin_qr.w


def measure(text: str) -> int:
    return len(text) * 10


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("Quét mã để cài đặt Bluezone", 1000, ["Quét mã để cài đặt Bluezone"]),
        ("Quét mã để cài đặt Bluezone", 120, ["Quét mã để", "cài đặt", "Bluezone"]),
        ("Supercalifragilistic word", 50, ["Supercalifragilistic", "word"]),
        ("one\ntwo", 1000, ["one", "two"]),
        ("", 100, [""]),
    ],
)
def test_wrap_breaks_at_spaces(text: str, width: int, lines: list[str]) -> None:
    assert wrap(text, width, measure) == lines


class FixedWidth:
    """Every character is ``size / 2`` wide, lines ``size`` apart: text layout without fonts."""

    def width(self, text: str, size: int, bold: bool) -> int:
        return len(text) * size // 2

    def line_height(self, size: int, bold: bool) -> int:
        return size


@pytest.mark.parametrize(("align", "x"), [("left", 0), ("center", 20), ("right", 40)])
def test_a_short_text_is_placed_as_asked(align: str, x: int) -> None:
    (line,) = fit_block("Bluezone", Box(0, 0, 200, 50), FixedWidth(), True, 1, align)
    assert (line.text, line.size, line.x) == ("Bluezone", 40, x)  # 80 % of the box's height
    assert line.y == 5 and line.bold


def test_a_long_text_shrinks_and_wraps_to_fit() -> None:
    text = "Quét mã để cài đặt Bluezone"
    lines = fit_block(text, Box(0, 0, 150, 60), FixedWidth(), False, 2)
    assert [line.text for line in lines] == ["Quét mã để cài", "đặt Bluezone"]
    assert all(len(line.text) * line.size // 2 <= 150 for line in lines)
    assert lines[1].y + lines[1].size <= 60
    assert fit_block("", Box(0, 0, 10, 10), FixedWidth(), False, 1) == []


def test_steps_are_numbered_with_a_hanging_indent() -> None:
    box = Box(0, 0, 400, 400)
    size = steps_size([("Cài đặt", ["Mở CH Play", "Tìm Bluezone"], box)], FixedWidth(), 40)
    lines = steps_block("Cài đặt", ["Mở CH Play", "Tìm Bluezone"], box, size, FixedWidth())
    roles = [(line.role, line.text) for line in lines]
    assert roles == [
        ("title", "Cài đặt"), ("number", "1."), ("body", "Mở CH Play"), ("number", "2."),
        ("body", "Tìm Bluezone"),
    ]  # fmt: skip
    assert lines[2].x > lines[1].x == lines[0].x == 0
    assert lines[-1].y + size <= 400


@pytest.mark.parametrize("size", [(1632, 918), (720, 1100)])
def test_slides_stay_inside_the_main_zone(size: tuple[int, int]) -> None:
    width, height = size
    qr = qr_slide_layout(size)
    text = text_slide_layout(size)
    for box in (qr.code, qr.caption_vi, qr.caption_en, text.vietnamese, text.english):
        assert box.x >= 0 and box.y >= 0
        assert box.x + box.w <= width and box.y + box.h <= height
    assert qr.code.w == qr.code.h >= min(width, height) // 2
    assert (text.divider is None) is (height > width)


def test_the_largest_fitting_font_size_wins() -> None:
    sizes = font_sizes(100, 10)
    assert sizes[0] == 100 and sizes[-1] >= 10 and sizes == sorted(sizes, reverse=True)
    assert largest_fitting(sizes, lambda s: s <= 40) <= 40
    assert largest_fitting(sizes, lambda s: False) == sizes[-1]


SMART = QrLinks("Bluezone", DEFAULT_QR.android_url, DEFAULT_QR.ios_url, "http://server/q/12")


@pytest.mark.parametrize(
    ("qr", "item", "expected"),
    [
        (SMART, Item(7, "qr", 5.0), "http://server/q/12?i=7"),
        (SMART, Item(-1, "qr", 5.0, builtin=True), "http://server/q/12"),
        (SMART, None, "http://server/q/12"),
        (
            QrLinks("Bluezone", "a", "b", "http://server/q/12?src=tv"),
            Item(7, "qr", 5.0),
            "http://server/q/12?src=tv&i=7",
        ),
        (DEFAULT_QR, Item(7, "qr", 5.0), DEFAULT_QR.android_url),
    ],
)
def test_install_link(qr: QrLinks, item: Item | None, expected: str) -> None:
    assert install_url(qr, item) == expected


def test_bar_shows_the_venues_local_time() -> None:
    programme = Programme(venue_name="Bệnh viện Chợ Rẫy", timezone="Asia/Ho_Chi_Minh")
    bar = bar_content(programme, None, datetime(2026, 11, 22, 23, 5, tzinfo=UTC))
    assert (bar.clock, bar.date) == ("06:05", "Thứ Hai, 23/11/2026")
    assert bar.caption_vi == "Quét mã để cài đặt Bluezone"
    assert bar.caption_en == "Scan to install Bluezone"
    assert bar.checkin_url is None


def test_bar_shows_a_presence_code_the_server_accepts() -> None:
    programme = Programme(self_checkin_url="http://server/v/3/12/", kiosk_id=12)
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    bar = bar_content(programme, None, now, presence_secret=b"s" * 32)
    assert bar.checkin_url is not None and bar.checkin_url.startswith("http://server/v/3/12/")
    token = bar.checkin_url.rsplit("/", 1)[1]
    assert verify(b"s" * 32, 12, token, now.timestamp() + 20)
    assert bar_content(programme, None, now).checkin_url is None  # no secret, no code


def test_record_ids_are_version_7_and_time_ordered() -> None:
    first, second = uuid7(1_795_000_000.0), uuid7(1_795_000_000.001)
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert first < second
    assert uuid7(5.0, b"\0" * 8) != uuid7(5.0, b"\1" * 8)
