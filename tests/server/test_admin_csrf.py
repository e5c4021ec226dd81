"""CSRF: every console form needs the token; the kiosk API (bearer tokens) does not."""

from __future__ import annotations

import re

import pytest
from admin_support import PASSWORD, Town, build_town, client_for
from flask import Flask
from flask.testing import FlaskClient
from server_api import KioskApi

from signage_server.extensions import db
from signage_server.models import Kiosk

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def town(app: Flask) -> Town:
    assert app.config.get("WTF_CSRF_ENABLED", True)
    return build_town(app)


def token_from(page: str) -> str:
    match = TOKEN.search(page)
    assert match, "no CSRF token in the form"
    return match.group(1) or match.group(2)


def test_sign_in_without_the_token_is_refused(client: FlaskClient, town: Town) -> None:
    response = client.post("/admin/login", data={"email": "admin@example.vn",
                                                 "password": PASSWORD})
    assert response.status_code == 400
    assert "hết hạn" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_sign_in_with_the_token_works(client: FlaskClient, town: Town) -> None:
    token = token_from(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"email": "admin@example.vn",
                                                 "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


@pytest.mark.parametrize("path", ["/admin/kiosks/{kiosk}/revoke", "/admin/logout",
                                  "/admin/playlists/{playlist}/publish",
                                  "/admin/checkins/reveal"])
def test_actions_without_the_token_are_refused(app: Flask, town: Town, path: str) -> None:
    client = client_for(app, town, "admin")
    response = client.post(path.format(**vars(town)), data={"reason": "kiểm tra CSRF"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Kiosk, town.kiosk).revoked_at is None  # type: ignore[union-attr]


def test_a_token_from_another_session_is_refused(app: Flask, town: Town) -> None:
    mine = client_for(app, town, "admin")
    theirs = client_for(app, town, "admin")
    token = token_from(theirs.get("/admin/kiosks").get_data(as_text=True))
    response = mine.post(f"/admin/kiosks/{town.kiosk}/revoke", data={"csrf_token": token})
    assert response.status_code == 400


def test_upload_without_the_token_answers_json(app: Flask, town: Town) -> None:
    client = client_for(app, town, "admin")
    response = client.post("/admin/media/upload", data={},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "csrf"  # type: ignore[index]


def test_kiosk_api_needs_no_csrf_token(kiosk: KioskApi) -> None:
    response = kiosk.post("/api/v1/heartbeat", {"version": "1.0", "uptime_s": 5})
    assert response.status_code == 200
