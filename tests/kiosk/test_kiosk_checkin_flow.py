"""The check-in flow, driven through the kiosk's pure ``step`` like the player drives it:
buttons, scanner bursts, typing, taps, the Recorder's answers, and time passing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from kiosk.checkin import CheckinError, CheckinSettings, Confirmation, Recorder, Visitor
from kiosk.checkin_flow import (
    TIMEOUTS_S,
    Confirmed,
    Editing,
    Feedback,
    Message,
    RecordCheckin,
    Recording,
    deadline,
    mask,
)
from kiosk.events import (
    ButtonPressed,
    CheckinRecorded,
    CheckinRejected,
    Event,
    KeyPressed,
    Tapped,
    TextTyped,
    Tick,
)
from kiosk.journal import CHECKIN, Journal
from kiosk.manifest import Programme, builtin_slides
from kiosk.state import Effect, MediaReady, Moment, PlayerState, initial_state, step
from kiosk.telex import compose, strip_tone

CARD = "001203004567|123456789|Nguyễn Văn An|01021990|Nam|12 Hàng Bài, Hà Nội|05062021"
SCANNER_GAP = 0.004  # seconds between a scanner's keys
PERSON_GAP = 0.15  # between a person's


def settings(mode: str = "contact") -> CheckinSettings:
    return CheckinSettings(mode, 21, 1, "Đồng ý", "Agree", "Asia/Ho_Chi_Minh")


class Kiosk:
    """The state machine with a clock, the way the player runs it; ``record`` answers as
    the Recorder would (or refuses when ``refuse`` is set)."""

    def __init__(self, mode: str | None = "contact", recorder: Recorder | None = None) -> None:
        programme = Programme(checkin=settings(mode) if mode else None)
        self.state: PlayerState = initial_state(builtin_slides(), programme)
        self.now = 1000.0
        self.recorded: list[Visitor] = []
        self.feedback: list[bool] = []
        self.refuse: tuple[str, str] | None = None
        self.recorder = recorder
        if recorder is not None:
            recorder.use(self.state.programme.checkin)

    def send(self, event: Event | MediaReady, after: float = 0.0) -> tuple[Effect, ...]:
        self.now += after
        self.state, effects = step(self.state, event, Moment(self.now, self.now))
        for effect in effects:
            if isinstance(effect, RecordCheckin):
                self.recorded.append(effect.visitor)
                answer = self.answer(effect.visitor)
                self.send(answer)
            elif isinstance(effect, Feedback):
                self.feedback.append(effect.ok)
        return effects

    def answer(self, visitor: Visitor) -> Event:
        if self.recorder is not None:
            try:
                return CheckinRecorded(self.recorder.record(visitor, self.now))
            except CheckinError as exc:
                return CheckinRejected(exc.vi, exc.en)
        if self.refuse:
            return CheckinRejected(*self.refuse)
        return CheckinRecorded(confirmation(visitor))

    def scan(self, code: str, gap: float = SCANNER_GAP) -> None:
        """Keys as pygame reports a scanner's: a key press, then its text."""
        for char in code:
            self.send(KeyPressed(char.lower()), after=gap)
            self.send(TextTyped(char))
        self.send(KeyPressed("return"), after=gap)

    def type(self, text: str, gap: float = PERSON_GAP) -> None:
        for char in text:
            self.send(TextTyped(char), after=gap)
        self.wait(gap)

    def wait(self, seconds: float) -> None:
        self.send(Tick(), after=seconds)

    @property
    def screen(self) -> object:
        return self.state.checkin.screen


def confirmation(visitor: Visitor) -> Confirmation:
    name = visitor.personal.get("name")
    masked = mask("name", name) if name else None
    return Confirmation("uuid", visitor.direction, visitor.has_app, masked, date(2026, 12, 14))


@pytest.fixture
def kiosk() -> Kiosk:
    return Kiosk()


# -- buttons -------------------------------------------------------------------------------


