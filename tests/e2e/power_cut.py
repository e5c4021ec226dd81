"""The power-cut harness (issue 7, part 4), shared by tests/e2e/test_e2e_power_cut.py (a few
cycles) and ``python -m bench power_cut_soak`` (200).

What it does, with real processes on 127.0.0.1 only:

- a server: ``signage-server --instance DIR db upgrade``, ``media import-default``, ``venue
  add``, ``playlist assign``, ``kiosk add --json`` (through the CLI's entry point, in one child
  process), then ``signage-server run`` on a loopback port. The kiosk reaches it through a
  small TCP proxy in this process that throttles the server-to-kiosk direction
  (``link_bytes_per_s``, a slow Wi-Fi), so that a download of a few MB spans several kills;
  when the server is "down", the real server process is stopped and the proxy refuses
  connections;
- a programme of short items (two posters of 0.4 s, a 1 s clip), so that the kiosk journals a
  play every half second; later (``big_at``, then every ``big_every`` cycles) a freshly made
  video of a few MB is published, whose download the kiosk must survive being killed in;
- one enrolled kiosk (``signage-kiosk enroll``) that boots once until it has the programme
  (the day it was installed), then ``cycles`` times: start ``signage-kiosk run --headless
  --screenshot PNG --screenshot-every 0.2``, SIGKILL it, maybe tear a file the way a power cut
  can (below), check the data folder, go on. When the kill comes is the cycle's mode:

  - ``boot``: 0.2 to 3 s after the process started (often still importing, opening the
    journal, restoring the manifest);
  - ``running``: 0.2 to 3 s after the kiosk logged that it started (journal open, sync thread
    polling and downloading, player starting and playing, plays being journaled);
  - ``journal``: once it plays, the moment the journal's WAL changes (a commit in flight);
  - ``download``: 0 to 0.4 s after the new video's ``.part`` grew (the first cycle after a
    publication always is one);

  a ``journal`` (``download``) cycle whose moment has not come 2 s (4 s) after the kiosk
  played is killed then; a kiosk stuck without playing is killed after ``STUCK_S``. The first cycle
  of each outage is a ``journal`` one, so what the kiosk shows with the server down is always
  measured;
- at the end, one more run with the server up until every record ever seen in the outbox is on
  the server and the newest video is cached and has been played; then SIGTERM, and the final
  checks.

"Playing" is concrete: the screenshot file (deleted before each start) has been written by this
process and its main zone (``kiosk.layout.screen_layout``) is not blank: at least
``PLAYING_SHARE`` of its pixels differ from the empty main zone's navy. The time to playing is
the PNG's modification time minus the time just before the process was started (the kiosk takes
a screenshot every 0.2 s, so the figure includes up to 0.2 s of screenshot cadence and the PNG
encoding). Each item of the test programme carries a magenta signature, so a screenshot also
tells whether the kiosk plays *its programme* (the last good manifest, restored from the
journal) or the built-in default content.

Torn writes, between a kill and the next start (``tear_probability``). A SIGKILL loses nothing
the process wrote (the kernel keeps it); a power cut can lose what was written but not yet on
the card, i.e. only what the process just killed wrote last:

- ``wal``: the journal's ``-wal`` is cut at a random byte inside its last transaction, when the
  killed process committed it (read from the WAL frame headers), as a power cut during that
  commit's fsync would leave it; never when a checkpoint already copied any of it into the
  database (the ``-shm`` index says how far checkpoints got: a disk that loses fsynced data is
  not a power cut);
- ``shm``: the ``-shm`` index is overwritten with garbage (it is never fsynced: after a power
  cut it holds whatever was last written back);
- ``part-cut``: a ``<sha256>.part`` the killed process wrote to is truncated at a random offset
  (resume must still work);
- ``part-zeros``: zeros are appended to such a ``.part`` (blocks allocated but never written):
  the hash check must catch it and the file be fetched again;
- ``media``: not a power cut but what a failing card does: a cached file of the programme the
  kiosk will restore is cut short, or 512 bytes in its middle are overwritten with its
  modification time put back. Only before a cycle with the server up (the file must be fetched
  again). The kiosk must notice before its player starts: when the new process logs "player
  started", that torn file must be gone from the cache (the restore hashes a file whose
  size/mtime/ctime/inode no longer match the stamp recorded when it was hashed).

After the last cycle (``destroyed_run``), the headers of the journal and of its WAL are
overwritten with garbage and ``credentials.json`` is cut short: the next start must set both
files aside and play (the built-in content: its programme went with the journal) within the
same time, and ``status`` must say the kiosk has to be enrolled again.

After every kill (and tear): ``PRAGMA integrity_check`` on a copy of the journal as the next
start will open it (database + WAL, no ``-shm``) must say ``ok``; every cache file named by a
sha256 must hash to its name (but one the harness tore itself and the kiosk has not yet seen);
while the kiosk runs, ``/proc/PID/fd`` is sampled and no
``.part`` file may be open read-only (only the downloader, read-write, may touch one). At the
end: every play record ever seen in an outbox snapshot is on the server, none twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SHA_NAME = re.compile(r"^[0-9a-f]{64}$")
PART_NAME = re.compile(r"^[0-9a-f]{64}\.part$")
NAVY = (11, 37, 69)  # kiosk.display.BACKGROUND: the empty main zone
MAGENTA = (255, 0, 255)  # the signature of every item of the test programme
PLAYING_SHARE = 0.02  # share of main-zone pixels that must differ from the empty navy
OURS_SHARE = 0.03  # share of magenta pixels that says "our programme"
SCREENSHOT_EVERY = 0.2  # the smallest interval the kiosk accepts
STUCK_S = 20.0  # a kiosk not killed by then (not playing: its cycle is a miss) is killed
POLL_S = 0.01
KIOSK_WIDTH, KIOSK_HEIGHT = 1280, 720  # kiosk.config defaults for --headless

#: Log lines of the kiosk that mean a media file could not be shown or something broke.
BAD_LOG = re.compile(r"skipped:|^WARNING kiosk\.(video|picture): |Traceback|^ERROR |^CRITICAL |"
                     r"could not journal|cannot open journal|is corrupt; deleting")
#: The kiosk found a cached file that hashes wrong: expected only of files the harness tore.
CORRUPT_LOG = re.compile(r"cached file ([0-9a-f]{12}) is corrupt; deleting")


# ----------------------------------------------------------------------------------------------
# settings and results


@dataclass
class Settings:
    """One soak: how many cycles, which kinds of trouble, and when."""

    cycles: int = 200
    seed: int = 7
    kill_min_s: float = 0.2
    kill_max_s: float = 3.0
    target_s: float = 2.0
    link_bytes_per_s: int = 1_500_000
    big_at: int = 4  # cycle before which the first big video is published
    big_every: int = 0  # publish another fresh big video every N cycles (0: once)
    big_seconds: float = 3.0  # length of the big video (640x360, noisy: ~1.15 MB per second)
    down_at: int = 9  # first cycle with the server down
    down_every: int = 0  # a new outage every N cycles (0: once)
    down_cycles: int = 2  # cycles per outage
    tear_probability: float = 0.5
    bytecode_cache: bool = True  # kiosk .pyc files cached, as in an installed kiosk
    final_timeout_s: float = 60.0
    log: Callable[[str], None] = field(default=lambda _line: None)

    def server_down(self, cycle: int) -> bool:
        if cycle < self.down_at or self.down_cycles <= 0:
            return False
        offset = cycle - self.down_at
        if self.down_every:
            offset %= self.down_every
        return offset < self.down_cycles

    def publish_big(self, cycle: int) -> bool:
        if cycle < self.big_at:
            return False
        return cycle == self.big_at or bool(self.big_every and
                                            (cycle - self.big_at) % self.big_every == 0)


@dataclass
class Cycle:
    """What one start-and-kill of the kiosk showed."""

    index: int
    mode: str  # random | download | journal
    server_up: bool
    lived_s: float = 0.0
    playing_s: float | None = None  # process start -> first non-blank screenshot
    ours_s: float | None = None  # process start -> first screenshot of the programme
    first_item_s: float | None = None  # process start -> the kiosk's "first item on screen"
    cpu_to_playing_s: float | None = None  # CPU the kiosk had used when it was seen playing
    load: float = 0.0  # the machine's 1-minute load average when the cycle started
    killed_mid_download: bool = False
    killed_at_journal_write: bool = False
    blank_after_playing: int = 0
    exited_by_itself: int | None = None
    tear: str = ""
    # started with a file of the stored programme missing (deleted after a tear, not fetched
    # again yet) or torn: the programme cannot come first
    programme_incomplete: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def default_first(self) -> bool:
        """Playing, but the first playing screenshot was not of the programme (the built-in
        default content came first)."""
        return self.playing_s is not None and self.ours_s != self.playing_s

    @property
    def label(self) -> str:
        return {-1: "first-boot", -2: "final", -3: "profile", -4: "destroyed"}.get(self.index,
                                                                   f"cycle-{self.index}")


@dataclass
class Report:
    """The soak's figures and every problem found (an empty ``problems`` is a pass)."""

    settings: Settings
    cycles: list[Cycle] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    integrity_checks: int = 0
    cache_checks: int = 0
    tears: Counter[str] = field(default_factory=Counter)
    journaled: set[str] = field(default_factory=set)
    resends: int = 0  # records in the outbox after a kill that the server already had
    server_total: int = 0
    server_distinct: int = 0
    lost: list[str] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)
    big_published: list[str] = field(default_factory=list)
    big_cached: bool = False
    big_played: bool = False
    first_boot: Cycle | None = None
    final: Cycle | None = None
    destroyed: Cycle | None = None
    log_lines: Counter[str] = field(default_factory=Counter)
    stale_screenshot_tmp: int = 0
    setup_s: float = 0.0
    wall_s: float = 0.0

    # -- derived figures -------------------------------------------------------------

    @property
    def restarts(self) -> int:
        return len(self.cycles) + 1  # after the first boot: the cycles and the final run

    @property
    def measured(self) -> list[float]:
        return [c.playing_s for c in self.cycles if c.playing_s is not None]

    @property
    def misses(self) -> list[Cycle]:
        """Cycles that lived past the target without a playing screenshot by then."""
        target = self.settings.target_s
        return [c for c in self.cycles
                if (c.playing_s is None and c.lived_s >= target) or
                (c.playing_s is not None and c.playing_s > target)]

    @property
    def censored(self) -> int:
        """Cycles killed before the target and before their first playing screenshot."""
        return sum(1 for c in self.cycles
                   if c.playing_s is None and c.lived_s < self.settings.target_s)

    @property
    def integrity_failures(self) -> list[str]:
        return [p for p in self.all_problems() if p.startswith("integrity")]

    @property
    def partial_media_used(self) -> list[str]:
        return [p for p in self.all_problems() if p.startswith(("cache:", "part-read:",
                                                                "media-failed:"))]

    @property
    def duplicates(self) -> int:
        return self.server_total - self.server_distinct

    def all_problems(self) -> list[str]:
        extra = [c for c in (self.first_boot, self.destroyed) if c is not None]
        return [*self.problems, *(f"{p} ({c.label})" for c in [*extra, *self.cycles]
                                  for p in c.problems)]

    def figures(self) -> dict[str, Any]:
        """The figures as one JSON-able dictionary."""
        measured = self.measured
        ours = [c.ours_s for c in self.cycles if c.ours_s is not None]
        first = [c.first_item_s for c in self.cycles if c.first_item_s is not None]
        down = [c for c in self.cycles if not c.server_up]
        return {
            "cycles": len(self.cycles), "restarts": self.restarts,
            "kill_modes": dict(Counter(c.mode for c in self.cycles)),
            "killed_mid_download": sum(c.killed_mid_download for c in self.cycles),
            "killed_at_journal_write": sum(c.killed_at_journal_write for c in self.cycles),
            "server_down_cycles": len(down),
            "time_to_playing_s": stats(measured),
            "time_to_programme_s": stats(ours),
            "first_item_logged_s": stats(first),
            "cpu_to_playing_s": stats([c.cpu_to_playing_s for c in self.cycles
                                       if c.cpu_to_playing_s is not None]),
            "load_average": round(sum(c.load for c in self.cycles) / len(self.cycles), 2)
            if self.cycles else None,
            "server_down_time_to_programme_s": stats(
                [c.ours_s for c in down if c.ours_s is not None]),
            "restarts_showing_default_content_first": sum(c.default_first
                                                          for c in self.cycles),
            "measured_restarts": len(measured), "censored_restarts": self.censored,
            "missed_target": len(self.misses), "target_s": self.settings.target_s,
            "first_boot_playing_s": self.first_boot.playing_s if self.first_boot else None,
            "final_run_playing_s": self.final.playing_s if self.final else None,
            "destroyed_files_run_playing_s": self.destroyed.playing_s if self.destroyed
            else None,
            "restarts_with_programme_files_missing_or_torn": sum(c.programme_incomplete
                                                                 for c in self.cycles),
            "blank_screenshots_after_playing": sum(c.blank_after_playing for c in self.cycles),
            "tears": dict(self.tears),
            "integrity_checks": self.integrity_checks, "cache_checks": self.cache_checks,
            "integrity_failures": len(self.integrity_failures),
            "partial_media_used": len(self.partial_media_used),
            "plays_on_server": self.server_total, "plays_distinct": self.server_distinct,
            "duplicates": self.duplicates, "journaled_plays_seen": len(self.journaled),
            "acknowledged_but_unsettled_at_a_kill": self.resends,
            "journaled_plays_lost": len(self.lost), "dead_letters": len(self.dead_letters),
            "big_videos_published": len(self.big_published),
            "big_video_cached_and_verified": self.big_cached,
            "big_video_played": self.big_played,
            "kiosk_log": dict(self.log_lines),
            "stale_screenshot_tmp_files": self.stale_screenshot_tmp,
            "problems": self.all_problems(),
            "setup_s": round(self.setup_s, 1), "wall_s": round(self.wall_s, 1),
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(percentile(values, 50), 3),
            "p95": round(percentile(values, 95), 3), "max": round(max(values), 3),
            "min": round(min(values), 3)}


