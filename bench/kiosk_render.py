"""The kiosk's screen loop, headless, against raw PyAV decoding of the same files.

Phases, each in a fresh process running ``kiosk.player.Player`` headless (SDL's dummy
driver, software renderer) for ``--seconds``, on a 1920x1080 screen unless the phase says
otherwise (``NAME@WxH``):

- ``720p``: the 720p30 promos looped (media/default, else generated clips);
- ``1080p``: generated 1080p30 clips looped;
- ``mixed``: 720p video, 1080p video, a poster and a QR slide, looped: every kind of
  transition;
- ``720p@1280x900`` and ``1080p@1920x1350``: the same clips on a screen whose main zone (the
  screen minus the bar) is exactly the clips' size, so the video is not scaled. On the
  1920x1080 screen the main zone is 1536x864: 720p is scaled up, 1080p down.

Printed per phase: frames shown per second, late frames, the gap at each transition (how
long past the outgoing item's end the incoming item's first frame appeared), CPU per frame
shown (steady state, every thread of the process; and the screen thread's share) against the
ceiling — raw decoding of the same files with PyAV, same threading, nothing shown, in the
same process right after it played — peak RSS, and the time from starting the process to the
first item on screen. With ``--rounds`` above 1 every phase runs that many times and the
medians are printed (worst values for late frames, gaps and RSS). Then the targets: 720p30
with zero late frames, every gap <= one frame interval, overhead <= 50 % over raw decode, RSS
<= 150 MB, first frame <= 2 s.

    python -m bench kiosk_render -- --seconds 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw

from kiosk.layout import fit, screen_layout
from kiosk.video import configure

from ._common import machine, machine_busy_seconds, median, say, table

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MEDIA = REPO / "media" / "default"
CLIP_CACHE = Path(tempfile.gettempdir()) / "signage-bench-kiosk-v1"
TARGETS = {"late_720p": 0, "overhead": 0.50, "rss_mb": 150.0, "first_frame_s": 2.0}
QR_SLIDE = {
    "url": "https://play.google.com/store/apps/details?id=com.mic.bluezone",
    "caption_vi": "Quét mã để cài đặt Bluezone",
    "caption_en": "Scan to install Bluezone",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench kiosk_render", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--size", default="1920x1080", help="headless screen, WxH")
    parser.add_argument(
        "--phases",
        default="720p,1080p,mixed,720p@1280x900,1080p@1920x1350",
        help="phases to run; NAME@WxH runs one on another screen size",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each phase (medians)")
    parser.add_argument(
        "--child", nargs=3, metavar=("CONTENT", "SECONDS", "SIZE"), help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


# -- test media ------------------------------------------------------------------------------


def generated_clip(size: tuple[int, int], seconds: float, hue: int) -> Path:
    """A 30 fps H.264 clip with motion over the whole picture (a scrolling gradient and a
    moving block), cached between runs: encoding 1080p takes a while. numpy is imported here,
    in the parent only: the measured player process must not load it (the kiosk does not)."""
    import numpy

    width, height = size
    path = CLIP_CACHE / f"clip-{width}x{height}-{seconds:g}s-{hue}.mp4"
    if path.exists():
        return path
    CLIP_CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.mp4")
    y, x = numpy.mgrid[0:height, 0 : width * 2]
    canvas = numpy.empty((height, width * 2, 3), numpy.uint8)
    canvas[..., 0] = (x // 3 + hue) % 256
    canvas[..., 1] = (y // 3 + x // 7) % 256
    canvas[..., 2] = (255 - x // 5) % 256
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": "60"}
        for index in range(round(seconds * 30)):
            left = (index * 12) % width
            picture = numpy.ascontiguousarray(canvas[:, left : left + width])
            top = (index * 7) % (height - height // 5)
            picture[top : top + height // 5, width // 3 : width // 3 + width // 5] = 250
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return path


def poster(size: tuple[int, int]) -> Path:
    shipped = DEFAULT_MEDIA / "poster-vi.png"
    if shipped.exists():
        return shipped
    path = CLIP_CACHE / "poster.png"
    if not path.exists():
        CLIP_CACHE.mkdir(parents=True, exist_ok=True)
        picture = Image.new("RGB", size, (20, 80, 160))
        ImageDraw.Draw(picture).rectangle((size[0] // 8, size[1] // 8, size[0] // 2, size[1] // 2))
        picture.save(path)
    return path


def clips_720p() -> list[Path]:
    shipped = [DEFAULT_MEDIA / "promo-8s.mp4", DEFAULT_MEDIA / "promo-15s.mp4"]
    if all(p.exists() for p in shipped):
        return shipped
    return [generated_clip((1280, 720), 8, 0), generated_clip((1280, 720), 8, 90)]


def clips_1080p() -> list[Path]:
    return [generated_clip((1920, 1080), 6, 40), generated_clip((1920, 1080), 6, 160)]


def content_folder(folder: Path, entries: list[tuple[str, Path | None, float | None]]) -> Path:
    """A default-content folder (links to the files) and its playlist.json."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for index, (kind, path, seconds) in enumerate(entries, start=1):
        item: dict[str, Any] = {"id": -index, "kind": kind, "duration_s": seconds, "data": {}}
        if path is not None:
            link = folder / f"{index}-{path.name}"
            link.symlink_to(path.resolve())
            item["file"] = link.name
        if kind == "qr":
            item["data"] = QR_SLIDE
        items.append(item)
    (folder / "playlist.json").write_text(json.dumps({"items": items}, ensure_ascii=False))
    return folder


