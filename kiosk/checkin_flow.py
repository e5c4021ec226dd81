"""The check-in flow on the kiosk, as a pure state machine (``kiosk.state`` calls ``step``).

What a visitor or a receptionist can do, and what the screen shows for it:

- **Buttons** ("Đã có Bluezone" / "Chưa có"): one press records an anonymous check-in in the
  current direction; the in/out button flips the direction.
- **Scanner**: a USB scanner types like a keyboard. Keys arriving in a burst (gaps under
  ``kiosk.scanner.MAX_GAP_S``) and ending with Enter are one scan; slower keys are a person
  typing and go to the form. A citizen ID card is recorded (method ``scanner``) at once, or
  fills the form's name when the form is open; anything else is explained on screen and
  nothing is stored.
- **Staff form**: opened with F2 or a tap on the bar; the fields of the venue's
  privacy mode, the has-app question, in/out, confirm.

A check-in is never confirmed here: ``step`` asks for it with the effect ``RecordCheckin``;
the player calls the Recorder (durable commit) and feeds back ``CheckinRecorded`` (then the
confirmation shows) or ``CheckinRejected``. Every timeout is in ``TIMEOUTS_S`` and is
checked against the ``now`` passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from kiosk.checkin import CheckinSettings, Confirmation, Visitor
from kiosk.events import (
    ButtonPressed,
    CheckinRecorded,
    CheckinRejected,
    KeyPressed,
    Tapped,
    TextTyped,
)
from kiosk.scanner import (
    MIN_LENGTH,
    Buffer,
    CitizenCard,
    allowed_gap,
    feed,
    paused,
    read_code,
    scanner_pace,
)
from kiosk.telex import Composer

#: How long each screen stays (seconds of the monotonic clock).
TIMEOUTS_S = {
    "confirmed": 6.0,  # the confirmation of a visitor who has the app
    "confirmed_not_yet": 20.0,  # "not yet": the install QR, large, and the steps
    "message": 5.0,  # a scan that is not an ID card, a refused check-in
    "direction": 2.0,  # "now recording: IN"
    "form_idle": 90.0,  # a form nobody touches is closed, and what it held forgotten
}
HAS_APP = ("yes", "no", "installed_now")
DIRECTIONS = ("in", "out")
OPEN_FORM_KEYS = frozenset({"f2"})
NEXT_KEYS = frozenset({"tab", "return", "enter"})
ENTER_KEYS = frozenset({"return", "enter"})
COMMAND_KEYS = OPEN_FORM_KEYS | NEXT_KEYS | {"backspace", "escape"}
#: Labels of the form's fields: Vietnamese first, English beneath.
FIELD_LABELS = {
    "name": ("Họ và tên", "Full name"),
    "phone": ("Số điện thoại", "Phone"),
    "organisation": ("Cơ quan / đơn vị", "Organisation"),
    "purpose": ("Mục đích", "Purpose of visit"),
    "host": ("Gặp ai", "Visiting whom"),
}
MAX_FIELD_LENGTH = 100
_PHONE = re.compile(r"\+?\d{9,12}")
NOT_SET_UP = ("Kiosk chưa được thiết lập để ghi nhận khách.",
              "This kiosk is not set up for check-ins yet.")
PARTIAL_SCAN = ("Mã quét bị thiếu. Vui lòng quét lại CCCD.",
                "The scan was cut short. Please scan the ID card again.")


@dataclass(frozen=True)
class Form:
    """The staff form: ``values`` holds the fields not being typed, ``composer`` the one that
    is (``focus``). ``method`` becomes ``scanner`` when an ID card filled the name."""

    fields: tuple[str, ...]
    values: tuple[tuple[str, str], ...] = ()
    focus: str | None = None
    composer: Composer = field(default_factory=Composer)
    has_app: str | None = None
    direction: str = "in"
    method: str = "staff"
    problem: tuple[str, str] | None = None
    telex: bool = True
    id_last4: str | None = None  # from a scanned ID card: never shown, never more than 4

    def value(self, name: str) -> str:
        if name == self.focus:
            return self.composer.text
        return dict(self.values).get(name, "")

    def filled(self) -> dict[str, str]:
        """Every field with what it holds now, trimmed; empty ones left out."""
        found = {name: " ".join(self.value(name).split()) for name in self.fields}
        return {name: text for name, text in found.items() if text}


@dataclass(frozen=True)
class Editing:
    form: Form
    last_input: float


@dataclass(frozen=True)
class Recording:
    """Waiting for the Recorder's answer; ``form`` is where to go back if it refuses."""

    visitor: Visitor
    form: Form | None
    resume: Form | None = None  # a form that was open when a button or a card came