# ----------------------------------------------------------------------------------------------
# the screen, from its screenshot


def main_zone() -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the main zone on the headless kiosk's screen."""
    from kiosk.layout import screen_layout

    box = screen_layout((KIOSK_WIDTH, KIOSK_HEIGHT), "bottom").main
    return box.x, box.y, box.x + box.w, box.y + box.h


@dataclass(frozen=True)
class Look:
    """What a screenshot shows: content in the main zone, and whether it is ours."""

    playing: bool
    ours: bool


def look(png: Path) -> Look | None:
    """Read a screenshot; None when it cannot be read (replaced while opening, say)."""
    import numpy
    from PIL import Image

    try:
        with Image.open(png) as image:
            picture = image.convert("RGB")
    except (OSError, ValueError):
        return None
    if picture.size != (KIOSK_WIDTH, KIOSK_HEIGHT):
        return Look(False, False)
    pixels = numpy.asarray(picture.crop(main_zone()).reduce(4), dtype=numpy.int16)
    off_navy = numpy.abs(pixels - numpy.array(NAVY, numpy.int16)).max(axis=2) > 24
    magenta = numpy.abs(pixels - numpy.array(MAGENTA, numpy.int16)).max(axis=2) < 60
    total = off_navy.size
    return Look(bool(off_navy.sum() >= PLAYING_SHARE * total),
                bool(magenta.sum() >= OURS_SHARE * total))


