"""The sync side, round by round, with time and randomness in the test's hands."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_kiosk_api import FakeApi, manifest, media_item

from kiosk import cache as cache_module
from kiosk.cache import MediaCache
from kiosk.events import ManifestReady, PlayRecord, SyncStatus
from kiosk.heartbeat import Device
from kiosk.ids import new_client_uuid
from kiosk.journal import PLAY, Journal
from kiosk.sync import Sync, SyncSettings, last_good_manifest

POSTER = b"poster-bytes" * 100
VIDEO = b"video-bytes" * 300
OTHER = b"other-bytes" * 50
NOW = 1_795_420_800.0


class FakeClock:
    """Monotonic time that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakePlayer:
    png: bytes | None = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    fits_at_width: int = 10_000  # wider screenshots come out over 512 KB

    def status(self) -> dict[str, Any]:
        return {"current_item": {"item_id": 7, "kind": "video", "sha256": "b" * 64},
                "late_frames": 3}

    def latest_png(self, max_width: int = 480) -> bytes | None:
        if self.png is not None and max_width > self.fits_at_width:
            return b"\x89PNG" + b"\0" * (600 * 1024)
        return self.png


@dataclass
class Kiosk:
    """A sync side wired to fakes of the server and the player, real journal and cache."""

    sync: Sync
    api: FakeApi
    journal: Journal
    cache: MediaCache
    events: queue.Queue[Any]
    clock: FakeClock

    def drain(self) -> list[Any]:
        found = []
        while not self.events.empty():
            found.append(self.events.get_nowait())
        return found

    def ready(self) -> list[ManifestReady]:
        return [e for e in self.drain() if isinstance(e, ManifestReady)]

    def round_after(self, seconds: float) -> float:
        self.clock.now += seconds
        return self.sync.run_round()


def build(tmp_path: Path, api: FakeApi, settings: SyncSettings | None = None,
          player: FakePlayer | None = None, journal: Journal | None = None) -> Kiosk:
    clock = FakeClock()
    journal = journal or Journal(tmp_path / "journal.sqlite")
    cache = MediaCache(tmp_path / "media", 0, lambda _: 10**12)
    events: queue.Queue[Any] = queue.Queue()
    device = Device("0.1.0", tmp_path, lambda _: 123_456_789, tmp_path / "no-thermal")
    sync = Sync(api, journal, cache, events, settings or SyncSettings(), device,
                player=player, clock=lambda: NOW, monotonic=clock, rnd=lambda: 0.0)
    return Kiosk(sync, api, journal, cache, events, clock)


@pytest.fixture
def api() -> FakeApi:
    server = FakeApi()
    server.publish(manifest("v1", media_item(1, POSTER), media_item(2, VIDEO, "video")),
                   POSTER, VIDEO)
    return server


@pytest.fixture
def kiosk(tmp_path: Path, api: FakeApi) -> Iterator[Kiosk]:
    built = build(tmp_path, api, player=FakePlayer())
    yield built
    built.journal.close()


def play(n: int) -> PlayRecord:
    return PlayRecord(new_client_uuid(NOW + n), 1, None, "image", NOW + n, 10_000, "v1")


def test_a_new_manifest_is_handed_over_once_its_media_are_cached(kiosk: Kiosk) -> None:
    kiosk.sync.run_round()
    [ready] = kiosk.ready()
    assert ready.manifest["manifest_version"] == "v1"
    for item in ready.manifest["playlist"]["items"]:
        path = ready.resolve(item["sha256"])
        assert path is not None and path.read_bytes() in (POSTER, VIDEO)
    assert kiosk.journal.last_manifest() == (ready.manifest, '"v1"')


def test_an_unchanged_manifest_is_not_handed_over_again(kiosk: Kiosk) -> None:
    kiosk.sync.run_round()
    kiosk.drain()
    kiosk.round_after(60)
    assert kiosk.api.polls == 2
    assert kiosk.ready() == []


