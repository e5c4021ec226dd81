"""The content-addressed media cache: one file per sha256, named by it, verified before use.

A download goes to ``<sha256>.part`` next to its final place, is resumed with a ``Range`` request
after an interruption, is hashed while it arrives, fsynced, and only then moved into place
with ``os.replace`` (atomic on one filesystem) and the directory fsynced: after a power cut a
file under its final name is whole. A corrupt or truncated file is deleted and fetched again.

Hashing every cached file before the first frame would hold the screen back for seconds (a
Pi hashes about 100 MB/s from its card), so at start ``usable`` trusts a file that is exactly
as it was when it was last hashed: its size, modification and change times (nanoseconds) and
inode match the stamp recorded then in ``verified.json``. Anything that writes to the file, or
truncates, grows or replaces it, changes those; such a file is hashed before use. What a stamp
cannot see (bits rotting on the card) ``confirm`` catches: the sync thread hashes every file
trusted on its stamp once per start, after the first frame, and a bad one is deleted (the
player skips an item whose file no longer resolves).

The journal shares the card: a download that would leave less free space than the journal's
reserve is refused (``DiskReserveError``), so proof-of-play and check-ins always have room.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from kiosk import errors

if TYPE_CHECKING:  # kiosk.client imports requests, which the first frame does not need
    from kiosk.client import MediaBody

log = logging.getLogger(__name__)

_NAME = re.compile(r"^([0-9a-f]{64})(\.part)?$")
READ_BYTES = 1024 * 1024
STAMPS = "verified.json"


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
        self._unconfirmed: set[str] = set()  # trusted on their stamp, not hashed yet
        self._stamps: dict[str, list[int]] | None = None
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

    def usable(self, sha256: str) -> bool:
        """True when the player may use the cached file: verified by this process already,
        unchanged since it was last hashed (its stamp matches; ``confirm`` hashes it again
        later), or hashing right now (``verify``)."""
        if self.resolve(sha256) is not None:
            return True
        try:
            stamp = _stamp(self.path_of(sha256).stat())
        except FileNotFoundError:
            return False
        except OSError:
            return self.verify(sha256)
        with self._lock:
            trusted = self._load_stamps().get(sha256) == stamp
            if trusted:
                self._verified.add(sha256)
                self._unconfirmed.add(sha256)
        return trusted or self.verify(sha256)

    def confirm(self) -> int:
        """Hash every file that ``usable`` trusted on its stamp; delete and forget the ones
        that hash wrong. Returns how many were bad."""
        bad = 0
        while True:
            with self._lock:
                if not self._unconfirmed:
                    return bad
                sha256 = self._unconfirmed.pop()
            if not self._check(sha256):  # stays resolvable while it is being hashed
                bad += 1

    def verify(self, sha256: str) -> bool:
        """True when the cached file exists and hashes right (hashed once per process); a file
        that does not is deleted, so it will be fetched again."""
        if self.resolve(sha256) is not None:
            return True
        return self._check(sha256)

    def _check(self, sha256: str) -> bool:
        """Hash the cached file now; delete and forget it when it hashes wrong."""
        path = self.path_of(sha256)
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            actual = None
        except OSError as exc:
            log.warning("cannot read cached %s: %s", sha256[:12], exc)
            actual = ""
        if actual != sha256:
            if actual is not None:
                log.warning("cached file %s is corrupt; deleting it", sha256[:12])
                path.unlink(missing_ok=True)
            if self._forget(sha256):
                self._save_stamps()
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
                self._forget(match.group(1))
        if removed:
            log.info("removed %d unreferenced media file(s)", removed)
            self._save_stamps()
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
        """The file hashed right: usable, and its stamp recorded for the next start."""
        try:
            stamp = _stamp(self.path_of(sha256).stat())
        except OSError:
            return
        with self._lock:
            self._verified.add(sha256)
            self._load_stamps()[sha256] = stamp
        self._save_stamps()

    def _forget(self, sha256: str) -> bool:
        """Not usable any more; True when a recorded stamp went with it."""
        with self._lock:
            self._verified.discard(sha256)
            self._unconfirmed.discard(sha256)
            return self._load_stamps().pop(sha256, None) is not None

    def _load_stamps(self) -> dict[str, list[int]]:
        """The recorded stamps (call under the lock); an unreadable file counts as none, so
        every file is hashed again: slower, never wrong."""
        if self._stamps is None:
            try:
                raw = json.loads((self.root / STAMPS).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raw = {}
            self._stamps = {sha: stamp for sha, stamp in raw.items()
                            if _NAME.match(sha) and isinstance(stamp, list)
                            and len(stamp) == 4
                            and all(isinstance(n, int) for n in stamp)} \
                if isinstance(raw, dict) else {}
        return self._stamps

    def _save_stamps(self) -> None:
        """Rewrite ``verified.json`` atomically (a lost update only costs a hash later)."""
        with self._lock:
            text = json.dumps(self._load_stamps(), separators=(",", ":"))
            temp = self.root / f"{STAMPS}.tmp"
            try:
                with temp.open("w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, self.root / STAMPS)
            except OSError as exc:
                log.warning("cannot record verified media: %s", exc)

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


def _stamp(status: os.stat_result) -> list[int]:
    """What changes whenever a file's bytes or identity change (renames change the ctime)."""
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


def _hash_prefix(handle: IO[bytes], length: int, update: Callable[[bytes], None]) -> None:
    """Feed the first ``length`` bytes already on disk into the running hash."""
    handle.seek(0)
    remaining = length
    while remaining > 0:
        block = handle.read(min(READ_BYTES, remaining))
        if not block:
            raise errors.IntegrityError("partial file shorter than the resumed range")
        update(block)
        remaining -= len(block)
