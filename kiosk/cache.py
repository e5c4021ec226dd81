"""The content-addressed media cache: one file per sha256, named by it, verified before use.

A download goes to ``<sha256>.part`` next to its final place, is resumed with a ``Range`` request
after an interruption, is hashed while it arrives, fsynced, and only then moved into place
with ``os.replace`` (atomic on one filesystem) and the directory fsynced: after a power cut a
file under its final name is whole. A file is hashed again once per process before the player
may use it (an SD card can rot), and a corrupt or truncated file is deleted and fetched again.

The journal shares the card: a download that would leave less free space than the journal's
reserve is refused (``DiskReserveError``), so proof-of-play and check-ins always have room.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from kiosk import errors
from kiosk.client import MediaBody

log = logging.getLogger(__name__)

_NAME = re.compile(r"^([0-9a-f]{64})(\.part)?$")
READ_BYTES = 1024 * 1024


class MediaSource(Protocol):
    """What the cache needs from the client: a media stream from a byte offset."""

    def media(self, url: str, start: int) -> AbstractContextManager[MediaBody]: ...


def disk_free(path: Path) -> int:
    """Free bytes on the filesystem holding ``path`` (the default guard probe)."""
    return shutil.disk_usage(path).free


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks so a large video never sits in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(READ_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


class MediaCache:
    """Media files by sha256 in ``root``; ``resolve`` hands the player verified files only."""

    def __init__(self, root: Path, reserve_bytes: int,
                 free_bytes: Callable[[Path], int] = disk_free) -> None:
        self.root = root
        self.reserve_bytes = reserve_bytes
        self._free_bytes = free_bytes
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def path_of(self, sha256: str) -> Path:
        """Where the file for ``sha256`` lives once cached."""
        return self.root / sha256

    def resolve(self, sha256: str) -> Path | None:
        """The verified file for ``sha256``, or None: cheap, safe to call from the draw loop."""
        with self._lock:
            known = sha256 in self._verified
        path = self.path_of(sha256)
        return path if known and path.is_file() else None

    def verify(self, sha256: str) -> bool:
        """True when the cached file exists and hashes right (hashed once per process); a file
        that does not is deleted, so it will be fetched again."""
        if self.resolve(sha256) is not None:
            return True
        path = self.path_of(sha256)
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("cannot read cached %s: %s", sha256[:12], exc)
            actual = ""
        if actual != sha256:
            log.warning("cached file %s is corrupt; deleting it", sha256[:12])
            path.unlink(missing_ok=True)
            return False
        self._mark_verified(sha256)
        return True

    def fetch(self, source: MediaSource, sha256: str, url: str, size: int | None,
              attempts: int) -> Path:
        """Make sure the verified file is cached, downloading (and resuming) as needed."""
        if self.verify(sha256):
            return self.path_of(sha256)
        last: errors.SyncError | errors.IntegrityError | None = None
        for _ in range(max(attempts, 1)):
            try:
                return self._download(source, sha256, url, size)
            except (errors.TransportError, errors.IntegrityError) as exc:
                log.info("download of %s interrupted (%s); will resume", sha256[:12], exc)
                last = exc
        assert last is not None
        raise last

    def remove_unreferenced(self, keep: Iterable[str]) -> int:
        """Delete cached and partial files whose hash is not in ``keep``; returns the count."""
        wanted = set(keep)
        removed = 0
        for entry in self._entries():
            match = _NAME.match(entry.name)
            if match and match.group(1) not in wanted:
                entry.unlink(missing_ok=True)
                removed += 1
                with self._lock:
                    self._verified.discard(match.group(1))
        if removed:
            log.info("removed %d unreferenced media file(s)", removed)
        return removed

    def size_bytes(self) -> int:
        """Bytes held by the cache, partial files included."""
        return sum(entry.stat().st_size for entry in self._entries()
                   if _NAME.match(entry.name))

    def _entries(self) -> list[Path]:
        try:
            return [entry for entry in self.root.iterdir() if entry.is_file()]
        except FileNotFoundError:
            return []

    def _mark_verified(self, sha256: str) -> None:
        with self._lock:
            self._verified.add(sha256)

    def _download(self, source: MediaSource, sha256: str, url: str, size: int | None) -> Path:
        """One attempt: resume the partial file, hash it all, place it atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        part = self.root / f"{sha256}.part"
        start = part.stat().st_size if part.exists() else 0
        if size is not None and start >= size:
            part.unlink()  # complete or overlong: a crash before the rename; hash from scratch
            start = 0
        try:
            with source.media(url, start) as body:
                digest = self._receive(part, body, size)
        except errors.RequestRejected as exc:
            if exc.status == 416:
                part.unlink(missing_ok=True)
                raise errors.TransportError("range not satisfiable; restarting") from exc
            raise
        if digest != sha256:
            part.unlink(missing_ok=True)
            raise errors.IntegrityError(f"{sha256[:12]}: downloaded bytes hash to {digest[:12]}")
        self._place(part, self.path_of(sha256))
        self._mark_verified(sha256)
        log.info("cached %s", sha256[:12])
        return self.path_of(sha256)

    def _receive(self, part: Path, body: MediaBody, size: int | None) -> str:
        """Write the body into the partial file at its offset; return the whole file's hash."""
        digest = hashlib.sha256()
        total = body.total if body.total is not None else size
        if total is not None:
            self._guard(total - body.offset)
        mode = "r+b" if body.offset else "wb"
        try:
            with part.open(mode) as handle:
                if body.offset:
                    _hash_prefix(handle, body.offset, digest.update)
                    handle.seek(body.offset)
                    handle.truncate()
                for chunk in body.chunks:
                    if total is None:
                        self._guard(len(chunk))
                    handle.write(chunk)
                    digest.update(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise errors.CacheError(f"cannot write {part.name}: {exc}") from exc
        return digest.hexdigest()

    def _guard(self, incoming: int) -> None:
        free = self._free_bytes(self.root)
        if free - incoming < self.reserve_bytes:
            raise errors.DiskReserveError(
                f"{incoming} more bytes would leave {free - incoming} free, "
                f"below the journal's reserve of {self.reserve_bytes}")

    def _place(self, part: Path, final: Path) -> None:
        """Atomic rename, then fsync the directory so the new name survives a power cut."""
        try:
            os.replace(part, final)
            fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise errors.CacheError(f"cannot place {final.name}: {exc}") from exc


def _hash_prefix(handle: BinaryIO, length: int, update: Callable[[bytes], None]) -> None:
    """Feed the first ``length`` bytes already on disk into the running hash."""
    handle.seek(0)
    remaining = length
    while remaining > 0:
        block = handle.read(min(READ_BYTES, remaining))
        if not block:
            raise errors.IntegrityError("partial file shorter than the resumed range")
        update(block)
        remaining -= len(block)