@pytest.mark.parametrize(("button", "has_app"), [("has_app", "yes"), ("not_yet", "no")])
def test_a_button_records_an_anonymous_checkin_in_one_press(
    kiosk: Kiosk, button: str, has_app: str
) -> None:
    kiosk.send(ButtonPressed(button))
    assert kiosk.recorded == [Visitor("in", "button", has_app)]
    assert isinstance(kiosk.screen, Confirmed) and kiosk.feedback == [True]


def test_the_confirmation_shows_only_after_the_recorder_answered() -> None:
    kiosk = Kiosk()
    state, effects = step(kiosk.state, ButtonPressed("has_app"), Moment(1.0, 1.0))
    assert effects[0] == RecordCheckin(Visitor("in", "button", "yes"))
    assert isinstance(state.checkin.screen, Recording)
    state, _ = step(state, Tick(), Moment(1.5, 1.5))
    assert isinstance(state.checkin.screen, Recording)
    state, effects = step(state, CheckinRecorded(confirmation(Visitor("in", "button", "yes"))),
                          Moment(1.6, 1.6))
    assert isinstance(state.checkin.screen, Confirmed) and effects == (Feedback(True),)


def test_the_direction_button_sets_the_direction_of_the_next_presses(kiosk: Kiosk) -> None:
    kiosk.send(ButtonPressed("direction"))
    assert isinstance(kiosk.screen, Message) and kiosk.screen.en == "Now recording: OUT"
    kiosk.send(ButtonPressed("has_app"))
    kiosk.send(ButtonPressed("direction"))
    kiosk.send(ButtonPressed("not_yet"))
    assert [v.direction for v in kiosk.recorded] == ["out", "in"]


@pytest.mark.parametrize(
    ("button", "shown_for"),
    [("has_app", TIMEOUTS_S["confirmed"]), ("not_yet", TIMEOUTS_S["confirmed_not_yet"])],
)
def test_the_confirmation_goes_away_after_its_time(
    kiosk: Kiosk, button: str, shown_for: float
) -> None:
    kiosk.send(ButtonPressed(button))
    kiosk.wait(shown_for - 0.1)
    assert isinstance(kiosk.screen, Confirmed)
    kiosk.wait(0.1)
    assert kiosk.screen is None and kiosk.state.checkin.idle


def test_not_yet_keeps_the_install_qr_for_20_seconds() -> None:
    assert TIMEOUTS_S["confirmed_not_yet"] == 20.0


def test_a_refused_checkin_says_why_and_signals_it(kiosk: Kiosk) -> None:
    kiosk.refuse = ("Bộ nhớ đầy.", "The storage is full.")
    kiosk.send(ButtonPressed("has_app"))
    assert isinstance(kiosk.screen, Message) and kiosk.screen.en == "The storage is full."
    assert kiosk.feedback == [False]


def test_without_checkin_settings_nothing_is_recorded() -> None:
    kiosk = Kiosk(mode=None)
    kiosk.send(ButtonPressed("has_app"))
    assert kiosk.recorded == [] and kiosk.feedback == [False]
    assert isinstance(kiosk.screen, Message) and "not set up" in kiosk.screen.en


# -- the scanner ---------------------------------------------------------------------------


def test_a_card_scan_records_the_name_and_nothing_else(kiosk: Kiosk) -> None:
    kiosk.scan(CARD)
    assert kiosk.recorded == [Visitor("in", "scanner", "unknown",
                                      {"name": "Nguyễn Văn An", "id_last4": "4567"})]
    assert isinstance(kiosk.screen, Confirmed)
    assert kiosk.screen.confirmation.masked_name == "N. V. A."


