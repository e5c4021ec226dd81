"""A tiny HTTP server on 127.0.0.1 for kiosk tests: real sockets, real ``requests``.

It serves ``files`` under ``/media/<name>`` with ``Range`` support and can cut a transfer
halfway (the connection closes mid-body, as on a flaky link), answers canned ``routes``, and
records every request so a test can read which ``Range`` was asked for.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Loopback:
    """The server's programmable state; tests change it between requests."""

    base_url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)  # name → bytes sent, then close
    ignore_range: bool = False
    routes: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    delay_s: float = 0.0
    seen: list[Seen] = field(default_factory=list)

    def json_route(self, method: str, path: str, status: int, body: Any,
                   **headers: str) -> None:
        self.routes[(method, path)] = (status, {"Content-Type": "application/json", **headers},
                                       json.dumps(body).encode())

    def ranges(self, name: str) -> list[str | None]:
        return [s.headers.get("Range") for s in self.seen if s.path == f"/media/{name}"]


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            if state.delay_s:
                time.sleep(state.delay_s)

        def do_GET(self) -> None:
            self._record()
            if self.path.startswith("/media/"):
                self._media(self.path.removeprefix("/media/"))
            else:
                self._route()

        def do_POST(self) -> None:
            self._record()
            self._route()

        def _route(self) -> None:
            status, headers, body = state.routes.get(
                (self.command, self.path),
                (404, {"Content-Type": "application/json"},
                 b'{"error": {"code": "not_found", "message": "no route"}}'))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _media(self, name: str) -> None:
            data = state.files.get(name)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            spec = self.headers.get("Range")
            if spec and not state.ignore_range:
                start = int(spec.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            cut = state.cut_after.pop(name, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients in these tests hang up on purpose (timeouts, refused downloads)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serving() -> Iterator[Loopback]:
    """Run a loopback server for the duration of the block."""
    state = Loopback()
    server = _Server(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
