"""What a sleeping screen costs, and how fast motion brings content back (issue 4).

One headless kiosk (``kiosk.player.Player``, SDL's dummy driver, the software renderer) plays
the videos of the shipped default loop (the 720p H.264 promo clips; the posters are left out
so that every wake opens a clip and "playing" means decoding) with a PIR on gpiozero's
``MockFactory`` and a quiet period of ``--quiet`` seconds. Each cycle:

- **asleep**: once the screen went black, the process CPU time over ``--window`` seconds
  (the screen thread, decoders and everything else in this process);
- **wake**: the PIR pin is driven high; the time until a content item is on screen again and
  its first picture was drawn (the status is polled every 2 ms);
- **playing**: the process CPU time over ``--window`` seconds of playback after the wake.

Ceilings, measured in the same run: for the wake, the bare work it cannot avoid — open the
first clip of the loop with ``kiosk.video.VideoSource`` and decode its first frame, nothing
else; for the CPU asleep, the CPU playing (the ratio is the share of playback's CPU that a
sleeping screen still spends: its loop turns at least every 0.25 s to feed the watchdog and
to look at input).

    python -m bench screen_sleep -- --cycles 5 --quiet 1 --window 3
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._common import REPO, machine, median, say, table

POLL_S = 0.002


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench screen_sleep",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5, help="sleep/wake cycles")
    parser.add_argument("--quiet", type=float, default=1.0,
                        help="seconds without motion before the screen sleeps")
    parser.add_argument("--window", type=float, default=3.0,
                        help="seconds over which CPU is measured, asleep and playing")
    return parser.parse_args(argv)


def _wait(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(POLL_S)


def _cpu_share(seconds: float, every: float | None = None,
               during: Callable[[], None] | None = None) -> float:
    """Process CPU seconds per wall second over ``seconds``; ``during`` is called every
    ``every`` seconds meanwhile (to keep the screen awake)."""
    cpu, wall = time.process_time(), time.monotonic()
    end = wall + seconds
    while (now := time.monotonic()) < end:
        if during is not None:
            during()
        time.sleep(min(every or seconds, end - now))
    return (time.process_time() - cpu) / (time.monotonic() - wall)


def _bare_open(clip: Path, rounds: int) -> list[float]:
    from kiosk.video import VideoSource

    times = []
    for _ in range(rounds):
        started = time.monotonic()
        source = VideoSource(clip)
        _wait(lambda source=source: source.ready, 30)
        times.append(time.monotonic() - started)
        source.close()
    return times


def _videos_only(folder: Path) -> Path:
    """A default-content folder with the shipped loop's clips only (linked, not copied)."""
    shipped = REPO / "media" / "default"
    playlist = json.loads((shipped / "playlist.json").read_text(encoding="utf-8"))
    playlist["items"] = [item for item in playlist["items"] if item["kind"] == "video"]
    for item in playlist["items"]:
        (folder / item["file"]).symlink_to(shipped / item["file"])
    (folder / "playlist.json").write_text(json.dumps(playlist), encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="screen-sleep-") as folder:
        return _run(args, _videos_only(Path(folder)))


def _run(args: argparse.Namespace, default: Path) -> int:
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    from gpiozero.pins.mock import MockFactory

    from kiosk.display_options import DisplayOptions
    from kiosk.events import Motion
    from kiosk.hardware import Hardware, Pins
    from kiosk.manifest import load_default
    from kiosk.player import Player

    first_clip = next(item.path for item in load_default(default) if item.kind == "video")
    assert first_clip is not None
    say(f"screen_sleep: {machine()}; load average {os.getloadavg()[0]:.2f}")
    ceiling = _bare_open(first_clip, args.cycles)

    events: queue.Queue[Any] = queue.Queue()
    factory = MockFactory()
    hardware = Hardware(Pins(pir="GPIO4"), events.put, pin_factory=factory)
    player = Player(DisplayOptions(mode="headless", size=(1280, 720)), events, lambda _: None,
                    default_content=default, feedback=hardware, sleep_after_s=args.quiet)
    stop = threading.Event()
    thread = threading.Thread(target=player.run, kwargs={"stop": stop}, name="screen")
    thread.start()
    pin = factory.pin("GPIO4")
    rows, wakes, asleep_cpu, playing_cpu = [], [], [], []
    try:
        for cycle in range(args.cycles):
            _wait(lambda: player.status().screen_asleep, 60 + args.quiet)
            asleep = _cpu_share(args.window)
            frames = player.status().frames_shown
            started = time.monotonic()
            pin.drive_high()
            _wait(lambda frames=frames: (s := player.status()).current_item is not None
                  and s.frames_shown > frames, 30)
            wake = time.monotonic() - started
            pin.drive_low()
            # someone keeps moving while playback is measured: the quiet period never ends
            playing = _cpu_share(args.window, args.quiet / 3, lambda: events.put(Motion()))
            rows.append((cycle + 1, f"{wake * 1000:.1f}", f"{asleep * 100:.2f}",
                         f"{playing * 100:.1f}"))
            wakes.append(wake)
            asleep_cpu.append(asleep)
            playing_cpu.append(playing)
    finally:
        stop.set()
        thread.join(timeout=10)
        hardware.close()
        factory.close()
    say(table(rows, ["cycle", "wake to content ms", "CPU asleep %", "CPU playing %"]))
    bare = median(ceiling)
    say(f"wake to content: median {median(wakes) * 1000:.1f} ms; ceiling (open the clip and "
        f"decode its first frame, nothing else) median {bare * 1000:.1f} ms; "
        f"ratio {median(wakes) / bare:.2f}")
    say(f"CPU asleep: median {median(asleep_cpu) * 100:.2f} % of a core; playing "
        f"{median(playing_cpu) * 100:.1f} %; ratio {median(asleep_cpu) / median(playing_cpu):.3f}")
    say(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0