def test_in_count_mode_a_card_scan_keeps_no_name() -> None:
    kiosk = Kiosk("count")
    kiosk.scan(CARD)
    assert kiosk.recorded == [Visitor("in", "scanner", "unknown", {})]


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("https://example.org/promo", "This is a link, not a citizen ID card."),
        ("8934563138165", "This is a product barcode, not a citizen ID card."),
        ("001203004567|123456789|Nguyễn",
         "Could not read the code. Please scan the ID card again."),
    ],
)
def test_any_other_scan_is_explained_and_nothing_stored(
    kiosk: Kiosk, code: str, says: str
) -> None:
    kiosk.scan(code)
    assert kiosk.recorded == [] and kiosk.feedback == [False]
    assert isinstance(kiosk.screen, Message) and kiosk.screen.en == says
    assert kiosk.screen.vi  # the Vietnamese message first, always
    kiosk.wait(TIMEOUTS_S["message"])
    assert kiosk.screen is None


def test_a_scan_cut_short_without_enter_is_explained(kiosk: Kiosk) -> None:
    for char in CARD[:30]:
        kiosk.send(TextTyped(char), after=SCANNER_GAP)
    kiosk.wait(0.2)
    assert kiosk.screen is None  # a busy loop may just have looked late: not yet
    kiosk.wait(0.1)
    assert isinstance(kiosk.screen, Message) and kiosk.screen.kind == "scan"
    assert kiosk.recorded == []


def test_a_fast_typist_is_still_typing(kiosk: Kiosk) -> None:
    """Keys 50-120 ms apart: a run of them keeps the burst going, but not at scanner pace."""
    kiosk.send(KeyPressed("f2"))
    for char, gap in zip("Nguyeenx", [0.05, 0.03, 0.12, 0.05, 0.04, 0.1, 0.06, 0.05],
                         strict=True):
        kiosk.send(TextTyped(char), after=gap)
    kiosk.send(KeyPressed("return"), after=0.05)
    assert isinstance(kiosk.screen, Editing) and kiosk.screen.form.value("name") == "Nguyễn"
    assert kiosk.feedback == []


def test_a_scan_survives_a_late_loop_turn(kiosk: Kiosk) -> None:
    for index, char in enumerate(CARD):
        kiosk.send(TextTyped(char), after=0.15 if index == 20 else SCANNER_GAP)
    kiosk.send(KeyPressed("return"), after=SCANNER_GAP)
    assert [v.personal.get("name") for v in kiosk.recorded] == ["Nguyễn Văn An"]


@pytest.mark.parametrize("late_at", [1, 2, 5])
def test_an_idle_kiosk_waits_out_a_late_turn_from_the_first_key(
    kiosk: Kiosk, late_at: int
) -> None:
    """With no form open nobody's typing waits to be shown: even the first keys of a scan
    may be seen a loop turn late (a loaded machine), and the scan is still whole."""
    for index, char in enumerate(CARD):
        kiosk.send(TextTyped(char), after=0.12 if index == late_at else SCANNER_GAP)
    kiosk.send(KeyPressed("return"), after=SCANNER_GAP)
    assert [v.method for v in kiosk.recorded] == ["scanner"]


def test_keys_that_waited_for_a_long_loop_turn_keep_the_burst(kiosk: Kiosk) -> None:
    """The turn after the sixth key ran 0.6 s: the keys that came meanwhile were seen at the
    next look, which knows when the loop looked before (``since``); they may have come
    right after it, so the turn's length is no pause of the scanner's."""
    for index, char in enumerate(CARD):
        kiosk.send(TextTyped(char, since=kiosk.now), after=0.6 if index == 6 else SCANNER_GAP)
    kiosk.send(KeyPressed("return", since=kiosk.now), after=SCANNER_GAP)
    assert [v.personal.get("name") for v in kiosk.recorded] == ["Nguyễn Văn An"]


def test_a_pause_of_the_scanner_itself_still_ends_the_burst(kiosk: Kiosk) -> None:
    """The loop kept looking (every 16 ms) and saw nothing for 0.6 s: a real pause, and the
    keys before it were a scan cut short."""
    for index, char in enumerate(CARD):
        after = 0.6 if index == 6 else SCANNER_GAP
        kiosk.send(TextTyped(char, since=kiosk.now + after - 0.016), after=after)
    kiosk.send(KeyPressed("return", since=kiosk.now), after=SCANNER_GAP)
    assert kiosk.recorded == []


