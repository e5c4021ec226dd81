"""Nouns for server tests: a venue, an enrolled kiosk, and a kiosk API client."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.test import TestResponse

CliJson = Callable[..., dict[str, Any]]


@pytest.fixture
def cli_json(runner: FlaskCliRunner) -> CliJson:
    """Run a server command with --json and return the object it printed."""

    def run(*args: str, stdin: str | None = None) -> dict[str, Any]:
        result = runner.invoke(args=[*args, "--json"], input=stdin)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output.strip().splitlines()[-1]))

    return run


@dataclass
class KioskApi:
    """A kiosk as the server sees it: its id, venue, token and a way to call the API."""

    client: FlaskClient
    kiosk_id: int
    venue_id: int
    token: str
    public_key: str
    presence_secret: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def get(self, path: str, **headers: str) -> TestResponse:
        return self.client.get(path, headers=self.headers(**headers))

    def post(self, path: str, body: Any) -> TestResponse:
        return self.client.post(path, json=body, headers=self.headers())


@pytest.fixture
def venue(cli_json: CliJson) -> int:
    return int(cli_json("venue", "add", "Bến xe Miền Đông", "--kind", "bus_station",
                        "--privacy", "contact")["id"])


@pytest.fixture
def enroll(client: FlaskClient, cli_json: CliJson) -> Callable[[int], KioskApi]:
    """Add a kiosk to a venue and enroll it, as `signage-kiosk enroll` would."""

    def run(venue_id: int) -> KioskApi:
        code = cli_json("kiosk", "add", "--venue", str(venue_id))["enrollment_code"]
        response = client.post("/api/v1/enroll", json={"code": code, "name": "Lobby TV"})
        assert response.status_code == 200, response.json
        body = response.json
        assert body is not None
        return KioskApi(client, body["kiosk_id"], body["venue_id"], body["token"],
                        body["server_public_key"], body["presence_secret"])

    return run


@pytest.fixture
def kiosk(enroll: Callable[[int], KioskApi], venue: int) -> KioskApi:
    return enroll(venue)
