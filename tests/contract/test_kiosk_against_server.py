"""The kiosk's real client, cache, journal and sync against the real Flask app, served by
werkzeug on 127.0.0.1 (real sockets, real HTTP, the app on each configured database).

Both sides are checked against the wire contract: what the kiosk sends validates against the
server's pydantic schemas, and what the server answers is what the kiosk can use.
"""

from __future__ import annotations

import io
import json
import queue
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from PIL import Image
from werkzeug.serving import BaseWSGIServer, make_server

from kiosk import errors
from kiosk.__main__ import main as kiosk_main
from kiosk.cache import MediaCache
from kiosk.client import KioskClient
from kiosk.config import Credentials, DataLayout, load_credentials
from kiosk.events import ManifestReady, PlayRecord, SyncStatus
from kiosk.heartbeat import Device
from kiosk.ids import new_client_uuid
from kiosk.journal import PLAY, Journal
from kiosk.sync import Sync, SyncSettings
from signage_server import library, playlists
from signage_server.api import schemas
from signage_server.extensions import db
from signage_server.media_files import path_of
from signage_server.models import Kiosk as KioskRow
from signage_server.models import KioskScreenshot, PlayEvent


class LiveServer:
    """The app behind werkzeug's threaded server on a loopback port that survives restarts."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self._server.port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None


@pytest.fixture
def live(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    app.config["PUBLIC_URL"] = server.url  # media URLs in manifests point here
    yield server
    if server._server is not None:
        server.stop()


def cli(runner: FlaskCliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


@pytest.fixture
def venue(runner: FlaskCliRunner) -> int:
    return int(cli(runner, "venue", "add", "Bến xe Miền Đông", "--kind", "bus_station",
                   "--privacy", "contact")["id"])


@pytest.fixture
def code(runner: FlaskCliRunner, venue: int) -> str:
    return str(cli(runner, "kiosk", "add", "--venue", str(venue))["enrollment_code"])


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    return DataLayout(tmp_path / "kiosk-data")


@pytest.fixture
def credentials(layout: DataLayout, live: LiveServer, code: str,
                capsys: pytest.CaptureFixture[str]) -> Credentials:
    assert kiosk_main(["--data", str(layout.root), "enroll", code, "--server", live.url,
                       "--json"]) == 0
    capsys.readouterr()
    found = load_credentials(layout)
    assert found is not None
    return found


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def client(session: requests.Session, credentials: Credentials) -> KioskClient:
    return KioskClient(session, credentials.server_url, credentials.token, timeout_s=5)


@pytest.fixture
def journal(layout: DataLayout) -> Iterator[Journal]:
    opened = Journal(layout.journal)
    yield opened
    opened.close()


@pytest.fixture
def cache(layout: DataLayout) -> MediaCache:
    return MediaCache(layout.media, 0)


@dataclass
class KioskSide:
    sync: Sync
    events: queue.Queue[Any]

    def drain(self) -> list[Any]:
        found = []
        while not self.events.empty():
            found.append(self.events.get_nowait())
        return found


@pytest.fixture
def kiosk(client: KioskClient, journal: Journal, cache: MediaCache,
          layout: DataLayout) -> KioskSide:
    events: queue.Queue[Any] = queue.Queue()
    sync = Sync(client, journal, cache, events, SyncSettings(heartbeat_screenshot=False),
                Device("0.1.0", layout.root, lambda _: 10**10), rnd=lambda: 0.0)
    return KioskSide(sync, events)


def png_bytes(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 180), color).save(out, format="PNG")
    return out.getvalue()


def publish_poster(app: Flask, venue: int, color: str = "teal") -> str:
    """Import a poster, put it in a playlist for the venue and publish; returns its sha256."""
    with app.app_context():
        asset, _ = library.add(io.BytesIO(png_bytes(color)), f"{color}.png")
        playlist = playlists.create(f"Tuần {color}", [
            playlists.ItemSpec("image", media_sha256=asset.sha256, duration_s=8.0),
            playlists.ItemSpec("text", data={"title_vi": "Cài đặt Bluezone",
                                             "lines_vi": ["Mở CH Play"]}),
        ])
        playlists.assign(playlist.id, venue_id=venue)
        playlists.publish([venue])
        return str(asset.sha256)


def server_file(app: Flask, sha: str) -> Path:
    with app.app_context():
        return path_of(sha)


def ready(side: KioskSide) -> list[ManifestReady]:
    return [e for e in side.drain() if isinstance(e, ManifestReady)]


# -- enrollment -------------------------------------------------------------------------------

def test_enrollment_stores_owner_only_credentials(
        app: Flask, layout: DataLayout, credentials: Credentials) -> None:
    assert stat.S_IMODE(layout.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.root.stat().st_mode) == 0o700
    with app.app_context():
        row = db.session.get(KioskRow, credentials.kiosk_id)
        assert row is not None and row.venue_id == credentials.venue_id
    assert credentials.server_public_key and credentials.presence_secret


def test_an_enrollment_code_works_once(live: LiveServer, code: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    first = ["--data", str(tmp_path / "a"), "enroll", code, "--server", live.url]
    assert kiosk_main(first) == 0
    again = ["--data", str(tmp_path / "b"), "enroll", code, "--server", live.url]
    assert kiosk_main(again) == 1
    assert "enrollment refused" in capsys.readouterr().err
    assert not (tmp_path / "b" / "credentials.json").exists()


# -- manifest and media -----------------------------------------------------------------------

def test_the_manifest_fits_the_contract_and_304s_when_unchanged(client: KioskClient) -> None:
    manifest, etag = client.manifest(None)
    assert manifest is not None and etag
    schemas.Manifest.model_validate(manifest)
    assert client.manifest(etag) == (None, etag)
    assert client.clock_offset_s is not None and abs(client.clock_offset_s) < 2.0


def test_a_published_playlist_arrives_with_its_media(
        app: Flask, venue: int, kiosk: KioskSide) -> None:
    kiosk.sync.run_round()
    [first] = ready(kiosk)
    assert first.manifest["playlist"] is None
    sha = publish_poster(app, venue)
    kiosk.sync.wake()
    kiosk.sync.run_round()
    [second] = ready(kiosk)
    path = second.resolve(sha)
    assert path is not None
    assert path.read_bytes() == server_file(app, sha).read_bytes()


def test_media_resume_with_range_from_the_server(
        app: Flask, venue: int, client: KioskClient, cache: MediaCache,
        session: requests.Session) -> None:
    sha = publish_poster(app, venue)
    original = server_file(app, sha).read_bytes()
    cache.root.mkdir(parents=True, exist_ok=True)
    half = len(original) // 2
    (cache.root / f"{sha}.part").write_bytes(original[:half])  # an interrupted download
    answers: list[tuple[int, str | None]] = []
    session.hooks["response"].append(
        lambda r, *a, **k: answers.append((r.status_code, r.request.headers.get("Range"))))
    path = cache.fetch(client, sha, client.media_url(sha), len(original), attempts=1)
    assert path.read_bytes() == original
    assert answers == [(206, f"bytes={half}-")]


def test_corrupt_media_from_the_server_is_rejected_until_repaired(
        app: Flask, venue: int, kiosk: KioskSide, cache: MediaCache) -> None:
    kiosk.sync.run_round()
    kiosk.drain()
    sha = publish_poster(app, venue)
    stored = server_file(app, sha)
    good = stored.read_bytes()
    stored.write_bytes(good[:-64] + bytes(64))  # the server's disk rotted
    kiosk.sync.wake()
    kiosk.sync.run_round()
    assert ready(kiosk) == []
    assert cache.resolve(sha) is None and not (cache.root / sha).exists()
    stored.write_bytes(good)
    kiosk.sync.wake()
    kiosk.sync.run_round()
    [fixed] = ready(kiosk)
    assert fixed.resolve(sha) is not None


# -- records and heartbeat --------------------------------------------------------------------

def play(at: float, sha: str | None = None) -> PlayRecord:
    return PlayRecord(new_client_uuid(at), None, sha, "default", at, 8000, None)


def test_plays_reach_the_server_exactly_once(
        app: Flask, kiosk: KioskSide, journal: Journal, client: KioskClient) -> None:
    records = [play(1_795_420_800.0 + n) for n in range(30)]
    for record in records:
        schemas.PlayRecord.model_validate(journal.play_payload(record))
    journal.add_many(PLAY, [(r.client_uuid, journal.play_payload(r)) for r in records], 0.0)
    sent = journal.pending(PLAY, 100)
    kiosk.sync.run_round()
    assert journal.unsynced()[PLAY] == 0
    # an answer lost on the way: the kiosk sends the same batch again
    again = client.post_batch("plays", [row.payload for row in sent])
    assert (again["accepted"], again["duplicates"]) == (0, 30)
    with app.app_context():
        assert db.session.query(PlayEvent).count() == 30


def test_a_record_the_server_rejects_is_set_aside(kiosk: KioskSide, journal: Journal) -> None:
    good = play(1_795_420_800.0)
    journal.add_play(good, 0.0)
    bad_uuid = new_client_uuid(1_795_420_801.0)
    journal.add(PLAY, bad_uuid, {"client_uuid": bad_uuid, "kind": "video",
                                 "started_at": "not a time", "duration_ms": 1}, 0.0)
    kiosk.sync.run_round()
    assert journal.unsynced()[PLAY] == 0
    [dead] = journal.dead_letters()
    assert dead["client_uuid"] == bad_uuid and dead["reason"]


def test_the_heartbeat_fits_the_contract_and_is_stored(
        app: Flask, kiosk: KioskSide, credentials: Credentials) -> None:
    kiosk.sync.run_round()  # manifest, then the heartbeat that follows a handover
    body = kiosk.sync.heartbeat_body()
    schemas.HeartbeatRequest.model_validate(body)
    with app.app_context():
        row = db.session.get(KioskRow, credentials.kiosk_id)
        assert row is not None and row.last_heartbeat_at is not None
        assert row.status["manifest_version"] == kiosk.sync.manifest_version


def test_a_revoked_kiosk_is_unauthorized(runner: FlaskCliRunner, client: KioskClient,
                                         credentials: Credentials) -> None:
    result = runner.invoke(args=["kiosk", "revoke", str(credentials.kiosk_id)])
    assert result.exit_code == 0, result.output
    with pytest.raises(errors.Unauthorized):
        client.manifest(None)


# -- offline ----------------------------------------------------------------------------------

def test_server_down_then_back(app: Flask, venue: int, live: LiveServer, kiosk: KioskSide,
                               journal: Journal) -> None:
    kiosk.sync.run_round()
    kiosk.drain()
    live.stop()
    journal.add_play(play(1_795_420_800.0), 0.0)
    kiosk.sync.wake()
    delay = kiosk.sync.run_round()
    assert 0 < delay <= 2.0  # the first backoff step, not a poll interval
    statuses = [e for e in kiosk.drain() if isinstance(e, SyncStatus)]
    assert [s.online for s in statuses] == [False]
    assert journal.unsynced()[PLAY] == 1
    sha = publish_poster(app, venue)  # published while the kiosk could not hear it
    live.start()
    kiosk.sync.wake()
    kiosk.sync.run_round()
    events = kiosk.drain()
    assert [e.online for e in events if isinstance(e, SyncStatus)] == [True]
    [fresh] = [e for e in events if isinstance(e, ManifestReady)]
    assert fresh.resolve(sha) is not None
    assert journal.unsynced()[PLAY] == 0


def test_status_reports_what_sync_did(kiosk: KioskSide, layout: DataLayout,
                                      journal: Journal,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    kiosk.sync.run_round()
    assert kiosk_main(["--data", str(layout.root), "status", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["enrolled"] is True
    assert facts["manifest_version"] == kiosk.sync.manifest_version
    assert facts["unsynced"] == {"plays": 0, "checkins": 0}
    assert facts["last_sync_at"] is not None


def test_a_running_kiosk_shows_the_manifest_and_reports_it(
        app: Flask, venue: int, layout: DataLayout, credentials: Credentials) -> None:
    sha = publish_poster(app, venue)
    assert kiosk_main(["--data", str(layout.root), "run", "--headless",
                       "--max-seconds", "3"]) == 0
    assert (layout.media / sha).exists()
    with app.app_context():
        row = db.session.get(KioskRow, credentials.kiosk_id)
        assert row is not None and row.status["manifest_version"]
        assert db.session.query(KioskScreenshot).filter_by(
            kiosk_id=credentials.kiosk_id).count() == 1