def test_enter_after_a_long_loop_turn_ends_the_scan(kiosk: Kiosk) -> None:
    for char in CARD:
        kiosk.send(TextTyped(char, since=kiosk.now), after=SCANNER_GAP)
    kiosk.send(KeyPressed("return", since=kiosk.now), after=0.6)
    assert [v.method for v in kiosk.recorded] == ["scanner"]


def test_the_scan_buffer_waits_a_burst_gap_then_lets_go(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("f2"))
    kiosk.send(TextTyped("N"), after=0.0)
    assert deadline(kiosk.state.checkin) == pytest.approx(kiosk.now + 0.035)


def test_slow_typing_is_not_a_scan(kiosk: Kiosk) -> None:
    kiosk.type("Nguyeenx")
    kiosk.send(KeyPressed("return"), after=PERSON_GAP)
    assert kiosk.recorded == [] and kiosk.screen is None  # stray keys with no form open
    kiosk.send(KeyPressed("f2"))
    kiosk.type("Nguyeenx")
    kiosk.send(KeyPressed("return"), after=PERSON_GAP)
    assert kiosk.recorded == []
    assert isinstance(kiosk.screen, Editing)
    assert kiosk.screen.form.value("name") == "Nguyễn"
    assert kiosk.screen.form.focus == "phone"


def test_a_card_scanned_into_the_open_form_fills_the_name(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("f2"))
    kiosk.scan(CARD)
    assert isinstance(kiosk.screen, Editing)
    form = kiosk.screen.form
    assert form.value("name") == "Nguyễn Văn An" and form.method == "scanner"
    assert "001203004567" not in repr(kiosk.state)  # the full id number is not kept
    assert "01021990" not in repr(kiosk.state) and "Hàng Bài" not in repr(kiosk.state)
    kiosk.send(Tapped("has_app:yes"))
    kiosk.send(Tapped("confirm"))
    assert kiosk.recorded == [Visitor("in", "scanner", "yes",
                                      {"name": "Nguyễn Văn An", "id_last4": "4567"})]


# -- the staff form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "fields"),
    [("count", ()), ("contact", ("name", "phone")),
     ("full", ("name", "phone", "organisation", "purpose", "host"))],
)
def test_the_form_asks_only_what_the_privacy_mode_allows(mode: str, fields: tuple[str]) -> None:
    kiosk = Kiosk(mode)
    kiosk.send(Tapped("open_form"))
    assert isinstance(kiosk.screen, Editing) and kiosk.screen.form.fields == fields


def test_staff_form_one_screen_confirm_done(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("f2"))
    for key in "Traanf Thij Binhf":
        kiosk.send(Tapped("key:space" if key == " " else f"key:{key}"))
    kiosk.send(Tapped("field:phone"))
    kiosk.type("0912 345 678")
    kiosk.send(Tapped("has_app:installed_now"))
    kiosk.send(Tapped("direction:out"))
    kiosk.send(Tapped("confirm"))
    assert kiosk.recorded == [Visitor("out", "staff", "installed_now",
                                      {"name": "Trần Thị Bình", "phone": "0912345678"})]
    assert isinstance(kiosk.screen, Confirmed)
    assert kiosk.state.checkin.direction == "out"


@pytest.mark.parametrize(
    ("taps", "problem"),
    [
        ((), "Please answer: does the visitor have the app?"),
        (("has_app:yes",), "Please enter the name."),
    ],
)
def test_the_form_says_what_is_missing(kiosk: Kiosk, taps: tuple[str], problem: str) -> None:
    kiosk.send(KeyPressed("f2"))
    for tap in taps:
        kiosk.send(Tapped(tap))
    kiosk.send(Tapped("confirm"))
    assert kiosk.recorded == [] and kiosk.feedback == [False]
    assert isinstance(kiosk.screen, Editing)
    assert kiosk.screen.form.problem is not None and kiosk.screen.form.problem[1] == problem


