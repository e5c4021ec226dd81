"""systemd notifications over a real unix datagram socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.watchdog import Notifier


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(2)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    sock.setblocking(False)
    messages = []
    while True:
        try:
            messages.append(sock.recv(256).decode())
        except BlockingIOError:
            return messages


def test_ready_is_sent_once(systemd: socket.socket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": systemd.getsockname()})
    notifier.ready()
    notifier.ready()
    assert received(systemd) == ["READY=1\nSTATUS=playing"]


def test_pings_are_rate_limited(systemd: socket.socket) -> None:
    clock = iter([0.0, 0.2, 0.5, 1.1, 1.2])
    notifier = Notifier({"NOTIFY_SOCKET": systemd.getsockname()}, monotonic=lambda: next(clock))
    for _ in range(5):
        notifier.ping()
    assert received(systemd) == ["WATCHDOG=1", "WATCHDOG=1"]


def test_a_socket_nobody_reads_never_blocks_the_loop(systemd: socket.socket) -> None:
    """Once the reader's queue is full a blocking send would wait for ever, and with it the
    screen loop that pings from every turn."""
    notifier = Notifier({"NOTIFY_SOCKET": systemd.getsockname()}, min_interval_s=0.0)
    pinging = threading.Thread(target=lambda: [notifier.ping() for _ in range(5000)],
                               daemon=True)
    pinging.start()
    pinging.join(timeout=20)
    assert not pinging.is_alive()
    assert received(systemd)[:1] == ["WATCHDOG=1"]


def test_outside_systemd_nothing_happens() -> None:
    notifier = Notifier({})
    notifier.ready()
    notifier.ping()
    assert not notifier.enabled


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).ping()


def test_the_first_frame_can_be_waited_for_from_another_thread() -> None:
    notifier = Notifier({})
    assert notifier.wait_ready(0.01) is False
    threading.Timer(0.05, notifier.ready).start()
    assert notifier.wait_ready(5.0) is True
    assert notifier.is_ready
