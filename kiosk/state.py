"""The screen loop as a pure state machine: ``step(state, event, now) -> (state, effects)``.

No I/O and no clock here (STYLE.md habits 5 and 6): the player reads the time, feeds events
in, and carries out the effects (open a file, put a showing on screen, close it, report a
play). That keeps every rule about what plays when testable as a table.

The rules:

- One item is on screen (``current``) and the next one is already chosen and being opened
  (``upcoming``), so that it is ready — its first frame decoded — before the current ends.
- The current item ends at its planned time, or when its media runs out (``MediaEnded``).
  If the next one is not ready yet, the current one stays (its last frame holds): the screen
  is never blank.
- A new manifest becomes ``pending``; the upcoming item is chosen again from it, and it takes
  effect at the next item boundary.
- Items are chosen in playlist order among those the schedule allows at the moment of
  choosing; when none is, the default content plays; when a file fails, it is skipped until
  the next manifest, and when everything failed the built-in slides play.
- Check-ins (``kiosk.checkin_flow``) run beside the loop: buttons, scans, typing and taps
  go to the flow, whose screens take the main zone while they last; the loop goes on under
  them.
- Screen sleep (only with a motion sensor: ``sleep_after_s`` is None without one, and then
  the screen never sleeps): after ``sleep_after_s`` with no motion and no input, and with no
  check-in screen up, the screen goes black (``ScreenPower(False)``) and nothing plays. The
  item on screen is reported as played for the time it really was on screen, and released
  with the one being opened; nothing is reported while asleep. Motion, a button, a key, a
  scan or a tap wakes it at once (``ScreenPower(True)``); the loop then opens its next item
  as at start-up. A button press or a scan also does what it does awake (it records its
  check-in); a tap only wakes (nobody saw what it hit).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from kiosk import checkin_flow
from kiosk.checkin import CheckinSettings
from kiosk.checkin_flow import CheckinFlow, Feedback, RecordCheckin
from kiosk.events import (
    ButtonPressed,
    CheckinRecorded,
    CheckinRejected,
    Event,
    KeyPressed,
    ManifestReady,
    MediaEnded,
    MediaFailed,
    Motion,
    Quit,
    SyncStatus,
    Tapped,
    TextTyped,
    Tick,
)
from kiosk.manifest import Item, ManifestError, Programme, builtin_slides, parse_manifest
from kiosk.schedule import is_playable, pick

SKIP_KEYS = frozenset({"right", "page down"})  # staff can step through the loop


@dataclass(frozen=True)
class Moment:
    """Now, twice: ``mono`` (monotonic seconds) times durations, ``wall`` (unix seconds of the
    device clock) is what schedules and play records are about."""

    mono: float
    wall: float


@dataclass(frozen=True)
class MediaReady:
    """The upcoming showing's first picture is decoded: it can go on screen at once."""

    serial: int


@dataclass(frozen=True)
class Showing:
    """An item chosen to be shown; ``serial`` names this one showing of it."""

    serial: int
    item: Item
    index: int
    from_default: bool
    programme: Programme


@dataclass(frozen=True)
class OnScreen:
    showing: Showing
    since_mono: float
    since_wall: float
    until_mono: float | None  # planned end; None: until the media ends


@dataclass(frozen=True)
class Counters:
    shown: int = 0
    skipped: int = 0
    failed: int = 0
    manifests: int = 0


@dataclass(frozen=True)
class PlayerState:
    programme: Programme
    defaults: tuple[Item, ...]
    pending: Programme | None = None
    current: OnScreen | None = None
    upcoming: Showing | None = None
    upcoming_ready: bool = False
    overdue: bool = False
    failed: frozenset[str] = frozenset()
    serial: int = 0
    online: bool = False
    clock_offset_s: float | None = None
    sync_error: str | None = None
    counters: Counters = Counters()
    stopped: bool = False
    checkin: CheckinFlow = field(default_factory=CheckinFlow)
    sleep_after_s: float | None = None  # None: never sleep (no motion sensor)
    last_activity: float | None = None  # monotonic time of the last motion or input
    asleep: bool = False
    slept_after: Showing | None = None  # what was on screen when it went to sleep

    def venue_time(self, now: Moment) -> datetime:
        """The best known time (device clock corrected by the server's), as an aware UTC
        datetime: what schedules and the bar's clock use."""
        return datetime.fromtimestamp(now.wall + (self.clock_offset_s or 0.0), UTC)


