"""The check-in screens as the headless screen draws them: the install QR on the "not yet"
confirmation decoded with a real reader (zxing-cpp), every new text checked against the fonts,
the form's targets large and where a finger lands (rotated screens too), and pygame's input
turned into kiosk events."""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pygame
import pytest
import zxingcpp
from PIL import Image

from kiosk.bar import bar_content
from kiosk.checkin import CheckinSettings, Confirmation, Visitor
from kiosk.checkin_flow import (
    FIELD_LABELS,
    NOT_SET_UP,
    PARTIAL_SCAN,
    Confirmed,
    Editing,
    Form,
    Message,
    form_problem,
)
from kiosk.display import (
    CONFIRMED,
    Display,
    answer_label,
    confirmation_texts,
    key_label,
)
from kiosk.display_options import DisplayOptions
from kiosk.events import ButtonPressed, KeyPressed, ManifestReady, Tapped, TextTyped
from kiosk.layout import (
    Box,
    form_layout,
    hit,
    logical_size,
    place,
    rotate_box,
    to_logical,
)
from kiosk.manifest import DEFAULT_QR, Programme, QrLinks, install_steps
from kiosk.player import RECORD_FAILED, Player
from kiosk.scanner import read_code
from kiosk.snapshot import Capture, write_png_atomically

SMART_URL = "http://server/q/12"
SETTINGS = CheckinSettings("full", 21, 1, "Tôi đồng ý lưu thông tin trong 21 ngày.",
                           "I agree to my details being kept for 21 days.", "Asia/Ho_Chi_Minh")
PROGRAMME = Programme(
    venue_name="Bến xe Miền Đông",
    qr=QrLinks("Bluezone", DEFAULT_QR.android_url, DEFAULT_QR.ios_url, SMART_URL),
    checkin=SETTINGS,
)
NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
SIZES = [(1280, 720), (720, 1280)]
NOT_YET = Confirmation("u1", "in", "no", "N. V. A.", date(2026, 12, 14))
HAS_APP = Confirmation("u2", "out", "yes", "T. T. B.", date(2026, 12, 14))


@pytest.fixture(params=SIZES, ids=["landscape", "portrait"])
def display(request: pytest.FixtureRequest, headless: None) -> Iterator[Display]:
    screen = Display(DisplayOptions(mode="headless", size=request.param))
    screen.open()
    yield screen
    screen.close()


def draw(display: Display, view: Any, tmp_path: Path, name: str) -> Capture:
    """Draw a check-in screen with the bar, keep the PNG for a person to look at."""
    slide = display.checkin_slide(view, PROGRAMME, SMART_URL)
    shot = display.render(slide, None, bar_content(PROGRAMME, None, NOW), capture=True)
    assert shot is not None
    write_png_atomically(shot, tmp_path / f"{name}-{shot.size[0]}x{shot.size[1]}.png")
    return shot


def decoded(shot: Capture) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(shot.image())]


def test_not_yet_shows_the_install_qr_large(display: Display, tmp_path: Path) -> None:
    shot = draw(display, Confirmed(NOT_YET, 0.0), tmp_path, "not-yet")
    codes = zxingcpp.read_barcodes(shot.image())
    assert [c.text for c in codes] == [SMART_URL, SMART_URL]  # on the screen and in the bar
    sides = sorted(abs(c.position.top_right.x - c.position.top_left.x) for c in codes)
    assert sides[-1] >= 2 * sides[0]  # the confirmation's code is the large one


def test_the_confirmation_of_a_visitor_with_the_app_has_no_second_code(
    display: Display, tmp_path: Path
) -> None:
    shot = draw(display, Confirmed(HAS_APP, 0.0), tmp_path, "confirmed")
    assert decoded(shot) == [SMART_URL]  # the bar's only


