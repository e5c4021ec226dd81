"""signage_server.mqtt_acl: the ACL and password files, and ``signage-server mqtt export``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from signage_server import fleet, mqtt_acl
from signage_server.extensions import db
from signage_server.models import Venue

KIOSKS = [
    mqtt_acl.KioskAccount(2, 20, "kiosk-2", "two"),
    mqtt_acl.KioskAccount(1, 10, "kiosk-1", "one"),
]


def test_the_acl_grants_each_kiosk_exactly_its_three_topics() -> None:
    text = mqtt_acl.render_acl("signage-server", KIOSKS, prefix="signage")

    blocks = [block.splitlines() for block in text.split("\n\n")][1:]
    assert blocks == [
        ["user signage-server", "topic readwrite signage/#"],
        ["user kiosk-1", "topic read signage/kiosk/1", "topic read signage/venue/10",
         "topic read signage/all"],
        ["user kiosk-2", "topic read signage/kiosk/2", "topic read signage/venue/20",
         "topic read signage/all"],
    ]


def test_the_acl_follows_the_topic_prefix() -> None:
    text = mqtt_acl.render_acl("srv", KIOSKS[:1], prefix="campaign/vn")

    assert "topic readwrite campaign/vn/#" in text
    assert "topic read campaign/vn/kiosk/2" in text


def test_a_kiosk_may_read_what_its_manifest_lists() -> None:
    assert mqtt_acl.kiosk_topics("signage", 12, 3) == [
        "signage/kiosk/12", "signage/venue/3", "signage/all"]


def test_the_password_file_has_the_server_first_then_kiosks_by_id() -> None:
    text = mqtt_acl.render_passwd(("signage-server", "s"), KIOSKS)

    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == ["signage-server", "kiosk-1", "kiosk-2"]
    assert mqtt_acl.verify_password("s", lines[0].split(":", 1)[1])
    assert mqtt_acl.verify_password("one", lines[1].split(":", 1)[1])
    assert text.endswith("\n")


def test_with_a_salt_key_the_files_are_byte_identical_each_time() -> None:
    first = mqtt_acl.render_passwd(("srv", "s"), KIOSKS, salt_key=b"key")

    assert mqtt_acl.render_passwd(("srv", "s"), KIOSKS, salt_key=b"key") == first
    assert mqtt_acl.render_passwd(("srv", "s"), KIOSKS, salt_key=b"other") != first


def test_without_a_salt_key_every_hash_gets_a_fresh_salt() -> None:
    assert mqtt_acl.password_line("kiosk-1", "x") != mqtt_acl.password_line("kiosk-1", "x")


def test_a_hash_is_mosquittos_pbkdf2_sha512_format() -> None:
    encoded = mqtt_acl.hash_password("s3cret", b"\x00" * 12)

    _, kind, iterations, salt, digest = encoded.split("$")
    assert (kind, iterations, salt) == ("7", "101", "AAAAAAAAAAAAAAAA")
    assert len(digest) == 88  # 64 bytes, base64 with padding


@pytest.mark.parametrize("encoded", ["", "$6$abc$def", "$7$101$!!$??", "plain"])
def test_a_malformed_hash_never_verifies(encoded: str) -> None:
    assert not mqtt_acl.verify_password("x", encoded)


def test_kiosk_passwords_are_derived_from_the_secret_key() -> None:
    one = mqtt_acl.kiosk_password("secret", 1)

    assert one == mqtt_acl.kiosk_password(b"secret", 1)
    assert one != mqtt_acl.kiosk_password("secret", 2)
    assert one != mqtt_acl.kiosk_password("other secret", 1)
    assert len(one) == 64


@pytest.mark.parametrize(("server", "kiosks", "prefix"), [
    ("has space", [], "signage"),
    ("srv", [mqtt_acl.KioskAccount(1, 1, "a:b", "x")], "signage"),
    ("srv", [mqtt_acl.KioskAccount(1, 1, "srv", "x")], "signage"),
    ("srv", [], "signage/#"),
    ("srv", [], "signage/+/x"),
    ("srv", [], "a//b"),
    ("srv", [], ""),
])
def test_unusable_names_are_refused_rather_than_written(
        server: str, kiosks: list[mqtt_acl.KioskAccount], prefix: str) -> None:
    with pytest.raises(ValueError):
        mqtt_acl.render_acl(server, kiosks, prefix)


@pytest.mark.parametrize("url", ["", "mqtt://127.0.0.1:1883", "mqtt://user@host",
                                 "http://user:pw@host"])
def test_the_server_account_must_be_in_the_mqtt_url(url: str) -> None:
    with pytest.raises(ValueError):
        mqtt_acl.server_account(url)


def test_the_server_account_is_read_from_the_url() -> None:
    assert mqtt_acl.server_account("mqtts://signage%2Dserver:p%40ss@broker:8883") == (
        "signage-server", "p@ss")


def test_export_rewrites_nothing_when_nothing_changed(tmp_path: Path) -> None:
    first = mqtt_acl.export(tmp_path, ("srv", "s"), KIOSKS, "signage", b"key")
    stamps = [(tmp_path / name).stat().st_mtime_ns for name in ("acl", "passwd")]

    second = mqtt_acl.export(tmp_path, ("srv", "s"), KIOSKS, "signage", b"key")

    assert (first.changed, second.changed) == (True, False)
    assert [(tmp_path / name).stat().st_mtime_ns for name in ("acl", "passwd")] == stamps
    assert (tmp_path / "passwd").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acl", "passwd"]


# -- the command ------------------------------------------------------------------------------

@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SECRET_KEY": "test-secret", "MQTT_TOPIC_PREFIX": "signage"}


@pytest.fixture
def fleet_of_three(app: Flask) -> dict[str, int]:
    """Kiosks in two venues: one enrolled, one enrolled then revoked, one never enrolled;
    plus a second enrolled kiosk in the other venue."""
    now = datetime.now(UTC)
    with app.app_context():
        lobby = Venue(name="Lobby", kind="office", timezone="Asia/Ho_Chi_Minh")
        station = Venue(name="Station", kind="bus_station", timezone="Asia/Ho_Chi_Minh")
        db.session.add_all([lobby, station])
        db.session.flush()
        ids = {}
        for name, venue in [("enrolled", lobby), ("revoked", lobby), ("pending", lobby),
                            ("other", station)]:
            new = fleet.add_kiosk(venue.id, name, now, 24)
            ids[name] = new.kiosk_id
            if name != "pending":
                fleet.enroll(new.enrollment_code, None, now)
        fleet.revoke(ids["revoked"], now)
        db.session.commit()
        ids["lobby"], ids["station"] = lobby.id, station.id
    return ids


def test_export_writes_accounts_for_enrolled_kiosks_only(
        app: Flask, runner: FlaskCliRunner, fleet_of_three: dict[str, int],
        tmp_path: Path) -> None:
    app.config["MQTT_URL"] = "mqtt://signage-server:srv-pass@127.0.0.1:1883"

    result = runner.invoke(mqtt_acl.mqtt_group, ["export", "--out", str(tmp_path), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"acl": str(tmp_path / "acl"),
                                         "passwd": str(tmp_path / "passwd"),
                                         "kiosks": 2, "changed": True}
    ids = fleet_of_three
    users = [line.split(":")[0] for line in (tmp_path / "passwd").read_text().splitlines()]
    assert users == ["signage-server", f"kiosk-{ids['enrolled']}", f"kiosk-{ids['other']}"]
    acl = (tmp_path / "acl").read_text()
    assert f"topic read signage/venue/{ids['station']}" in acl
    assert f"kiosk-{ids['revoked']}" not in acl


def test_the_exported_kiosk_password_is_the_one_the_server_hands_out(
        app: Flask, runner: FlaskCliRunner, fleet_of_three: dict[str, int],
        tmp_path: Path) -> None:
    app.config["MQTT_URL"] = "mqtt://signage-server:srv-pass@127.0.0.1:1883"
    runner.invoke(mqtt_acl.mqtt_group, ["export", "--out", str(tmp_path)])
    kiosk_id = fleet_of_three["enrolled"]

    lines = dict(line.split(":", 1) for line in (tmp_path / "passwd").read_text().splitlines())

    handed_out = mqtt_acl.kiosk_password("test-secret", kiosk_id)
    assert mqtt_acl.verify_password(handed_out, lines[f"kiosk-{kiosk_id}"])
    assert mqtt_acl.verify_password("srv-pass", lines["signage-server"])


def test_a_second_export_reports_unchanged(app: Flask, runner: FlaskCliRunner,
                                           fleet_of_three: dict[str, int],
                                           tmp_path: Path) -> None:
    app.config["MQTT_URL"] = "mqtt://signage-server:srv-pass@127.0.0.1:1883"
    runner.invoke(mqtt_acl.mqtt_group, ["export", "--out", str(tmp_path)])

    result = runner.invoke(mqtt_acl.mqtt_group, ["export", "--out", str(tmp_path)])

    assert result.exit_code == 0
    assert result.output.startswith("unchanged: ")


def test_export_without_a_server_account_says_what_to_set(runner: FlaskCliRunner,
                                                          tmp_path: Path) -> None:
    result = runner.invoke(mqtt_acl.mqtt_group, ["export", "--out", str(tmp_path)])

    assert result.exit_code == 1
    assert "SIGNAGE_MQTT_URL" in result.output
    assert not (tmp_path / "acl").exists()
