"""The kiosk's side of API v1: the only kiosk module that speaks HTTP.

A ``requests.Session`` is injected (tests pass one aimed at a local server; ``__main__`` builds
the real one), every request carries a timeout, and every low-level failure is translated here
into the tree of ``kiosk.errors`` (``raise ... from exc``), so nothing above this module knows
``requests`` exists.

Each answer from the server also tells the time: the ``server_time`` field of a JSON body, else
the ``Date`` header. ``ClockOffset`` turns those into the offset between the server's clock and
this device's, which the journal applies to every record (a Pi has no battery-backed clock).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from kiosk import errors

CHUNK_BYTES = 256 * 1024
COARSE_TOLERANCE_S = 1.0  # a Date header has whole seconds: ignore changes smaller than that


def offset_estimate(server_time: float, sent_at: float, received_at: float) -> float:
    """Server minus device clock, taking the server's stamp as made halfway through the trip."""
    return server_time - (sent_at + received_at) / 2


class ClockOffset:
    """What the device clock must be corrected by: ``server time = device time + value``.

    Precise stamps (``server_time`` with a fraction of a second) always win; whole-second stamps
    (the ``Date`` header) only replace the estimate when it is further off than their own
    resolution, so a good estimate is not jittered by a coarse one.
    """

    def __init__(self, initial: float | None = None) -> None:
        self.value = initial

    def observe(self, server_time: float, precise: bool, sent_at: float,
                received_at: float) -> None:
        """Fold one stamp into the estimate (coarse stamps are centred on their second)."""
        stamp = server_time if precise else server_time + 0.5
        estimate = offset_estimate(stamp, sent_at, received_at)
        if precise or self.value is None or abs(estimate - self.value) > COARSE_TOLERANCE_S:
            self.value = estimate


@dataclass(frozen=True)
class MediaBody:
    """A media response being received: ``offset`` is where its first byte belongs in the file
    (the Range start when the server honoured it, else 0), ``total`` the file's full size when
    known, ``chunks`` the bytes (an interruption raises ``TransportError`` from the iterator)."""

    offset: int
    total: int | None
    chunks: Iterator[bytes]