@dataclass(frozen=True)
class Confirmed:
    confirmation: Confirmation
    until: float
    resume: Form | None = None  # the form to go back to afterwards, as it was


@dataclass(frozen=True)
class Message:
    """A message for a while (``kind``: ``scan``, ``rejected``, ``direction``), then back to
    ``form`` if there was one."""

    kind: str
    vi: str
    en: str
    until: float
    form: Form | None = None


Screen = Editing | Recording | Confirmed | Message


@dataclass(frozen=True)
class CheckinFlow:
    screen: Screen | None = None
    direction: str = "in"
    keys: Buffer = field(default_factory=Buffer)

    @property
    def idle(self) -> bool:
        return self.screen is None and not self.keys.text


@dataclass(frozen=True)
class RecordCheckin:
    """Record this check-in (durable commit), then feed back the result."""

    visitor: Visitor


@dataclass(frozen=True)
class Feedback:
    """Green LED and short beep (``ok``), or the refusal pattern."""

    ok: bool


FlowEffect = RecordCheckin | Feedback
FlowEvent = ButtonPressed | KeyPressed | TextTyped | Tapped | CheckinRecorded | CheckinRejected
FlowStep = tuple[CheckinFlow, tuple[FlowEffect, ...]]


def deadline(flow: CheckinFlow) -> float | None:
    """When the flow needs a look without any input: a screen's end, or the moment pending
    keys stop being a possible scan."""
    times: list[float] = []
    if flow.keys.last_key_at is not None and flow.keys.text:
        times.append(flow.keys.last_key_at + allowed_gap(flow.keys, _patient(flow)))
    screen = flow.screen
    if isinstance(screen, Confirmed | Message):
        times.append(screen.until)
    elif isinstance(screen, Editing):
        times.append(screen.last_input + TIMEOUTS_S["form_idle"])
    return min(times) if times else None


def tick(flow: CheckinFlow, settings: CheckinSettings | None, now: float) -> FlowStep:
    """Time passed: keys that stopped short of a scan are typing; screens time out."""
    flow, effects = _flush_keys(flow, settings, now, force=False)
    screen = flow.screen
    if isinstance(screen, Confirmed) and now >= screen.until:
        flow = replace(flow, screen=_back_to(screen.resume, now))
    elif isinstance(screen, Message) and now >= screen.until:
        back = Editing(screen.form, now) if screen.form is not None else None
        flow = replace(flow, screen=back)
    elif isinstance(screen, Editing) and now >= screen.last_input + TIMEOUTS_S["form_idle"]:
        flow = replace(flow, screen=None)  # forget what an abandoned form held
    return flow, effects


def step(
    flow: CheckinFlow, event: FlowEvent, settings: CheckinSettings | None, now: float
) -> FlowStep:
    """One check-in event."""
    match event:
        case CheckinRecorded(confirmation=confirmation):
            return _recorded(flow, confirmation, now)
        case CheckinRejected(vi=vi, en=en):
            form = None
            if isinstance(flow.screen, Recording):
                form = flow.screen.form or flow.screen.resume
            message = Message("rejected", vi, en, now + TIMEOUTS_S["message"], form)
            return replace(flow, screen=message), (Feedback(False),)
    if isinstance(flow.screen, Recording):
        return flow, ()  # one check-in at a time (the Recorder answers within the turn)
    match event:
        case ButtonPressed(button=button):
            return _button(flow, button, settings, now)
        case TextTyped(text=text, since=since):
            return _typed(flow, text, settings, now, since)
        case KeyPressed(key=key, since=since):
            return _key(flow, key, settings, now, since)
        case Tapped(target=target):
            return _tapped(flow, target, settings, now)
    return flow, ()