@pytest.mark.parametrize("view", [
    Editing(Form(SETTINGS.fields(), (("name", "Nguyễn Văn An"),), "phone"), 0.0),
    Message("scan", "Đây là một đường link, không phải CCCD.",
            "This is a link, not a citizen ID card.", 0.0),
], ids=["form", "scan-error"])
def test_the_form_and_messages_draw_in_both_orientations(
    display: Display, tmp_path: Path, view: Any
) -> None:
    shot = draw(display, view, tmp_path, type(view).__name__)
    assert decoded(shot) == [SMART_URL]
    assert len(shot.image().getcolors(maxcolors=1 << 16) or ()) > 4  # text, not a flat colour


def test_the_confirmation_says_masked_name_direction_and_deletion_day() -> None:
    vi, en = confirmation_texts(HAS_APP, "Bluezone")
    assert vi == ["Đã ghi nhận: RA", "Khách: T. T. B.",
                  "Thông tin cá nhân được xóa ngày 14/12/2026"]
    assert en == ["Checked out - thank you", "Visitor: T. T. B.",
                  "Personal data deleted on 14 Dec 2026"]


def test_in_count_mode_the_confirmation_says_nothing_personal_was_kept() -> None:
    vi, en = confirmation_texts(Confirmation("u", "in", "no", None, None), "Bluezone")
    assert vi[-1] == "Không lưu thông tin cá nhân" and en[-1] == "No personal data kept"
    assert vi[0] == "Đã ghi nhận VÀO. Mời cài đặt Bluezone"


def every_text() -> list[str]:
    texts = ["Ghi nhận khách ra vào", "Visitor check-in", "Đang ghi nhận…", "Recording…",
             *NOT_SET_UP, *PARTIAL_SCAN, *RECORD_FAILED, "Đang ghi: VÀO", "Đang ghi: RA",
             SETTINGS.consent_text_vi]
    for vi, en in FIELD_LABELS.values():
        texts += [f"{vi} · {en}"]
    for target in ("has_app:yes", "has_app:no", "has_app:installed_now", "direction:in",
                   "direction:out", "confirm", "cancel"):
        texts += answer_label(target, "Bluezone")
    for key in ("backspace", "space", "next", "a"):
        for telex in (True, False):
            texts += key_label(key, telex)
    for confirmation in (NOT_YET, HAS_APP):
        vi, en = confirmation_texts(confirmation, "Bluezone")
        texts += vi + en
    guide = install_steps("Bluezone")
    texts += [guide.title_vi, *guide.lines_vi]
    for form in (Form(("name", "phone")), Form(("name",), has_app="yes"),
                 Form(("phone",), (("phone", "12"),), has_app="yes")):
        problem = form_problem(form)
        assert problem is not None
        texts += problem
    for code in ("https://x.org", "8934563138165", "a|b"):
        card = read_code(code)
        texts += [getattr(card, "message_vi", ""), getattr(card, "message_en", "")]
    texts += ["ĂÂĐÊÔƠƯăâđêôơư", "àáảãạ ầấẩẫậ ằắẳẵặ èéẻẽẹ ềếểễệ ìíỉĩị òóỏõọ ồốổỗộ ờớởỡợ",
              "ùúủũụ ừứửữự ỳýỷỹỵ ÀÁẢÃẠ ỲÝỶỸỴ •|"]
    return texts


def test_every_new_text_has_its_glyphs(headless: None) -> None:
    screen = Display(DisplayOptions(mode="headless", size=(640, 360)))
    missing = {text: screen.missing_glyphs(text) for text in every_text()}
    assert {text: chars for text, chars in missing.items() if chars} == {}


# -- the form's layout and taps --------------------------------------------------------------