class KioskClient:
    """Calls of kiosk API v1 for one server and (after enrollment) one kiosk token."""

    def __init__(self, session: requests.Session, base_url: str, token: str | None,
                 timeout_s: float, clock: Callable[[], float] = time.time,
                 clock_offset: ClockOffset | None = None) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = (timeout_s, timeout_s)
        self._clock = clock
        self.clock = clock_offset or ClockOffset()

    @property
    def clock_offset_s(self) -> float | None:
        """The learned offset (server minus device, seconds), None until a server answered."""
        return self.clock.value

    def enroll(self, code: str, name: str | None, version: str | None) -> dict[str, Any]:
        """Trade a one-time enrollment code for the kiosk's id, token and keys."""
        body = {"code": code, "name": name or None, "version": version}
        answer = self._json(self._send("POST", "/api/v1/enroll", json=body, auth=False))
        for key in ("kiosk_id", "venue_id", "token", "server_public_key", "presence_secret"):
            if key not in answer:
                raise errors.ProtocolError(f"enroll answer lacks {key!r}")
        return answer

    def manifest(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """The manifest and its ETag; ``(None, etag)`` when it has not changed (304)."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._send("GET", "/api/v1/kiosk/manifest", headers=headers)
        if response.status_code == 304:
            return None, etag
        manifest = self._json(response)
        if not isinstance(manifest.get("manifest_version"), str):
            raise errors.ProtocolError("manifest without manifest_version")
        return manifest, response.headers.get("ETag")

    def post_batch(self, kind: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Send one batch of outbox records (``kind``: ``plays`` or ``checkins``); the answer
        holds one result per record, by index."""
        answer = self._json(self._send("POST", f"/api/v1/{kind}", json={"records": records}))
        if not isinstance(answer.get("results"), list):
            raise errors.ProtocolError(f"{kind} answer without results")
        return answer

    def heartbeat(self, status: dict[str, Any]) -> dict[str, Any]:
        """Report health and status; the answer names the manifest version the server has."""
        return self._json(self._send("POST", "/api/v1/heartbeat", json=status))

    def media_url(self, sha256: str) -> str:
        """Where the server serves a file when the manifest gives no URL for it."""
        return f"{self.base_url}/media/{sha256}"

    @contextmanager
    def media(self, url: str, start: int) -> Iterator[MediaBody]:
        """Stream a media file from byte ``start`` (a ``Range`` request when ``start`` > 0).

        The server may ignore the range (200): ``MediaBody.offset`` is then 0 and the caller
        starts its file again. A range past the end answers 416 (``RequestRejected``), after
        which the caller drops its partial file.
        """
        headers = {"Range": f"bytes={start}-"} if start > 0 else {}
        response = self._send("GET", url, headers=headers, stream=True,
                              auth=self._same_origin(url))
        try:
            offset, total = _media_extent(response, start)
            yield MediaBody(offset, total, self._chunks(response))
        finally:
            response.close()

    def _chunks(self, response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(CHUNK_BYTES)
        except requests.Timeout as exc:
            raise errors.RequestTimeout(f"media download stalled: {exc}") from exc
        except requests.RequestException as exc:
            raise errors.TransportError(f"media download cut: {exc}") from exc

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return not theirs.netloc or (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def _send(self, method: str, path_or_url: str, *, auth: bool = True,
              headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        """One request with a timeout, its errors translated, its clock stamp learned."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        all_headers = dict(headers or {})
        if auth and self._token:
            all_headers["Authorization"] = f"Bearer {self._token}"
        sent_at = self._clock()
        try:
            response = self._session.request(method, url, headers=all_headers,
                                             timeout=self._timeout, **kwargs)
        except requests.Timeout as exc:
            raise errors.RequestTimeout(f"{method} {path_or_url}: no answer in time") from exc
        except requests.RequestException as exc:
            raise errors.TransportError(f"{method} {path_or_url}: {exc}") from exc
        if url.startswith(self.base_url):
            self._learn_clock(response, sent_at, self._clock())
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    def _learn_clock(self, response: requests.Response, sent_at: float,
                     received_at: float) -> None:
        stamp = _date_header(response.headers.get("Date"))
        if stamp is not None:
            self.clock.observe(stamp, False, sent_at, received_at)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            server_time = _body_server_time(response)
            if server_time is not None:
                self.clock.observe(server_time[0], server_time[1], sent_at, received_at)

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except (ValueError, requests.RequestException) as exc:
            raise errors.ProtocolError(f"answer is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise errors.ProtocolError("answer is not a JSON object")
        return body


def _api_error(response: requests.Response) -> errors.ApiError:
    """The exception for an error status, with the API's ``error.code`` when it sent one."""
    code, message = "http_error", response.reason or ""
    try:
        body = response.json()
        code = str(body["error"]["code"])
        message = str(body["error"]["message"])
    except (ValueError, KeyError, TypeError, requests.RequestException):
        pass
    status = response.status_code
    if status == 401:
        return errors.Unauthorized(status, code, message)
    if status >= 500:
        return errors.ServerError(status, code, message)
    return errors.RequestRejected(status, code, message)


def _media_extent(response: requests.Response, start: int) -> tuple[int, int | None]:
    """(offset of the body's first byte, full size) from a 200 or 206 media answer."""
    length = response.headers.get("Content-Length")
    if response.status_code == 206:
        unit, _, spec = response.headers.get("Content-Range", "").partition(" ")
        span, _, size = spec.partition("/")
        first = span.partition("-")[0]
        if unit != "bytes" or not first.isdigit() or int(first) != start:
            raise errors.ProtocolError(f"unexpected Content-Range {spec!r} for start {start}")
        return start, int(size) if size.isdigit() else None
    if response.status_code == 200:
        return 0, int(length) if length and length.isdigit() else None
    raise errors.ProtocolError(f"unexpected media status {response.status_code}")


def _date_header(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _body_server_time(response: requests.Response) -> tuple[float, bool] | None:
    """(unix time, precise?) from a JSON body's ``server_time``, if it has a usable one."""
    try:
        text = json.loads(response.content).get("server_time")
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        return None
    if stamp.tzinfo is None:
        return None
    return stamp.timestamp(), stamp.microsecond != 0
