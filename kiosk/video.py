"""Video decoding for the screen: PyAV in a worker thread, frames paced by the player.

One ``VideoSource`` per showing. Its thread opens the file and decodes ahead into a small
queue (``QUEUE_FRAMES`` frames: about 4 MB of 720p or 9 MB of 1080p YUV), so memory stays
bounded however long the clip. The player creates the source for the *next* item while the
current one plays; by the time the current ends, the next one's first frame is decoded and
waiting, and the switch costs no more than uploading it (``ready`` says when).

A decoder holds much more than the frames it hands out: its context and reference frames,
about 19 MB for 1080p H.264 with one decoded frame waiting (23 MB with two). Two of them were
open side by side for the whole of every clip — the next clip's, paused after its preroll,
and the current one's — which put the 1080p loop over the kiosk's memory budget. So the
next clip's first frame is decoded, kept (3 MB at 1080p), and its decoder closed; ``warm``
opens it again and decodes on from the second frame (the first one is decoded again and
dropped). The player calls ``warm`` once the current clip's decoder has read its whole file
(``decoded``: its last few frames wait in its queue, about 150 ms before its end), so the
two decoders barely overlap; ``start`` warms a source that was not warmed yet.

No frame threading (``configure`` asks for slice threading, which only splits frames
encoded as several slices; the promos and x264's defaults have one, so one thread works):
frame threading would spread one clip over the cores but keeps a decoding context and frames
per thread — about 13 MB more per 1080p decoder — and delays the first frame by a frame per
thread. One core decodes 1080p H.264 here in 3-4 ms a frame, the 720p promos in 1.2-1.5 ms.

Frames stay in YUV 4:2:0 as decoded: the display uploads the three planes to a streaming
texture and lets the renderer convert and scale them (see ``kiosk.display`` for the
measurement behind that choice). Other pixel formats are converted to YUV 4:2:0 here, in the
worker thread.

Pacing: frame *n* is due at ``origin + pts(n)``, where the origin is the moment the first
frame went on screen. ``frame_due(now)`` hands out the newest frame that is due; a frame
that is skipped, or shown one frame interval or more after it was due, counts as late.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from kiosk.memory import give_back_free_memory

log = logging.getLogger(__name__)

QUEUE_FRAMES = 3
DEFAULT_FPS = Fraction(30)
_PUT_POLL_S = 0.1
VIDEO_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError, MemoryError)


@dataclass(frozen=True)
class Frame:
    """One decoded picture: ``pts_s`` seconds after the clip's first frame."""

    index: int
    pts_s: float
    picture: av.VideoFrame

    @property
    def planes(self) -> tuple[tuple[int, int], ...]:
        """(address, line size) of the Y, U and V planes, for the texture upload."""
        return tuple((plane.buffer_ptr, plane.line_size) for plane in self.picture.planes)


def configure(stream: av.video.stream.VideoStream) -> None:
    """How every clip is decoded (the benchmark's ceiling decodes the same way)."""
    stream.thread_type = "SLICE"


class _EndOfStream:
    pass


_END = _EndOfStream()