@pytest.mark.parametrize("size", [(1280, 576), (1920, 864), (720, 1078), (1080, 1618)])
@pytest.mark.parametrize("mode", ["count", "contact", "full"])
def test_form_targets_are_large_inside_and_apart(size: tuple[int, int], mode: str) -> None:
    fields = CheckinSettings(mode, 21, None, "", "", "UTC").fields()
    layout = form_layout(size, fields)
    boxes = [box for _, box in layout.targets]
    names = [name for name, _ in layout.targets]
    assert len(set(names)) == len(names)
    for name, box in layout.targets:
        assert box.x >= 0 and box.y >= 0, name
        assert box.x + box.w <= size[0] and box.y + box.h <= size[1], name
        assert min(box.w, box.h) >= min(size) / 20, name  # a finger, not a mouse pointer
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            apart = (first.x + first.w <= second.x or second.x + second.w <= first.x
                     or first.y + first.h <= second.y or second.y + second.h <= first.y)
            assert apart, (first, second)
    expected = {f"field:{f}" for f in fields} | {"confirm", "cancel", "has_app:no"}
    assert expected <= set(names)
    assert ("key:a" in names) == bool(fields)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_tap_on_the_physical_screen_lands_on_the_logical_box(rotation: int) -> None:
    physical = (1920, 1080)
    canvas = logical_size(physical, rotation)
    box = Box(100, 200, 300, 50)
    turned = rotate_box(box, canvas, rotation)
    for corner in [(turned.x, turned.y), (turned.x + turned.w - 1, turned.y + turned.h - 1)]:
        x, y = to_logical(corner, physical, rotation)
        assert box.x <= x < box.x + box.w and box.y <= y < box.y + box.h
    assert place(box, canvas, rotation)[1] == rotation


def test_hit_finds_the_target_under_the_point() -> None:
    targets = (("a", Box(0, 0, 10, 10)), ("b", Box(20, 0, 10, 10)))
    assert [hit(targets, p) for p in [(5, 5), (25, 9), (15, 5)]] == ["a", "b", None]