def video_length(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.frames / (stream.average_rate or 30)) if stream.frames else 8.0


# -- the ceiling -----------------------------------------------------------------------------


def raw_decode_cpu_per_frame(paths: list[Path]) -> float:
    """Seconds of CPU per frame to decode ``paths`` with PyAV, configured as the player does
    (the frames are dropped as they come: nothing is converted, kept or shown)."""
    frames, cpu = 0, 0.0
    for path in paths:
        started = time.process_time()
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            configure(stream)
            for _ in container.decode(stream):
                frames += 1
        cpu += time.process_time() - started
    return cpu / max(frames, 1)


def stage_costs(paths: list[Path], screen: tuple[int, int], frames: int = 30) -> dict[str, float]:
    """CPU per frame of the display's two steps alone, in a tight loop over ``frames``
    decoded frames of each video: the upload (plane copy and, on the software renderer, the
    YUV to RGB conversion) and the draw and present (the copy or scaling to the screen)."""
    from kiosk.display import Display
    from kiosk.display_options import DisplayOptions
    from kiosk.video import Frame
    from kiosk.yuv_texture import YuvTexture

    display = Display(DisplayOptions(mode="headless", size=screen))
    display.open()
    upload = draw = 0.0
    count = 0
    try:
        texture = display._video
        if not isinstance(texture, YuvTexture):
            return {}
        for path in paths:
            with av.open(str(path)) as container:
                pictures = list(itertools.islice(container.decode(video=0), frames))
            size = (pictures[0].width, pictures[0].height)
            box = fit(size, display.layout.main)
            for picture in pictures:
                started = time.process_time()
                texture.upload(size, Frame(0, 0.0, picture).planes)
                uploaded = time.process_time()
                texture.draw((box.x, box.y, box.w, box.h), 0.0)
                display._renderer.present()  # type: ignore[union-attr]
                upload, draw = upload + uploaded - started, draw + time.process_time() - uploaded
                count += 1
    finally:
        display.close()
    return {"upload": upload / max(count, 1), "draw": draw / max(count, 1)}


# -- one phase, in its own process ------------------------------------------------------------


