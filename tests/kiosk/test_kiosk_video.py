"""Video decoding and the gapless switch between clips, headless.

Pacing is checked on logic with the time passed in; the timing figures themselves belong to
the benchmark (``python -m bench kiosk_render``), where a busy CI machine cannot fail them.
"""

from __future__ import annotations

import platform
import queue
import time
from pathlib import Path

import pytest

from kiosk.display_options import DisplayOptions
from kiosk.events import PlayRecord
from kiosk.memory import keep_heap_small
from kiosk.player import Player
from kiosk.video import VideoSource

ORIGIN = 100.0
STEP = 1 / 30


@pytest.fixture
def video(clips: tuple[Path, Path]) -> VideoSource:
    """The first clip (15 frames at 30 fps), decoded ahead and started at ``ORIGIN``."""
    source = VideoSource(clips[0])
    deadline = time.monotonic() + 10
    while not source.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    source.start(ORIGIN)
    time.sleep(0.2)  # let the decoder fill its queue
    return source


def test_the_first_frame_is_ready_before_the_clip_starts(video: VideoSource) -> None:
    assert video.ready and video.error is None
    assert video.size == (320, 180) and video.interval == pytest.approx(STEP)
    assert video.first_frame_s is not None


def test_frames_come_at_their_time(video: VideoSource) -> None:
    first = video.frame_due(ORIGIN)
    assert first is not None and first.index == 0
    assert video.frame_due(ORIGIN + STEP / 2) is None
    assert video.next_due() == pytest.approx(ORIGIN + STEP)
    second = video.frame_due(ORIGIN + STEP)
    assert second is not None and second.index == 1
    assert video.late == 0 and video.shown == 2


def test_skipped_and_overdue_frames_count_as_late(video: VideoSource) -> None:
    video.frame_due(ORIGIN)
    time.sleep(0.2)  # the decoder refills its queue
    frame = video.frame_due(ORIGIN + 3 * STEP + 0.001)
    assert frame is not None and frame.index == 3
    assert video.late == 2  # frames 1 and 2 never reached the screen
    time.sleep(0.1)
    frame = video.frame_due(ORIGIN + 5 * STEP)  # frame 4 skipped, frame 5 on time
    assert frame is not None and frame.index == 5 and video.late == 3
    video.close()


def test_the_clip_ends_after_its_last_frames_interval(video: VideoSource) -> None:
    shown = []
    for index in range(15):
        now = ORIGIN + index * STEP + 1e-6
        deadline = time.monotonic() + 5
        while (frame := video.frame_due(now)) is None:
            assert time.monotonic() < deadline, f"frame {index} never came"
            time.sleep(0.005)
        shown.append(frame.index)
        assert not video.ended(now)
    assert shown == list(range(15))
    deadline = time.monotonic() + 5
    while video.end_due() is None:  # the decoder's end-of-stream mark is on its way
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert video.end_due() == pytest.approx(ORIGIN + 15 * STEP)
    assert not video.ended(ORIGIN + 15 * STEP - 0.001)
    assert video.ended(ORIGIN + 15 * STEP)


def test_other_pixel_formats_arrive_as_yuv420p(clip_maker: object) -> None:
    path = clip_maker(frames=3, size=(64, 48))  # type: ignore[operator]
    source = VideoSource(path)
    deadline = time.monotonic() + 10
    while not source.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    source.start(0.0)
    frame = source.frame_due(0.0)
    assert frame is not None and frame.picture.format.name == "yuv420p"
    assert len(frame.planes) == 3
    source.close()


@pytest.mark.parametrize("payload", [b"", b"not a video at all" * 100])
def test_a_broken_file_fails_without_raising(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(payload)
    source = VideoSource(path)
    deadline = time.monotonic() + 10
    while not source.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    assert source.ready and source.error


def test_closing_stops_the_decoder(clips: tuple[Path, Path]) -> None:
    source = VideoSource(clips[0], queue_frames=1)
    time.sleep(0.1)
    source.close()
    source._thread.join(timeout=5)
    assert not source._thread.is_alive()


def test_two_clips_play_back_to_back(headless: None, content: Path) -> None:
    """Each clip is decoded and waiting before the one on screen ends."""
    playlist = content / "playlist.json"
    playlist.write_text(playlist.read_text("utf-8").replace('"image"', '"skip"'), "utf-8")
    plays: list[PlayRecord] = []
    player = Player(
        DisplayOptions(mode="headless", size=(640, 360)),
        queue.Queue(),
        plays.append,
        default_content=content,
    )
    player.run(max_seconds=3.2)
    transitions = player.transitions()
    assert len(transitions) >= 3
    for transition in transitions:
        assert transition.ready_margin_ms > 0, transition  # ready before the other ended
        assert transition.gap_ms < 10 * transition.interval_ms, transition
    first, second = plays[0], plays[1]  # the two clips, 0.5 s each
    assert 400 <= first.duration_ms <= 700 and 400 <= second.duration_ms <= 700
    assert second.started_at > first.started_at
    status = player.status()
    assert status.frames_shown >= 20 and status.late_frames >= 0
    assert status.first_frame_s is not None and status.first_frame_s < 2.0


def test_the_allocator_is_set_for_video_buffers() -> None:
    """glibc takes the setting (elsewhere it is a no-op that says so)."""
    assert keep_heap_small() is (platform.libc_ver()[0] == "glibc")