# -- buttons -------------------------------------------------------------------------------


def _button(
    flow: CheckinFlow, button: str, settings: CheckinSettings | None, now: float
) -> FlowStep:
    if button == "direction":
        direction = "out" if flow.direction == "in" else "in"
        vi, en = ("Đang ghi: VÀO", "Now recording: IN") if direction == "in" else (
            "Đang ghi: RA", "Now recording: OUT")
        form = _open_form_of(flow)
        message = Message("direction", vi, en, now + TIMEOUTS_S["direction"], form)
        return replace(flow, direction=direction, screen=message), (Feedback(True),)
    if button not in ("has_app", "not_yet"):
        return flow, ()
    has_app = "yes" if button == "has_app" else "no"
    visitor = Visitor(flow.direction, "button", has_app)
    return _record(flow, visitor, None, settings, now, resume=_open_form_of(flow))


def _record(
    flow: CheckinFlow,
    visitor: Visitor,
    form: Form | None,
    settings: CheckinSettings | None,
    now: float,
    resume: Form | None = None,
) -> FlowStep:
    if settings is None:
        back = form or resume
        message = Message("rejected", *NOT_SET_UP, now + TIMEOUTS_S["message"], back)
        return replace(flow, screen=message), (Feedback(False),)
    return replace(flow, screen=Recording(visitor, form, resume)), (RecordCheckin(visitor),)


def _open_form_of(flow: CheckinFlow) -> Form | None:
    """The staff form that is open, perhaps under a message or a confirmation: a button
    press or a card scanned meanwhile must not lose what staff were typing."""
    screen = flow.screen
    if isinstance(screen, Editing):
        return screen.form
    if isinstance(screen, Message):
        return screen.form
    if isinstance(screen, Confirmed | Recording):
        return screen.resume
    return None


def _back_to(form: Form | None, now: float) -> Editing | None:
    return Editing(form, now) if form is not None else None


def _recorded(flow: CheckinFlow, confirmation: Confirmation, now: float) -> FlowStep:
    kind = "confirmed_not_yet" if confirmation.has_app == "no" else "confirmed"
    resume = flow.screen.resume if isinstance(flow.screen, Recording) else None
    screen = Confirmed(confirmation, now + TIMEOUTS_S[kind], resume)
    return replace(flow, screen=screen), (Feedback(True),)


# -- keyboard and scanner ------------------------------------------------------------------


def _typed(
    flow: CheckinFlow, text: str, settings: CheckinSettings | None, now: float,
    since: float | None = None,
) -> FlowStep:
    effects: tuple[FlowEffect, ...] = ()
    for char in text:
        if paused(flow.keys, now, since, _patient(flow)):
            flow, more = _flush_keys(flow, settings, now, force=True)
            effects += more
        keys, _ = feed(flow.keys, char, now, _patient(flow), since)
        flow = replace(flow, keys=keys)
    return flow, effects


def _patient(flow: CheckinFlow) -> bool:
    """No form is open: no typed key waits to be shown, so a burst may pause longer."""
    return not isinstance(flow.screen, Editing)


def _flush_keys(
    flow: CheckinFlow, settings: CheckinSettings | None, now: float, force: bool
) -> FlowStep:
    """Keys that did not end in Enter within a burst: a person's typing, or, when there are
    many of them at scanner speed, a scan cut short (explained, nothing kept)."""
    keys = flow.keys
    if not keys.text or keys.last_key_at is None:
        return flow, ()
    if not force and now - keys.last_key_at <= allowed_gap(keys, _patient(flow)):
        return flow, ()
    flow = replace(flow, keys=Buffer())
    if len(keys.text) >= MIN_LENGTH and scanner_pace(keys):
        return _scan_problem(flow, *PARTIAL_SCAN, now)
    return _type_into_form(flow, keys.text, settings, now)