def run_phase(content: Path, seconds: float, size: str) -> dict[str, Any]:
    """Run the child process; it prints one JSON object."""
    spawned = time.monotonic()
    busy = machine_busy_seconds()
    result = subprocess.run(
        [sys.executable, "-m", "bench.kiosk_render", "--child", str(content), str(seconds), size],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"phase failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["first_frame_since_spawn_s"] = figures["first_frame_at"] - spawned
    elapsed = time.monotonic() - spawned
    figures["machine_busy_share"] = (machine_busy_seconds() - busy) / (elapsed * os.cpu_count())
    return figures


def child(content: Path, seconds: float, size: str) -> None:
    """Inside the phase's process: play, sample CPU once the first item is on screen. The
    player is imported as ``signage-kiosk run`` imports it (without pkg_resources and numpy)."""
    from kiosk.__main__ import _absent
    from kiosk.display_options import DisplayOptions

    with _absent("pkg_resources"), _absent("numpy"):
        from kiosk.player import Player

    width, height = (int(v) for v in size.split("x"))
    player = Player(
        DisplayOptions(mode="headless", size=(width, height)),
        queue.Queue(),
        lambda record: None,
        default_content=content,
    )
    started = time.monotonic()
    samples: dict[str, float] = {}
    screen_clock = time.pthread_getcpuclockid(threading.get_ident())  # run() owns the screen

    def watch() -> None:
        while player.status().first_frame_s is None:
            time.sleep(0.005)
        samples["cpu0"], samples["frames0"] = time.process_time(), player.status().frames_shown
        samples["screen0"] = time.clock_gettime(screen_clock)
        samples["wall0"] = time.monotonic()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    player.run(max_seconds=seconds)
    cpu, wall, screen_cpu = time.process_time(), time.monotonic(), time.thread_time()
    status = player.status()
    frames = status.frames_shown - samples.get("frames0", 0)
    per_frame = 1 / max(frames, 1)
    rss_mb = peak_rss_mb()
    print(
        json.dumps(
            {
                "cpu_per_frame": (cpu - samples.get("cpu0", 0.0)) * per_frame,
                "screen_cpu_per_frame": (screen_cpu - samples.get("screen0", 0.0)) * per_frame,
                "ceiling": raw_decode_cpu_per_frame(played_videos(content)),
                "stages": stage_costs(played_videos(content), (width, height)),
                "fps": frames / max(wall - samples.get("wall0", started), 1e-9),
                "late_frames": status.late_frames,
                "frames_shown": status.frames_shown,
                "first_frame_at": started + (status.first_frame_s or 0.0),
                "first_frame_s": status.first_frame_s,
                "rss_mb": rss_mb,
                "numpy_loaded": "numpy" in sys.modules,
                "transitions": [asdict(t) for t in player.transitions()],
            }
        )
    )


def played_videos(content: Path) -> list[Path]:
    """The video files of a content folder, in playlist order."""
    playlist = json.loads((content / "playlist.json").read_text())
    return [content / item["file"] for item in playlist["items"] if item["kind"] == "video"]


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). ``getrusage``'s ru_maxrss would not do: on
    Linux it carries the parent's peak over ``exec``, and the parent encoded video."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- report ------------------------------------------------------------------------------------


def phases(selected: list[str], work: Path) -> dict[str, Path]:
    """Each phase's content folder; a phase named ``NAME@WxH`` plays NAME's content."""
    hd, full_hd = clips_720p(), clips_1080p()
    plans: dict[str, list[tuple[str, Path | None, float | None]]] = {
        "720p": [("video", p, video_length(p)) for p in hd],
        "1080p": [("video", p, video_length(p)) for p in full_hd],
        "mixed": [
            ("video", hd[0], video_length(hd[0])),
            ("video", full_hd[0], video_length(full_hd[0])),
            ("image", poster((1920, 1080)), 3.0),
            ("qr", None, 3.0),
        ],
    }
    return {
        name: content_folder(work / name.replace("@", "-at-"), plans[name.split("@")[0]])
        for name in selected
    }


