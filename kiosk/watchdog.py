"""systemd notifications: READY=1 once the first frame is on screen, WATCHDOG=1 from every
healthy loop iteration (deploy/pi/README.md has the unit's side of the contract).

The protocol is one datagram to the socket named by ``NOTIFY_SOCKET``; writing it here (a
dozen lines) spares the kiosk a dependency. Outside systemd the variable is unset and every
call does nothing. Pings are rate-limited so the loop can call ``ping`` every frame.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 min_interval_s: float = 1.0) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        self._address = address
        self._monotonic = monotonic
        self._min_interval_s = min_interval_s
        self._last_ping: float | None = None
        self._ready = False
        self._first_frame = threading.Event()

    @property
    def is_ready(self) -> bool:
        return self._ready

    def wait_ready(self, timeout: float) -> bool:
        """Block until ``ready`` was called (the first frame is on screen) or ``timeout``
        seconds passed; True when it was. The kiosk's start-up waits on it before it loads
        what only the sync side needs (HTTP, MQTT)."""
        return self._first_frame.wait(timeout)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def _send(self, message: str) -> None:
        if not self._address:
            return
        # A vanished systemd socket is nothing to report: the kiosk keeps playing. Nor is a
        # full one (nobody reading it): never blocking here keeps the screen loop turning.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, \
                contextlib.suppress(OSError):
            sock.setblocking(False)
            sock.sendto(message.encode("ascii"), self._address)

    def ready(self) -> None:
        """The first frame is on screen: start-up is over."""
        if not self._ready:
            self._ready = True
            self._send("READY=1\nSTATUS=playing")
            self._first_frame.set()

    def ping(self) -> None:
        """The loop is healthy; at most one datagram per ``min_interval_s``."""
        now = self._monotonic()
        if self._last_ping is None or now - self._last_ping >= self._min_interval_s:
            self._last_ping = now
            self._send("WATCHDOG=1")
