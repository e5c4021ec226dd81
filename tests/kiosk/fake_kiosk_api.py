"""An in-memory stand-in for the kiosk API client, for sync tests that need no sockets.

It offers exactly the calls ``kiosk.sync.Sync`` makes on ``kiosk.client.KioskClient`` and
behaves like the server: ETags and 304, idempotent batches with per-record results, media by
hash, and a switch that takes the whole server "down". The real client against the real
server is covered by tests/contract/test_kiosk_against_server.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kiosk import errors
from kiosk.client import MediaBody

BASE = "http://127.0.0.1:9"


def media_item(item_id: int, data: bytes, kind: str = "image") -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    return {"id": item_id, "kind": kind, "sha256": sha, "url": f"{BASE}/media/{sha}",
            "mime": "image/png", "bytes": len(data), "duration_s": 10.0, "width": 10,
            "height": 10, "schedule": {"days": [1, 2, 3, 4, 5, 6, 7], "windows": [],
                                       "valid_from": None, "valid_until": None}, "data": {}}


def manifest(version: str, *items: dict[str, Any], poll_seconds: int = 30,
             topics: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"manifest_version": version, "kiosk": {"id": 1, "name": "k"},
            "venue": {"id": 1, "name": "v", "kind": "office", "timezone": "Asia/Ho_Chi_Minh"},
            "layout": {"bar": "bottom"},
            "playlist": {"id": 1, "name": "p", "items": list(items)} if items else None,
            "sync": {"poll_seconds": poll_seconds, "heartbeat_seconds": 60,
                     "mqtt_topics": list(topics)}}


@dataclass
class FakeApi:
    """The server as the sync thread sees it."""

    current: dict[str, Any] | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    down: bool = False
    reject: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)
    batches: list[tuple[str, int]] = field(default_factory=list)
    beats: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0
    clock_offset_s: float | None = None
    base_url: str = BASE

    def publish(self, new: dict[str, Any], *files: bytes) -> None:
        self.current = new
        for data in files:
            self.files[hashlib.sha256(data).hexdigest()] = data

    def _reachable(self) -> None:
        if self.down:
            raise errors.TransportError("connection refused")

    def manifest(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        self.polls += 1
        self._reachable()
        assert self.current is not None
        mine = f'"{self.current["manifest_version"]}"'
        return (None, etag) if etag == mine else (self.current, mine)

    def media_url(self, sha256: str) -> str:
        return f"{BASE}/media/{sha256}"

    @contextmanager
    def media(self, url: str, start: int) -> Iterator[MediaBody]:
        self._reachable()
        data = self.files.get(url.rsplit("/", 1)[-1])
        if data is None:
            raise errors.RequestRejected(404, "not_found", "no such media")
        yield MediaBody(start, len(data), iter([data[start:]]))

    def post_batch(self, kind: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        self._reachable()
        self.batches.append((kind, len(records)))
        results = []
        for index, record in enumerate(records):
            uuid = record["client_uuid"]
            if uuid in self.reject:
                status = "rejected"
            elif uuid in self.stored:
                status = "duplicate"
            else:
                status = "accepted"
                self.stored.add(uuid)
            results.append({"index": index, "client_uuid": uuid, "status": status,
                            "reason": "bad record" if status == "rejected" else None})
        return {"results": results, "server_time": "2026-11-23T10:00:00Z"}

    def heartbeat(self, status: dict[str, Any]) -> dict[str, Any]:
        self._reachable()
        self.beats.append(status)
        version = self.current["manifest_version"] if self.current else "none"
        return {"server_time": "2026-11-23T10:00:00Z", "manifest_version": version}