@dataclass(frozen=True)
class Open:
    """Start opening the showing's media (video: decode its first frame) in the background."""

    showing: Showing


@dataclass(frozen=True)
class Show:
    """Put this showing on screen now."""

    showing: Showing


@dataclass(frozen=True)
class Close:
    """Release the media of a showing that is gone or was never shown."""

    serial: int


@dataclass(frozen=True)
class Played:
    """An item finished showing: journal it (proof of play)."""

    item: Item
    started_wall: float
    duration_ms: int
    manifest_version: str | None


@dataclass(frozen=True)
class ScreenPower:
    """Blank the screen and switch the display off (``on`` False), or back on."""

    on: bool


@dataclass(frozen=True)
class Note:
    """A state change worth one log line."""

    message: str


Effect = Open | Show | Close | Played | ScreenPower | Note | RecordCheckin | Feedback
Step = tuple[PlayerState, tuple[Effect, ...]]


def initial_state(
    defaults: tuple[Item, ...],
    programme: Programme | None = None,
    sleep_after_s: float | None = None,
) -> PlayerState:
    """Before any manifest: the default content, under an empty programme. ``sleep_after_s``
    (seconds without motion before the screen sleeps) is for kiosks with a motion sensor
    only: None or 0 means the screen never sleeps."""
    return PlayerState(
        programme=programme or Programme(),
        defaults=defaults or builtin_slides(),
        sleep_after_s=sleep_after_s or None,
    )


def step(state: PlayerState, event: Event | MediaReady, now: Moment) -> Step:
    """Apply one event, then move the loop along (open the next item, switch at the end)."""
    if state.stopped:
        return state, ()
    was_asleep, was_busy = state.asleep, not state.checkin.idle
    state, woken = _wake(state, event, now)
    if was_asleep and isinstance(event, Tapped):
        effects: tuple[Effect, ...] = ()  # a tap on a black screen only wakes it
    else:
        state, effects = _handle(state, event, now)
    if state.stopped:
        return state, woken + effects
    state, slept = _sleep(state, now, was_busy)
    if state.asleep:
        return state, woken + effects + slept
    state, more = _advance(state, now)
    return state, woken + effects + more


WAKING = (Motion, ButtonPressed, KeyPressed, TextTyped, Tapped)


def _wake(state: PlayerState, event: Event | MediaReady, now: Moment) -> Step:
    """Motion or any input: someone is there. The quiet period starts again, and a sleeping
    screen comes back on."""
    if not isinstance(event, WAKING):
        return state, ()
    if not state.asleep:
        return replace(state, last_activity=now.mono), ()
    state = replace(state, last_activity=now.mono, asleep=False)
    return state, (ScreenPower(True), Note(f"screen awake ({type(event).__name__})"))


def _sleep(state: PlayerState, now: Moment, was_busy: bool) -> Step:
    """The screen sleeps once nobody moved or touched anything for ``sleep_after_s``, and
    never while a check-in screen is up (a form, a confirmation, the install QR): the quiet
    period counts from the end of the check-in."""
    if state.sleep_after_s is None or state.asleep:
        return state, ()
    if state.last_activity is None or was_busy or not state.checkin.idle:
        return replace(state, last_activity=now.mono), ()
    if now.mono - state.last_activity < state.sleep_after_s:
        return state, ()
    effects: tuple[Effect, ...] = ()
    if state.upcoming is not None:
        effects += (Close(state.upcoming.serial),)
    if state.current is not None:  # played for as long as it really was on screen
        effects += _played(state.current, now), Close(state.current.showing.serial)
    slept_after = state.current.showing if state.current is not None else state.slept_after
    state = replace(state, asleep=True, current=None, upcoming=None, upcoming_ready=False,
                    overdue=False, slept_after=slept_after)
    return state, (*effects, ScreenPower(False), Note("screen asleep (no motion)"))


