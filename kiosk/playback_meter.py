"""What the screen thread measures while it plays, and the status snapshot built from it.

Frames shown, frames per second, late video frames, the time to the first item on screen,
and the gap at each item boundary: how long after the outgoing item was due to end the
incoming item's first frame appeared (0 is perfect; the issue's "one frame interval
(33.4 ms)" counts the last frame's own interval on top of it). The screen thread writes,
the heartbeat and the benchmark read, under one lock.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)

FPS_WINDOW_S = 1.0


@dataclass(frozen=True)
class CurrentItem:
    id: int | None
    kind: str
    sha256: str | None


@dataclass(frozen=True)
class Transition:
    """One item boundary: ``gap_ms`` past the outgoing item's due end until the incoming
    item's first frame was shown; ``interval_ms`` is the frame interval it is judged by;
    ``ready_margin_ms`` how long before that end the incoming item was ready (negative: the
    outgoing item's last frame had to wait for it)."""

    from_kind: str
    to_kind: str
    gap_ms: float
    interval_ms: float
    ready_margin_ms: float


@dataclass(frozen=True)
class TransitionSummary:
    count: int = 0
    max_ms: float | None = None
    mean_ms: float | None = None
    last_ms: float | None = None
    over_interval: int = 0


@dataclass(frozen=True)
class PlayerStatus:
    """What the heartbeat reports; a snapshot, safe to read from any thread."""

    running: bool
    current_item: CurrentItem | None
    manifest_version: str | None
    late_frames: int
    frames_shown: int
    fps: float
    items_shown: int
    items_failed: int
    transitions: TransitionSummary
    first_frame_s: float | None
    last_error: str | None
    screen_asleep: bool = False  # no motion for a while: black screen, nothing plays


@dataclass(frozen=True)
class Figures:
    late_frames: int
    frames_shown: int
    fps: float
    transitions: TransitionSummary
    first_frame_s: float | None


class PlaybackMeter:
    """Counts what was shown; every method is safe to call from any thread."""

    def __init__(self, started: float, keep: int = 1000) -> None:
        self.started = started
        self._lock = threading.Lock()
        self._frames = 0
        self._fps = 0.0
        self._window_frames = 0
        self._window_since = started
        self._late_done = 0  # late frames of clips no longer on screen
        self._first_frame_s: float | None = None
        self._transitions: deque[Transition] = deque(maxlen=keep)
        self._summary = TransitionSummary()

    def shown(self, at: float, new_frame: bool, new_item: bool) -> None:
        """A picture went on screen at ``at``: a new video frame, or a new item, or neither
        (the bar changed)."""
        with self._lock:
            if new_frame or new_item:
                self._frames += 1
                self._window_frames += 1
            if at - self._window_since >= FPS_WINDOW_S:
                self._fps = self._window_frames / (at - self._window_since)
                self._window_frames, self._window_since = 0, at
            if new_item and self._first_frame_s is None:
                self._first_frame_s = at - self.started
                log.info("first item on screen %.2f s after start", self._first_frame_s)

    def first_picture(self, at: float) -> None:
        """Something other than the loop went on screen (a check-in screen, the black of a
        sleeping screen): if it is the first picture since start, it counts as the first
        frame, so systemd hears READY and the sync side starts even when a visitor pressed a
        button before the loop's first item was drawn."""
        with self._lock:
            if self._first_frame_s is None:
                self._first_frame_s = at - self.started
                log.info("first picture on screen %.2f s after start", self._first_frame_s)

    def clip_done(self, late_frames: int) -> None:
        """A clip left the screen with this many late frames."""
        with self._lock:
            self._late_done += late_frames

    def transition(self, transition: Transition) -> None:
        with self._lock:
            self._transitions.append(transition)
            gaps = [t.gap_ms for t in self._transitions]
            previous = self._summary
            self._summary = TransitionSummary(
                count=previous.count + 1,
                max_ms=max(previous.max_ms or 0.0, transition.gap_ms),
                mean_ms=round(sum(gaps) / len(gaps), 2),
                last_ms=transition.gap_ms,
                over_interval=previous.over_interval + (transition.gap_ms > transition.interval_ms),
            )

    def transitions(self) -> list[Transition]:
        with self._lock:
            return list(self._transitions)

    def figures(self, late_on_screen: int) -> Figures:
        """The measured part of ``PlayerStatus``; ``late_on_screen`` from the clip playing."""
        with self._lock:
            return Figures(
                late_frames=self._late_done + late_on_screen,
                frames_shown=self._frames,
                fps=round(self._fps, 2),
                transitions=self._summary,
                first_frame_s=self._first_frame_s,
            )