# ----------------------------------------------------------------------------------------------
# media of the test programme


def poster_png(shade: int) -> bytes:
    """A 640x360 poster: magenta with a grid of lines (different per ``shade``)."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (640, 360), MAGENTA)
    draw = ImageDraw.Draw(picture)
    for x in range(0, 640, 40):
        draw.line([(x, 0), (x, 359)], fill=(shade, shade, 40), width=3)
    draw.text((20, 20), f"power cut {shade}", fill="white")
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def write_clip(path: Path, seconds: float, size: tuple[int, int], noise: tuple[int, int] | None,
               seed: int) -> Path:
    """An H.264 clip: magenta with a moving white bar and, with ``noise`` (w, h), a block of
    random pixels in the middle that makes the file big (about 1.2 MB per second at
    240x240)."""
    import av
    import numpy

    rng = numpy.random.default_rng(seed)
    width, height = size
    fps = 30
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        base = numpy.zeros((height, width, 3), numpy.uint8)
        base[...] = MAGENTA
        for index in range(round(seconds * fps)):
            picture = base.copy()
            left = (index * 7) % max(1, width - 12)
            picture[:, left:left + 12] = 255
            if noise is not None:
                nw, nh = noise
                top, lft = (height - nh) // 2, (width - nw) // 2
                picture[top:top + nh, lft:lft + nw] = rng.integers(0, 256, (nh, nw, 3),
                                                                    dtype=numpy.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _script(name: str) -> list[str]:
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    module = {"signage-server": "signage_server.cli", "signage-kiosk": "kiosk.__main__"}[name]
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}


#: The operator's set-up, in one child process through the CLI's entry point (what the
#: ``signage-server`` script runs): starting the CLI once per command costs seconds each.
_SETUP = """
import contextlib, io, json, sys
from signage_server.cli import main
instance = sys.argv[1]

