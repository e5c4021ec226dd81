"""The media cache against a real HTTP server on loopback: resume, verify, place atomically."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from loopback_http import Loopback, serving

from kiosk import cache as cache_module
from kiosk import errors
from kiosk.cache import STAMPS, MediaCache
from kiosk.client import KioskClient

VIDEO = os.urandom(3 * 1024 * 1024 + 17)
VIDEO_SHA = hashlib.sha256(VIDEO).hexdigest()
POSTER = b"\x89PNG\r\n\x1a\n" + os.urandom(40_000)
POSTER_SHA = hashlib.sha256(POSTER).hexdigest()
PLENTY = 10**12


@pytest.fixture
def server() -> Iterator[Loopback]:
    with serving() as state:
        state.files[VIDEO_SHA] = VIDEO
        state.files[POSTER_SHA] = POSTER
        yield state


@pytest.fixture
def client(server: Loopback) -> Iterator[KioskClient]:
    with requests.Session() as session:
        yield KioskClient(session, server.base_url, token="t0ken", timeout_s=5)


@pytest.fixture
def cache(tmp_path: Path) -> MediaCache:
    return MediaCache(tmp_path / "media", reserve_bytes=0, free_bytes=lambda _: PLENTY)


def url(server: Loopback, sha: str) -> str:
    return f"{server.base_url}/media/{sha}"


def test_a_fetched_file_is_named_by_its_hash_and_resolvable(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    path = cache.fetch(client, POSTER_SHA, url(server, POSTER_SHA), len(POSTER), attempts=1)
    assert path == cache.root / POSTER_SHA
    assert path.read_bytes() == POSTER
    assert cache.resolve(POSTER_SHA) == path
    assert not list(cache.root.glob("*.part"))


def test_nothing_resolves_before_it_is_cached(cache: MediaCache) -> None:
    assert cache.resolve(VIDEO_SHA) is None


def test_an_interrupted_download_resumes_with_range(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    half = len(VIDEO) // 2
    server.cut_after[VIDEO_SHA] = half
    path = cache.fetch(client, VIDEO_SHA, url(server, VIDEO_SHA), len(VIDEO), attempts=2)
    assert path.read_bytes() == VIDEO
    ranges = server.ranges(VIDEO_SHA)
    assert ranges[0] is None
    assert ranges[1] is not None and ranges[1].startswith("bytes=")
    resumed_from = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_from <= half  # what reached the disk before the cut is not fetched again


def test_an_interruption_leaves_only_a_partial_file(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    server.cut_after[VIDEO_SHA] = 1_000_000
    with pytest.raises(errors.TransportError):
        cache.fetch(client, VIDEO_SHA, url(server, VIDEO_SHA), len(VIDEO), attempts=1)
    assert not (cache.root / VIDEO_SHA).exists()
    kept = (cache.root / f"{VIDEO_SHA}.part").stat().st_size
    assert 0 < kept <= 1_000_000
    assert cache.resolve(VIDEO_SHA) is None
    # the next sync round picks up where it stopped
    cache.fetch(client, VIDEO_SHA, url(server, VIDEO_SHA), len(VIDEO), attempts=1)
    assert server.ranges(VIDEO_SHA)[-1] == f"bytes={kept}-"
    assert (cache.root / VIDEO_SHA).read_bytes() == VIDEO


def test_a_server_that_ignores_range_restarts_the_file(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    server.cut_after[POSTER_SHA] = 5000
    server.ignore_range = True
    path = cache.fetch(client, POSTER_SHA, url(server, POSTER_SHA), len(POSTER), attempts=2)
    assert path.read_bytes() == POSTER


def test_a_corrupt_partial_file_is_dropped_and_fetched_whole(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    cache.root.mkdir(parents=True)
    (cache.root / f"{POSTER_SHA}.part").write_bytes(b"garbage" * 100)
    path = cache.fetch(client, POSTER_SHA, url(server, POSTER_SHA), len(POSTER), attempts=2)
    assert path.read_bytes() == POSTER
    assert server.ranges(POSTER_SHA) == ["bytes=700-", None]


def test_a_partial_file_longer_than_the_original_is_restarted(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    cache.root.mkdir(parents=True)
    (cache.root / f"{POSTER_SHA}.part").write_bytes(b"x" * (len(POSTER) + 5))
    cache.fetch(client, POSTER_SHA, url(server, POSTER_SHA), None, attempts=2)
    assert cache.resolve(POSTER_SHA) is not None
    assert server.ranges(POSTER_SHA)[-1] is None


def test_bytes_that_do_not_match_the_hash_are_never_placed(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    server.files[VIDEO_SHA] = POSTER  # the server serves the wrong content
    with pytest.raises(errors.IntegrityError):
        cache.fetch(client, VIDEO_SHA, url(server, VIDEO_SHA), None, attempts=2)
    assert not (cache.root / VIDEO_SHA).exists()
    assert not list(cache.root.glob("*.part"))
    assert cache.resolve(VIDEO_SHA) is None


def test_a_cached_file_that_rotted_is_rejected_and_fetched_again(
        tmp_path: Path, client: KioskClient, server: Loopback) -> None:
    first = MediaCache(tmp_path / "media", 0, lambda _: PLENTY)
    path = first.fetch(client, POSTER_SHA, url(server, POSTER_SHA), len(POSTER), attempts=1)
    path.write_bytes(POSTER[:-10] + b"0123456789")  # the SD card flipped some bits
    after_restart = MediaCache(tmp_path / "media", 0, lambda _: PLENTY)
    assert after_restart.verify(POSTER_SHA) is False
    assert not path.exists()
    after_restart.fetch(client, POSTER_SHA, url(server, POSTER_SHA), len(POSTER), attempts=1)
    assert path.read_bytes() == POSTER
    assert len(server.ranges(POSTER_SHA)) == 2


def test_a_truncated_cached_file_is_never_resolved(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 0, lambda _: PLENTY)
    (tmp_path / POSTER_SHA).write_bytes(POSTER[: len(POSTER) // 2])
    assert cache.verify(POSTER_SHA) is False
    assert cache.resolve(POSTER_SHA) is None


def test_a_download_that_would_eat_the_journal_reserve_is_refused(
        tmp_path: Path, client: KioskClient, server: Loopback) -> None:
    free = 4 * 1024 * 1024
    cache = MediaCache(tmp_path / "media", reserve_bytes=2 * 1024 * 1024,
                       free_bytes=lambda _: free)
    with pytest.raises(errors.DiskReserveError):
        cache.fetch(client, VIDEO_SHA, url(server, VIDEO_SHA), len(VIDEO), attempts=1)
    assert not (tmp_path / "media" / VIDEO_SHA).exists()
    cache.fetch(client, POSTER_SHA, url(server, POSTER_SHA), len(POSTER), attempts=1)


def test_the_reserve_holds_when_the_size_is_unknown(
        tmp_path: Path, client: KioskClient, server: Loopback) -> None:
    cache = MediaCache(tmp_path / "media", reserve_bytes=1000, free_bytes=lambda _: 1500)
    with pytest.raises(errors.DiskReserveError):
        cache.fetch(client, VIDEO_SHA, url(server, VIDEO_SHA), None, attempts=1)


def test_unreferenced_files_are_removed_and_kept_ones_stay(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    cache.fetch(client, VIDEO_SHA, url(server, VIDEO_SHA), len(VIDEO), attempts=1)
    cache.fetch(client, POSTER_SHA, url(server, POSTER_SHA), len(POSTER), attempts=1)
    stray = cache.root / f"{'a' * 64}.part"
    stray.write_bytes(b"half")
    unrelated = cache.root / "README"
    unrelated.write_text("not ours")
    assert cache.remove_unreferenced({POSTER_SHA}) == 2
    assert cache.resolve(POSTER_SHA) is not None
    assert cache.resolve(VIDEO_SHA) is None
    assert not stray.exists()
    assert unrelated.exists()
    assert cache.size_bytes() == len(POSTER)


# -- at start: files unchanged since they were hashed are trusted, then hashed again ----------


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the cache hashes (the real hashing still runs)."""
    seen: list[str] = []
    real = cache_module.file_sha256

    def counting(path: Path) -> str:
        seen.append(path.name)
        return real(path)

    monkeypatch.setattr(cache_module, "file_sha256", counting)
    return seen


