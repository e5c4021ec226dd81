"""``signage-kiosk`` as a user types it: status, and enrollment that fails cleanly."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_kiosk_api import manifest, media_item
from loopback_http import Loopback, serving
from PIL import Image

from kiosk.__main__ import main
from kiosk.cache import MediaCache
from kiosk.config import DataLayout
from kiosk.journal import Journal


@pytest.fixture
def server() -> Iterator[Loopback]:
    with serving() as state:
        yield state


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_status_of_a_fresh_kiosk_changes_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["--data", str(data), "status", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["enrolled"] is False
    assert facts["unsynced"] == {"plays": 0, "checkins": 0}
    assert facts["cache_bytes"] == 0
    assert not data.exists()


def test_the_data_dir_comes_from_the_environment(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SIGNAGE_KIOSK_DATA", str(tmp_path))
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_dir"] == str(tmp_path)


def test_enrollment_stores_what_the_server_gave(tmp_path: Path, server: Loopback,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    server.json_route("POST", "/api/v1/enroll", 200, {
        "kiosk_id": 12, "venue_id": 3, "token": "tok", "server_public_key": "cHVi",
        "presence_secret": "c2Vj", "server_time": "2026-11-23T10:00:00Z"})
    data = tmp_path / "data"
    assert main(["--data", str(data), "enroll", "K7Q2-9XMP-4TRA", "--server",
                 server.base_url + "/", "--name", "Lobby TV", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["kiosk_id"], printed["venue_id"]) == (12, 3)
    sent = json.loads(server.seen[-1].body)
    assert (sent["code"], sent["name"]) == ("K7Q2-9XMP-4TRA", "Lobby TV")
    stored = json.loads((data / "credentials.json").read_text())
    assert stored["server_url"] == server.base_url
    assert stored["token"] == "tok"


def test_a_refused_code_is_reported_and_stores_nothing(
        tmp_path: Path, server: Loopback, capsys: pytest.CaptureFixture[str]) -> None:
    server.json_route("POST", "/api/v1/enroll", 400, {
        "error": {"code": "invalid_code", "message": "unknown or expired enrollment code"}})
    assert main(["--data", str(tmp_path), "enroll", "XXXX-XXXX", "--server",
                 server.base_url]) == 1
    assert "unknown or expired enrollment code" in capsys.readouterr().err
    assert not (tmp_path / "credentials.json").exists()


def test_an_unreachable_server_is_reported(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["--data", str(tmp_path), "enroll", "XXXX-XXXX", "--server", url]) == 1
    assert "signage-kiosk:" in capsys.readouterr().err


def test_windowed_and_headless_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--data", str(tmp_path), "run", "--windowed", "--headless"])


def test_an_unenrolled_kiosk_runs_headless_on_its_default_content(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shot = tmp_path / "screen.png"
    assert main(["--data", str(tmp_path / "data"), "run", "--headless", "--screenshot",
                 str(shot), "--screenshot-every", "0.5", "--max-seconds", "1.5"]) == 0
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert main(["--data", str(tmp_path / "data"), "status", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert facts["unsynced"] == {"plays": 0, "checkins": 0}  # nobody to report plays to


# -- damaged files after a power cut: set aside, and the kiosk plays ----------------------------


def magenta_share(png: Path) -> float:
    """Share of the screenshot's pixels that are the test poster's magenta."""
    with Image.open(png) as picture:
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 24) or []
    total = sum(count for count, _ in colours)
    return sum(count for count, rgb in colours if rgb == (255, 0, 255)) / total


def run_headless(data: Path, shot: Path, seconds: float = 2.0) -> int:
    return main(["--data", str(data), "run", "--headless", "--screenshot", str(shot),
                 "--screenshot-every", "0.3", "--max-seconds", str(seconds)])


def status_of(data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["--data", str(data), "status", "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))


def test_damaged_journal_and_credentials_are_set_aside_and_the_kiosk_plays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    data, shot = tmp_path / "data", tmp_path / "screen.png"
    data.mkdir()
    (data / "journal.sqlite").write_bytes(b"SQLite format 3\0" + bytes(range(256)) * 8)
    (data / "credentials.json").write_bytes(b'{"server_url": "http://127.0.0.1:9", "tok')
    before = status_of(data, capsys)  # status reports, and changes nothing
    assert before["must_enroll_again"] is True and before["enrolled"] is False
    assert str(before["journal_problem"]).startswith("damaged:")
    assert (data / "journal.sqlite").exists() and (data / "credentials.json").exists()

    assert run_headless(data, shot) == 0
    assert shot.read_bytes().startswith(b"\x89PNG")  # the built-in content is on screen
    assert "must be enrolled again" in caplog.text
    after = status_of(data, capsys)
    assert after["must_enroll_again"] is True and after["journal_problem"] is None
    assert sorted(str(n).split(".corrupt-")[0] for n in after["set_aside"]) == \
        ["credentials.json", "journal.sqlite"]  # type: ignore[attr-defined]
    assert run_headless(data, shot, 0.5) == 0  # and the next start is a plain one
    assert len(list(data.glob("*.corrupt-*"))) == 2


def test_a_kiosk_that_lost_its_credentials_plays_its_cached_programme(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data, shot = tmp_path / "data", tmp_path / "screen.png"
    poster = io.BytesIO()
    Image.new("RGB", (320, 180), (255, 0, 255)).save(poster, format="PNG")
    item = media_item(1, poster.getvalue())
    DataLayout(data).ensure()
    (data / "media" / item["sha256"]).write_bytes(poster.getvalue())
    assert MediaCache(data / "media", 0).verify(item["sha256"])  # cached as sync leaves it
    journal = Journal(data / "journal.sqlite")
    journal.save_manifest(manifest("v7", item), '"v7"')
    journal.close()
    (data / "credentials.json").write_bytes(b"")  # what a cut can leave of a fresh write

    caplog.set_level(logging.INFO)
    assert run_headless(data, shot) == 0
    assert "stored manifest v7 handed to the player" in caplog.text
    assert magenta_share(shot) > 0.3
