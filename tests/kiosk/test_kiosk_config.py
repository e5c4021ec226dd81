"""Kiosk settings: declared once, resolved in layers, documented, never fatal."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from kiosk import config
from kiosk.config import (
    Credentials,
    DataLayout,
    KioskConfig,
    credentials_set_aside,
    default_data_dir,
    load,
    load_credentials,
    recover_credentials,
    save_credentials,
    server_url_of,
)
from kiosk.errors import ConfigError

DOC = Path(__file__).resolve().parents[2] / "docs" / "kiosk-configuration.md"


def write_toml(folder: Path, text: str) -> None:
    (folder / "kiosk.toml").write_text(text, encoding="utf-8")


def test_every_setting_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    missing = [name for name, _, _ in KioskConfig.help_table() if f"| `{name}` |" not in doc]
    assert missing == []


def test_every_setting_has_a_help_line() -> None:
    assert all(len(help_text) > 20 for _, _, help_text in KioskConfig.help_table())


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    loaded = load(tmp_path, environ={})
    assert loaded == KioskConfig()
    assert (loaded.poll_seconds, loaded.poll_jitter, loaded.backoff_cap_seconds) == \
        (30.0, 0.2, 300.0)
    assert (loaded.heartbeat_seconds, loaded.mqtt_url) == (60.0, "")


def test_the_file_overrides_defaults(tmp_path: Path) -> None:
    write_toml(tmp_path, 'mqtt_url = "mqtt://127.0.0.1:1883"\npoll_seconds = 15\n')
    loaded = load(tmp_path, environ={})
    assert loaded.mqtt_url == "mqtt://127.0.0.1:1883"
    assert loaded.poll_seconds == 15.0


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    write_toml(tmp_path, "poll_seconds = 15\nrotation = 90\n")
    loaded = load(tmp_path, environ={"SIGNAGE_KIOSK_POLL_SECONDS": "45",
                                     "SIGNAGE_KIOSK_HEARTBEAT_SCREENSHOT": "no"})
    assert loaded.poll_seconds == 45.0
    assert loaded.rotation == 90
    assert loaded.heartbeat_screenshot is False


def test_overrides_beat_everything(tmp_path: Path) -> None:
    loaded = load(tmp_path, environ={"SIGNAGE_KIOSK_SCREENSHOT_PATH": "/tmp/a.png"},
                  overrides={"screenshot_path": "/tmp/b.png", "screenshot_seconds": None})
    assert loaded.screenshot_path == "/tmp/b.png"
    assert loaded.screenshot_seconds == 5.0  # None means "not given"


def test_an_unknown_override_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load(tmp_path, environ={}, overrides={"pol_seconds": 3})


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("poll_seconds", "soon", 30.0),        # not a number: the default
    ("poll_seconds", "0", 1.0),            # below range: clamped
    ("poll_jitter", "5", 0.9),             # above range: clamped
    ("batch_size", "5000", 1000),          # the server takes at most 1,000
    ("rotation", "45", 0),                 # not a right angle
    ("heartbeat_screenshot", "maybe", True),
    ("download_attempts", "2.5", 3),       # not a whole number
])
def test_unusable_values_fall_back_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, raw: str,
        expected: object) -> None:
    with caplog.at_level(logging.WARNING, logger="kiosk.config"):
        loaded = load(tmp_path, environ={f"SIGNAGE_KIOSK_{name.upper()}": raw})
    assert getattr(loaded, name) == expected
    assert name in caplog.text


def test_a_broken_file_is_ignored_not_fatal(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    write_toml(tmp_path, "poll_seconds = = 3\n")
    with caplog.at_level(logging.WARNING, logger="kiosk.config"):
        assert load(tmp_path, environ={}) == KioskConfig()
    assert "kiosk.toml" in caplog.text


def test_unknown_file_keys_are_ignored_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_toml(tmp_path, "colour = 'blue'\nrotation = 270\n")
    with caplog.at_level(logging.WARNING, logger="kiosk.config"):
        loaded = load(tmp_path, environ={})
    assert loaded.rotation == 270
    assert "colour" in caplog.text


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    assert default_data_dir({"SIGNAGE_KIOSK_DATA": str(tmp_path)}, Path("/home/x")) == tmp_path


def test_data_dir_follows_xdg_when_the_system_folder_is_not_ours(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "SYSTEM_DATA_DIR", tmp_path / "absent")
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}, Path("/home/x")) == \
        tmp_path / "signage-kiosk"
    assert default_data_dir({}, Path("/home/x")) == Path("/home/x/.local/share/signage-kiosk")


def test_data_dir_prefers_the_system_folder_when_writable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "SYSTEM_DATA_DIR", tmp_path)
    assert default_data_dir({}, Path("/home/x")) == tmp_path


CREDENTIALS = Credentials("http://127.0.0.1:5000", 12, 3, "secret-token", "cHVi", "c2Vj")


def test_credentials_are_owner_only(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    save_credentials(layout, CREDENTIALS)
    assert stat.S_IMODE(layout.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.root.stat().st_mode) == 0o700
    assert load_credentials(layout) == CREDENTIALS


def test_no_credentials_before_enrollment(tmp_path: Path) -> None:
    assert load_credentials(DataLayout(tmp_path)) is None


def test_incomplete_credentials_are_reported(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    layout.credentials.write_text('{"token": "x"}')
    with pytest.raises(ConfigError):
        load_credentials(layout)


@pytest.mark.parametrize(("configured", "enrolled", "expected"), [
    ("", CREDENTIALS, "http://127.0.0.1:5000"),
    ("http://10.0.0.2:8000/", CREDENTIALS, "http://10.0.0.2:8000"),
    ("", None, ""),
])
def test_which_server_to_talk_to(configured: str, enrolled: Credentials | None,
                                 expected: str) -> None:
    assert server_url_of(KioskConfig(server_url=configured), enrolled) == expected


def test_the_credentials_rename_is_made_durable(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = config.os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(config.os, "fsync", fsync)
    save_credentials(DataLayout(tmp_path / "data"), CREDENTIALS)
    assert synced == ["file", "dir"]  # the bytes, then the rename in the folder


@pytest.mark.parametrize("damaged", [b"", b'{"server_url": "http://127.0.0.1:5000", "kio',
                                     b"\xff\xfe garbage", b'{"token": "x"}', b"[1, 2]"])
def test_damaged_credentials_are_set_aside_and_the_kiosk_goes_on_unenrolled(
        tmp_path: Path, damaged: bytes, caplog: pytest.LogCaptureFixture) -> None:
    layout = DataLayout(tmp_path)
    layout.credentials.write_bytes(damaged)
    assert recover_credentials(layout, 1_795_420_800.0) is None
    assert not layout.credentials.exists()
    (aside,) = credentials_set_aside(layout)
    assert aside.name == "credentials.json.corrupt-20261123T080000Z"
    assert aside.read_bytes() == damaged
    assert "must be enrolled again" in caplog.text
    assert "http://127.0.0.1:5000" not in caplog.text  # the file's content is not logged


def test_sound_credentials_are_kept_and_a_leftover_temporary_goes(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    save_credentials(layout, CREDENTIALS)
    leftover = layout.credentials.with_suffix(".json.tmp")
    leftover.write_text('{"token": "half-written"}')
    assert recover_credentials(layout, 1_795_420_800.0) == CREDENTIALS
    assert not leftover.exists() and credentials_set_aside(layout) == []


def test_no_credentials_is_not_damage(tmp_path: Path) -> None:
    assert recover_credentials(DataLayout(tmp_path), 1_795_420_800.0) is None
    assert credentials_set_aside(DataLayout(tmp_path)) == []