class VideoSource:
    """Decodes one clip ahead of the screen, in its own thread."""

    def __init__(self, path: Path, queue_frames: int = QUEUE_FRAMES) -> None:
        self.path = path
        self.size: tuple[int, int] = (0, 0)
        self.aspect: float = 16 / 9  # display aspect ratio, sample aspect applied
        self.interval: float = float(1 / DEFAULT_FPS)
        self.error: str | None = None
        self.late = 0
        self.shown = 0
        self.first_frame_s: float | None = None  # decode time of the first frame
        self._frames: queue.Queue[Frame | _EndOfStream] = queue.Queue(maxsize=queue_frames)
        self._ready = threading.Event()
        self._warm = threading.Event()
        self._decoded = threading.Event()
        self._stop = threading.Event()
        self._first_time = 0.0  # the first frame's time in the stream
        self._head: Frame | None = None
        self._eos = False
        self._origin: float | None = None
        self._last_pts = 0.0
        self._thread = threading.Thread(target=self._decode, name=f"video:{path.name}", daemon=True)
        self._thread.start()

    # -- the player's side ---------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """The first frame is decoded (or the clip failed: then ``error`` says why)."""
        return self._ready.is_set()

    @property
    def waiting(self) -> int:
        """Decoded frames not handed out yet."""
        return self._frames.qsize() + (self._head is not None)

    @property
    def decoded(self) -> bool:
        """The decoder is done with the file (what it decoded may still wait in the queue)."""
        return self._decoded.is_set()

    def warm(self) -> None:
        """Open the decoder again behind the waiting first frame and decode ahead."""
        self._warm.set()

    def start(self, now: float) -> None:
        """The clip goes on screen at ``now`` (monotonic): its timeline starts here."""
        self._origin = now
        self._warm.set()

    def frame_due(self, now: float) -> Frame | None:
        """The newest frame due at ``now`` that was not handed out yet, or None."""
        if self._origin is None:
            return None
        chosen: Frame | None = None
        while (head := self._peek()) is not None and self._origin + head.pts_s <= now:
            if chosen is not None:
                self.late += 1  # skipped: the screen never showed it
            chosen, self._head = head, None
        if chosen is None:
            return None
        self.shown += 1
        if now - (self._origin + chosen.pts_s) >= self.interval:
            self.late += 1
        self._last_pts = chosen.pts_s
        return chosen

    def next_due(self) -> float | None:
        """When something next happens on screen: the next frame, or the clip's end.

        None while the decoder has nothing for us yet (the loop then polls briefly).
        """
        if self._origin is None:
            return None
        head = self._peek()
        if head is not None:
            return self._origin + head.pts_s
        return self.end_due()

    def end_due(self) -> float | None:
        """When the last frame's interval is over, once the end of the stream was read (it
        stays known after ``close``, for the player's transition bookkeeping)."""
        if self._origin is None or self._peek() is not None or not self._eos:
            return None
        return self._origin + self._last_pts + self.interval

    def ended(self, now: float) -> bool:
        end = self.end_due()
        return end is not None and now >= end

    def close(self) -> None:
        """Stop decoding and let go of the frames (the thread finishes on its own)."""
        self._stop.set()
        if self._head is not None:
            self._head = None
            self._eos = False  # frames were left: the clip did not end by itself
        while True:
            try:
                self._frames.get_nowait()
            except queue.Empty:
                break

    def _peek(self) -> Frame | None:
        if self._head is None and not self._eos and not self._stop.is_set():
            try:
                item = self._frames.get_nowait()
            except queue.Empty:
                return None
            if isinstance(item, _EndOfStream):
                self._eos = True
            else:
                self._head = item
        return self._head

    # -- the worker thread ---------------------------------------------------------------

    def _decode(self) -> None:
        started = time.perf_counter()
        try:
            first = self._first_frame()
            if first is None:
                if not self._stop.is_set():
                    self.error = "no video frames"
            elif self._put(first):
                self.first_frame_s = time.perf_counter() - started
                self._ready.set()
                if self._wait_for_warm():
                    self._decode_rest()
                    give_back_free_memory()
        except VIDEO_ERRORS as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("video %s: %s", self.path.name, self.error)
        finally:
            self._decoded.set()
            self._put(_END)
            self._ready.set()

    def _first_frame(self) -> Frame | None:
        """Decode the first frame and close the decoder: the frame keeps only its own
        picture."""
        first = self._decode_first()
        give_back_free_memory()  # what the closed decoder held
        if first is None:
            return None
        self._first_time = first.time if first.time is not None else 0.0
        return self._frame(0, first)

    def _decode_first(self) -> av.VideoFrame | None:
        """The first picture, from as few packets as possible: after each packet the decoder
        is drained, so it does not decode the frames a reordering decoder would read ahead
        (a 1080p decoder then peaks at about 8 MB instead of 19)."""
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            configure(stream)
            self._describe(stream)
            for packet in container.demux(stream):
                pictures = stream.decode(packet)
                if not pictures and packet.size:
                    pictures = stream.decode(None)
                    if not pictures:  # nothing to show yet: take packets again
                        stream.codec_context.flush_buffers()
                if pictures:
                    pictures[0].time_base = stream.time_base  # a drained frame has none
                    return pictures[0]
            return None

    def _decode_rest(self) -> None:
        """Decode the clip again from the start and queue every frame after the first."""
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            configure(stream)
            count = 0
            for picture in container.decode(stream):
                if self._stop.is_set():
                    break
                if not count or self._shown_first(picture):
                    count = max(count, 1)
                    continue
                if not self._put(self._frame(count, picture)):
                    break
                count += 1

    def _shown_first(self, picture: av.VideoFrame) -> bool:
        """Is ``picture`` the first frame (or one before it), which is on screen already?"""
        return picture.time is not None and picture.time <= self._first_time

    def _frame(self, count: int, picture: av.VideoFrame) -> Frame:
        if picture.format.name != "yuv420p":
            picture = picture.reformat(format="yuv420p")
        when = picture.time if picture.time is not None else count * self.interval
        return Frame(count, max(0.0, when - self._first_time), picture)

    def _describe(self, stream: av.video.stream.VideoStream) -> None:
        rate = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
        if not 1 <= rate <= 240:
            rate = DEFAULT_FPS
        self.interval = float(1 / rate)
        width, height = stream.codec_context.width, stream.codec_context.height
        self.size = (width, height)
        sar = stream.sample_aspect_ratio or Fraction(1)
        self.aspect = (width * float(sar)) / height if height else 16 / 9

    def _wait_for_warm(self) -> bool:
        """Hold the first frame until ``warm`` or ``start``; False when closed unseen."""
        while not self._warm.wait(_PUT_POLL_S):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()

    def _put(self, item: Frame | _EndOfStream) -> bool:
        """Queue ``item``, waiting for room; False once the source was closed."""
        while not self._stop.is_set():
            try:
                self._frames.put(item, timeout=_PUT_POLL_S)
            except queue.Full:
                continue
            return True
        return False