def video_boxes(content: Path, screen: str) -> str:
    """How the phase's videos go on screen: "1280x720>1536x864" per distinct size."""
    width, height = (int(v) for v in screen.split("x"))
    main_zone = screen_layout((width, height)).main
    boxes = []
    for path in played_videos(content):
        with av.open(str(path)) as container:
            codec = container.streams.video[0].codec_context
            size = (codec.width, codec.height)
        box = fit(size, main_zone)
        entry = f"{size[0]}x{size[1]}" + ("=" if (box.w, box.h) == size else f">{box.w}x{box.h}")
        if entry not in boxes:
            boxes.append(entry)
    return " ".join(boxes)


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One phase's rounds as one: medians of the rates and costs, worst of the rest."""
    figures = dict(rounds[0])
    for key in ("cpu_per_frame", "screen_cpu_per_frame", "ceiling", "fps", "first_frame_s",
                "first_frame_since_spawn_s", "machine_busy_share"):  # fmt: skip
        figures[key] = median([r[key] for r in rounds])
    figures["overhead"] = median([r["cpu_per_frame"] / r["ceiling"] - 1 for r in rounds])
    if all(r.get("stages") for r in rounds):
        figures["stages"] = {
            key: median([r["stages"][key] for r in rounds]) for key in ("upload", "draw")
        }
    figures["late_frames"] = max(r["late_frames"] for r in rounds)
    figures["rss_mb"] = max(r["rss_mb"] for r in rounds)
    figures["numpy_loaded"] = any(r["numpy_loaded"] for r in rounds)
    figures["transitions"] = [t for r in rounds for t in r["transitions"]]
    figures["rounds"] = len(rounds)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(Path(args.child[0]), float(args.child[1]), args.child[2])
        return 0
    say(f"kiosk_render: {machine()}")
    say(f"headless (software renderer), {args.seconds:g} s per phase, {args.rounds} round(s)")
    say(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    work = Path(tempfile.mkdtemp(prefix="kiosk-render-"))
    try:
        plan = phases(args.phases.split(","), work)
        screens = {name: name.partition("@")[2] or args.size for name in plan}
        boxes = {name: video_boxes(folder, screens[name]) for name, folder in plan.items()}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in plan}
        for _ in range(max(1, args.rounds)):
            for name, folder in plan.items():
                runs[name].append(run_phase(folder, args.seconds, screens[name]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {name: {**combine(rounds), "video": boxes[name]} for name, rounds in runs.items()}
    say(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return report(results)


def report(results: dict[str, dict[str, Any]]) -> int:
    rows = []
    for name, r in results.items():
        gaps = [t["gap_ms"] for t in r["transitions"]]
        rows.append(
            [
                name,
                r["video"],
                f"{r['fps']:.1f}",
                r["late_frames"],
                len(gaps),
                f"{max(gaps):.1f}" if gaps else "-",
                f"{r['cpu_per_frame'] * 1000:.2f}",
                f"{r['screen_cpu_per_frame'] * 1000:.2f}",
                stages_text(r.get("stages") or {}),
                f"{r['ceiling'] * 1000:.2f}",
                f"{r['overhead']:+.0%}",
                f"{r['rss_mb']:.0f}",
                f"{r['first_frame_since_spawn_s']:.2f} ({r['first_frame_s']:.2f})",
                f"{r['machine_busy_share']:.0%}",
            ]
        )
    header = [
        "phase", "video (= not scaled)", "fps", "late", "transitions", "gap max ms",
        "CPU ms/frame", "of it screen thread", "SDL alone: upload+draw", "raw decode",
        "overhead", "peak RSS MB",
        "first frame s (in run)", "machine busy",
    ]  # fmt: skip
    say(table(rows, header))
    say("")
    say("transitions (mixed):" if "mixed" in results else "transitions:")
    shown = results.get("mixed") or next(iter(results.values()))
    for t in shown["transitions"][:8]:
        say(
            f"  {t['from_kind']:>5} -> {t['to_kind']:<5} gap {t['gap_ms']:6.2f} ms "
            f"(frame interval {t['interval_ms']:.1f} ms; next item ready "
            f"{t['ready_margin_ms'] / 1000:.2f} s before)"
        )
    return verdict(results)


def stages_text(stages: dict[str, float]) -> str:
    if not stages:
        return "-"
    return f"{stages['upload'] * 1000:.2f}+{stages['draw'] * 1000:.2f}"


def verdict(results: dict[str, dict[str, Any]]) -> int:
    checks: list[tuple[str, bool]] = []
    if "720p" in results:
        late = results["720p"]["late_frames"]
        checks.append((f"720p30 late frames {late} (target {TARGETS['late_720p']})", late == 0))
    gaps = [(t["gap_ms"], t["interval_ms"]) for r in results.values() for t in r["transitions"]]
    worst = max((gap - interval for gap, interval in gaps), default=0.0)
    checks.append((f"every gap <= one frame interval (worst {worst:+.1f} ms vs it)", worst <= 0))
    for name, r in results.items():
        overhead = r["overhead"]
        scaled = "scaled" if ">" in r["video"] else "not scaled"
        checks.append(
            (f"{name} ({scaled}): render overhead {overhead:.0%} (target <= 50 %)", overhead <= 0.5)
        )
    rss = max(r["rss_mb"] for r in results.values())
    checks.append((f"peak RSS {rss:.0f} MB (target <= 150 MB)", rss <= TARGETS["rss_mb"]))
    numpy_in = [name for name, r in results.items() if r["numpy_loaded"]]
    checks.append((f"numpy loaded in the player process: {', '.join(numpy_in) or 'no'}",
                   not numpy_in))  # fmt: skip
    first = max(r["first_frame_since_spawn_s"] for r in results.values())
    checks.append((f"first frame {first:.2f} s after start (target <= 2 s)", first <= 2.0))
    say("")
    for text, ok in checks:
        say(f"  [{'ok' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