def test_a_manifest_whose_media_fail_does_not_take_effect(kiosk: Kiosk) -> None:
    kiosk.sync.run_round()
    kiosk.drain()
    kiosk.api.publish(manifest("v2", media_item(3, OTHER)))  # its file is not on the server
    delay = kiosk.round_after(60)
    assert kiosk.ready() == []
    assert kiosk.sync.manifest_version == "v1"
    assert kiosk.journal.last_manifest()[0]["manifest_version"] == "v1"  # type: ignore[index]
    assert delay == pytest.approx(1.0)  # retried after a backoff, not a whole poll interval
    kiosk.api.files[media_item(3, OTHER)["sha256"]] = OTHER
    kiosk.round_after(delay)
    [ready] = kiosk.ready()
    assert ready.manifest["manifest_version"] == "v2"


def test_a_server_that_is_down_is_retried_with_growing_delays(kiosk: Kiosk) -> None:
    kiosk.api.down = True
    delays = [kiosk.round_after(0)]
    for _ in range(10):
        delays.append(kiosk.round_after(delays[-1]))
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 150.0, 150.0, 150.0]
    statuses = [e for e in kiosk.drain() if isinstance(e, SyncStatus)]
    assert [s.online for s in statuses] == [False]  # told once, not every round
    assert "connection refused" in (statuses[0].last_error or "")


def test_back_online_the_poll_interval_returns(kiosk: Kiosk) -> None:
    kiosk.api.down = True
    delay = kiosk.round_after(0)
    kiosk.api.down = False
    kiosk.round_after(delay)
    statuses = [e for e in kiosk.drain() if isinstance(e, SyncStatus)]
    assert [s.online for s in statuses] == [False, True]
    assert statuses[-1].last_error is None
    assert kiosk.sync.run_round() == pytest.approx(30.0)  # the longest wait (rnd = 0)


def test_the_server_sets_the_poll_interval(tmp_path: Path) -> None:
    api = FakeApi()
    api.publish(manifest("v1", poll_seconds=10))
    kiosk = build(tmp_path, api, SyncSettings(poll_seconds=30, poll_jitter=0.0,
                                              heartbeat_seconds=3600))
    assert kiosk.sync.run_round() == pytest.approx(10.0)
    kiosk.journal.close()


def test_a_restart_with_the_server_down_plays_the_last_good_manifest(
        tmp_path: Path, api: FakeApi) -> None:
    first = build(tmp_path, api)
    first.sync.run_round()
    first.journal.close()
    api.down = True
    again = build(tmp_path, api)
    assert again.sync.restore() is True
    [ready] = again.ready()
    assert ready.manifest["manifest_version"] == "v1"
    assert all(ready.resolve(i["sha256"]) for i in ready.manifest["playlist"]["items"])
    again.round_after(0)
    assert again.ready() == []
    again.journal.close()


def test_a_restart_keeps_the_partial_files_of_a_newer_manifest(
        tmp_path: Path, api: FakeApi) -> None:
    first = build(tmp_path, api)
    first.sync.run_round()
    first.journal.close()
    partial = tmp_path / "media" / f"{media_item(3, OTHER)['sha256']}.part"
    partial.write_bytes(OTHER[:100])  # v2 was half downloaded when the power went
    again = build(tmp_path, api)
    assert again.sync.restore() is True
    assert partial.exists()
    again.journal.close()


def test_a_stored_manifest_with_a_missing_file_is_not_handed_over(
        tmp_path: Path, api: FakeApi) -> None:
    first = build(tmp_path, api)
    first.sync.run_round()
    first.journal.close()
    (tmp_path / "media" / media_item(2, VIDEO)["sha256"]).write_bytes(b"truncated")
    again = build(tmp_path, api)
    assert again.sync.restore() is False
    assert again.ready() == []
    again.sync.run_round()  # the server is up: the file is fetched again and it plays
    assert [r.manifest["manifest_version"] for r in again.ready()] == ["v1"]
    again.journal.close()


def test_plays_are_uploaded_in_batches_of_at_most_500(kiosk: Kiosk) -> None:
    records = [play(n) for n in range(1201)]
    kiosk.journal.add_many(PLAY, [(r.client_uuid, kiosk.journal.play_payload(r))
                                  for r in records], NOW)
    kiosk.sync.run_round()
    assert kiosk.api.batches == [("plays", 500), ("plays", 500), ("plays", 201)]
    assert kiosk.journal.unsynced()[PLAY] == 0
    assert len(kiosk.api.stored) == 1201


