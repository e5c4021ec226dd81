"""The screen's state machine, driven by hand: events in, effects out, time passed in.

t = 0 is Monday 2026-11-23 12:00 in the venue (Ho Chi Minh City).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.events import KeyPressed, ManifestReady, MediaEnded, MediaFailed, Quit, SyncStatus, Tick
from kiosk.manifest import Item, builtin_slides, parse_schedule
from kiosk.state import (
    Close,
    Effect,
    MediaReady,
    Moment,
    Open,
    Played,
    PlayerState,
    Show,
    initial_state,
    step,
)

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
SHA = {7: "7" * 64, 8: "8" * 64}


def at(t: float, wall_skew: float = 0.0) -> Moment:
    return Moment(mono=1000.0 + t, wall=NOON + t + wall_skew)


def video(item_id: int, seconds: float | None = 8.0, schedule: Any = None) -> Item:
    return Item(
        id=item_id,
        kind="video",
        duration_s=seconds,
        path=Path(f"/media/{item_id}.mp4"),
        schedule=parse_schedule(schedule),
        builtin=item_id < 0,
    )


DEFAULTS = (video(-1), video(-2), video(-3))


def manifest(items: Sequence[dict[str, Any]], version: str = "v2") -> ManifestReady:
    body = {
        "manifest_version": version,
        "venue": {"name": "Sảnh A", "timezone": "Asia/Ho_Chi_Minh"},
        "playlist": {"id": 1, "name": "p", "items": list(items)},
    }
    return ManifestReady(body, lambda sha: Path(f"/cache/{sha}"))


def server_video(item_id: int, schedule: Any = None) -> dict[str, Any]:
    return {
        "id": item_id,
        "kind": "video",
        "sha256": SHA[item_id],
        "duration_s": 15.0,
        "schedule": schedule or {},
        "data": {},
    }


def names(effects: Sequence[Effect]) -> list[str]:
    return [type(effect).__name__ for effect in effects]


def showing_ids(effects: Sequence[Effect]) -> list[tuple[str, int]]:
    return [(type(e).__name__, e.showing.item.id) for e in effects if isinstance(e, Open | Show)]


def next_serial(state: PlayerState) -> int:
    assert state.upcoming is not None
    return state.upcoming.serial


def on_screen(state: PlayerState) -> int:
    assert state.current is not None
    return state.current.showing.item.id


def playing(defaults: tuple[Item, ...] = DEFAULTS, t: float = 0.0) -> PlayerState:
    """Started, first item on screen since ``t``, the second one opened and ready."""
    state, _ = step(initial_state(defaults), Tick(), at(t))
    state, _ = step(state, MediaReady(next_serial(state)), at(t))
    state, _ = step(state, MediaReady(next_serial(state)), at(t))
    return state


def test_start_opens_the_first_item() -> None:
    state, effects = step(initial_state(DEFAULTS), Tick(), at(0))
    assert showing_ids(effects) == [("Open", -1)]
    assert state.current is None


def test_a_ready_item_goes_on_screen_and_the_next_one_is_opened() -> None:
    state, _ = step(initial_state(DEFAULTS), Tick(), at(0))
    state, effects = step(state, MediaReady(1), at(0.1))
    assert showing_ids(effects) == [("Show", -1), ("Open", -2)]
    assert state.current is not None and state.current.until_mono == at(0.1).mono + 8.0


@pytest.mark.parametrize(("t", "switches"), [(7.99, False), (8.0, True), (30.0, True)])
def test_an_item_ends_at_its_duration(t: float, switches: bool) -> None:
    _, effects = step(playing(), Tick(), at(t))
    if switches:
        assert names(effects) == ["Played", "Close", "Show", "Open"]
        assert showing_ids(effects) == [("Show", -2), ("Open", -3)]
    else:
        assert effects == ()


def test_the_last_frame_holds_until_the_next_item_is_ready() -> None:
    state, _ = step(initial_state(DEFAULTS), Tick(), at(0))
    state, _ = step(state, MediaReady(1), at(0))
    state, effects = step(state, Tick(), at(8.0))
    assert effects == () and state.overdue and on_screen(state) == -1
    state, effects = step(state, MediaReady(2), at(8.25))
    assert showing_ids(effects) == [("Show", -2), ("Open", -3)]
    played = next(e for e in effects if isinstance(e, Played))
    assert played.duration_ms == 8250


def test_a_video_that_runs_out_ends_at_once() -> None:
    state = playing()
    state, effects = step(state, MediaEnded(99), at(3))  # not on screen: ignored
    assert effects == ()
    state, effects = step(state, MediaEnded(1), at(3))
    assert showing_ids(effects) == [("Show", -2), ("Open", -3)]


def test_a_video_without_duration_plays_to_its_end() -> None:
    state = playing((video(-1, seconds=None), video(-2)))
    assert state.current is not None and state.current.until_mono is None
    state, effects = step(state, Tick(), at(3600))
    assert effects == ()
    state, effects = step(state, MediaEnded(1), at(3601))
    assert "Show" in names(effects)


def test_the_playlist_loops_in_order() -> None:
    state = playing()
    shown = [on_screen(state)]
    for n in range(1, 5):
        state, _ = step(state, MediaReady(next_serial(state)), at(8 * n - 1))
        state, _ = step(state, Tick(), at(8 * n))
        shown.append(on_screen(state))
    assert shown == [-1, -2, -3, -1, -2]


def test_played_reports_the_showing() -> None:
    state = playing()
    _, effects = step(state, Tick(), at(8.0))
    played = next(e for e in effects if isinstance(e, Played))
    assert played.item.id == -1 and played.item.wire_kind == "default"
    assert played.started_wall == at(0).wall and played.duration_ms == 8000
    assert played.manifest_version is None


def test_a_new_manifest_takes_effect_at_the_next_boundary() -> None:
    state = playing()
    upcoming = next_serial(state)
    state, effects = step(state, manifest([server_video(7), server_video(8)]), at(2))
    assert Close(upcoming) in effects
    assert showing_ids(effects) == [("Open", 7)]
    assert state.pending is not None and state.programme.version is None
    assert on_screen(state) == -1
    state, _ = step(state, MediaReady(next_serial(state)), at(3))
    state, effects = step(state, Tick(), at(8))
    assert showing_ids(effects) == [("Show", 7), ("Open", 8)]
    assert state.programme.version == "v2" and state.pending is None
    played = next(e for e in effects if isinstance(e, Played))
    assert played.manifest_version is None  # the default item played before v2


def test_a_manifest_that_is_not_one_is_ignored() -> None:
    state = playing()
    state, effects = step(state, ManifestReady([], lambda sha: None), at(2))  # type: ignore[arg-type]
    assert names(effects) == ["Note"] and state.pending is None


@pytest.mark.parametrize(
    ("hour", "expected"),
    [(9, 7), (20, -2)],  # at 20:00 the item's window is closed: default content
)
def test_nothing_scheduled_means_the_default_content(hour: int, expected: int) -> None:
    state = playing()
    morning = {"windows": [["07:00", "12:00"]]}
    skew = (hour - 12) * 3600
    state, effects = step(state, manifest([server_video(7, morning)]), at(2, skew))
    assert showing_ids(effects) == [("Open", expected)]


def test_schedules_use_the_servers_clock_once_known() -> None:
    state = playing()
    morning = {"windows": [["07:00", "12:00"]]}
    evening = at(2, -3 * 3600 + 10 * 3600)  # 09:00 really, but the device says 19:00
    _, effects = step(state, manifest([server_video(7, morning)]), evening)
    assert showing_ids(effects) == [("Open", -2)]
    state, _ = step(state, SyncStatus(True, -10 * 3600.0, None), at(1))
    _, effects = step(state, manifest([server_video(7, morning)]), evening)
    assert showing_ids(effects) == [("Open", 7)]


def test_a_failing_file_is_skipped_and_not_retried() -> None:
    state = playing()
    upcoming = next_serial(state)
    state, effects = step(state, MediaFailed(upcoming, "corrupt"), at(1))
    assert Close(upcoming) in effects
    assert showing_ids(effects) == [("Open", -3)]
    assert state.counters.failed == 1 and DEFAULTS[1].key in state.failed
    state, _ = step(state, MediaReady(next_serial(state)), at(2))
    state, effects = step(state, Tick(), at(8))
    assert showing_ids(effects) == [("Show", -3), ("Open", -1)]


def test_when_every_file_fails_the_builtin_slides_play() -> None:
    state, _ = step(initial_state(DEFAULTS), Tick(), at(0))
    for _ in DEFAULTS:
        state, _ = step(state, MediaFailed(next_serial(state), "broken"), at(0))
    assert state.upcoming is not None and state.upcoming.item in builtin_slides()


def test_a_video_failing_on_screen_ends_it() -> None:
    state, effects = step(playing(), MediaFailed(1, "decode error"), at(3))
    assert showing_ids(effects) == [("Show", -2), ("Open", -3)]
    assert DEFAULTS[0].key in state.failed


def test_staff_can_skip_to_the_next_item() -> None:
    state, effects = step(playing(), KeyPressed("right"), at(3))
    assert showing_ids(effects) == [("Show", -2), ("Open", -3)]
    assert state.counters.skipped == 1
    _, effects = step(state, KeyPressed("a"), at(4))
    assert effects == ()


def test_quit_reports_the_item_cut_short_and_releases_everything() -> None:
    state = playing()
    state, effects = step(state, Quit(), at(5))
    assert names(effects) == ["Close", "Played", "Close"]
    assert next(e for e in effects if isinstance(e, Played)).duration_ms == 5000
    assert state.stopped
    assert step(state, Tick(), at(10)) == (state, ())


def test_sync_status_is_kept() -> None:
    state, effects = step(playing(), SyncStatus(False, 1.5, "timeout"), at(1))
    assert (state.online, state.clock_offset_s, state.sync_error) == (False, 1.5, "timeout")
    assert effects == ()
