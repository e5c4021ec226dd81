"""Enrollment hands each kiosk its own broker account when the server has MQTT."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from flask import Flask

from signage_server import mqtt_acl


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"MQTT_URL": "mqtt://signage-server:s3cret@127.0.0.1:1883",
            "MQTT_KIOSK_URL": "mqtts://broker.example.gov.vn:8883"}


def enroll(api: Any, cli_json: Any, venue: int) -> dict[str, Any]:
    code = cli_json("kiosk", "add", "--venue", str(venue))["enrollment_code"]
    response = api.post("/api/v1/enroll", {"code": code})
    assert response.status_code == 200
    return dict(response.json)


def test_kiosk_gets_its_own_account_at_the_public_broker(app: Flask, api: Any, cli_json: Any,
                                                         venue: int) -> None:
    body = enroll(api, cli_json, venue)
    parts = urlsplit(body["mqtt_url"])
    assert (parts.scheme, parts.hostname, parts.port) == ("mqtts", "broker.example.gov.vn", 8883)
    assert unquote(parts.username or "") == mqtt_acl.kiosk_username(body["kiosk_id"])
    assert unquote(parts.password or "") == mqtt_acl.kiosk_password(
        app.config["SECRET_KEY"], body["kiosk_id"])


def test_no_broker_no_account(app: Flask, api: Any, cli_json: Any, venue: int) -> None:
    app.config["MQTT_URL"] = ""
    assert enroll(api, cli_json, venue)["mqtt_url"] is None