def test_a_bad_phone_number_is_refused_on_the_form(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("f2"))
    kiosk.type("An")
    kiosk.send(Tapped("field:phone"))
    kiosk.type("123")
    kiosk.send(Tapped("has_app:no"))
    kiosk.send(Tapped("confirm"))
    assert kiosk.recorded == []
    assert isinstance(kiosk.screen, Editing)
    assert kiosk.screen.form.problem == ("Số điện thoại không hợp lệ.",
                                         "The phone number is not valid.")


def test_a_refusal_from_the_recorder_returns_to_the_form(kiosk: Kiosk) -> None:
    kiosk.refuse = ("Trường không được phép.", "Field not allowed.")
    kiosk.send(KeyPressed("f2"))
    kiosk.type("An")
    kiosk.send(Tapped("has_app:yes"))
    kiosk.send(Tapped("confirm"))
    assert isinstance(kiosk.screen, Message)
    kiosk.wait(TIMEOUTS_S["message"])
    assert isinstance(kiosk.screen, Editing) and kiosk.screen.form.value("name") == "An"


def test_an_abandoned_form_is_closed_and_forgotten(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("f2"))
    kiosk.type("Nguyen")
    kiosk.wait(TIMEOUTS_S["form_idle"] - 1)
    assert isinstance(kiosk.screen, Editing)
    kiosk.wait(1.5)
    assert kiosk.screen is None and "Nguyen" not in repr(kiosk.state)


def test_backspace_and_cancel(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("f2"))
    kiosk.type("Anh")
    kiosk.send(KeyPressed("backspace"), after=0.2)
    assert isinstance(kiosk.screen, Editing) and kiosk.screen.form.value("name") == "An"
    kiosk.send(Tapped("key:backspace"))
    assert kiosk.screen.form.value("name") == "A"
    kiosk.send(Tapped("cancel"))
    assert kiosk.screen is None and kiosk.recorded == []


def test_telex_can_be_switched_off_for_foreign_names(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("f2"))
    kiosk.send(Tapped("key:telex"))
    for key in "Ross":
        kiosk.send(Tapped(f"key:{key}"))
    assert isinstance(kiosk.screen, Editing) and kiosk.screen.form.value("name") == "Ross"


def test_skip_keys_still_step_the_loop_when_no_checkin_is_going_on(kiosk: Kiosk) -> None:
    kiosk.send(KeyPressed("right"))
    assert kiosk.state.counters.skipped == 0  # nothing on screen yet: nothing to skip
    kiosk.send(KeyPressed("f2"))
    kiosk.send(KeyPressed("right"))
    assert isinstance(kiosk.screen, Editing)


# -- masking and Telex ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("name", "Nguyễn Văn An", "N. V. A."),
        ("phone", "0912345678", "•••••••678"),
        ("organisation", "Sở Y tế", "S••••••"),
        ("host", "", ""),
    ],
)
def test_values_are_masked_on_screen(field: str, value: str, shown: str) -> None:
    assert mask(field, value) == shown


@pytest.mark.parametrize(
    ("keys", "text"),
    [
        ("aa", "â"), ("aw", "ă"), ("ee", "ê"), ("oo", "ô"), ("ow", "ơ"), ("uw", "ư"),
        ("dd", "đ"), ("DDaauf", "Đầu"),
        ("as", "á"), ("af", "à"), ("ar", "ả"), ("ax", "ã"), ("aj", "ạ"),
        ("tieengs", "tiếng"), ("tieengsz", "tiêng"), ("Vieetj Nam", "Việt Nam"),
        ("Nguyeenx Vawn Anh", "Nguyễn Văn Anh"), ("Huwowng", "Hương"), ("Thuyr", "Thủy"),
        ("aaa", "aa"), ("ass", "as"),
        ("FPT Software", "FPT Software"), ("0912345678", "0912345678"),
        ("Nguyeenx@vnpt.vn", "Nguyễn@vnpt.vn"), ("Toaf 2B", "Tòa 2B"),
        ("Trần Thị Bình", "Trần Thị Bình"),  # an input method's text passes through
    ],
)
def test_telex(keys: str, text: str) -> None:
    assert compose(keys) == text