def test_a_rejected_play_is_set_aside_not_resent(kiosk: Kiosk) -> None:
    bad, good = play(1), play(2)
    kiosk.journal.add_play(bad, NOW)
    kiosk.journal.add_play(good, NOW)
    kiosk.api.reject.add(bad.client_uuid)
    kiosk.sync.run_round()
    kiosk.round_after(60)
    assert kiosk.api.batches == [("plays", 2)]
    assert [d["client_uuid"] for d in kiosk.journal.dead_letters()] == [bad.client_uuid]


def test_plays_wait_while_the_server_is_down(kiosk: Kiosk) -> None:
    kiosk.journal.add_play(play(1), NOW)
    kiosk.api.down = True
    delay = kiosk.round_after(0)
    assert kiosk.journal.unsynced()[PLAY] == 1
    kiosk.api.down = False
    kiosk.round_after(delay)
    assert kiosk.journal.unsynced()[PLAY] == 0


def test_the_learned_clock_offset_is_kept_and_applied(kiosk: Kiosk) -> None:
    kiosk.api.clock_offset_s = -7200.0
    kiosk.sync.run_round()
    assert kiosk.journal.clock_offset == -7200.0
    kiosk.journal.add_play(play(0), NOW)
    [row] = kiosk.journal.pending(PLAY, 1)
    assert row.payload["started_at"] == "2026-11-23T06:00:00.000Z"
    statuses = [e for e in kiosk.drain() if isinstance(e, SyncStatus)]
    assert statuses[-1].clock_offset_s == -7200.0


def test_the_heartbeat_reports_the_status_fields(kiosk: Kiosk) -> None:
    kiosk.journal.add_play(play(1), NOW)
    kiosk.api.down = True
    kiosk.round_after(0)
    kiosk.api.down = False
    kiosk.round_after(10)
    [beat] = kiosk.api.beats
    assert beat["version"] == "0.1.0"
    assert beat["manifest_version"] == "v1"
    assert beat["current_item"] == {"id": 7, "kind": "video", "sha256": "b" * 64}
    assert beat["disk_free_bytes"] == 123_456_789
    assert beat["temperature_c"] is None
    assert beat["unsynced"] == {"checkins": 0, "plays": 0}
    assert beat["late_frames"] == 3
    assert beat["uptime_s"] == pytest.approx(10.0)
    assert len(beat["screenshot_png"]) < 512 * 1024 * 4 // 3


def test_the_first_heartbeat_after_an_outage_tells_what_went_wrong(kiosk: Kiosk) -> None:
    kiosk.api.down = True
    delay = kiosk.round_after(0)
    kiosk.api.down = False
    kiosk.round_after(delay)
    assert "connection refused" in kiosk.api.beats[-1]["last_error"]
    kiosk.round_after(61)
    assert kiosk.api.beats[-1]["last_error"] is None


def test_the_screenshot_shrinks_until_it_fits(kiosk: Kiosk) -> None:
    assert kiosk.sync.player is not None
    kiosk.sync.player.fits_at_width = 320  # type: ignore[attr-defined]
    body = kiosk.sync.heartbeat_body()
    assert "screenshot_png" in body
    kiosk.sync.player.fits_at_width = 100  # type: ignore[attr-defined]
    assert "screenshot_png" not in kiosk.sync.heartbeat_body()


def test_the_temperature_comes_from_the_thermal_zone(kiosk: Kiosk, tmp_path: Path) -> None:
    (tmp_path / "no-thermal").write_text("51234\n")
    assert kiosk.sync.heartbeat_body()["temperature_c"] == pytest.approx(51.234)


def test_heartbeats_follow_their_interval(kiosk: Kiosk) -> None:
    kiosk.sync.run_round()
    assert len(kiosk.api.beats) == 1
    kiosk.round_after(30)
    assert len(kiosk.api.beats) == 1
    kiosk.round_after(31)
    assert len(kiosk.api.beats) == 2


def test_a_heartbeat_naming_another_version_brings_the_poll_forward(kiosk: Kiosk) -> None:
    kiosk.api.publish(manifest("v1", media_item(1, POSTER), poll_seconds=3600))
    kiosk.sync.run_round()
    kiosk.drain()
    kiosk.api.publish(manifest("v2", media_item(1, POSTER), poll_seconds=3600))
    kiosk.clock.now += 61
    assert kiosk.sync.run_round() == 0.0  # the heartbeat heard of v2: poll now
    kiosk.sync.run_round()
    assert [r.manifest["manifest_version"] for r in kiosk.ready()] == ["v2"]