@pytest.mark.parametrize("rotation", [0, 90])
def test_clicks_and_text_become_kiosk_events(headless: None, rotation: int) -> None:
    screen = Display(DisplayOptions(mode="headless", size=(1280, 720), rotation=rotation))
    screen.open()
    try:
        form = Form(SETTINGS.fields(), focus="name")
        screen.checkin_slide(Editing(form, 0.0), PROGRAMME, SMART_URL)
        layout = form_layout((screen.layout.main.w, screen.layout.main.h), form.fields)
        target = layout.box("has_app:installed_now")
        assert target is not None
        main = screen.layout.main
        logical = Box(main.x + target.x, main.y + target.y, target.w, target.h)
        turned = rotate_box(logical, screen.logical, rotation)
        centre = (turned.x + turned.w // 2, turned.y + turned.h // 2)
        bar = rotate_box(screen.layout.bar, screen.logical, rotation)
        pygame.event.clear()
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=centre, button=1,
                                             touch=False))
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text="ễ"))
        pygame.event.post(pygame.event.Event(
            pygame.MOUSEBUTTONDOWN, pos=(bar.x + 5, bar.y + bar.h // 2), button=1, touch=False))
        events = [e for e in screen.poll() if isinstance(e, Tapped | TextTyped)]
        assert events == [Tapped("has_app:installed_now"), TextTyped("ễ"), Tapped("open_form")]
    finally:
        screen.close()


# -- the player carries the flow out ----------------------------------------------------------


class Recorder:
    """Stands in for ``kiosk.checkin.Recorder`` at the leaf: answers as it does."""

    def __init__(self) -> None:
        self.visitors: list[Visitor] = []
        self.settings: list[CheckinSettings | None] = []

    def use(self, settings: CheckinSettings | None) -> None:
        self.settings.append(settings)

    def record(self, visitor: Visitor, wall: float) -> Confirmation:
        self.visitors.append(visitor)
        return Confirmation(f"u{len(self.visitors)}", visitor.direction, visitor.has_app,
                            None, None)


class Lights:
    def __init__(self) -> None:
        self.signals: list[str] = []

    def confirm(self) -> None:
        self.signals.append("confirm")

    def refuse(self) -> None:
        self.signals.append("refuse")


def test_the_player_records_then_confirms_on_screen(headless: None, content: Path) -> None:
    events: queue.Queue[Any] = queue.Queue()
    recorder, lights = Recorder(), Lights()
    player = Player(DisplayOptions(mode="headless", size=(960, 540)), events, lambda _: None,
                    default_content=content, recorder=recorder, feedback=lights)
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop, "max_seconds": 30})
    thread.start()
    try:
        manifest = {"version": "v1", "venue": {"name": "Bến xe", "timezone": "Asia/Ho_Chi_Minh"},
                    "items": [], "checkin": {"privacy_mode": "count", "retention_days": 21}}
        events.put(ManifestReady(manifest, lambda _: None))
        deadline = time.monotonic() + 10
        while not recorder.settings or recorder.settings[-1] is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        pressed = time.monotonic()
        events.put(ButtonPressed("not_yet"))
        while player.last_confirmation() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        uuid, shown_at = player.last_confirmation() or ("", 0.0)
        assert uuid == "u1" and shown_at > pressed
        assert recorder.visitors == [Visitor("in", "button", "no")]
        assert lights.signals == ["confirm"]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_confirmation_painted_ahead_shows_again_after_its_screen_closed(
        headless: None, content: Path) -> None:
    """The "has the app" confirmation is painted ahead and kept: a tap anywhere closes it
    (painting the other one ahead meanwhile must not take its tap target away), and the next
    press shows it again, whole, not an empty main zone."""
    events: queue.Queue[Any] = queue.Queue()
    recorder = Recorder()
    player = Player(DisplayOptions(mode="headless", size=(640, 360)), events, lambda _: None,
                    default_content=content, recorder=recorder, feedback=Lights())
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop, "max_seconds": 30})
    thread.start()

    def until(condition: Any) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.01)

    def confirmed(uuid: str) -> bool:
        return (player.last_confirmation() or ("", 0.0))[0] == uuid

    try:
        manifest = {"version": "v1", "venue": {"name": "Bến xe"}, "items": [],
                    "checkin": {"privacy_mode": "count", "retention_days": 21}}
        events.put(ManifestReady(manifest, lambda _: None))
        until(lambda: recorder.settings and recorder.settings[-1] is not None)
        events.put(ButtonPressed("has_app"))
        until(lambda: confirmed("u1"))
        time.sleep(0.3)  # "not yet" is painted ahead beneath the confirmation
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(320, 150),
                                             touch=False))
        until(lambda: player.checkin_view() is None)
        time.sleep(0.2)
        events.put(ButtonPressed("has_app"))
        until(lambda: confirmed("u2"))
        png = player.latest_png(640)  # the first copy asked for: taken now, on screen 6 s
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive() and png is not None
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    assert picture.getpixel((320, 150)) == CONFIRMED


