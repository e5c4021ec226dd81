"""Video decoding and the gapless switch between clips, headless.

Pacing is checked on logic with the time passed in; the timing figures themselves belong to
the benchmark (``python -m bench kiosk_render``), where a busy CI machine cannot fail them.
"""

from __future__ import annotations

import platform
import queue
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy
import pytest

from kiosk.display_options import DisplayOptions
from kiosk.events import PlayRecord
from kiosk.memory import give_back_free_memory, keep_heap_small
from kiosk.player import Player
from kiosk.video import QUEUE_FRAMES, Frame, VideoSource, configure

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


def wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture(scope="session")
def reordered_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip with B-frames: the decoder outputs frames in another order than it reads them,
    as most delivered promos do."""
    path = tmp_path_factory.mktemp("reordered") / "b-frames.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.options = {"preset": "medium", "bf": "3", "crf": "30"}
        for index in range(24):
            picture = numpy.full((96, 160, 3), 40, numpy.uint8)
            picture[:, index * 6 : index * 6 + 12] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def straight_decode(path: Path) -> list[tuple[float, bytes]]:
    """Every frame's time and luma, decoded in one go."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        configure(stream)
        return [(f.time, bytes(f.planes[0])) for f in container.decode(stream)]


def test_the_next_clip_waits_with_its_first_frame_only(clips: tuple[Path, Path]) -> None:
    source = VideoSource(clips[0])
    wait_until(lambda: source.ready)
    time.sleep(0.3)  # time enough to decode the whole clip, were it decoding
    assert source.waiting == 1 and not source.decoded
    source.warm()
    wait_until(lambda: source.waiting == QUEUE_FRAMES)
    source.close()


def play_through(source: VideoSource, count: int) -> list[Frame]:
    """Take ``count`` frames, each at its own time."""
    frames = []
    for index in range(count):
        now = ORIGIN + index * STEP + 1e-6
        wait_until(lambda now=now: (due := source.next_due()) is not None and due <= now)
        frame = source.frame_due(now)
        assert frame is not None
        frames.append(frame)
    return frames


def test_after_warming_every_frame_comes_once_in_order(reordered_clip: Path) -> None:
    expected = straight_decode(reordered_clip)
    source = VideoSource(reordered_clip)
    wait_until(lambda: source.ready)
    source.warm()
    source.start(ORIGIN)
    shown = play_through(source, len(expected))
    wait_until(lambda: source.end_due() is not None)
    first_time = expected[0][0]
    assert [frame.index for frame in shown] == list(range(len(expected)))
    assert [f.pts_s for f in shown] == pytest.approx([t - first_time for t, _ in expected])
    assert [bytes(f.picture.planes[0]) for f in shown] == [luma for _, luma in expected]
    assert source.decoded and source.late == 0


def test_starting_a_clip_that_was_not_warmed_decodes_on(clips: tuple[Path, Path]) -> None:
    source = VideoSource(clips[1])
    wait_until(lambda: source.ready)
    source.start(ORIGIN)
    assert [frame.index for frame in play_through(source, 15)] == list(range(15))
    wait_until(lambda: source.end_due() is not None)
    assert source.late == 0


def test_a_clip_whose_first_packets_show_nothing_still_starts(tmp_path: Path) -> None:
    """An open-GOP cut: the file starts with frames that need a picture it does not have."""
    path = tmp_path / "cut.h264"
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "4"}
        packets = []
        for index in range(12):
            picture = numpy.full((96, 160, 3), 20 * index, numpy.uint8)
            packets += stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24"))
        packets += stream.encode()
        for packet in packets[1:]:  # the first keyframe is gone
            container.mux(packet)
    source = VideoSource(path)
    wait_until(lambda: source.ready)
    assert source.error is None and source.waiting == 1
    source.start(ORIGIN)
    wait_until(lambda: source.waiting >= 2)
    first, second = source.frame_due(ORIGIN), source.frame_due(ORIGIN + source.interval)
    assert first is not None and second is not None and (first.index, second.index) == (0, 1)
    source.close()


def test_closing_a_waiting_clip_stops_its_thread(clips: tuple[Path, Path]) -> None:
    source = VideoSource(clips[0])
    wait_until(lambda: source.ready)
    source.close()
    source._thread.join(timeout=5)
    assert not source._thread.is_alive() and source.decoded


def test_free_heap_pages_go_back_to_the_system() -> None:
    assert give_back_free_memory() is (platform.libc_ver()[0] == "glibc")