def cli(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main.main(args=["--instance", instance, *args], prog_name="signage-server",
                  standalone_mode=False)
    return json.loads(out.getvalue().strip().splitlines()[-1])

main.main(args=["--instance", instance, "db", "upgrade"], prog_name="signage-server",
          standalone_mode=False)
playlist = cli("media", "import-default", "--json")["playlist_id"]
venue = cli("venue", "add", "Bến xe Mỹ Đình", "--kind", "bus_station", "--json")["id"]
cli("playlist", "assign", str(playlist), "--venue", str(venue), "--json")
kiosk = cli("kiosk", "add", "--venue", str(venue), "--name", "power cut", "--json")
print(json.dumps({"venue_id": venue, "kiosk_id": kiosk["kiosk_id"],
                  "code": kiosk["enrollment_code"]}))
"""


class Server:
    """``signage-server run`` on a fixed loopback port of an instance set up by its CLI."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.env = clean_env()
        self.env.update(SIGNAGE_INSTANCE_PATH=str(folder), SIGNAGE_MQTT_URL="",
                        SIGNAGE_LOG_LEVEL="WARNING", SIGNAGE_MANIFEST_POLL_SECONDS="2")
        self.process: subprocess.Popen[bytes] | None = None
        self.venue_id = 0
        self.kiosk_id = 0
        self.code = ""
        self._app: Any = None
        self._playlist_id: int | None = None

    def set_public_url(self, url: str) -> None:
        """The address kiosks reach the server at (media URLs in the manifest)."""
        self.env["SIGNAGE_PUBLIC_URL"] = url

    def setup(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-c", _SETUP, str(self.folder)], env=self.env,
                              cwd=REPO, capture_output=True, text=True, timeout=300,
                              check=False)
        if done.returncode:
            raise RuntimeError(f"server set-up failed:\n{done.stderr[-3000:]}")
        made = json.loads(done.stdout.strip().splitlines()[-1])
        self.venue_id, self.kiosk_id, self.code = (int(made["venue_id"]),
                                                   int(made["kiosk_id"]), str(made["code"]))

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        with (self.folder / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*_script("signage-server"), "run", "--host", HOST, "--port", str(self.port)],
                env=self.env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"signage-server run exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 1):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"signage-server run did not listen within 60 s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = (self.folder / "server.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    # -- the editor: what the admin pages do, from this process --------------------------

    def _editor(self) -> Any:
        if self._app is None:
            from signage_server import create_app

            self._app = create_app({"PUBLIC_URL": self.env["SIGNAGE_PUBLIC_URL"],
                                    "MQTT_URL": "", "LOG_LEVEL": "WARNING",
                                    "MANIFEST_POLL_SECONDS": 2}, instance_path=self.folder)
        return self._app

    def publish(self, files: list[tuple[str, Path, float | None]]) -> list[str]:
        """Upload ``(kind, file, duration_s)`` items, make them the venue's playlist and
        publish it, as the admin pages do; returns their hashes."""
        from signage_server import library, playlists
        from signage_server.extensions import db

        with self._editor().app_context():
            specs, hashes = [], []
            for kind, path, duration in files:
                asset, _ = library.add_path(path)
                hashes.append(str(asset.sha256))
                specs.append(playlists.ItemSpec(kind, media_sha256=asset.sha256,
                                                duration_s=duration))
            if self._playlist_id is None:
                playlist = playlists.create("Power cut", specs)
                playlists.assign(playlist.id, venue_id=self.venue_id)
                self._playlist_id = int(playlist.id)
            else:
                playlists.replace_items(self._playlist_id, specs)
            playlists.publish([self.venue_id])
            db.session.remove()
        return hashes

    def close_editor(self) -> None:
        if self._app is not None:
            from signage_server.extensions import db

            with self._app.app_context():
                db.session.remove()
                db.engine.dispose()
            self._app = None

    def plays(self) -> list[tuple[str, str | None]]:
        """(client_uuid, media sha256) of every play record of the kiosk on the server."""
        database = self.folder / "signage.sqlite"
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("SELECT client_uuid, media_sha256 FROM play_event "
                                "WHERE kiosk_id = ?", (self.kiosk_id,)).fetchall()
        finally:
            conn.close()
        return [(str(uuid.UUID(str(u))), sha) for u, sha in rows]


# ----------------------------------------------------------------------------------------------
# a slow link to the server


class Link:
    """A TCP proxy on loopback in front of the server: the server-to-kiosk direction is
    throttled to ``rate`` bytes per second per connection; ``down()`` stops listening and cuts
    every open connection (the kiosk then sees "connection refused")."""

    CHUNK = 16 * 1024

    def __init__(self, upstream_port: int, rate: int) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,),
                                        name="power-cut-link", daemon=True)
        self._thread.start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection((HOST, self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink, rate in ((client, upstream, 0), (upstream, client, self.rate)):
                threading.Thread(target=self._pump, args=(source, sink, rate),
                                 name="power-cut-pump", daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, rate: int) -> None:
        started, sent = time.monotonic(), 0
        try:
            while data := source.recv(self.CHUNK):
                sink.sendall(data)
                sent += len(data)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)  # pass the end on; the other pump closes
            with self._lock:
                gone = source not in self._open
                self._open.discard(source)
            if not gone:
                with contextlib.suppress(OSError):
                    source.shutdown(socket.SHUT_RDWR)
            source.close()


# ----------------------------------------------------------------------------------------------
# the kiosk process


def end_process(process: subprocess.Popen[Any] | None, sig: int,
                reader: threading.Thread | None, wait_s: float, join_s: float) -> int | None:
    """Send ``sig`` (unless it has ended), wait up to ``wait_s`` (then SIGKILL), join the
    thread reading its output and close its pipes; its exit status, None with no process."""
    if process is None:
        return None
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
    try:
        code = process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait(10)
    if reader is not None:
        reader.join(join_s)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    return code


class KioskProcess:
    """``signage-kiosk run --headless --screenshot``; stderr lines stamped as they arrive."""

    def __init__(self, data: Path, screenshot: Path, env: dict[str, str]) -> None:
        self.data = data
        self.screenshot = screenshot
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.started_wall = 0.0
        self.started_mono = 0.0
        self.lines: list[tuple[float, str]] = []
        self.prefix: list[str] = []  # e.g. ["nice", "-n", "-10"]
        self.last_pid: int | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self.lines = []
        self.started_wall, self.started_mono = time.time(), time.monotonic()
        self.process = subprocess.Popen(
            [*self.prefix, *_script("signage-kiosk"), "--data", str(self.data), "run", "--headless",
             "--screenshot", str(self.screenshot), "--screenshot-every", str(SCREENSHOT_EVERY)],
            env=self.env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.last_pid = self.process.pid
        self._reader = threading.Thread(target=self._read, args=(self.process,),
                                        name="power-cut-kiosk-log", daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            self.lines.append((time.monotonic(), raw.decode("utf-8", "replace").rstrip()))

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def stop(self, sig: int) -> int | None:
        """Send ``sig``, wait for the process to end; its exit status."""
        process, self.process = self.process, None
        return end_process(process, sig, self._reader, wait_s=20, join_s=5)

    def logged_at(self, needle: str) -> float | None:
        """Seconds from start to the first log line containing ``needle``."""
        for at, line in list(self.lines):
            if needle in line:
                return at - self.started_mono
        return None

    def text(self) -> str:
        return "\n".join(line for _, line in list(self.lines))


def process_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process, all its threads, so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def part_opened_read_only(pid: int) -> list[str]:
    """``.part`` files the process has open read-only (a reader, i.e. the player, would; the
    downloader opens its partial file for writing). An fd number can be closed and reused
    between the reads of ``/proc``: a hit counts only when the link, read again, still names
    the same file (inode) as the fdinfo."""
    found = []
    folder = Path(f"/proc/{pid}/fd")
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    for entry in entries:
        try:
            target = os.readlink(folder / entry)
            if not target.endswith(".part"):
                continue
            info = Path(f"/proc/{pid}/fdinfo/{entry}").read_text()
            inode = os.stat(folder / entry).st_ino
            if os.readlink(folder / entry) != target:
                continue
        except OSError:
            continue
        flags = re.search(r"^flags:\s+([0-7]+)", info, re.MULTILINE)
        ino = re.search(r"^ino:\s+(\d+)", info, re.MULTILINE)
        if ino is not None and int(ino.group(1)) != inode:
            continue
        if flags and int(flags.group(1), 8) & os.O_ACCMODE == os.O_RDONLY:
            found.append(f"{Path(target).name} (fd {entry}, flags {flags.group(1)})")
    return found


# ----------------------------------------------------------------------------------------------
# checks of the data folder


@contextlib.contextmanager
def opened_copy(journal: Path, scratch: Path) -> Iterator[sqlite3.Connection]:
    """The journal as the next start will open it: a copy of the database and its WAL in
    ``scratch`` (no ``-shm``: SQLite rebuilds the index from the WAL), so looking at it
    changes nothing in the kiosk's folder. The copy is removed afterwards."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    copy = scratch / journal.name
    try:
        shutil.copyfile(journal, copy)
        wal = journal.with_name(journal.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        conn = sqlite3.connect(copy, timeout=5)
        try:
            yield conn
        finally:
            conn.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def integrity(conn: sqlite3.Connection) -> tuple[str, set[str]]:
    """``PRAGMA integrity_check``'s verdict and the names of the tables."""
    verdict = "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
    return verdict, {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def check_journal(journal: Path, scratch: Path) -> tuple[str, set[str]]:
    """``PRAGMA integrity_check`` of the journal as the next start will open it
    (``opened_copy``). Returns the verdict and the client_uuids of the play records waiting
    in the outbox."""
    if not journal.exists():
        return "ok", set()
    try:
        with opened_copy(journal, scratch) as conn:
            verdict, tables = integrity(conn)
            uuids: set[str] = set()
            if "outbox" in tables:
                uuids = {str(uuid.UUID(r[0])) for r in conn.execute(
                    "SELECT client_uuid FROM outbox WHERE kind = 'play'")}
            if "kv" in tables:
                raw = conn.execute("SELECT value FROM kv WHERE key = 'manifest'").fetchone()
                if raw is not None:
                    json.loads(raw[0])  # the remembered manifest is readable
    except (sqlite3.Error, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}", set()
    return verdict, uuids


class CacheChecker:
    """Every file of the cache named by a sha256 must hash to its name (each version of a file
    is hashed once: by name, size, inode and modification time)."""

    def __init__(self, media: Path) -> None:
        self.media = media
        self._good: set[tuple[str, int, int, int]] = set()

    def check(self, torn: frozenset[TornMedia] = frozenset()) -> list[str]:
        problems = []
        skip = {t.name for t in torn if t.still_there(self.media)}
        try:
            entries = list(self.media.iterdir())
        except FileNotFoundError:
            return []
        for entry in entries:
            if not SHA_NAME.match(entry.name) or entry.name in skip:
                continue
            try:
                st = entry.stat()
                key = (entry.name, st.st_size, st.st_ino, st.st_mtime_ns)
                if key in self._good:
                    continue
                actual = file_sha256(entry)
            except FileNotFoundError:
                continue
            if actual != entry.name:
                problems.append(f"cache: {entry.name[:12]} ({st.st_size} bytes) hashes to "
                                f"{actual[:12]}")
            else:
                self._good.add(key)
        return problems


# ----------------------------------------------------------------------------------------------
# torn writes


WAL_MAGIC = (0x377F0682, 0x377F0683)
TEARS = ("wal", "shm", "part-cut", "part-zeros", "media")


@dataclass(frozen=True)
class TornMedia:
    """A cached file the harness damaged: which version of it (inode, size, ctime)."""

    name: str
    ino: int
    size: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path) -> TornMedia:
        st = path.stat()
        return cls(path.name, st.st_ino, st.st_size, st.st_ctime_ns)

    def still_there(self, media: Path) -> bool:
        try:
            return TornMedia.of(media / self.name) == self
        except FileNotFoundError:
            return False


def stored_programme(journal: Path) -> list[str]:
    """The sha256 of every file of the manifest the next start will restore (read-only: the
    kiosk is dead and nothing is checkpointed)."""
    try:
        conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return []
    try:
        row = conn.execute("SELECT value FROM kv WHERE key = 'manifest'").fetchone()
        items = (json.loads(row[0]).get("playlist") or {}).get("items") or [] if row else []
    except (sqlite3.Error, ValueError):
        return []
    finally:
        conn.close()
    return [i["sha256"] for i in items if isinstance(i.get("sha256"), str)]


def tear_media(data: Path, rng: random.Random) -> tuple[str, TornMedia] | None:
    """Cut short, or overwrite the middle of (mtime put back), a cached file of the programme
    the next start restores."""
    media = data / "media"
    names = sorted({n for n in stored_programme(data / "journal.sqlite")
                    if (media / n).is_file()})
    if not names:
        return None
    path = media / rng.choice(names)
    before = path.stat()
    if rng.random() < 0.5:
        cut = rng.randrange(0, before.st_size)
        os.truncate(path, cut)
        done = f"{path.name[:12]} cut from {before.st_size} to {cut} bytes"
    else:
        at = rng.randrange(0, max(1, before.st_size - 512))
        with path.open("r+b") as handle:
            handle.seek(at)
            handle.write(rng.randbytes(512))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        done = f"{path.name[:12]}: 512 bytes at {at} overwritten, mtime kept"
    return done, TornMedia.of(path)


@dataclass(frozen=True)
class WalTail:
    """The last complete transaction of a WAL: frames ``after + 1`` to ``commit``."""

    fingerprint: tuple[int, ...]  # salts, commit frame number and checksum
    after: int  # the commit frame of the transaction before it (0: none)
    commit: int
    frame_bytes: int

    @property
    def span(self) -> tuple[int, int]:
        """Its bytes in the file: from its first frame to the end of its commit frame."""
        return 32 + self.after * self.frame_bytes, 32 + self.commit * self.frame_bytes


def wal_last_transaction(wal: Path) -> WalTail | None:
    """The WAL's last complete transaction, or None when there is none.

    Read from the frame headers alone: the frames of the current WAL generation carry the
    header's salts and are written in order; a transaction ends with a commit frame (a non-zero
    "database size after commit"); frames after the last commit frame belong to a transaction
    that never committed."""
    try:
        with wal.open("rb") as handle:
            header = handle.read(32)
            if len(header) < 32:
                return None
            magic, _version, page_size, _seq, salt1, salt2 = struct.unpack(">6I", header[:24])
            if magic not in WAL_MAGIC or page_size < 512:
                return None
            size = wal.stat().st_size
            frame = 24 + page_size
            previous_commit = last_commit = 0
            last_head = b""
            number = 1
            while 32 + number * frame <= size:
                handle.seek(32 + (number - 1) * frame)
                head = handle.read(24)
                _page, commit_size, s1, s2 = struct.unpack(">4I", head[:16])
                if (s1, s2) != (salt1, salt2):
                    break
                if commit_size:
                    previous_commit, last_commit, last_head = last_commit, number, head
                number += 1
    except OSError:
        return None
    if not last_commit:
        return None
    fingerprint = (salt1, salt2, last_commit, *struct.unpack(">2I", last_head[16:24]))
    return WalTail(fingerprint, previous_commit, last_commit, frame)


def checkpointed_frames(shm: Path) -> tuple[int, int] | None:
    """(last committed frame, frames a checkpoint copied into the database) from the ``-shm``
    index (native byte order: ``mxFrame`` at byte 16, ``nBackfill`` at byte 96)."""
    try:
        index = shm.read_bytes()[:136]
    except OSError:
        return None
    if len(index) < 104 or not index[12]:  # isInit
        return None
    return struct.unpack_from("=I", index, 16)[0], struct.unpack_from("=I", index, 96)[0]


def tear(kind: str, data: Path, rng: random.Random,
         wal_before: tuple[int, ...] | None = None, since: float = 0.0) -> str | None:
    """Apply one torn write of ``kind`` to the (dead) kiosk's data folder; what was done, or
    None when there was nothing of that kind to tear.

    Only what the process just killed wrote can be torn (anything older was on the card long
    before this power cut): a WAL only inside a transaction that process committed
    (``wal_before`` is the fingerprint of the last one before it started), and only when no
    checkpoint copied any of it into the database yet (that process's ``-shm`` says so); a
    ``.part`` only when it was written since ``since`` (wall time)."""
    journal = data / "journal.sqlite"
    wal, shm = journal.with_name("journal.sqlite-wal"), journal.with_name("journal.sqlite-shm")
    if kind == "wal":
        last = wal_last_transaction(wal)
        frames = checkpointed_frames(shm)
        if last is None or frames is None or last.fingerprint == wal_before:
            return None
        max_frame, backfilled = frames
        if max_frame != last.commit or backfilled > last.after:
            return None
        start, end = last.span
        cut = rng.randrange(start, end)
        os.truncate(wal, cut)
        return f"wal cut at {cut}, inside its last transaction [{start}, {end})"
    if kind == "shm":
        if not shm.exists():
            return None
        size = shm.stat().st_size
        shm.write_bytes(rng.randbytes(size))
        return f"shm overwritten with {size} random bytes"
    if kind == "media":
        raise ValueError("media tears go through tear_media()")
    parts = sorted(p for p in (data / "media").glob("*.part") if p.stat().st_mtime >= since)
    if not parts:
        return None
    part = rng.choice(parts)
    size = part.stat().st_size
    if kind == "part-cut":
        cut = rng.randrange(0, size + 1)
        os.truncate(part, cut)
        return f"{part.name[:12]}.part cut from {size} to {cut} bytes"
    if kind == "part-zeros":
        extra = rng.randrange(1, 64 * 1024)
        with part.open("ab") as handle:
            handle.write(bytes(extra))
        return f"{part.name[:12]}.part: {extra} zero bytes appended to its {size}"
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------
# the soak


class PowerCutSoak:
    """Set up, boot the kiosk once, run ``settings.cycles`` cycles, run the final sync. Use
    ``soak()``: every process it started is stopped on exit, whatever happened."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.work = workdir
        self.rng = random.Random(settings.seed)
        self.report = Report(settings)
        self.server = Server(workdir / "instance")
        self.link = Link(self.server.port, settings.link_bytes_per_s)
        self.server.set_public_url(self.link.url)
        self.data = workdir / "kiosk"
        self.screenshot = workdir / "screen" / "kiosk.png"
        self.cache = CacheChecker(self.data / "media")
        self.kiosk = KioskProcess(self.data, self.screenshot, self.kiosk_env())
        self.programme: list[tuple[str, Path, float | None]] = []
        self.big: list[Path] = []
        self.big_sha: str | None = None
        self._setup_error: BaseException | None = None
        self.wal_before: tuple[int, ...] | None = None
        self.torn: set[TornMedia] = set()  # torn by us, not yet seen by a kiosk's restore
        self.torn_names: set[str] = set()  # every file ever torn (12-character prefixes)

    def close(self) -> None:
        self.kiosk.stop(signal.SIGKILL)
        self.link.down()
        self.server.stop()
        self.server.close_editor()

    def say(self, line: str) -> None:
        self.settings.log(line)

    def kiosk_env(self) -> dict[str, str]:
        env = clean_env()
        env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
        if self.settings.bytecode_cache:  # as in a kiosk installed by pip: bytecode cached
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    # -- set-up ----------------------------------------------------------------------

    def setup(self) -> None:
        """Server, programme, enrolled kiosk, and its first boot: it runs until it has the
        programme (the day it was installed); then the power goes for the first time. What
        can overlap does (each step starts a Python of its own: seconds on a busy machine)."""
        started = time.monotonic()
        setting_up = threading.Thread(target=self._server_setup, name="power-cut-setup")
        setting_up.start()
        warming = self.warm_bytecode()
        made = self.work / "made"
        made.mkdir(parents=True, exist_ok=True)
        for shade in (40, 200):
            (made / f"poster-{shade}.png").write_bytes(poster_png(shade))
        self.programme = [("image", made / "poster-40.png", 0.4),
                          ("video", write_clip(made / "clip.mp4", 1.0, (320, 180), None, 1),
                           None),
                          ("image", made / "poster-200.png", 0.4)]
        self.big.append(self.make_big(0))
        setting_up.join()
        if self._setup_error is not None:
            raise self._setup_error
        self.server.launch()
        self.server.publish(self.programme)
        self.server.wait_ready()
        self.link.up()
        enrolled = subprocess.run(
            [*_script("signage-kiosk"), "--data", str(self.data), "enroll", self.server.code,
             "--server", self.link.url, "--json"],
            env=self.kiosk.env, cwd=REPO, capture_output=True, text=True, timeout=120,
            check=False)
        if enrolled.returncode:
            raise RuntimeError(f"enrollment failed: {enrolled.stderr[-2000:]}")
        if warming is not None and warming.wait(120):
            raise RuntimeError("compiling the kiosk's modules failed")
        self.screenshot.parent.mkdir(parents=True, exist_ok=True)
        self.report.setup_s = time.monotonic() - started
        self.say(f"set up in {self.report.setup_s:.1f} s: server {self.server.url}, kiosk link "
                 f"{self.link.url} at {self.settings.link_bytes_per_s / 1e6:.1f} MB/s")
        self.first_boot()

    def warm_bytecode(self) -> subprocess.Popen[bytes] | None:
        """Compile the kiosk's modules into the bytecode cache, as pip does when it installs
        a package (this checkout is an editable install, whose modules are compiled by the
        first process that imports them, or on every start without a cache)."""
        if not self.settings.bytecode_cache:
            return None
        return subprocess.Popen(
            [sys.executable, "-c", "import kiosk.__main__, kiosk.player"], env=self.kiosk.env,
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def _server_setup(self) -> None:
        try:
            self.server.setup()
        except BaseException as exc:  # handed to the main thread
            self._setup_error = exc

    def make_big(self, number: int) -> Path:
        path = self.work / "made" / f"big-{number}.mp4"
        return write_clip(path, self.settings.big_seconds, (640, 360), (240, 240),
                          seed=self.settings.seed * 1000 + number)

    def first_boot(self) -> None:
        cycle = Cycle(-1, "first-boot", True)
        self.run_kiosk(cycle, lambda now: self.kiosk.logged_at("handed to the player")
                       is not None and cycle.playing_s is not None,
                       self.settings.final_timeout_s)
        if self.kiosk.logged_at("handed to the player") is None:
            cycle.problems.append("first boot: no manifest handed to the player")
        self.kiosk.stop(signal.SIGKILL)
        self.after_kill(cycle, may_tear=False)  # the programme it got stays remembered
        self.report.first_boot = cycle
        self.say(self.describe(cycle))

    # -- the cycles ------------------------------------------------------------------

    def run(self) -> Report:
        started = time.monotonic()
        self.setup()
        for index in range(self.settings.cycles):
            self.set_server(up=not self.settings.server_down(index))
            published = self.settings.publish_big(index)
            if published:
                self.publish_big()
            outage = self.settings.server_down(index) and not self.settings.server_down(
                index - 1)
            cycle = self.cycle(index, published, outage)
            self.report.cycles.append(cycle)
            self.say(self.describe(cycle))
        self.set_server(up=True)
        self.final()
        self.report.wall_s = time.monotonic() - started
        return self.report

    def set_server(self, up: bool) -> None:
        if up and not self.server.running:
            self.server.start()
            self.link.up()
            self.say("server up")
        elif not up and self.server.running:
            self.link.down()
            self.server.stop()
            self.say("server down")

    def publish_big(self) -> None:
        number = len(self.report.big_published)
        if number >= len(self.big):
            self.big.append(self.make_big(number))
        path = self.big[number]
        self.big_sha = self.server.publish([*self.programme, ("video", path, None)])[-1]
        self.report.big_published.append(self.big_sha)
        self.say(f"published a big video {self.big_sha[:12]} "
                 f"({path.stat().st_size / 1e6:.1f} MB)")

    def big_part(self) -> Path | None:
        if self.big_sha is None:
            return None
        part = self.data / "media" / f"{self.big_sha}.part"
        return part if part.exists() else None

    def big_done(self) -> bool:
        return self.big_sha is not None and (self.data / "media" / self.big_sha).exists()

    def choose_mode(self, server_up: bool, just_published: bool, outage: bool) -> str:
        """When this cycle's kill comes (see the module's docstring). The first cycle after
        a new video was published is killed mid-download; the first of an outage lives past
        its start-up (what it shows with the server down is measured)."""
        if outage:
            return "journal"
        downloading = server_up and self.big_sha is not None and not self.big_done()
        roll = self.rng.random()
        if downloading and (just_published or roll < 0.4):
            return "download"
        return "boot" if roll < 0.3 else "running" if roll < 0.75 else "journal"

    def cycle(self, index: int, just_published: bool = False, outage: bool = False) -> Cycle:
        """Start the kiosk, kill it (SIGKILL) when the cycle's mode says, check, maybe tear."""
        cycle = Cycle(index, self.choose_mode(self.server.running, just_published, outage),
                      self.server.running)
        delay = self.rng.uniform(self.settings.kill_min_s, self.settings.kill_max_s)
        fallback = float("inf")  # until the mode's moment comes (or run_kiosk's limit)
        wal = self.data / "journal.sqlite-wal"
        part_size, part_grew_at = -1, -1.0
        wal_stamp: tuple[int, int] | None = None
        due = delay if cycle.mode == "boot" else fallback

        def kill_now(now: float) -> bool:
            nonlocal part_size, part_grew_at, wal_stamp, due
            part = self.big_part()
            if part is not None:
                with contextlib.suppress(FileNotFoundError):
                    size = part.stat().st_size
                    if part_size >= 0 and size > part_size:
                        if cycle.mode == "download" and part_grew_at < 0:  # the first growth
                            due = min(due, now + self.rng.uniform(0.0, 0.4))
                        part_grew_at = now
                    part_size = size
            with contextlib.suppress(FileNotFoundError):
                st = wal.stat()
                stamp = (st.st_size, st.st_mtime_ns)
                if (cycle.mode == "journal" and not cycle.killed_at_journal_write and
                        wal_stamp is not None and stamp != wal_stamp and
                        cycle.playing_s is not None):
                    due = now  # a commit is being written: now
                    cycle.killed_at_journal_write = True
                wal_stamp = stamp
            if cycle.mode in ("journal", "download") and due == fallback and \
                    cycle.playing_s is not None:
                # no commit, no download soon after playing: kill anyway (the sync side, and
                # with it the download, starts only after the first frame)
                due = now + (2.0 if cycle.mode == "journal" else 4.0)
            if cycle.mode == "running" and due == fallback:
                started = self.kiosk.logged_at(" started (headless)")
                if started is not None:
                    due = started + delay
            if now < due:
                return False
            cycle.killed_mid_download = (part_grew_at >= 0 and now - part_grew_at < 0.5 and
                                         not self.big_done())
            return True

        self.run_kiosk(cycle, kill_now, STUCK_S)
        self.kiosk.stop(signal.SIGKILL)
        self.after_kill(cycle)
        return cycle

    def run_kiosk(self, cycle: Cycle, done: Callable[[float], bool], limit: float) -> None:
        """Start the kiosk and watch it (screen, open files, itself) until ``done(seconds
        since start)`` or ``limit``; the caller stops it."""
        kiosk = self.kiosk
        self.screenshot.unlink(missing_ok=True)
        seen: int | None = None
        cycle.load = os.getloadavg()[0]
        before = wal_last_transaction(self.data / "journal.sqlite-wal")
        self.wal_before = before.fingerprint if before is not None else None
        kiosk.start()
        player_seen = False
        media = self.data / "media"
        cycle.programme_incomplete = bool(self.torn) or any(
            not (media / name).is_file() for name in stored_programme(self.data / "journal.sqlite"))
        while True:
            now = time.monotonic() - kiosk.started_mono
            if not player_seen and kiosk.logged_at("player started") is not None:
                player_seen = True
                self.check_torn_gone(cycle)
            if not kiosk.alive():
                cycle.exited_by_itself = kiosk.returncode()
                cycle.problems.append(f"kiosk exited by itself ({cycle.exited_by_itself}): "
                                      f"{kiosk.text()[-1500:]}")
                break
            seen = self.watch_screen(cycle, seen)
            cycle.problems.extend(f"part-read: {name} open read-only by the kiosk"
                                  for name in part_opened_read_only(kiosk.pid))
            if done(now) or now >= limit:
                break
            time.sleep(POLL_S)
        cycle.lived_s = time.monotonic() - kiosk.started_mono
        self.note_log(cycle)

    def check_torn_gone(self, cycle: Cycle) -> None:
        """The player has started: every file the harness tore must have been noticed (and
        deleted) by the restore before it, else the player could be handed it."""
        media = self.data / "media"
        for torn in sorted(self.torn, key=lambda t: t.name):
            if torn.still_there(media):
                cycle.problems.append(f"media-used: torn {torn.name[:12]} still in the cache "
                                      f"when the player started")
        self.torn.clear()

    def watch_screen(self, cycle: Cycle, seen: int | None) -> int | None:
        """Look at the screenshot when it was rewritten; note the first playing one."""
        try:
            stamp = self.screenshot.stat().st_mtime_ns
        except FileNotFoundError:
            return seen
        if stamp == seen:
            return seen
        shown = look(self.screenshot)
        if shown is None:
            return seen
        at = stamp / 1e9 - self.kiosk.started_wall
        if shown.playing and cycle.playing_s is None:
            cycle.playing_s = at
            cycle.cpu_to_playing_s = process_cpu_seconds(self.kiosk.pid)
        elif not shown.playing and cycle.playing_s is not None:
            cycle.blank_after_playing += 1
        if shown.ours and cycle.ours_s is None:
            cycle.ours_s = at
        return stamp

    def note_log(self, cycle: Cycle) -> None:
        """Keep the kiosk's log, take its figures, and flag what must never be logged."""
        kiosk = self.kiosk
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        (logs / f"{cycle.label}.log").write_text("".join(
            f"{at - kiosk.started_mono:7.3f} {line}\n" for at, line in list(kiosk.lines)))
        cycle.first_item_s = kiosk.logged_at("first item on screen")
        counts = self.report.log_lines
        for _, line in list(kiosk.lines):
            corrupt = CORRUPT_LOG.search(line)
            if corrupt and corrupt.group(1) in self.torn_names:
                counts["torn_media_deleted"] += 1
                continue
            if cycle.mode == "destroyed" and "set aside as" in line:
                counts["damaged_file_set_aside"] += 1
                continue
            if BAD_LOG.search(line):
                media = re.search(r"skipped:|kiosk\.(video|picture)|corrupt", line)
                cycle.problems.append(f"{'media-failed' if media else 'kiosk-error'}: "
                                      f"{line[:300]}")
            for key, needle in LOG_COUNTS:
                if needle in line:
                    counts[key] += 1

    def after_kill(self, cycle: Cycle, may_tear: bool = True) -> None:
        """Check the journal and the cache the kill left; maybe tear a file and check again."""
        report = self.report
        scratch = self.work / "scratch"
        journal = self.data / "journal.sqlite"
        verdict, outbox = check_journal(journal, scratch)
        report.integrity_checks += 1
        if verdict != "ok":
            cycle.problems.append(f"integrity after kill: {verdict}")
        if may_tear and self.rng.random() < self.settings.tear_probability:
            kinds = list(TEARS)
            self.rng.shuffle(kinds)
            next_up = not self.settings.server_down(cycle.index + 1) and cycle.index >= 0
            for kind in kinds:
                if kind == "media":  # a rarer trouble than a cut: a third of its turns
                    torn = tear_media(self.data, self.rng) \
                        if next_up and self.rng.random() < 1 / 3 else None
                    done = torn[0] if torn else None
                    if torn:
                        self.torn.add(torn[1])
                        self.torn_names.add(torn[1].name[:12])
                else:
                    done = tear(kind, self.data, self.rng, self.wal_before,
                                self.kiosk.started_wall)
                if done is None:
                    continue
                cycle.tear = done
                report.tears[kind] += 1
                verdict, outbox = check_journal(journal, scratch)
                report.integrity_checks += 1
                if verdict != "ok":
                    cycle.problems.append(f"integrity after tear ({done}): {verdict}")
                break
        report.journaled |= outbox  # what the next start will find waiting
        report.resends += len(outbox & {u for u, _ in self.server.plays()})
        report.cache_checks += 1
        cycle.problems.extend(self.cache.check(frozenset(self.torn)))
        self.check_screenshot_temporaries(cycle)

    def check_screenshot_temporaries(self, cycle: Cycle) -> None:
        """A kill mid-write leaves the PNG's temporary file; the next kiosk removes it when its
        screen starts. So after a kiosk that started its player, only one of its own may be
        there."""
        killed = self.kiosk.last_pid
        temporaries = [p for p in self.screenshot.parent.iterdir() if p.name.endswith(".tmp")]
        mine = [p for p in temporaries if p.name.endswith(f".{killed}.tmp")]
        self.report.stale_screenshot_tmp += len(mine)
        if self.kiosk.logged_at("player started") is not None:
            cycle.problems.extend(f"kiosk-error: stale screenshot temporary {p.name} not removed"
                                  for p in temporaries if p not in mine)

    def describe(self, cycle: Cycle) -> str:
        def fmt(value: float | None) -> str:
            return "  -  " if value is None else f"{value:5.2f}"

        flags = "".join([" mid-download" if cycle.killed_mid_download else "",
                         " at-journal-write" if cycle.killed_at_journal_write else "",
                         "" if cycle.server_up else " SERVER-DOWN"])
        tail = f" | {cycle.tear}" if cycle.tear else ""
        problems = f" | PROBLEMS: {cycle.problems}" if cycle.problems else ""
        return (f"{cycle.label:>10} {cycle.mode:10s} lived {cycle.lived_s:5.2f} s  playing "
                f"{fmt(cycle.playing_s)}  programme {fmt(cycle.ours_s)}{flags}{tail}"
                f"{problems}")

    # -- the end ---------------------------------------------------------------------

    def final(self) -> None:
        """One more run with the server up, until every play record ever seen in the outbox
        is on the server and the newest big video is cached and has been played; then
        SIGTERM (a clean stop) and the last checks, on the journal itself."""
        report = self.report
        cycle = Cycle(-2, "final", True)
        plays: list[tuple[str, str | None]] = []
        waiting: list[str] = []

        def synced(_now: float) -> bool:
            nonlocal plays, waiting
            plays = self.server.plays()
            on_server = {u for u, _ in plays}
            waiting = []
            if not report.journaled <= on_server:
                waiting.append(f"{len(report.journaled - on_server)} journaled play(s)")
            if self.big_sha is not None and not self.big_done():
                waiting.append("the big video's download")
            if self.big_sha is not None and all(sha != self.big_sha for _, sha in plays):
                waiting.append("a play of the big video")
            if cycle.playing_s is None:
                waiting.append("a playing screenshot")
            return not waiting

        self.run_kiosk(cycle, synced, self.settings.final_timeout_s)
        if waiting:
            report.problems.append(f"final run: still waiting after "
                                   f"{self.settings.final_timeout_s:.0f} s for "
                                   f"{', '.join(waiting)}")
        code = self.kiosk.stop(signal.SIGTERM)
        if code != 0:
            report.problems.append(f"final run: SIGTERM ended the kiosk with status {code}")
        report.final = cycle
        report.problems.extend(f"final run: {p}" for p in cycle.problems)
        conn = sqlite3.connect(self.data / "journal.sqlite", timeout=10)
        try:
            verdict = "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
            report.dead_letters = [f"{u}: {reason}" for u, reason in conn.execute(
                "SELECT client_uuid, reason FROM dead_letter")]
        finally:
            conn.close()
        report.integrity_checks += 1
        if verdict != "ok":
            report.problems.append(f"integrity at the end: {verdict}")
        report.cache_checks += 1
        report.problems.extend(self.cache.check())
        plays = self.server.plays()
        on_server = {u for u, _ in plays}
        report.server_total, report.server_distinct = len(plays), len(on_server)
        report.lost = sorted(report.journaled - on_server)
        if report.lost:
            report.problems.append(f"{len(report.lost)} journaled play record(s) never reached "
                                   f"the server, e.g. {report.lost[:3]}")
        if report.duplicates:
            report.problems.append(f"{report.duplicates} duplicate play record(s) on the server")
        if self.big_sha is not None:
            final = self.data / "media" / self.big_sha
            report.big_cached = final.exists() and file_sha256(final) == self.big_sha
            report.big_played = any(sha == self.big_sha for _, sha in plays)
        self.say(f"{self.describe(cycle)}; {report.server_total} plays on the server, "
                 f"{report.server_distinct} distinct")

    def destroyed_run(self) -> Cycle:
        """Garbage over the journal's header (and its WAL's) and a cut ``credentials.json`` (a
        card that lost them): the next start must set both aside, play within the same time
        (the built-in content: the remembered programme went with the journal), and
        ``status`` must say that the kiosk has to be enrolled again."""
        # The header of the database and of its WAL: with the WAL intact, SQLite reads page 1
        # from it and the garbage in the database file does not count (a soak run saw that).
        for name in ("journal.sqlite", "journal.sqlite-wal"):
            with contextlib.suppress(FileNotFoundError), (self.data / name).open("r+b") as handle:
                handle.write(self.rng.randbytes(100))
        (self.data / "credentials.json").write_bytes(b'{"server_url": "http://127.0.0.1:1", "tok')
        cycle = Cycle(-4, "destroyed", self.server.running)
        self.run_kiosk(cycle, lambda _now: cycle.playing_s is not None, STUCK_S)
        self.kiosk.stop(signal.SIGKILL)
        self.after_kill(cycle, may_tear=False)
        aside = sorted(p.name.split(".corrupt-")[0] for p in self.data.glob("*.corrupt-*")
                       if not p.name.endswith(("-wal", "-shm")))
        if aside != ["credentials.json", "journal.sqlite"]:
            cycle.problems.append(f"destroyed files: set aside {aside}")
        status = subprocess.run(
            [*_script("signage-kiosk"), "--data", str(self.data), "status", "--json"],
            env=self.kiosk.env, cwd=REPO, capture_output=True, text=True, timeout=60,
            check=False)
        facts = json.loads(status.stdout or "{}") if status.returncode == 0 else {}
        if facts.get("must_enroll_again") is not True:
            cycle.problems.append(f"status after lost credentials: {status.stdout[-500:]}")
        self.report.destroyed = cycle
        self.say(self.describe(cycle))
        return cycle


#: Log lines counted for the report: (key, text in the line).
LOG_COUNTS = (("manifest_handed_over", "handed to the player"),
              ("download_interrupted", "interrupted"),
              ("download_hash_mismatch", "downloaded bytes hash to"),
              ("file_cached", "INFO kiosk.cache: cached"),
              ("restore_lacking_files", "lacks"),
              ("sync_failing", "sync with the server fails"),
              ("damaged_file_set_aside", "set aside as"))


@contextlib.contextmanager
def soak(settings: Settings, workdir: Path) -> Iterator[PowerCutSoak]:
    """A soak whose processes are all stopped on exit, whatever happened."""
    harness = PowerCutSoak(settings, workdir)
    try:
        yield harness
    finally:
        harness.close()