def _key(flow: CheckinFlow, key: str, settings: CheckinSettings | None, now: float,
         since: float | None = None) -> FlowStep:
    """A key that types no text (letters arrive as ``TextTyped``, which a scanner sends too:
    their key presses are ignored here so they cannot break up a burst)."""
    if key not in COMMAND_KEYS:
        return flow, ()
    if key in ENTER_KEYS and flow.keys.text:
        keys, burst = feed(flow.keys, "\r", now)
        if burst is not None and not paused(flow.keys, now, since, _patient(flow)):
            return _scanned(replace(flow, keys=keys), burst.text, settings, now)
        flow, effects = _flush_keys(flow, settings, now, force=True)
        if isinstance(flow.screen, Message):
            return flow, effects
        more_flow, more = _key(flow, key, settings, now)
        return more_flow, effects + more
    flow, effects = _flush_keys(flow, settings, now, force=True)
    screen = flow.screen
    if key in OPEN_FORM_KEYS and not isinstance(screen, Editing):
        return _open_form(flow, settings, now), effects
    if not isinstance(screen, Editing):
        return flow, effects
    form = screen.form
    if key == "backspace" and form.focus is not None:
        form = replace(form, composer=form.composer.backspace())
    elif key in NEXT_KEYS:
        form = _next_field(form)
    elif key == "escape":
        return replace(flow, screen=None), effects
    else:
        return flow, effects
    return replace(flow, screen=Editing(form, now)), effects


def _scanned(
    flow: CheckinFlow, text: str, settings: CheckinSettings | None, now: float
) -> FlowStep:
    card = read_code(text)
    if not isinstance(card, CitizenCard):
        return _scan_problem(flow, card.message_vi, card.message_en, now)
    allowed = settings.fields() if settings is not None else ()
    if isinstance(flow.screen, Editing):
        form = flow.screen.form
        if "name" in allowed:
            form = _set_value(form, "name", card.name)
            form = replace(form, id_last4=card.id_last4)
        form = replace(form, method="scanner", problem=None)
        return replace(flow, screen=Editing(form, now)), (Feedback(True),)
    personal = {"name": card.name, "id_last4": card.id_last4} if "name" in allowed else {}
    visitor = Visitor(flow.direction, "scanner", "unknown", personal)
    return _record(flow, visitor, None, settings, now, resume=_open_form_of(flow))


def _scan_problem(flow: CheckinFlow, vi: str, en: str, now: float) -> FlowStep:
    form = flow.screen.form if isinstance(flow.screen, Editing) else None
    if form is None and isinstance(flow.screen, Message):
        form = flow.screen.form
    message = Message("scan", vi, en, now + TIMEOUTS_S["message"], form)
    return replace(flow, screen=message), (Feedback(False),)


# -- the form ------------------------------------------------------------------------------


def _open_form(flow: CheckinFlow, settings: CheckinSettings | None, now: float) -> CheckinFlow:
    fields = settings.fields() if settings is not None else ()
    form = Form(fields=fields, direction=flow.direction, focus=fields[0] if fields else None)
    return replace(flow, screen=Editing(form, now))


def _type_into_form(
    flow: CheckinFlow, text: str, settings: CheckinSettings | None, now: float
) -> FlowStep:
    if not isinstance(flow.screen, Editing):
        return flow, ()  # typing with no form open: stray keys (the form opens with F2 or a tap)
    form = flow.screen.form
    if form.focus is None:
        return replace(flow, screen=Editing(form, now)), ()
    form = replace(form, composer=_type(form, form.focus, text), problem=None)
    return replace(flow, screen=Editing(form, now)), ()


def _type(form: Form, name: str, text: str) -> Composer:
    composer = form.composer
    for char in text:
        if len(composer.text) >= MAX_FIELD_LENGTH:
            break
        if name == "phone":
            if char.isdigit() or (char == "+" and not composer.text):
                composer = Composer(composer.text + char)
        elif form.telex:
            composer = composer.type(char)
        else:
            composer = Composer(composer.text + char)
    return composer


def _set_value(form: Form, name: str, text: str) -> Form:
    values = dict(form.values)
    values[name] = text
    composer = Composer(text, text) if form.focus == name else form.composer
    return replace(form, values=tuple(values.items()), composer=composer)


