"""No state in the process: two server processes on one PostgreSQL serve a kiosk as one.

One process is ``signage-server run`` (werkzeug), the other gunicorn with two workers, as
deployed; both share one instance folder (keys) and one database. A kiosk enrolls through
one, polls and uploads through the other, and each sees what the other and the admin did.
The test's own app (same database) plays the admin. Needs SIGNAGE_TEST_DATABASE_URL.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from nacl.public import PublicKey, SealedBox

from signage_server.models import CheckIn

if TYPE_CHECKING:
    from server_api import Contract
    from server_data import Database, Programme

pytestmark = [pytest.mark.xdist_group("processes"),
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

CliJson = Callable[..., dict[str, Any]]
Record = Callable[..., dict[str, Any]]
BIN = Path(sys.executable).parent
PUBLIC_URL = "http://signage.test"  # one deployment, one public address, whichever process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process and a way to call it; every answer checked against the contract."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    contract: Contract | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, token: str | None = None, body: Any = None,
             **headers: str) -> requests.Response:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.session.request(method, self.url + path, json=body, headers=headers,
                                        timeout=30)
        assert "Date" in response.headers, f"{self.name}: no Date header"
        if self.contract is not None:
            mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()
            self.contract.check_exchange(method, path, response.status_code, mimetype,
                                         response.content)
        return response

    def wait_until_up(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.session.get(self.url + "/api/v1/openapi.json", timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.session.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def start(name: str, command: list[str], env: dict[str, str], folder: Path,
          port: int) -> Server:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=folder, stdout=out,
                                   stderr=subprocess.STDOUT)
    return Server(name, f"http://127.0.0.1:{port}", process, log)


@pytest.fixture(scope="module")
def servers(postgres_migrated: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """``signage-server run`` and gunicorn, one instance folder, one database."""
    folder = tmp_path_factory.mktemp("two-servers")
    instance = folder / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
    env.update(SIGNAGE_INSTANCE_PATH=str(instance), SIGNAGE_DATABASE_URL=postgres_migrated,
               SIGNAGE_PUBLIC_URL=PUBLIC_URL, SIGNAGE_MQTT_URL="")
    flask_port, gunicorn_port = free_port(), free_port()
    pair = (
        start("signage-server run", [str(BIN / "signage-server"), "--instance", str(instance),
                                     "run", "--host", "127.0.0.1", "--port",
                                     str(flask_port)], env, folder, flask_port),
        start("gunicorn", [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{gunicorn_port}",
                           "--workers", "2", "signage_server:create_app()"], env, folder,
              gunicorn_port),
    )
    try:
        for server in pair:
            server.wait_until_up()
        yield pair
    finally:
        for server in pair:
            server.stop()


@pytest.fixture
def first(servers: tuple[Server, Server], contract: Contract) -> Server:
    servers[0].contract = contract
    return servers[0]


@pytest.fixture
def second(servers: tuple[Server, Server], contract: Contract) -> Server:
    servers[1].contract = contract
    return servers[1]


@dataclass
class Enrolled:
    kiosk_id: int
    venue_id: int
    token: str
    public_key: str


@pytest.fixture
def enrolled(first: Server, cli_json: CliJson, venue: int) -> Enrolled:
    """A kiosk enrolled through the first process."""
    code = cli_json("kiosk", "add", "--venue", str(venue))["enrollment_code"]
    response = first.call("POST", "/api/v1/enroll", body={"code": code, "name": "Cổng A"})
    assert response.status_code == 200, response.text
    body = response.json()
    return Enrolled(body["kiosk_id"], body["venue_id"], body["token"],
                    body["server_public_key"])


def manifest(server: Server, kiosk: Enrolled, etag: str | None = None) -> requests.Response:
    headers = {"If-None-Match": etag} if etag else {}
    return server.call("GET", "/api/v1/kiosk/manifest", kiosk.token, **headers)


def test_token_from_one_process_works_on_the_other(enrolled: Enrolled,
                                                   second: Server) -> None:
    response = manifest(second, enrolled)
    assert response.status_code == 200
    assert response.json()["kiosk"] == {"id": enrolled.kiosk_id, "name": "Cổng A"}


def test_both_processes_answer_304_to_the_same_etag(enrolled: Enrolled, first: Server,
                                                    second: Server) -> None:
    etag = manifest(second, enrolled).headers["ETag"]
    for server in (first, second, first, second):
        response = manifest(server, enrolled, etag)
        assert response.status_code == 304, server.name
        assert response.headers["ETag"] == etag
        assert response.content == b""


def test_both_processes_serve_the_same_manifest(enrolled: Enrolled, first: Server,
                                                second: Server) -> None:
    assert manifest(first, enrolled).json() == manifest(second, enrolled).json()


def test_playlist_change_is_seen_by_either_process(enrolled: Enrolled, first: Server,
                                                   second: Server,
                                                   programme: Programme) -> None:
    before = manifest(first, enrolled).headers["ETag"]
    programme.assign(programme.text_playlist("Tuần 48"), venue=enrolled.venue_id)
    changed = manifest(second, enrolled, before)
    assert changed.status_code == 200
    assert changed.json()["playlist"]["name"] == "Tuần 48"
    after = changed.headers["ETag"]
    assert after != before
    assert manifest(first, enrolled, after).status_code == 304
    beat = first.call("POST", "/api/v1/heartbeat", enrolled.token,
                      {"version": "0.1.0", "uptime_s": 5})
    assert f'"{beat.json()["manifest_version"]}"' == after


def test_batch_resent_to_the_other_process_is_all_duplicates(enrolled: Enrolled,
                                                             first: Server, second: Server,
                                                             checkin_record: Record,
                                                             database: Database) -> None:
    batch = {"records": [checkin_record() for _ in range(20)]}
    accepted = second.call("POST", "/api/v1/checkins", enrolled.token, batch).json()
    again = first.call("POST", "/api/v1/checkins", enrolled.token, batch).json()
    assert (accepted["accepted"], again["accepted"], again["duplicates"]) == (20, 0, 20)
    assert database.count(CheckIn) == 20


def test_either_process_opens_what_was_sealed_for_the_key_of_the_other(
        enrolled: Enrolled, second: Server, checkin_record: Record,
        database: Database) -> None:
    box = SealedBox(PublicKey(base64.b64decode(enrolled.public_key)))
    sealed = base64.b64encode(box.encrypt(json.dumps({"name": "Trần Văn Bảo"}).encode()))
    record = checkin_record(sealed=sealed.decode())
    result = second.call("POST", "/api/v1/checkins", enrolled.token, {"records": [record]})
    assert result.json()["accepted"] == 1
    assert database.one(CheckIn).name == "Trần Văn Bảo"
