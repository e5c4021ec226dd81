"""Screen sleep and wake in the pure state machine: events in, effects out, time passed in.

A kiosk with a motion sensor goes black after ``sleep_after_s`` without motion or input,
never during a check-in; motion or any input wakes it; without a sensor it never sleeps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from test_kiosk_state import DEFAULTS, at, names, next_serial, on_screen

from kiosk.checkin import CheckinSettings, Confirmation
from kiosk.checkin_flow import Confirmed, RecordCheckin
from kiosk.events import (
    ButtonPressed,
    CheckinRecorded,
    KeyPressed,
    MediaFailed,
    Motion,
    Quit,
    Tapped,
    TextTyped,
    Tick,
)
from kiosk.state import (
    Close,
    MediaReady,
    Open,
    Played,
    PlayerState,
    ScreenPower,
    Show,
    initial_state,
    step,
)

QUIET = 300.0
SETTINGS = CheckinSettings("count", 21, None, "", "", "Asia/Ho_Chi_Minh")


def playing(sleep_after_s: float | None = QUIET) -> PlayerState:
    """The first default item on screen since t = 0, the second one ready."""
    state, _ = step(initial_state(DEFAULTS, sleep_after_s=sleep_after_s), Tick(), at(0))
    state, _ = step(state, MediaReady(next_serial(state)), at(0))
    state, _ = step(state, MediaReady(next_serial(state)), at(0))
    assert on_screen(state) == -1 and state.upcoming_ready
    return state


def with_checkin(state: PlayerState) -> PlayerState:
    return replace(state, programme=replace(state.programme, checkin=SETTINGS))


def asleep(sleep_after_s: float = QUIET) -> PlayerState:
    state = playing(sleep_after_s)
    state, _ = step(state, Tick(), at(sleep_after_s))
    assert state.asleep
    return state


def power(effects: Any) -> list[bool]:
    return [effect.on for effect in effects if isinstance(effect, ScreenPower)]


def test_the_screen_sleeps_after_the_quiet_period() -> None:
    state = playing()
    state, effects = step(state, Tick(), at(QUIET - 0.1))
    assert not state.asleep and power(effects) == []
    state, effects = step(state, Tick(), at(QUIET))
    assert state.asleep and power(effects) == [False]
    assert state.current is None and state.upcoming is None


def test_the_item_cut_short_is_reported_for_the_time_it_was_shown() -> None:
    state = playing(sleep_after_s=5.0)  # the 8-second item is on screen since t = 0
    upcoming = next_serial(state)
    serial = state.current.showing.serial if state.current else -1
    state, effects = step(state, Tick(), at(5.0))
    played = [e for e in effects if isinstance(e, Played)]
    assert [(p.item.id, p.duration_ms) for p in played] == [(-1, 5000)]
    closed = {e.serial for e in effects if isinstance(e, Close)}
    assert closed == {serial, upcoming}  # no media stays open: nothing decodes


def test_nothing_plays_or_is_reported_while_asleep() -> None:
    state = asleep()
    for t in (QUIET + 1, QUIET + 60, QUIET + 3600):
        state, effects = step(state, Tick(), at(t))
        assert effects == () and state.asleep and state.current is None


@pytest.mark.parametrize("event", [
    Motion(), ButtonPressed("has_app"), KeyPressed("a"), TextTyped("x"), Tapped("screen"),
], ids=lambda e: type(e).__name__)
def test_motion_or_any_input_wakes_the_screen_at_once(event: Any) -> None:
    state, effects = step(with_checkin(asleep()), event, at(QUIET + 10))
    assert not state.asleep
    assert power(effects) == [True]
    assert "Open" in names(effects)  # the next item is opened as at start-up


def test_waking_plays_the_next_item_not_the_first_again() -> None:
    state = playing()
    state, _ = step(state, Tick(), at(8))  # the first item's planned end
    assert on_screen(state) == -2
    state, _ = step(state, Tick(), at(8 + QUIET))
    assert state.asleep
    state, effects = step(state, Motion(), at(9 + QUIET))
    assert [e.showing.item.id for e in effects if isinstance(e, Open)] == [-3]
    state, effects = step(state, MediaReady(next_serial(state)), at(9 + QUIET))
    assert [e.showing.item.id for e in effects if isinstance(e, Show)] == [-3]
    assert on_screen(state) == -3


def test_a_button_press_while_asleep_wakes_and_records() -> None:
    state, effects = step(with_checkin(asleep()), ButtonPressed("not_yet"), at(QUIET + 10))
    assert power(effects) == [True] and not state.asleep
    recorded = [e.visitor for e in effects if isinstance(e, RecordCheckin)]
    assert [(v.method, v.has_app) for v in recorded] == [("button", "no")]


def test_a_tap_while_asleep_only_wakes() -> None:
    state, effects = step(with_checkin(asleep()), Tapped("open_form"), at(QUIET + 10))
    assert power(effects) == [True]
    assert state.checkin.screen is None  # nobody saw the bar they tapped


def test_motion_restarts_the_quiet_period() -> None:
    state = playing()
    state, _ = step(state, Motion(), at(200))
    state, effects = step(state, Tick(), at(QUIET + 100))
    assert not state.asleep and power(effects) == []
    state, effects = step(state, Tick(), at(200 + QUIET))
    assert state.asleep and power(effects) == [False]


def test_a_check_in_screen_never_sleeps_and_the_quiet_period_starts_after_it() -> None:
    state = with_checkin(playing(sleep_after_s=10.0))
    confirmation = Confirmation("uuid", "in", "no", None, None)
    state, _ = step(state, CheckinRecorded(confirmation), at(5))  # the "not yet" QR, 20 s
    assert isinstance(state.checkin.screen, Confirmed)
    state, effects = step(state, Tick(), at(20))
    assert not state.asleep and isinstance(state.checkin.screen, Confirmed)
    state, _ = step(state, Tick(), at(25))  # the confirmation ends
    assert state.checkin.screen is None and not state.asleep
    state, _ = step(state, Tick(), at(34.9))
    assert not state.asleep
    state, effects = step(state, Tick(), at(35.1))
    assert state.asleep and power(effects) == [False]


def test_an_open_form_never_sleeps() -> None:
    state = with_checkin(playing(sleep_after_s=10.0))
    state, _ = step(state, KeyPressed("f2"), at(1))
    for t in (20.0, 60.0, 90.0):
        state, _ = step(state, Tick(), at(t))
        assert not state.asleep and state.checkin.screen is not None


@pytest.mark.parametrize("sleep_after_s", [None, 0.0])
def test_without_a_sensor_or_with_zero_it_never_sleeps(sleep_after_s: float | None) -> None:
    state = playing(sleep_after_s)
    for t in (QUIET, 10 * QUIET, 1000 * QUIET):
        state, effects = step(state, Tick(), at(t))
        assert not state.asleep and power(effects) == []


def test_quit_while_asleep_reports_nothing() -> None:
    state, effects = step(asleep(), Quit(), at(QUIET + 5))
    assert state.stopped and not any(isinstance(e, Played) for e in effects)


def test_a_file_that_fails_on_waking_is_skipped_so_the_screen_does_not_stay_black() -> None:
    state, _ = step(asleep(), Motion(), at(QUIET + 1))
    broken = next_serial(state)
    state, effects = step(state, MediaFailed(broken, "damaged"), at(QUIET + 1.1))
    assert Close(broken) in effects
    opened = [e for e in effects if isinstance(e, Open)]
    assert len(opened) == 1 and opened[0].showing.serial != broken
    state, effects = step(state, MediaReady(next_serial(state)), at(QUIET + 1.2))
    assert [type(e) for e in effects if isinstance(e, Show)] == [Show]
    assert state.current is not None and not state.asleep
