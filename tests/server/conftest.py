"""Nouns for server tests: a venue, an enrolled kiosk, and a kiosk API client.

Every response that goes through ``api`` or a ``KioskApi`` is checked against the OpenAPI
document the server serves (``contract``), so each test checks the contract as it goes.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from nacl.public import PublicKey, SealedBox
from server_api import OPENAPI_PATH, Api, Contract, KioskApi
from server_data import Database, Library, Programme

__all__ = ["Api", "Contract", "Database", "KioskApi", "Library", "Programme"]

CliJson = Callable[..., dict[str, Any]]
Record = Callable[..., dict[str, Any]]


@pytest.fixture
def cli_json(runner: FlaskCliRunner) -> CliJson:
    """Run a server command with --json and return the object it printed."""

    def run(*args: str, stdin: str | None = None) -> dict[str, Any]:
        result = runner.invoke(args=[*args, "--json"], input=stdin)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output.strip().splitlines()[-1]))

    return run


@pytest.fixture
def contract(client: FlaskClient) -> Contract:
    """The OpenAPI document as the server serves it, ready to check responses."""
    response = client.get(OPENAPI_PATH)
    assert response.status_code == 200
    return Contract(response.json)  # type: ignore[arg-type]


@pytest.fixture
def api(client: FlaskClient, contract: Contract) -> Api:
    """The kiosk API without a token; every response is checked against the contract."""
    return Api(client, contract)


@pytest.fixture
def venue(cli_json: CliJson) -> int:
    return int(cli_json("venue", "add", "Bến xe Miền Đông", "--kind", "bus_station",
                        "--privacy", "contact")["id"])


@pytest.fixture
def enroll(client: FlaskClient, cli_json: CliJson, api: Api) -> Callable[[int], KioskApi]:
    """Add a kiosk to a venue and enroll it, as `signage-kiosk enroll` would."""

    def run(venue_id: int) -> KioskApi:
        code = cli_json("kiosk", "add", "--venue", str(venue_id))["enrollment_code"]
        response = api.post("/api/v1/enroll", {"code": code, "name": "Lobby TV"})
        assert response.status_code == 200, response.json
        body = response.json
        assert body is not None
        return KioskApi(client, body["kiosk_id"], body["venue_id"], body["token"],
                        body["server_public_key"], body["presence_secret"], api)

    return run


@pytest.fixture
def kiosk(enroll: Callable[[int], KioskApi], venue: int) -> KioskApi:
    return enroll(venue)


@pytest.fixture
def database(app: Flask) -> Database:
    return Database(app)


@pytest.fixture
def library(app: Flask) -> Library:
    return Library(app)


@pytest.fixture
def programme(app: Flask) -> Programme:
    return Programme(app)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def checkin_record() -> Record:
    """A valid check-in as a kiosk sends it, fields overridable: ``checkin_record(x=...)``."""

    def record(**fields: Any) -> dict[str, Any]:
        return {"client_uuid": str(uuid.uuid4()), "occurred_at": rfc3339(datetime.now(UTC)),
                "clock_uncorrected": False, "direction": "in", "method": "button",
                "has_app": "yes", "consent_version": 1, **fields}

    return record


@pytest.fixture
def play_record() -> Record:
    """A valid proof-of-play record, fields overridable."""

    def record(**fields: Any) -> dict[str, Any]:
        return {"client_uuid": str(uuid.uuid4()), "item_id": None, "sha256": None,
                "kind": "default", "started_at": rfc3339(datetime.now(UTC)),
                "duration_ms": 10000, "manifest_version": None, "clock_uncorrected": False,
                **fields}

    return record


@pytest.fixture
def seal(kiosk: KioskApi) -> Callable[[dict[str, Any]], str]:
    """Seal personal fields for the server, as the kiosk does with the enrolled key."""
    box = SealedBox(PublicKey(base64.b64decode(kiosk.public_key)))

    def sealed(fields: dict[str, Any]) -> str:
        plain = json.dumps(fields, ensure_ascii=False).encode("utf-8")
        return base64.b64encode(box.encrypt(plain)).decode("ascii")

    return sealed
