"""Enrollment: a one-time code becomes a kiosk token, a sealing key and a presence secret."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from nacl.public import PublicKey, SealedBox

from signage_server import fleet
from signage_server.extensions import db
from signage_server.models import Kiosk

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskCliRunner
    from server_api import Api, KioskApi
    from server_data import Database

CliJson = Callable[..., dict[str, Any]]


@pytest.fixture
def code(cli_json: CliJson, venue: int) -> str:
    """A fresh enrollment code for a new kiosk at the venue."""
    return str(cli_json("kiosk", "add", "--venue", str(venue))["enrollment_code"])


def code_made_at(app: Flask, venue: int, moment: datetime) -> str:
    with app.app_context():
        new = fleet.add_kiosk(venue, "Cổng 2", moment, valid_hours=24)
        db.session.commit()
        return new.enrollment_code


def test_enrollment_answers_token_key_and_secret(api: Api, code: str, venue: int) -> None:
    body = api.post("/api/v1/enroll", {"code": code, "name": "Lobby TV"}).json
    assert body["venue_id"] == venue
    assert len(body["token"]) >= 32
    assert len(base64.b64decode(body["server_public_key"])) == 32
    assert len(base64.b64decode(body["presence_secret"])) == 32


def test_code_works_once(api: Api, code: str) -> None:
    assert api.post("/api/v1/enroll", {"code": code}).status_code == 200
    second = api.post("/api/v1/enroll", {"code": code})
    assert second.status_code == 409
    assert second.json["error"]["code"] == "code_not_usable"


def test_code_is_read_without_dashes_or_case(api: Api, code: str) -> None:
    typed = code.replace("-", "").lower()
    assert api.post("/api/v1/enroll", {"code": typed}).status_code == 200


def test_expired_code_is_refused(api: Api, app: Flask, venue: int) -> None:
    code = code_made_at(app, venue, datetime.now(UTC) - timedelta(hours=24, minutes=1))
    assert api.post("/api/v1/enroll", {"code": code}).status_code == 409


def test_code_still_works_near_the_end_of_its_day(api: Api, app: Flask, venue: int) -> None:
    code = code_made_at(app, venue, datetime.now(UTC) - timedelta(hours=23, minutes=50))
    assert api.post("/api/v1/enroll", {"code": code}).status_code == 200


def test_unknown_code_is_refused(api: Api, code: str) -> None:
    unknown = "2222-3333-4444" if code != "2222-3333-4444" else "5555-6666-7777"
    assert api.post("/api/v1/enroll", {"code": unknown}).status_code == 409


MALFORMED_CODES = ["ABC", "ABCD-EFGH", "ABCD-EFGH-JKMN-P", "!!!!-????-....", "x" * 65,
                   123456789012, None, ["ABCD-EFGH-JKMN"]]


def test_malformed_code_is_400(api: Api) -> None:
    for bad in MALFORMED_CODES:
        response = api.post("/api/v1/enroll", {"code": bad})
        assert response.status_code == 400, bad
        assert response.json["error"]["code"] in {"invalid_code", "invalid_body"}, bad


def test_enrollment_name_names_the_kiosk(api: Api, code: str) -> None:
    token = api.post("/api/v1/enroll", {"code": code, "name": "Quầy lễ tân"}).json["token"]
    manifest = api.get("/api/v1/kiosk/manifest", Authorization=f"Bearer {token}").json
    assert manifest["kiosk"]["name"] == "Quầy lễ tân"


def test_revoked_kiosk_token_gets_401(kiosk: KioskApi, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["kiosk", "revoke", str(kiosk.kiosk_id)])
    assert result.exit_code == 0, result.output
    response = kiosk.get("/api/v1/kiosk/manifest")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_new_code_for_the_same_kiosk_retires_the_old_token(kiosk: KioskApi, app: Flask,
                                                          api: Api) -> None:
    with app.app_context():
        row = db.session.get(Kiosk, kiosk.kiosk_id)
        code = fleet.reissue_code(row, datetime.now(UTC), valid_hours=24)
        db.session.commit()
    fresh = api.post("/api/v1/enroll", {"code": code}).json
    assert fresh["kiosk_id"] == kiosk.kiosk_id
    assert kiosk.get("/api/v1/kiosk/manifest").status_code == 401


def test_token_is_stored_only_as_a_hash(kiosk: KioskApi, database: Database) -> None:
    row = database.one(Kiosk, Kiosk.id == kiosk.kiosk_id)
    assert row.token_hash == hashlib.sha256(kiosk.token.encode()).hexdigest()
    stored = [str(getattr(row, column.key)) for column in Kiosk.__table__.columns]
    assert not any(kiosk.token in value for value in stored)


def test_code_is_stored_only_as_a_hash(code: str, database: Database) -> None:
    row = database.one(Kiosk)
    stored = [str(getattr(row, column.key)) for column in Kiosk.__table__.columns]
    assert not any(fleet.normalise_code(code) in value or code in value for value in stored)


def test_used_code_is_forgotten(kiosk: KioskApi, database: Database) -> None:
    row = database.one(Kiosk, Kiosk.id == kiosk.kiosk_id)
    assert row.enrollment_code_hash is None


def test_public_key_opens_what_the_kiosk_sealed(kiosk: KioskApi, app: Flask) -> None:
    box = SealedBox(PublicKey(base64.b64decode(kiosk.public_key)))
    sealed = box.encrypt(json.dumps({"name": "Nguyễn Văn An"}).encode())
    private = app.extensions["signage_keys"]
    assert json.loads(SealedBox(private).decrypt(sealed)) == {"name": "Nguyễn Văn An"}


def test_presence_secret_is_the_kiosks_own(kiosk: KioskApi, database: Database) -> None:
    row = database.one(Kiosk, Kiosk.id == kiosk.kiosk_id)
    assert base64.b64decode(kiosk.presence_secret) == row.presence_secret


def test_kiosk_name_is_kept_exactly(api: Api, code: str) -> None:
    name = "Quầy 🛎️ <b>'; DROP TABLE kiosk; --"
    token = api.post("/api/v1/enroll", {"code": code, "name": name}).json["token"]
    manifest = api.get("/api/v1/kiosk/manifest", Authorization=f"Bearer {token}").json
    assert manifest["kiosk"]["name"] == name


def test_unusable_kiosk_name_is_400_and_keeps_the_code(api: Api, code: str) -> None:
    for name in ["Quầy\x00", "x" * 201, 42]:
        response = api.post("/api/v1/enroll", {"code": code, "name": name})
        assert response.status_code == 400, name
        assert response.json["error"]["message"].startswith("name"), name
    assert api.post("/api/v1/enroll", {"code": code}).status_code == 200
