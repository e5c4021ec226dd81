"""Script in every text field comes back escaped, on every page that shows it."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from admin_support import Town, add_checkin, build_town, client_for, png_bytes
from flask import Flask
from flask.testing import FlaskClient
from server_api import KioskApi

from signage_server.extensions import db

PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
SHORT = "<script>alert(1)</script>"  # for fields limited to 32 characters
RAW = re.compile(r"<script>alert|<img src=x onerror")


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def admin(app: Flask, town: Town) -> FlaskClient:
    return client_for(app, town, "admin")


def no_raw_script(response: Any) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 302), response.status_code
    if response.mimetype == "application/json":  # data, never rendered as a page
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        return ""
    assert RAW.search(page) is None, RAW.search(page)
    return page


def fill_every_field(admin: FlaskClient, app: Flask, town: Town,
                     kiosk: KioskApi) -> None:
    """Put the payload everywhere a user, a kiosk or a visitor can type text."""
    no_raw_script(admin.post("/admin/areas/new", data={
        "name": PAYLOAD, "kind": "district", "parent": town.province}, follow_redirects=True))
    no_raw_script(admin.post(f"/admin/venues/{town.venue}/edit", data={
        "name": PAYLOAD, "kind": "office", "area": town.district, "address": PAYLOAD,
        "timezone": "Asia/Ho_Chi_Minh", "privacy_mode": "full", "retention_days": 21,
        "consent_text_vi": PAYLOAD, "consent_text_en": PAYLOAD}, follow_redirects=True))
    no_raw_script(admin.post("/admin/kiosks/new", data={"venue": town.venue, "name": PAYLOAD}))
    no_raw_script(admin.post("/admin/media/upload", content_type="multipart/form-data", data={
        "file": (io.BytesIO(png_bytes((40, 40), "red")), f"{PAYLOAD}.png"), "title": ""},
        follow_redirects=True))
    no_raw_script(admin.post("/admin/media/upload", content_type="multipart/form-data", data={
        "file": (io.BytesIO(png_bytes((41, 40), "red")), "a.png"), "title": PAYLOAD},
        headers={"Accept": "application/json"}))
    no_raw_script(admin.post(f"/admin/playlists/{town.playlist}", data={
        "name": PAYLOAD, "area": town.province, "action": "save", "order": "k0,k1,k2",
        "k0-kind": "qr", "k0-days": "1", "k0-url": f"https://x.example/{PAYLOAD}",
        "k0-caption_vi": PAYLOAD, "k0-caption_en": PAYLOAD,
        "k1-kind": "text", "k1-days": "1", "k1-title_vi": PAYLOAD, "k1-lines_vi": PAYLOAD,
        "k1-title_en": PAYLOAD, "k1-lines_en": PAYLOAD,
        "k2-kind": "image", "k2-days": "1", "k2-media": town.media_sha,
        "k2-windows": PAYLOAD}, follow_redirects=True))
    no_raw_script(admin.post("/admin/checkins/reveal", data={"reason": PAYLOAD}))
    assert kiosk.post("/api/v1/heartbeat", {
        "version": SHORT, "uptime_s": 1, "last_error": PAYLOAD, "manifest_version": SHORT,
        "screenshot_png": base64.b64encode(png_bytes()).decode()}).status_code == 200
    with app.app_context():
        add_checkin(town.venue, datetime.now(UTC), name=PAYLOAD, phone="0901234567",
                    organisation=PAYLOAD, purpose=PAYLOAD, host=PAYLOAD)
        db.session.commit()


PAGES = [
    "/admin/", "/admin/areas", "/admin/areas/{province}/edit", "/admin/venues/{venue}/edit",
    "/admin/kiosks", "/admin/kiosks/{kiosk}", "/admin/media", "/admin/playlists",
    "/admin/playlists/{playlist}", "/admin/playlists/{playlist}/timeline?venue={venue}",
    "/admin/checkins", "/admin/audit", "/admin/users",
]


def test_every_page_escapes_what_was_typed(admin: FlaskClient, app: Flask, town: Town,
                                          enroll: Callable[[int], KioskApi]) -> None:
    kiosk = enroll(town.venue)
    fill_every_field(admin, app, town, kiosk)
    shown = ""
    for path in PAGES:
        shown += no_raw_script(admin.get(path.format(**{**vars(town), "kiosk": kiosk.kiosk_id})))
    shown += no_raw_script(admin.post("/admin/checkins/reveal", data={"reason": "kiểm tra"}))
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert shown.count(escaped) > 15  # the payload was stored and shown, escaped


def test_rollout_json_and_flash_messages_are_escaped(admin: FlaskClient, town: Town) -> None:
    response = admin.post("/admin/areas/new", data={"name": PAYLOAD, "kind": "province",
                                                    "parent": 0}, follow_redirects=True)
    no_raw_script(response)
    assert "&lt;script&gt;" in response.get_data(as_text=True)


def test_an_email_with_markup_is_refused(admin: FlaskClient) -> None:
    response = admin.post("/admin/users/new", data={
        "email": "<script>@x.vn", "role": "admin", "password": "long enough password"})
    assert "Không phải địa chỉ email" in no_raw_script(response)


def test_the_manager_sees_the_same_pages_escaped(app: Flask, town: Town, admin: FlaskClient,
                                                 enroll: Callable[[int], KioskApi]) -> None:
    kiosk = enroll(town.venue)
    fill_every_field(admin, app, town, kiosk)
    manager = client_for(app, town, "manager")
    for path in ("/admin/kiosks", "/admin/areas", "/admin/playlists/{playlist}"):
        no_raw_script(manager.get(path.format(**vars(town))))


@pytest.mark.parametrize("path", ["/admin/audit?action=a%00b", "/admin/checkins?method=%00"])
def test_a_nul_byte_is_refused(admin: FlaskClient, path: str) -> None:
    assert admin.get(path).status_code == 400


def test_a_nul_byte_in_a_form_is_refused(admin: FlaskClient, app: Flask, town: Town) -> None:
    response = admin.post("/admin/areas/new", data={"name": "a\x00b", "kind": "province",
                                                    "parent": 0})
    assert response.status_code == 400