def test_unreferenced_media_go_once_a_newer_manifest_is_in_effect(kiosk: Kiosk) -> None:
    kiosk.sync.run_round()
    video_sha = media_item(2, VIDEO)["sha256"]
    kiosk.api.publish(manifest("v2", media_item(1, POSTER)))
    kiosk.round_after(60)
    assert kiosk.cache.resolve(video_sha) is not None  # v1 may still be on screen
    kiosk.api.publish(manifest("v3", media_item(4, OTHER)), OTHER)
    kiosk.round_after(60)
    assert kiosk.cache.resolve(video_sha) is None
    assert not (kiosk.cache.root / video_sha).exists()


def test_topic_listeners_hear_the_manifest_topics(tmp_path: Path) -> None:
    api = FakeApi()
    api.publish(manifest("v1", topics=("t/kiosk/1", "t/venue/1")))
    kiosk = build(tmp_path, api)
    heard: list[list[str]] = []
    kiosk.sync.on_topics(heard.append)
    kiosk.sync.run_round()
    assert heard == [["t/kiosk/1", "t/venue/1"]]
    kiosk.journal.close()


def test_wake_makes_the_thread_poll_at_once(tmp_path: Path, api: FakeApi) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    polled = threading.Event()

    class Observed(FakeApi):
        def manifest(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
            polled.set()
            return super().manifest(etag)

    observed = Observed(current=api.current, files=api.files)
    sync = Sync(observed, journal, MediaCache(tmp_path / "media", 0, lambda _: 10**12),
                queue.Queue(), SyncSettings(poll_seconds=3600, heartbeat_seconds=3600),
                Device("0.1.0", tmp_path, lambda _: 1))
    sync.start()
    try:
        assert polled.wait(5)
        polled.clear()
        time.sleep(0.1)
        assert not polled.is_set()
        started = time.monotonic()
        sync.wake()
        assert polled.wait(5)
        assert time.monotonic() - started < 1.0
    finally:
        sync.stop()
        journal.close()


def test_the_restore_before_the_first_frame_hashes_nothing_unchanged(
        tmp_path: Path, api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    first = build(tmp_path, api)
    first.sync.run_round()
    first.journal.close()
    hashed: list[Path] = []
    monkeypatch.setattr(cache_module, "file_sha256", lambda path: hashed.append(path) or "")
    journal = Journal(tmp_path / "journal.sqlite")
    restored = last_good_manifest(journal, MediaCache(tmp_path / "media", 0))
    journal.close()
    assert restored is not None and restored[0]["manifest_version"] == "v1"
    assert hashed == []


def test_a_torn_file_keeps_the_stored_manifest_from_the_player(
        tmp_path: Path, api: FakeApi) -> None:
    first = build(tmp_path, api)
    first.sync.run_round()
    first.journal.close()
    video = tmp_path / "media" / media_item(2, VIDEO)["sha256"]
    with video.open("r+b") as handle:  # same size, bytes changed: not what was hashed
        handle.write(b"\0" * 16)
    journal = Journal(tmp_path / "journal.sqlite")
    cache = MediaCache(tmp_path / "media", 0)
    assert last_good_manifest(journal, cache) is None
    assert not video.exists() and cache.resolve(media_item(2, VIDEO)["sha256"]) is None
    journal.close()


def test_a_manifest_restored_by_the_caller_is_not_handed_over_twice(
        tmp_path: Path, api: FakeApi) -> None:
    first = build(tmp_path, api)
    first.sync.run_round()
    first.journal.close()
    api.down = True
    journal = Journal(tmp_path / "journal.sqlite")
    restored = last_good_manifest(journal, MediaCache(tmp_path / "media", 0))
    clock = FakeClock()
    events: queue.Queue[Any] = queue.Queue()
    sync = Sync(api, journal, MediaCache(tmp_path / "media", 0, lambda _: 10**12), events,
                SyncSettings(), Device("0.1.0", tmp_path, lambda _: 1, tmp_path / "none"),
                clock=lambda: NOW, monotonic=clock, rnd=lambda: 0.0, restored=restored)
    assert sync.manifest_version == "v1"
    sync.run_round()
    assert [e for e in list(events.queue) if isinstance(e, ManifestReady)] == []
    journal.close()
