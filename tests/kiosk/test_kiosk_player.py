"""The player as the kiosk's main program uses it: a thread runs the screen, others post
events, read its status and ask for pictures of the screen."""

from __future__ import annotations

import contextlib
import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from kiosk.display_options import DisplayOptions
from kiosk.events import ManifestReady, PlayRecord, Quit, SyncStatus
from kiosk.player import Player
from kiosk.snapshot import Snapshots

SHA_RED, SHA_BLUE = "1" * 64, "2" * 64


@dataclass
class Running:
    """A player on its own thread, with the queue to talk to it and the plays it reported."""

    player: Player
    events: queue.Queue[Any]
    plays: list[PlayRecord] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def until(self, condition: Callable[[], bool], seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.02)


@pytest.fixture
def screenshot(tmp_path: Path) -> Path:
    return tmp_path / "shots" / "screen.png"


@pytest.fixture
def running(headless: None, content: Path, screenshot: Path) -> Iterator[Running]:
    events: queue.Queue[Any] = queue.Queue()
    options = DisplayOptions(
        mode="headless", size=(1280, 720), screenshot=screenshot, screenshot_every=0.2
    )
    plays: list[PlayRecord] = []
    player = Player(
        options,
        events,
        plays.append,
        presence_secret=b"p" * 32,
        default_content=content,
    )
    run = Running(player, events, plays)
    thread = threading.Thread(target=player.run, kwargs={"stop": run.stop, "max_seconds": 30})
    thread.start()
    run.until(lambda: player.status().first_frame_s is not None)
    yield run
    run.stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def manifest(clips: tuple[Path, Path], version: str = "v7") -> ManifestReady:
    files = {SHA_RED: clips[0], SHA_BLUE: clips[1]}
    items = [
        {"id": 21, "kind": "video", "sha256": SHA_RED, "duration_s": 0.5, "schedule": {}},
        {"id": 22, "kind": "video", "sha256": SHA_BLUE, "duration_s": 0.5, "schedule": {}},
    ]
    body = {
        "manifest_version": version,
        "kiosk": {"id": 12, "name": "Lobby"},
        "venue": {"name": "Bến xe Miền Đông", "timezone": "Asia/Ho_Chi_Minh"},
        "playlist": {"id": 1, "name": "Tuần 47", "items": items},
        "qr": {"app_name": "Bluezone", "smart_url": "http://server/q/12"},
        "checkin": {"self_checkin_url": "http://server/v/3/12/"},
    }
    return ManifestReady(body, files.get)


def test_a_manifest_takes_over_the_screen(running: Running, clips: tuple[Path, Path]) -> None:
    running.events.put(manifest(clips))
    running.until(lambda: running.player.status().manifest_version == "v7")
    running.until(lambda: any(p.item_id in (21, 22) for p in running.plays))
    ours = [p for p in running.plays if p.manifest_version == "v7"]
    assert {p.item_id for p in ours} <= {21, 22} and ours[0].kind == "video"
    assert ours[0].sha256 in (SHA_RED, SHA_BLUE)
    current = running.player.status().current_item
    assert current is not None and current.id in (21, 22) and current.kind == "video"


def test_default_content_is_reported_as_default(running: Running) -> None:
    running.until(lambda: len(running.plays) >= 1)
    first = running.plays[0]
    assert (first.item_id, first.kind, first.manifest_version) == (None, "default", None)
    assert first.duration_ms >= 400 and len(first.client_uuid) == 36


def test_status_is_what_the_heartbeat_needs(running: Running) -> None:
    running.events.put(SyncStatus(True, -0.8, None))
    status = asdict(running.player.status())
    assert status["running"] is True
    assert set(status["current_item"]) == {"id", "kind", "sha256"}
    assert isinstance(status["late_frames"], int)
    assert status["first_frame_s"] < 2.0


def test_latest_png_is_a_small_picture_of_the_screen(running: Running) -> None:
    png = running.player.latest_png(max_width=320)
    assert png is not None and png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.width == 320 and picture.height == 180


def test_headless_screenshot_file_shows_the_install_qr(running: Running, screenshot: Path) -> None:
    running.until(screenshot.exists)
    with Image.open(screenshot) as picture:
        assert picture.size == (1280, 720)
        texts = {result.text for result in zxingcpp.read_barcodes(picture)}
    assert any(text.startswith("https://play.google.com/") for text in texts)


def test_the_presence_code_appears_with_a_manifest(
    running: Running, clips: tuple[Path, Path], screenshot: Path
) -> None:
    running.events.put(manifest(clips))
    running.until(lambda: running.player.status().manifest_version == "v7")

    def codes() -> set[str]:
        png = running.player.latest_png(max_width=1280)
        assert png is not None
        with Image.open(io.BytesIO(png)) as picture:
            return {result.text for result in zxingcpp.read_barcodes(picture)}

    running.until(lambda: any(c.startswith("http://server/v/3/12/") for c in codes()))
    assert any(c.startswith("http://server/q/12?i=2") for c in codes())


def test_quit_stops_the_loop(headless: None, content: Path) -> None:
    events: queue.Queue[Any] = queue.Queue()
    plays: list[PlayRecord] = []
    player = Player(DisplayOptions(mode="headless"), events, plays.append, default_content=content)
    events.put(Quit())
    started = time.monotonic()
    player.run(max_seconds=20)
    assert time.monotonic() - started < 10
    assert player.status().running is False
    asked = time.monotonic()
    player.latest_png()
    assert time.monotonic() - asked < Snapshots.WAIT_S  # a stopped player is not waited for


def test_a_broken_file_is_skipped(headless: None, content: Path) -> None:
    (content / next(p.name for p in content.glob("*.mp4"))).write_bytes(b"truncated")
    player = Player(
        DisplayOptions(mode="headless", size=(640, 360)),
        queue.Queue(),
        lambda record: None,
        default_content=content,
    )
    player.run(max_seconds=2.5)
    status = player.status()
    assert status.items_failed >= 1 and status.items_shown >= 2
    assert status.last_error is None


def test_systemd_hears_ready_and_watchdog_from_the_loop(headless: None, content: Path,
                                                        tmp_path: Path) -> None:
    import socket

    from kiosk.watchdog import Notifier

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")}, min_interval_s=0.2)
        player = Player(DisplayOptions(mode="headless", size=(640, 360)), queue.Queue(),
                        lambda record: None, default_content=content, notifier=notifier)
        player.run(max_seconds=2.0)
        systemd.setblocking(False)
        messages = []
        with contextlib.suppress(BlockingIOError):
            while True:
                messages.append(systemd.recv(256).decode())
    assert messages.count("READY=1\nSTATUS=playing") == 1
    assert messages.count("WATCHDOG=1") >= 3