def _handle(state: PlayerState, event: Event | MediaReady, now: Moment) -> Step:
    match event:
        case Quit():
            return _stop(state, now)
        case SyncStatus(online=online, clock_offset_s=offset, last_error=error):
            return replace(state, online=online, clock_offset_s=offset, sync_error=error), ()
        case ManifestReady():
            return _manifest(state, event)
        case MediaReady(serial=serial):
            ready = state.upcoming is not None and state.upcoming.serial == serial
            return (replace(state, upcoming_ready=True) if ready else state), ()
        case MediaEnded(serial=serial):
            return _end_current(state, serial), ()
        case MediaFailed(serial=serial, reason=reason):
            return _failed(state, serial, reason)
        case ButtonPressed() | TextTyped() | Tapped() | CheckinRecorded() | CheckinRejected():
            return _checkin(state, event, now)
        case KeyPressed(key=key) if not state.checkin.idle or key in checkin_flow.OPEN_FORM_KEYS:
            return _checkin(state, event, now)
        case KeyPressed(key=key) if key in SKIP_KEYS and state.current is not None:
            counters = replace(state.counters, skipped=state.counters.skipped + 1)
            return replace(state, overdue=True, counters=counters), (Note(f"skip ({key})"),)
        case Tick():
            return _checkin_tick(state, now)
        case KeyPressed():
            return state, ()
    return state, ()


def _checkin(state: PlayerState, event: checkin_flow.FlowEvent, now: Moment) -> Step:
    flow, effects = checkin_flow.step(state.checkin, event, checkin_settings(state), now.mono)
    return replace(state, checkin=flow), effects


def _checkin_tick(state: PlayerState, now: Moment) -> Step:
    if state.checkin == CheckinFlow(direction=state.checkin.direction):
        return state, ()
    flow, effects = checkin_flow.tick(state.checkin, checkin_settings(state), now.mono)
    return replace(state, checkin=flow), effects


def checkin_settings(state: PlayerState) -> CheckinSettings | None:
    """The venue's check-in settings from the newest manifest: unlike the playlist, a new
    privacy mode applies to the next visitor at once, not at the next item boundary."""
    return (state.pending or state.programme).checkin


def _advance(state: PlayerState, now: Moment) -> Step:
    effects: tuple[Effect, ...] = ()
    current = state.current
    until = current.until_mono if current else None
    if until is not None and not state.overdue and now.mono >= until:
        state = replace(state, overdue=True)
    if state.upcoming is None:
        state, effects = _choose_upcoming(state, now)
    if (state.current is None or state.overdue) and state.upcoming_ready:
        state, switched = _switch(state, now)
        effects += switched
    return state, effects


def _switch(state: PlayerState, now: Moment) -> Step:
    """The upcoming showing goes on screen; the previous one is reported and released."""
    assert state.upcoming is not None
    incoming = state.upcoming
    effects: tuple[Effect, ...] = ()
    if state.current is not None:
        effects += _played(state.current, now), Close(state.current.showing.serial)
    effects += (Show(incoming),)
    programme = incoming.programme
    changed = programme is not state.programme
    if changed:
        effects += (Note(f"manifest {programme.version} in effect"),)
    duration = incoming.item.duration_s
    state = replace(
        state,
        programme=programme,
        pending=None if state.pending is programme else state.pending,
        current=OnScreen(
            incoming, now.mono, now.wall, now.mono + duration if duration is not None else None
        ),
        upcoming=None,
        upcoming_ready=False,
        overdue=False,
        slept_after=None,
        counters=replace(state.counters, shown=state.counters.shown + 1),
    )
    state, opened = _choose_upcoming(state, now)
    return state, effects + opened