def test_the_form_never_goes_into_a_screenshot(headless: None, content: Path,
                                               tmp_path: Path) -> None:
    """What staff type is on screen unmasked: while the form is open no screenshot is taken
    (the heartbeat sends one to the server); they resume when it closes."""
    events: queue.Queue[Any] = queue.Queue()
    shot = tmp_path / "screen.png"
    options = DisplayOptions(mode="headless", size=(640, 360), screenshot=shot,
                             screenshot_every=0.05)
    player = Player(options, events, lambda _: None, default_content=content,
                    recorder=Recorder(), feedback=Lights())
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop, "max_seconds": 30})
    thread.start()

    def written() -> int:
        return shot.stat().st_mtime_ns if shot.exists() else 0

    def changes(seconds: float) -> bool:
        before, deadline = written(), time.monotonic() + seconds
        while time.monotonic() < deadline:
            if written() != before:
                return True
            time.sleep(0.01)
        return False

    try:
        manifest = {"version": "v1", "venue": {"name": "Bến xe"}, "items": [],
                    "checkin": {"privacy_mode": "contact", "retention_days": 21}}
        events.put(ManifestReady(manifest, lambda _: None))
        assert changes(5.0)
        events.put(KeyPressed("f2"))
        for char in "Nguyeenx":
            events.put(TextTyped(char))
            time.sleep(0.1)
        time.sleep(0.2)
        assert not changes(0.6)
        events.put(KeyPressed("escape"))
        assert changes(5.0)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_check_in_screen_before_the_loop_s_first_item_counts_as_the_first_picture(
        headless: None, content: Path) -> None:
    """Staff open the form while the kiosk is still starting: the form is the first picture
    on screen, so the first frame is counted (systemd's READY and the sync side's start wait
    for it) while the form stays open and the loop has drawn nothing yet."""
    events: queue.Queue[Any] = queue.Queue()
    manifest = {"version": "v1", "venue": {"name": "Bến xe"}, "items": [],
                "checkin": {"privacy_mode": "contact", "retention_days": 21}}
    events.put(ManifestReady(manifest, lambda _: None))
    events.put(KeyPressed("f2"))
    player = Player(DisplayOptions(mode="headless", size=(640, 360)), events, lambda _: None,
                    default_content=content, recorder=Recorder(), feedback=Lights())
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop, "max_seconds": 30})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while player.status().first_frame_s is None:
            assert time.monotonic() < deadline, "no first frame while the form is open"
            time.sleep(0.01)
        assert isinstance(player.checkin_view(), Editing)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


class LongTurn:
    """``time.monotonic`` for the player, which can make one loop turn run long: once
    ``hold_when`` is true, the screen thread's next reading waits until ``release`` and comes
    back ``seconds`` later, as after a video opened or a loaded machine took the core."""

    def __init__(self, hold_when: Any, seconds: float) -> None:
        self.hold_when, self.seconds = hold_when, seconds
        self.offset = 0.0
        self.held, self.release = threading.Event(), threading.Event()

    def __call__(self) -> float:
        if not self.held.is_set() and threading.current_thread().name == "screen" \
                and self.hold_when():
            self.held.set()
            self.release.wait(10)
            self.offset = self.seconds
        return time.monotonic() + self.offset


def test_a_scan_survives_a_loop_turn_that_ran_long(headless: None, content: Path) -> None:
    """The first keys of an ID card are seen; the loop's next turn comes 0.6 s later (more
    than any pause a burst allows) while the rest of the keys wait in the queue. They came
    as fast as the scanner sent them, so the card is recorded whole."""
    events: queue.Queue[Any] = queue.Queue()
    recorder = Recorder()
    player: Player

    def keys_seen() -> int:
        state = player._state  # the screen thread's own state, read on that thread
        return len(state.checkin.keys.text) if state is not None else 0

    clock = LongTurn(lambda: keys_seen() >= 10, 0.6)
    player = Player(DisplayOptions(mode="headless", size=(640, 360)), events, lambda _: None,
                    monotonic=clock, default_content=content, recorder=recorder,
                    feedback=Lights())
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop, "max_seconds": 30},
                              name="screen")
    thread.start()
    card = "001203004567|123456789|Nguyễn Văn An|01021990|Nam|12 Hàng Bài|05062021"
    try:
        manifest = {"version": "v1", "venue": {"name": "Bến xe"}, "items": [],
                    "checkin": {"privacy_mode": "contact", "retention_days": 21}}
        events.put(ManifestReady(manifest, lambda _: None))
        deadline = time.monotonic() + 10
        while not recorder.settings or recorder.settings[-1] is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for char in card[:10]:
            pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text=char))
        assert clock.held.wait(10), "the player never saw the first keys"
        for char in card[10:]:  # they arrive while the turn runs long
            pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text=char))
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0,
                                             unicode="\r", scancode=0))
        clock.release.set()
        while player.last_confirmation() is None:
            assert time.monotonic() < deadline, player.checkin_view()
            time.sleep(0.005)
        assert recorder.visitors == [Visitor("in", "scanner", "unknown",
                                             {"name": "Nguyễn Văn An", "id_last4": "4567"})]
    finally:
        clock.release.set()
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
