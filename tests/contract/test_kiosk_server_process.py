"""The kiosk's command line against the server's, each in a process of its own on loopback:
``signage-server run`` serves, ``signage-kiosk enroll``, ``run --headless`` and ``status``
talk to it exactly as on a Pi, and a restart with the server down plays what it had.

(Server down then back, media resume and the rest are covered in-process, faster, by
test_kiosk_against_server.py.)"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from PIL import Image

from signage_server import library, playlists
from signage_server.extensions import db
from signage_server.models import Kiosk as KioskRow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command() -> list[str]:
    script = Path(sys.executable).with_name("signage-server")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from signage_server.cli import main; main()"]


class ServerProcess:
    """``signage-server run`` on the test's instance and database."""

    def __init__(self, instance: Path, database_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
        self.env.update(SIGNAGE_INSTANCE_PATH=str(instance), SIGNAGE_DATABASE_URL=database_url,
                        SIGNAGE_PUBLIC_URL=self.url, SIGNAGE_LOG_LEVEL="WARNING",
                        SIGNAGE_MQTT_URL="")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*server_command(), "run", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("signage-server run did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self.process = None


@pytest.fixture
def server(app: Flask, database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess(Path(app.instance_path), database_url)
    process.start()
    yield process
    process.stop()


def kiosk_cli(data: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
    return subprocess.run([sys.executable, "-m", "kiosk", "--data", str(data), *args],
                          env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def status(data: Path) -> dict[str, object]:
    done = kiosk_cli(data, "status", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def cli(runner: FlaskCliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def publish_poster(app: Flask, venue: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (320, 180), "teal").save(out, format="PNG")
    with app.app_context():
        asset, _ = library.add(io.BytesIO(out.getvalue()), "poster.png")
        playlist = playlists.create("Tuần 47", [
            playlists.ItemSpec("image", media_sha256=asset.sha256, duration_s=1.0)])
        playlists.assign(playlist.id, venue_id=venue)
        playlists.publish([venue])
        return str(asset.sha256)


@pytest.mark.slow
def test_enroll_run_and_status_across_processes(
        app: Flask, runner: FlaskCliRunner, server: ServerProcess, tmp_path: Path) -> None:
    venue = int(str(cli(runner, "venue", "add", "Khách sạn Hòa Bình", "--kind", "hotel")["id"]))
    code = str(cli(runner, "kiosk", "add", "--venue", str(venue))["enrollment_code"])
    sha = publish_poster(app, venue)
    data = tmp_path / "kiosk"

    enrolled = kiosk_cli(data, "enroll", code, "--server", server.url)
    assert enrolled.returncode == 0, enrolled.stderr
    ran = kiosk_cli(data, "run", "--headless", "--max-seconds", "2")
    assert ran.returncode == 0, ran.stderr
    facts = status(data)
    assert facts["enrolled"] is True and facts["manifest_version"]
    assert (data / "media" / sha).exists()
    with app.app_context():
        row = db.session.get(KioskRow, facts["kiosk_id"])
        assert row is not None and row.status["manifest_version"] == facts["manifest_version"]

    server.stop()  # the server goes away: the kiosk keeps playing its last good manifest
    offline = kiosk_cli(data, "run", "--headless", "--max-seconds", "2")
    assert offline.returncode == 0, offline.stderr
    assert "handed to the player" in offline.stderr  # restored from the journal, no server
    assert "sync with the server fails" in offline.stderr