def _played(on_screen: OnScreen, now: Moment) -> Played:
    showing = on_screen.showing
    return Played(
        item=showing.item,
        started_wall=on_screen.since_wall,
        duration_ms=max(0, round((now.mono - on_screen.since_mono) * 1000)),
        manifest_version=showing.programme.version,
    )


def _choose_upcoming(state: PlayerState, now: Moment) -> Step:
    """Choose the item after the current one and ask for it to be opened."""
    programme = state.pending or state.programme
    when = state.venue_time(now)

    def allowed(item: Item) -> bool:
        return item.key not in state.failed and is_playable(item.schedule, when, programme.zone)

    def usable(item: Item) -> bool:
        return item.key not in state.failed

    current = state.current.showing if state.current else state.slept_after
    same_list = current is not None and current.programme is programme
    after = current.index if same_list and current and not current.from_default else -1
    index = pick(programme.items, after, allowed)
    if index is not None:
        return _open(state, programme, programme.items, index, from_default=False)
    defaults = state.defaults
    after = current.index if current and current.from_default else -1
    index = pick(defaults, after, allowed)
    if index is None:  # the default content plays whatever its schedules say
        index = pick(defaults, after, usable)
    if index is None:  # every default file failed: the slides need no file
        defaults = builtin_slides(programme.qr)
        state = replace(state, defaults=defaults)
        index = pick(defaults, after if after < len(defaults) else -1, usable)
    assert index is not None
    return _open(state, programme, defaults, index, from_default=True)


def _open(
    state: PlayerState,
    programme: Programme,
    items: tuple[Item, ...],
    index: int,
    from_default: bool,
) -> Step:
    serial = state.serial + 1
    showing = Showing(serial, items[index], index, from_default, programme)
    return replace(state, upcoming=showing, upcoming_ready=False, serial=serial), (Open(showing),)


def _manifest(state: PlayerState, event: ManifestReady) -> Step:
    try:
        programme = parse_manifest(event.manifest, event.resolve)
    except ManifestError as exc:
        return state, (Note(f"manifest ignored: {exc}"),)
    counters = replace(state.counters, manifests=state.counters.manifests + 1)
    state = replace(state, pending=programme, counters=counters, failed=frozenset())
    effects: tuple[Effect, ...] = (Note(f"manifest {programme.version} pending"),)
    if state.upcoming is not None:  # choose again from the new manifest
        effects += (Close(state.upcoming.serial),)
        state = replace(state, upcoming=None, upcoming_ready=False)
    return state, effects


def _end_current(state: PlayerState, serial: int) -> PlayerState:
    if state.current is None or state.current.showing.serial != serial:
        return state
    return replace(state, overdue=True)


def _failed(state: PlayerState, serial: int, reason: str) -> Step:
    """A file that cannot be played is skipped, and not retried until the next manifest.

    A failing upcoming item is released and another chosen; a current one that fails midway
    ends now (the switch releases it).
    """
    upcoming, current = state.upcoming, state.current
    effects: tuple[Effect, ...] = ()
    if upcoming is not None and upcoming.serial == serial:
        item = upcoming.item
        state = replace(state, upcoming=None, upcoming_ready=False)
        effects += (Close(serial),)
    elif current is not None and current.showing.serial == serial:
        item = current.showing.item
        state = replace(state, overdue=True)
    else:
        return state, ()
    counters = replace(state.counters, failed=state.counters.failed + 1)
    state = replace(state, failed=state.failed | {item.key}, counters=counters)
    return state, (*effects, Note(f"item {item.id} ({item.kind}) skipped: {reason}"))


def _stop(state: PlayerState, now: Moment) -> Step:
    """Release everything; the item cut short still counts as played for as long as it was."""
    effects: tuple[Effect, ...] = ()
    if state.upcoming is not None:
        effects += (Close(state.upcoming.serial),)
    if state.current is not None:
        effects += _played(state.current, now), Close(state.current.showing.serial)
    return replace(state, stopped=True, upcoming=None, current=None), effects