def _focus(form: Form, name: str | None) -> Form:
    values = dict(form.values)
    if form.focus is not None:
        values[form.focus] = form.composer.text
    composer = Composer(values.get(name, ""), "") if name is not None else Composer()
    return replace(form, values=tuple(values.items()), focus=name, composer=composer)


def _next_field(form: Form) -> Form:
    if not form.fields:
        return form
    if form.focus not in form.fields:
        return _focus(form, form.fields[0])
    index = form.fields.index(form.focus) + 1
    return _focus(form, form.fields[index] if index < len(form.fields) else None)


def _tapped(
    flow: CheckinFlow, target: str, settings: CheckinSettings | None, now: float
) -> FlowStep:
    screen = flow.screen
    if target == "open_form":
        return (flow if isinstance(screen, Editing) else _open_form(flow, settings, now)), ()
    if target == "dismiss" and isinstance(screen, Confirmed | Message):
        back = screen.form if isinstance(screen, Message) else screen.resume
        return replace(flow, screen=_back_to(back, now)), ()
    if not isinstance(screen, Editing):
        return flow, ()
    return _form_tap(flow, screen.form, target, settings, now)


def _form_tap(
    flow: CheckinFlow, form: Form, target: str, settings: CheckinSettings | None, now: float
) -> FlowStep:
    kind, _, value = target.partition(":")
    if kind == "confirm":
        return _confirm(flow, form, settings, now)
    if kind == "cancel":
        return replace(flow, screen=None), ()
    if kind == "field" and value in form.fields:
        form = _focus(form, value)
    elif kind == "has_app" and value in HAS_APP:
        form = replace(form, has_app=value, problem=None)
    elif kind == "direction" and value in DIRECTIONS:
        form = replace(form, direction=value)
    elif kind == "key" and form.focus is not None:
        return _key_tap(flow, form, value, now)
    elif kind == "key" and value == "telex":
        form = replace(form, telex=not form.telex)
    else:
        return flow, ()
    return replace(flow, screen=Editing(form, now)), ()


def _key_tap(flow: CheckinFlow, form: Form, key: str, now: float) -> FlowStep:
    """A key of the on-screen keyboard."""
    focus = form.focus
    assert focus is not None
    if key == "backspace":
        form = replace(form, composer=form.composer.backspace())
    elif key == "space":
        form = replace(form, composer=_type(form, focus, " "))
    elif key == "telex":
        form = replace(form, telex=not form.telex)
    elif key == "next":
        form = _next_field(form)
    elif len(key) == 1:
        form = replace(form, composer=_type(form, focus, key), problem=None)
    return replace(flow, screen=Editing(form, now)), ()


def form_problem(form: Form) -> tuple[str, str] | None:
    """What keeps the form from being recorded, in both languages; None when it may be."""
    filled = form.filled()
    if form.has_app is None:
        return ("Vui lòng chọn: khách đã có ứng dụng chưa?",
                "Please answer: does the visitor have the app?")
    if "name" in form.fields and "name" not in filled:
        return "Vui lòng nhập họ và tên.", "Please enter the name."
    phone = filled.get("phone")
    if phone is not None and not _PHONE.fullmatch(phone):
        return "Số điện thoại không hợp lệ.", "The phone number is not valid."
    return None


def _confirm(
    flow: CheckinFlow, form: Form, settings: CheckinSettings | None, now: float
) -> FlowStep:
    problem = form_problem(form)
    if problem is not None:
        return replace(flow, screen=Editing(replace(form, problem=problem), now)), (
            Feedback(False),)
    assert form.has_app is not None
    personal = form.filled()
    if form.id_last4 and personal.get("name"):
        personal["id_last4"] = form.id_last4
    visitor = Visitor(form.direction, form.method, form.has_app, personal)
    return _record(replace(flow, direction=form.direction), visitor, form, settings, now)


def mask(name: str, value: str) -> str:
    """What the screen shows of a value nobody is typing: initials of a name (``N. V. A.``),
    the last three digits of a phone, the first letter of anything else."""
    if not value:
        return ""
    if name == "name":
        return " ".join(f"{word[0]}." for word in value.split())
    if name == "phone":
        return "•" * max(0, len(value) - 3) + value[-3:]
    return value[0] + "•" * min(8, len(value) - 1)