def test_strip_tone_keeps_the_vowel_shapes() -> None:
    assert strip_tone("Nguyễn Việt Đức") == "Nguyên Viêt Đưc"


def test_a_new_manifest_changes_the_form_for_the_next_visitor(kiosk: Kiosk) -> None:
    programme = replace(kiosk.state.programme, checkin=settings("full"))
    kiosk.state = replace(kiosk.state, programme=programme)
    kiosk.send(KeyPressed("f2"))
    assert isinstance(kiosk.screen, Editing) and len(kiosk.screen.form.fields) == 5


@pytest.mark.parametrize("mode", ["count", "contact", "full"])
def test_what_the_flow_asks_the_real_recorder_to_keep_is_accepted(
    tmp_path: Path, mode: str
) -> None:
    """Scans, buttons and the staff form in each privacy mode, through kiosk.checkin's
    Recorder on a real journal: every check-in committed, none refused."""
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        kiosk = Kiosk(mode, Recorder(journal, bytes(PrivateKey.generate().public_key)))
        kiosk.scan(CARD)
        kiosk.send(ButtonPressed("not_yet"))
        kiosk.send(KeyPressed("f2"))
        kiosk.type("Nguyeenx Anh" if mode != "count" else "")
        kiosk.send(Tapped("has_app:yes"))
        kiosk.send(Tapped("confirm"))
        assert kiosk.feedback == [True, True, True]
        assert isinstance(kiosk.screen, Confirmed)
        rows = journal.pending(CHECKIN, 10)
        assert len(rows) == 3
        assert "Nguyễn" not in repr(rows) and "4567" not in repr(rows)  # sealed
    finally:
        journal.close()


def test_a_tap_closes_a_confirmation_early(kiosk: Kiosk) -> None:
    kiosk.send(ButtonPressed("has_app"))
    kiosk.send(Tapped("dismiss"))
    assert kiosk.screen is None


def test_a_tap_on_a_refusal_goes_back_to_the_form(kiosk: Kiosk) -> None:
    kiosk.refuse = ("Không ghi được.", "Not recorded.")
    kiosk.send(Tapped("open_form"))
    kiosk.send(Tapped("open_form"))  # the form is open already: nothing changes
    kiosk.type("An")
    kiosk.send(Tapped("has_app:yes"))
    kiosk.send(Tapped("confirm"))
    kiosk.send(Tapped("dismiss"))
    assert isinstance(kiosk.screen, Editing) and kiosk.screen.form.value("name") == "An"


@pytest.mark.parametrize("interruption", ["button", "card", "direction"])
def test_a_visitor_at_the_button_or_scanner_does_not_lose_the_staff_form(
    kiosk: Kiosk, interruption: str
) -> None:
    kiosk.send(KeyPressed("f2"))
    kiosk.type("Lee")
    if interruption == "button":
        kiosk.send(ButtonPressed("has_app"))
        assert isinstance(kiosk.screen, Confirmed)
        kiosk.wait(TIMEOUTS_S["confirmed"])
    elif interruption == "card":
        kiosk.send(Tapped("field:phone"))  # a card scanned into the form fills it instead
        kiosk.send(ButtonPressed("not_yet"))
        kiosk.scan(CARD)  # over the confirmation: recorded on its own
        assert len(kiosk.recorded) == 2
        kiosk.send(Tapped("dismiss"))
    else:
        kiosk.send(ButtonPressed("direction"))
        kiosk.wait(TIMEOUTS_S["direction"])
    assert isinstance(kiosk.screen, Editing) and kiosk.screen.form.value("name") == "Lê"
