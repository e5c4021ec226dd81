"""The screen loop: one thread owns pygame, takes events, steps the state, runs the effects.

Each turn of the loop: take the events that arrived (sync thread, keyboard, window), ask the
media being opened or played whether they are ready or finished, let ``kiosk.state.step``
decide, carry out its effects (open the next item's media, put a showing on screen, release
one, report a play), draw if anything changed, and sleep until the next frame is due or an
event arrives. A failure inside one turn is logged and the last good picture stays.

Measured here, for the heartbeat and the benchmark: late video frames, frames per second,
the time to the first item on screen, and the gap at each transition — how long after the
outgoing item was due to end the incoming item's first frame appeared (0 is perfect; the
issue's "one frame interval (33.4 ms)" counts the last frame's own interval on top of it).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from kiosk.bar import BarContent, bar_content, install_url
from kiosk.checkin import CheckinError, CheckinSettings, Confirmation, Visitor
from kiosk.checkin_flow import Confirmed, Editing, Feedback, Message, RecordCheckin, deadline
from kiosk.display import BACKGROUND, Display, Slide, Source
from kiosk.display_options import DisplayOptions
from kiosk.events import (
    CheckinRecorded,
    CheckinRejected,
    Event,
    MediaEnded,
    MediaFailed,
    PlayRecord,
    Quit,
    Tick,
)
from kiosk.ids import new_client_uuid
from kiosk.manifest import Item, Programme, load_default
from kiosk.memory import keep_heap_small
from kiosk.picture import PictureSource
from kiosk.playback_meter import CurrentItem, PlaybackMeter, PlayerStatus, Transition
from kiosk.screen_power import ScreenSwitch
from kiosk.snapshot import Snapshots
from kiosk.state import (
    Close,
    Effect,
    MediaReady,
    Moment,
    Note,
    OnScreen,
    Open,
    Played,
    PlayerState,
    ScreenPower,
    Show,
    Showing,
    checkin_settings,
    initial_state,
    step,
)
from kiosk.video import VideoSource
from kiosk.watchdog import Notifier

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0  # media not ready after this long is skipped as broken
IDLE_WAKE_S = 0.25  # the longest sleep: window events and the stop flag are checked this often
DECODER_POLL_S = 0.004  # how often to look again when the decoder has not caught up
NOMINAL_INTERVAL_S = 1 / 30  # the reference frame interval when neither side is a video
#: With check-ins set up, keyboard and touch input is looked at this often even when nothing
#: else is due: the time a key is seen is what tells a scanner's burst (keys 1-20 ms apart)
#: from a person's typing (80 ms and more), and the end of a scan waits at most this long.
#: While nothing of a check-in is going on, less often: measured on the 2-core development
#: machine with a still poster on screen, the loop costs 0.13 % of a core without input
#: polling, 1.3 % polling every 25 ms, 3.1 % every 10 ms.
INPUT_POLL_S = 0.01
IDLE_INPUT_POLL_S = 0.02
RECORD_FAILED = ("Không ghi nhận được. Vui lòng báo nhân viên.",
                 "The check-in could not be recorded. Please tell the staff.")


class CheckinRecorder(Protocol):
    """What the player needs of ``kiosk.checkin.Recorder``."""

    def record(self, visitor: Visitor, wall: float) -> Confirmation: ...

    def use(self, settings: CheckinSettings | None) -> None: ...


class CheckinFeedback(Protocol):
    """What the player needs of ``kiosk.hardware``: the green LED and beep, or the refusal."""

    def confirm(self) -> None: ...

    def refuse(self) -> None: ...


class Player:
    """The screen. ``run`` blocks (call it from the thread that may own pygame); ``status``
    and ``latest_png`` may be called from any other thread."""

    def __init__(
        self,
        display_options: DisplayOptions,
        events: queue.Queue[Any],
        on_play: Callable[[PlayRecord], None],
        clock: Callable[[], float] = time.time,
        *,
        presence_secret: bytes | None = None,
        kiosk_id: int | None = None,
        default_content: Path | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        notifier: Notifier | None = None,
        recorder: CheckinRecorder | None = None,
        feedback: CheckinFeedback | None = None,
        sleep_after_s: float | None = None,
        screen_switch: ScreenSwitch | None = None,
    ) -> None:
        self.options = display_options
        self.events = events
        self._on_play = on_play
        self._clock = clock
        self._monotonic = monotonic
        self._presence_secret = presence_secret
        self._kiosk_id = kiosk_id
        self._default_content = default_content
        self._notifier = notifier or Notifier({})
        self._lock = threading.Condition()
        self._running = False
        self._snapshots = Snapshots(display_options.screenshot, display_options.screenshot_every)
        self.meter = PlaybackMeter(monotonic())
        self._last_error: str | None = None
        self._looked: float | None = None  # the last turn's look at the input (monotonic)
        self._state: PlayerState | None = None
        self._screen: _Screen | None = None
        self._recorder = recorder
        self._feedback = feedback
        self._recorder_settings: CheckinSettings | None = None
        self._confirmed: tuple[str, float] | None = None
        self._sleep_after = sleep_after_s or None  # only with a motion sensor (kiosk.state)
        self._screen_switch = screen_switch or ScreenSwitch()

    # -- the interface for other threads -------------------------------------------------

    def status(self) -> PlayerStatus:
        with self._lock:
            state, screen = self._state, self._screen
            late = 0
            if screen is not None and isinstance(screen.source, VideoSource):
                late = screen.source.late
            item = state.current.showing.item if state and state.current else None
            running = self._running
            error = self._last_error
        figures = self.meter.figures(late)
        return PlayerStatus(
            running=running,
            current_item=_current_item(item),
            manifest_version=state.programme.version if state else None,
            late_frames=figures.late_frames,
            frames_shown=figures.frames_shown,
            fps=figures.fps,
            items_shown=state.counters.shown if state else 0,
            items_failed=state.counters.failed if state else 0,
            transitions=figures.transitions,
            first_frame_s=figures.first_frame_s,
            last_error=error,
            screen_asleep=bool(state and state.asleep),
        )

    def transitions(self) -> list[Transition]:
        """Every item boundary measured so far (the last thousand)."""
        return self.meter.transitions()

    def last_confirmation(self) -> tuple[str, float] | None:
        """The client UUID of the last check-in confirmed on screen, and the monotonic time
        its first frame was presented (for the ``checkin_latency`` benchmark)."""
        with self._lock:
            return self._confirmed

    def checkin_view(self) -> object | None:
        """The check-in screen showing now (``kiosk.checkin_flow``), None when idle: for the
        benchmark to say why a check-in was not confirmed."""
        with self._lock:
            return self._state.checkin.screen if self._state else None

    def latest_png(self, max_width: int = 480) -> bytes | None:
        """A PNG of what is on screen, at most ``max_width`` wide; None before the first
        picture. The screen thread takes a new copy when asked (at most one every few
        seconds); the PNG is compressed here, in the caller's thread."""
        return self._snapshots.latest_png(max_width)

    # -- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, max_seconds: float | None = None) -> None:
        """Show the loop until ``stop`` is set, a ``Quit`` event arrives or ``max_seconds``
        have passed."""
        started = self._monotonic()
        self.meter = PlaybackMeter(started)
        keep_heap_small()
        display = Display(self.options)
        display.open()
        self._snapshots.start(started)
        screen = _Screen(display, self._snapshots, started)
        with self._lock:
            self._state = initial_state(
                load_default(self._default_content), sleep_after_s=self._sleep_after
            )
            self._screen, self._running = screen, True
        log.info("player started")
        try:
            while not self._done(stop, max_seconds, started):
                self._turn(screen)
        finally:
            self._shut_down(screen)

    def _done(
        self, stop: threading.Event | None, max_seconds: float | None, started: float
    ) -> bool:
        assert self._state is not None
        if self._state.stopped or (stop is not None and stop.is_set()):
            return True
        return max_seconds is not None and self._monotonic() - started >= max_seconds

    def _turn(self, screen: _Screen) -> None:
        """One turn of the loop; the only place a failure is caught broadly."""
        try:
            now = self._now()
            since, self._looked = self._looked, now.mono
            for event in [*screen.inbox, *self._drain(), *screen.display.poll(since)]:
                self._step(event, now)
            screen.inbox.clear()
            self._poll_media(screen, now)
            self._step(Tick(), now)
            self._draw(screen, self._now())
            self._after_draw(screen)
            self._tell_systemd()
            self._wait(screen)
        except Exception as exc:  # keep the last good picture on screen, whatever happened
            message = f"{type(exc).__name__}: {exc}"
            if message != self._last_error:
                log.exception("screen loop: %s", message)
            with self._lock:
                self._last_error = message
            screen.inbox.clear()
            time.sleep(0.1)

    def _tell_systemd(self) -> None:
        """READY once something is on screen; WATCHDOG from every healthy turn, so a frozen
        loop (not just a dead process) gets the kiosk restarted."""
        if not self._notifier.is_ready and self.meter.figures(0).first_frame_s is not None:
            self._notifier.ready()
        self._notifier.ping()

    def _now(self) -> Moment:
        return Moment(self._monotonic(), self._clock())

    def _drain(self) -> list[Event]:
        events: list[Event] = []
        while True:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                return events

    def _step(self, event: Event | MediaReady, now: Moment) -> None:
        assert self._state is not None
        state, effects = step(self._state, event, now)
        with self._lock:
            self._state = state
        settings = checkin_settings(state)
        if self._recorder is not None and settings is not self._recorder_settings:
            self._recorder_settings = settings
            self._recorder.use(settings)
        for effect in effects:
            self._apply(effect, now)

    # -- effects -------------------------------------------------------------------------

    def _apply(self, effect: Effect, now: Moment) -> None:
        screen = self._screen
        assert screen is not None
        match effect:
            case Open(showing=showing):
                screen.deferred.append(showing)
                if self._state is None or self._state.current is None:
                    self._open_deferred(screen)  # nothing on screen to protect: start now
            case Show(showing=showing):
                self._show(screen, showing.serial, now)
            case Close(serial=serial):
                self._close(screen, serial)
            case Played():
                self._on_play(_record(effect))
            case ScreenPower(on=on):
                self._screen_power(screen, on)
            case Note(message=message):
                log.info("%s", message)
            case RecordCheckin(visitor=visitor):
                self._step(self._record_checkin(visitor, now), now)
            case Feedback(ok=ok):
                self._give_feedback(ok)

    def _screen_power(self, screen: _Screen, on: bool) -> None:
        """Asleep: nothing is on screen any more (the state already released its media, so
        no decoder runs), the next draw is black, and the display is switched off in the
        background. Awake: the display is switched on; the loop opens its next item."""
        if not on:
            with self._lock:
                if isinstance(screen.source, VideoSource):
                    self.meter.clip_done(screen.source.late)
                screen.on_screen = screen.source = None
            screen.pending_gap = None
        screen.blanked = False
        self._screen_switch.set(on)

    def _record_checkin(self, visitor: Visitor, now: Moment) -> Event:
        """Record one check-in (the Recorder returns after the durable commit) and say how
        it went. Personal data never reaches the log: only the kind of failure does."""
        if self._recorder is None:
            return CheckinRejected(*RECORD_FAILED)
        try:
            return CheckinRecorded(self._recorder.record(visitor, now.wall))
        except CheckinError as exc:
            return CheckinRejected(exc.vi, exc.en)
        except Exception as exc:  # the journal failed (disk full, ...): say so on screen
            log.error("check-in not recorded: %s", type(exc).__name__)
            return CheckinRejected(*RECORD_FAILED)

    def _give_feedback(self, ok: bool) -> None:
        if self._feedback is None:
            return
        try:
            self._feedback.confirm() if ok else self._feedback.refuse()
        except Exception as exc:  # a buzzer must not stop the screen
            log.warning("feedback failed: %s", exc)

    def _after_draw(self, screen: _Screen) -> None:
        """Work for the next item, done once this turn's picture is on screen: opening its
        media (painting a slide, starting a decoder) and, once it is ready, making its
        texture. Either would otherwise hold back a frame or an item's first picture."""
        self._open_deferred(screen)
        self._paint_ahead(screen)
        while screen.to_prepare:
            source = screen.sources.get(screen.to_prepare.pop())
            if source is not None:
                screen.display.prepare(source)
        self._warm_upcoming(screen)

    def _warm_upcoming(self, screen: _Screen) -> None:
        """The next clip decodes on once the current clip's decoder is done with its file:
        two decoders open side by side would hold tens of megabytes (``kiosk.video``)."""
        upcoming = self._state.upcoming if self._state else None
        source = screen.sources.get(upcoming.serial) if upcoming else None
        current = screen.source
        if isinstance(source, VideoSource) and (
            not isinstance(current, VideoSource) or current.decoded
        ):
            source.warm()

    def _paint_ahead(self, screen: _Screen) -> None:
        """The confirmations a button press can bring (this direction; has the app or not
        yet) are painted ahead, one per turn: the press then costs the durable commit and
        one frame. Two main-zone pictures are kept (about 13 MB at 1080p); a named
        confirmation is painted when it comes.

        Painting one takes 20-85 ms at 1080p on the development machine, and a press that
        arrives meanwhile waits for it: so it is done while nothing of a check-in or only a
        confirmation or message is on screen (at a busy entrance one confirmation follows
        another, and "not yet" was then painted on every press), never while staff type into
        the form or a check-in is being recorded, and not in a turn that has an event
        waiting (``_input_waiting``)."""
        state = self._state
        assert state is not None
        programme = state.pending or state.programme
        if programme.checkin is None or not isinstance(
            state.checkin.screen, Confirmed | Message | None
        ):
            return
        wanted = {}
        for has_app in ("yes", "no"):
            view = Confirmed(Confirmation("", state.checkin.direction, has_app, None, None), 0.0)
            wanted[_slide_key(view, programme)] = view
        for key in [k for k in screen.painted if k not in wanted]:
            screen.display.release(screen.painted.pop(key))
        missing = [key for key in wanted if key not in screen.painted]
        if missing and not self._input_waiting(screen):
            view = wanted[missing[0]]
            slide = screen.display.checkin_slide(view, programme, install_url(programme.qr, None))
            if state.checkin.screen is None:  # painting set the taps of the slide painted
                screen.display.checkin_closed()
            else:  # a confirmation or a message: tapping anywhere still closes it
                screen.display.checkin_targets(state.checkin.screen)
            screen.display.prepare(slide)
            screen.painted[missing[0]] = slide

    def _input_waiting(self, screen: _Screen) -> bool:
        """An event from another thread (a button, the sync) or from the window (a key, a
        tap) came in during this turn: the next turn takes it before any painting ahead."""
        return not self.events.empty() or screen.display.input_waiting()

    def _open_deferred(self, screen: _Screen) -> None:
        while screen.deferred:
            showing = screen.deferred.pop(0)
            state = self._state
            if state is None or state.upcoming is None or state.upcoming.serial != showing.serial:
                continue  # replaced before it was opened (a new manifest)
            link = install_url(showing.programme.qr, showing.item)
            screen.display.qr_codes.prefetch(link)
            screen.sources[showing.serial] = self._open(screen.display, showing.item, link)
            screen.opened_at[showing.serial] = self._monotonic()
            log.debug("opening item %s (%s)", showing.item.id, showing.item.kind)

    def _open(self, display: Display, item: Item, install_link: str) -> Source:
        if item.kind == "video" and item.path is not None:
            return VideoSource(item.path)
        if item.kind == "image" and item.path is not None:
            main = display.layout.main
            return PictureSource(item.path, (main.w, main.h), BACKGROUND)
        return display.slide(item, install_link)

    def _show(self, screen: _Screen, serial: int, now: Moment) -> None:
        assert self._state is not None and self._state.current is not None
        source = screen.sources[serial]
        outgoing = screen.on_screen
        due = _due_end(outgoing, screen.source, now.mono) if outgoing else None
        ready_at = screen.ready_at.pop(serial, now.mono)
        gap = (outgoing, screen.source, due, ready_at) if outgoing and due is not None else None
        screen.pending_gap = gap
        source.start(now.mono)
        with self._lock:
            if isinstance(screen.source, VideoSource):
                self.meter.clip_done(screen.source.late)
            screen.on_screen, screen.source = self._state.current, source
        item = self._state.current.showing.item
        log.debug("showing item %s (%s)", item.id, item.kind)

    def _close(self, screen: _Screen, serial: int) -> None:
        source = screen.sources.pop(serial, None)
        screen.opened_at.pop(serial, None)
        screen.ready_at.pop(serial, None)
        if source is None:
            return
        source.close()
        screen.display.release(source)

    # -- media readiness -----------------------------------------------------------------

    def _poll_media(self, screen: _Screen, now: Moment) -> None:
        """Turn what the media threads found out into events, each reported once."""
        state = self._state
        assert state is not None
        upcoming = state.upcoming
        if upcoming is not None and not state.upcoming_ready:
            source = screen.sources.get(upcoming.serial)
            opened = screen.opened_at.get(upcoming.serial, now.mono)
            if source is not None and source.error:
                self._step(MediaFailed(upcoming.serial, source.error), now)
            elif source is not None and source.ready:
                screen.ready_at[upcoming.serial] = now.mono
                screen.to_prepare.append(upcoming.serial)
                self._step(MediaReady(upcoming.serial), now)
            elif now.mono - opened > OPEN_TIMEOUT_S:
                reason = f"not ready in {OPEN_TIMEOUT_S:.0f} s"
                self._step(MediaFailed(upcoming.serial, reason), now)
        current = self._state.current if self._state else None
        source = screen.source
        if current is None or not isinstance(source, VideoSource):
            return
        serial = current.showing.serial
        if serial in screen.reported:
            return
        if source.error:
            screen.reported.add(serial)
            self._step(MediaFailed(serial, source.error), now)
        elif source.ended(now.mono):
            screen.reported.add(serial)
            self._step(MediaEnded(serial), now)

    # -- drawing -------------------------------------------------------------------------

    def _draw(self, screen: _Screen, now: Moment) -> None:
        state = self._state
        assert state is not None
        if state.checkin.screen is not None or screen.checkin is not None:
            self._draw_checkin(screen, state, now)
            if state.checkin.screen is not None:
                return
        if state.asleep:
            self._draw_asleep(screen, now)
            return
        source = screen.source
        frame = source.frame_due(now.mono) if isinstance(source, VideoSource) else None
        bar = self._bar(screen, state, now)
        capture = screen.snapshots.due(now.mono)
        new_source = source is not screen.drawn_source
        if frame is None and not new_source and bar == screen.drawn_bar and not capture:
            return
        if bar != screen.drawn_bar:
            self._prefetch_presence(state, now, screen)
        shot = screen.display.render(source, frame, bar, capture=capture)
        shown_at = self._monotonic()
        screen.drawn_source, screen.drawn_bar = source, bar
        new_item = new_source and source is not None
        self.meter.shown(shown_at, frame is not None, new_item)
        if new_item and screen.pending_gap is not None:
            self.meter.transition(self._transition(screen, shown_at))
        if shot is not None:
            screen.snapshots.keep(shot, shown_at)

    def _draw_asleep(self, screen: _Screen, now: Moment) -> None:
        """Black, drawn once (and again only for a due screenshot, which then shows the
        black screen as it is)."""
        capture = screen.snapshots.due(now.mono)
        if screen.blanked and not capture:
            return
        shot = screen.display.blank(capture=capture)
        shown_at = self._monotonic()
        self.meter.first_picture(shown_at)
        screen.blanked, screen.drawn_source, screen.drawn_bar = True, None, None
        if shot is not None:
            screen.snapshots.keep(shot, shown_at)

    def _draw_checkin(self, screen: _Screen, state: PlayerState, now: Moment) -> None:
        """A check-in screen takes the main zone while it lasts; the loop goes on beneath
        (its video frames are taken as they fall due, and dropped), and comes back whole
        when the check-in screen goes."""
        view = state.checkin.screen
        display = screen.display
        if view is None:  # it just went: give the main zone back to the loop
            assert screen.checkin is not None
            if screen.checkin[1] not in screen.painted.values():  # kept for the next press
                display.release(screen.checkin[1])
            display.checkin_closed()
            screen.checkin, screen.drawn_source = None, None
            return
        source = screen.source
        if isinstance(source, VideoSource):
            source.frame_due(now.mono)
        screen.pending_gap = None  # an item boundary under a check-in screen is not measured
        programme = state.pending or state.programme
        key = (view, programme)
        fresh = screen.checkin is None or screen.checkin[0] != key
        if fresh:
            if screen.checkin is not None and screen.checkin[1] not in screen.painted.values():
                display.release(screen.checkin[1])
            slide = screen.painted.get(_slide_key(view, programme))
            if slide is None:
                slide = display.checkin_slide(view, programme, install_url(programme.qr, None))
            else:
                display.checkin_targets(view)
            screen.checkin = (key, slide)
        assert screen.checkin is not None
        slide = screen.checkin[1]
        bar = self._bar(screen, state, now)
        # The form shows what is being typed unmasked: it never goes into a screenshot (the
        # heartbeat sends one to the server); the last picture before it stays the latest.
        capture = screen.snapshots.due(now.mono) and not isinstance(view, Editing)
        if not fresh and bar == screen.drawn_bar and not capture:
            return
        shot = display.render(slide, None, bar, capture=capture)
        shown_at = self._monotonic()
        self.meter.first_picture(shown_at)
        screen.drawn_source, screen.drawn_bar = slide, bar
        if fresh and isinstance(view, Confirmed):
            with self._lock:
                self._confirmed = (view.confirmation.client_uuid, shown_at)
        if shot is not None:
            screen.snapshots.keep(shot, shown_at)

    def _bar(self, screen: _Screen, state: PlayerState, now: Moment) -> BarContent:
        """The bar's content, worked out again only when something it shows can have
        changed: the programme, the item, the minute, the presence code's window."""
        item = state.current.showing.item if state.current else None
        when = state.venue_time(now)
        window = int(when.timestamp() // 30)
        key, bar = screen.bar_key, screen.bar
        if bar is None or key is None or key != (state.programme, item, window):
            bar = bar_content(state.programme, item, when, self._presence_secret, self._kiosk_id)
            screen.bar_key, screen.bar = (state.programme, item, window), bar
        return bar

    def _prefetch_presence(self, state: PlayerState, now: Moment, screen: _Screen) -> None:
        """The next presence code is computed before its 30-second window begins."""
        item = state.current.showing.item if state.current else None
        soon = state.venue_time(now) + timedelta(seconds=30)
        later = bar_content(state.programme, item, soon, self._presence_secret, self._kiosk_id)
        if later.checkin_url:
            screen.display.qr_codes.prefetch(later.checkin_url)

    def _transition(self, screen: _Screen, shown_at: float) -> Transition:
        assert screen.pending_gap is not None and screen.on_screen is not None
        outgoing, old_source, due, ready_at = screen.pending_gap
        screen.pending_gap = None
        interval = _interval(old_source) or _interval(screen.source) or NOMINAL_INTERVAL_S
        return Transition(
            outgoing.showing.item.kind,
            screen.on_screen.showing.item.kind,
            round(max(0.0, (shown_at - due) * 1000), 2),
            round(interval * 1000, 2),
            round((due - ready_at) * 1000, 2),
        )

    def _wait(self, screen: _Screen) -> None:
        """Sleep until the next thing is due on screen, or until an event arrives."""
        timeout = self._next_wake(screen) - self._monotonic()
        if timeout <= 0:
            return
        with contextlib.suppress(queue.Empty):
            screen.inbox.append(self.events.get(timeout=timeout))

    def _next_wake(self, screen: _Screen) -> float:
        state = self._state
        assert state is not None
        now = self._monotonic()
        venue_clock = self._clock() + (state.clock_offset_s or 0.0)
        wakes = [now + IDLE_WAKE_S, now + (60.0 - venue_clock % 60.0)]
        if (shot_due := screen.snapshots.next_due()) is not None:
            wakes.append(shot_due)
        if state.current is not None and state.current.until_mono is not None:
            wakes.append(state.current.until_mono)
        if state.upcoming is not None and not state.upcoming_ready:
            wakes.append(now + (DECODER_POLL_S if state.overdue or not state.current else 0.05))
        source = screen.source
        if isinstance(source, VideoSource):
            due = source.next_due()
            wakes.append(due if due is not None else now + DECODER_POLL_S)
        if self._presence_secret:
            wakes.append(now + (30.0 - venue_clock % 30.0))
        if checkin_settings(state) is not None:
            wakes.append(now + (IDLE_INPUT_POLL_S if state.checkin.idle else INPUT_POLL_S))
        if (flow_due := deadline(state.checkin)) is not None:
            wakes.append(flow_due)
        return min(wakes)

    def _shut_down(self, screen: _Screen) -> None:
        if self._state is not None and not self._state.stopped:
            self._step(Quit(), self._now())
        for serial in list(screen.sources):
            self._close(screen, serial)
        with self._lock:
            if isinstance(screen.source, VideoSource):
                self.meter.clip_done(screen.source.late)
            screen.source = None
        screen.snapshots.close()
        self._screen_switch.close()
        screen.display.close()
        with self._lock:
            self._running = False
            self._lock.notify_all()
        log.info("player stopped")


class _Screen:
    """What the loop keeps between turns besides the pure state: the media objects and the
    bookkeeping of what was drawn."""

    def __init__(self, display: Display, snapshots: Snapshots, started: float):
        self.display = display
        self.snapshots = snapshots
        self.started = started
        self.inbox: list[Event] = []
        self.deferred: list[Showing] = []
        self.to_prepare: list[int] = []
        self.sources: dict[int, Source] = {}
        self.opened_at: dict[int, float] = {}
        self.reported: set[int] = set()
        self.on_screen: OnScreen | None = None
        self.source: Source | None = None
        self.drawn_source: Source | None = None
        self.drawn_bar: BarContent | None = None
        self.bar: BarContent | None = None
        self.bar_key: tuple[Programme, Item | None, int] | None = None
        self.ready_at: dict[int, float] = {}
        self.checkin: tuple[tuple[Any, Programme], Slide] | None = None
        self.painted: dict[tuple[Any, Programme], Slide] = {}  # check-in screens, ahead
        self.pending_gap: tuple[OnScreen, Source | None, float, float] | None = None
        self.blanked = False  # the black picture of a sleeping screen is on screen


def _slide_key(view: Any, programme: Programme) -> tuple[Any, Programme]:
    """What a check-in picture depends on: a confirmation's content, not its id or time."""
    if isinstance(view, Confirmed):
        return replace(view.confirmation, client_uuid=""), programme
    return view, programme


def _record(played: Played) -> PlayRecord:
    item = played.item
    return PlayRecord(
        client_uuid=new_client_uuid(played.started_wall),
        item_id=None if item.builtin or item.id < 0 else item.id,
        sha256=item.sha256,
        kind=item.wire_kind,
        started_at=played.started_wall,
        duration_ms=played.duration_ms,
        manifest_version=played.manifest_version,
    )


def _current_item(item: Item | None) -> CurrentItem | None:
    if item is None:
        return None
    item_id = None if item.builtin or item.id < 0 else item.id
    return CurrentItem(item_id, item.wire_kind, item.sha256)


def _due_end(on_screen: OnScreen, source: Source | None, now: float) -> float | None:
    """When the outgoing item was due to end, if it ended on time (not skipped or failed)."""
    ends: list[float] = []
    if on_screen.until_mono is not None and on_screen.until_mono <= now:
        ends.append(on_screen.until_mono)
    if isinstance(source, VideoSource):
        end = source.end_due()
        if end is not None and end <= now:
            ends.append(end)
    return min(ends) if ends else None


def _interval(source: Source | None) -> float | None:
    return source.interval if isinstance(source, VideoSource) else None