def restarted(cache: MediaCache) -> MediaCache:
    """The same cache as the next process sees it."""
    return MediaCache(cache.root, 0, lambda _: PLENTY)


def cached(cache: MediaCache, client: KioskClient, server: Loopback, sha: str) -> Path:
    return cache.fetch(client, sha, url(server, sha), len(server.files[sha]), attempts=1)


def test_an_unchanged_file_is_usable_at_start_without_hashing(
        cache: MediaCache, client: KioskClient, server: Loopback, hashed: list[str]) -> None:
    path = cached(cache, client, server, VIDEO_SHA)
    hashed.clear()
    after = restarted(cache)
    assert after.usable(VIDEO_SHA) is True
    assert after.resolve(VIDEO_SHA) == path
    assert hashed == []
    assert after.confirm() == 0  # later, in the background, it is hashed after all
    assert hashed == [VIDEO_SHA]
    assert after.resolve(VIDEO_SHA) == path


@pytest.mark.parametrize("damage", ["truncated", "grown", "rewritten", "rewritten-same-mtime",
                                    "replaced"])
def test_a_file_changed_since_it_was_hashed_is_hashed_before_use(
        cache: MediaCache, client: KioskClient, server: Loopback, hashed: list[str],
        damage: str) -> None:
    path = cached(cache, client, server, POSTER_SHA)
    before = path.stat()
    if damage == "truncated":
        os.truncate(path, len(POSTER) // 2)
    elif damage == "grown":
        with path.open("ab") as handle:
            handle.write(bytes(4096))
    elif damage == "replaced":  # a new file under the name: another inode
        fresh = path.with_name("other")
        fresh.write_bytes(POSTER[:-4] + b"XXXX")
        os.replace(fresh, path)
    else:
        with path.open("r+b") as handle:  # same size, bytes changed in place
            handle.seek(1000)
            handle.write(b"\0" * 512)
        if damage == "rewritten-same-mtime":
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    hashed.clear()
    after = restarted(cache)
    assert after.usable(POSTER_SHA) is False
    assert hashed == [POSTER_SHA]
    assert after.resolve(POSTER_SHA) is None and not path.exists()


def test_rot_the_stamp_cannot_see_is_caught_by_confirm(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    path = cached(cache, client, server, POSTER_SHA)
    with path.open("r+b") as handle:
        handle.seek(2000)
        handle.write(b"\xff" * 64)
    # as if the card's bits had changed under an unchanged inode: the stamp matches again
    stamps = json.loads((cache.root / STAMPS).read_text())
    now = path.stat()
    stamps[POSTER_SHA] = [now.st_size, now.st_mtime_ns, now.st_ctime_ns, now.st_ino]
    (cache.root / STAMPS).write_text(json.dumps(stamps))
    after = restarted(cache)
    assert after.usable(POSTER_SHA) is True
    assert after.confirm() == 1
    assert after.resolve(POSTER_SHA) is None and not path.exists()
    assert POSTER_SHA not in json.loads((cache.root / STAMPS).read_text())


@pytest.mark.parametrize("stamps", [b"", b"{not json", b"[]", b'{"x": [1, 2, 3, 4]}',
                                    b'{"<sha>": "big"}'])
def test_unreadable_stamps_mean_hashing_everything(
        cache: MediaCache, client: KioskClient, server: Loopback, hashed: list[str],
        stamps: bytes) -> None:
    cached(cache, client, server, POSTER_SHA)
    (cache.root / STAMPS).write_bytes(stamps.replace(b"<sha>", POSTER_SHA.encode()))
    hashed.clear()
    after = restarted(cache)
    assert after.usable(POSTER_SHA) is True
    assert hashed == [POSTER_SHA]
    assert restarted(after).usable(POSTER_SHA) and hashed == [POSTER_SHA]  # recorded again


def test_a_missing_file_is_not_usable(cache: MediaCache) -> None:
    assert cache.usable(VIDEO_SHA) is False


def test_removing_unreferenced_files_forgets_their_stamps(
        cache: MediaCache, client: KioskClient, server: Loopback) -> None:
    cached(cache, client, server, POSTER_SHA)
    cached(cache, client, server, VIDEO_SHA)
    cache.remove_unreferenced([VIDEO_SHA])
    assert set(json.loads((cache.root / STAMPS).read_text())) == {VIDEO_SHA}
    assert cache.size_bytes() == len(VIDEO)  # the stamps file is not media
