"""The fleet page: kiosk health, screenshots, adding, re-coding and revoking kiosks."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import zxingcpp
from admin_support import Town, add_kiosk, build_town, client_for, png_bytes
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from server_api import Api, KioskApi
from sqlalchemy import select

from signage_server.extensions import db
from signage_server.models import AuditLog, Kiosk

HEARTBEAT = 60


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False, "HEARTBEAT_SECONDS": HEARTBEAT}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def admin(app: Flask, town: Town) -> FlaskClient:
    return client_for(app, town, "admin")


def enrollment_code(page: str) -> str:
    match = re.search(r'id="enrollment-code">([A-Z0-9-]+)<', page)
    assert match
    return match.group(1)


def qr_text(page: str) -> str:
    """Decode the QR code the page shows, as a phone would."""
    match = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert match
    image = Image.open(io.BytesIO(base64.b64decode(match.group(1))))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1
    return found[0].text


def test_add_a_kiosk_shows_its_code_and_qr(admin: FlaskClient, town: Town, api: Api) -> None:
    response = admin.post("/admin/kiosks/new", data={"venue": town.venue, "name": "Cổng 2"})
    page = response.get_data(as_text=True)
    code = enrollment_code(page)
    assert qr_text(page) == code
    assert f"signage-kiosk enroll {code} --server http://127.0.0.1:5000" in page
    assert response.headers["Cache-Control"] == "no-store"
    enrolled = api.post("/api/v1/enroll", {"code": code})
    assert enrolled.status_code == 200
    assert enrolled.json["venue_id"] == town.venue  # type: ignore[index]


def test_adding_a_kiosk_is_audited(admin: FlaskClient, town: Town, app: Flask) -> None:
    admin.post("/admin/kiosks/new", data={"venue": town.venue, "name": "Cổng 2"})
    with app.app_context():
        assert db.session.scalar(select(AuditLog.action).where(
            AuditLog.action == "kiosk.add")) == "kiosk.add"


def test_manager_cannot_add_a_kiosk_elsewhere(app: Flask, town: Town) -> None:
    client = client_for(app, town, "manager")
    response = client.post("/admin/kiosks/new", data={"venue": town.other_venue})
    assert "enrollment-code" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Kiosk).filter_by(venue_id=town.other_venue).count() == 1


@pytest.mark.parametrize(("seconds_ago", "state"), [
    (5, "online"),
    (2 * HEARTBEAT - 5, "online"),
    (2 * HEARTBEAT + 5, "offline"),   # two missed heartbeats
    (3600, "offline"),
])
def test_online_until_two_heartbeats_are_missed(app: Flask, admin: FlaskClient, town: Town,
                                               seconds_ago: int, state: str) -> None:
    with app.app_context():
        kiosk = db.session.get(Kiosk, town.kiosk)
        assert kiosk is not None
        kiosk.last_heartbeat_at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        db.session.commit()
    page = admin.get(f"/admin/kiosks?state={state}&venue={town.venue}").get_data(as_text=True)
    assert f'href="/admin/kiosks/{town.kiosk}"' in page
    other = "offline" if state == "online" else "online"
    page = admin.get(f"/admin/kiosks?state={other}&venue={town.venue}").get_data(as_text=True)
    assert f'href="/admin/kiosks/{town.kiosk}"' not in page


def test_pending_and_revoked_states(app: Flask, admin: FlaskClient, town: Town) -> None:
    admin.post("/admin/kiosks/new", data={"venue": town.venue, "name": "Chưa cắm điện"})
    admin.post(f"/admin/kiosks/{town.kiosk}/revoke")
    pending = admin.get("/admin/kiosks?state=pending").get_data(as_text=True)
    revoked = admin.get("/admin/kiosks?state=revoked").get_data(as_text=True)
    assert "Chưa cắm điện" in pending and f'href="/admin/kiosks/{town.kiosk}"' not in pending
    assert f'href="/admin/kiosks/{town.kiosk}"' in revoked


def test_filter_by_province_includes_its_districts(admin: FlaskClient, town: Town) -> None:
    page = admin.get(f"/admin/kiosks?area={town.province}").get_data(as_text=True)
    assert f'href="/admin/kiosks/{town.kiosk}"' in page
    assert f'href="/admin/kiosks/{town.other_kiosk}"' not in page


def test_filter_by_venue(admin: FlaskClient, town: Town) -> None:
    page = admin.get(f"/admin/kiosks?venue={town.other_venue}").get_data(as_text=True)
    assert f'href="/admin/kiosks/{town.other_kiosk}"' in page
    assert f'href="/admin/kiosks/{town.kiosk}"' not in page


def test_a_forged_filter_shows_the_whole_scope(app: Flask, town: Town) -> None:
    manager = client_for(app, town, "manager")
    page = manager.get(f"/admin/kiosks?venue={town.other_venue}").get_data(as_text=True)
    assert f'href="/admin/kiosks/{town.kiosk}"' in page
    assert f'href="/admin/kiosks/{town.other_kiosk}"' not in page


def test_fleet_shows_what_the_heartbeat_said(admin: FlaskClient, kiosk_at: Callable[
        [int], KioskApi], town: Town, app: Flask) -> None:
    kiosk = kiosk_at(town.venue)
    beat = {"version": "0.3.1", "uptime_s": 99, "temperature_c": 63.4,
            "disk_free_bytes": 5 * 1024 ** 3, "clock_offset_s": 2.5,
            "unsynced": {"checkins": 12, "plays": 34},
            "current_item": {"id": 1, "kind": "image", "sha256": town.media_sha},
            "last_error": "video decode stalled",
            "screenshot_png": base64.b64encode(png_bytes((192, 108), "orange")).decode()}
    assert kiosk.post("/api/v1/heartbeat", beat).status_code == 200
    admin.get("/admin/lang/en")
    page = admin.get(f"/admin/kiosks?venue={town.venue}").get_data(as_text=True)
    card = page[page.index(f'href="/admin/kiosks/{kiosk.kiosk_id}"'):]
    card = card[:card.index("</li>")]
    for shown in ("0.3.1", "63 °C", "5 GB", "12 check-ins, 34 plays", "+2.5 s",
                  "video decode stalled", "image: Áp phích", "Online"):
        assert shown in card
    assert f"/admin/kiosks/{kiosk.kiosk_id}/screenshot.png" in card
    shot = admin.get(f"/admin/kiosks/{kiosk.kiosk_id}/screenshot.png")
    assert shot.mimetype == "image/png"
    assert Image.open(io.BytesIO(shot.data)).size == (192, 108)


def test_screenshot_is_missing_until_one_arrives(app: Flask, admin: FlaskClient,
                                                 kiosk_at: Callable[[int], KioskApi],
                                                 town: Town) -> None:
    kiosk = kiosk_at(town.venue)
    assert admin.get(f"/admin/kiosks/{kiosk.kiosk_id}/screenshot.png").status_code == 404
    assert "Chưa có ảnh chụp màn hình" in admin.get(
        f"/admin/kiosks/{kiosk.kiosk_id}").get_data(as_text=True)


def test_revoke_stops_the_token_and_is_audited(app: Flask, admin: FlaskClient,
                                               kiosk_at: Callable[[int], KioskApi],
                                               town: Town) -> None:
    kiosk = kiosk_at(town.venue)
    response = admin.post(f"/admin/kiosks/{kiosk.kiosk_id}/revoke")
    assert response.status_code == 302
    assert kiosk.get("/api/v1/kiosk/manifest").status_code == 401
    with app.app_context():
        row = db.session.scalars(select(AuditLog).where(AuditLog.action == "kiosk.revoke")).one()
        assert row.user_id == town.users["admin"]
        assert row.target == f"kiosk:{kiosk.kiosk_id}"


def test_a_new_code_replaces_the_token_once_used(admin: FlaskClient, api: Api,
                                                 kiosk_at: Callable[[int], KioskApi],
                                                 town: Town) -> None:
    kiosk = kiosk_at(town.venue)
    page = admin.post(f"/admin/kiosks/{kiosk.kiosk_id}/code").get_data(as_text=True)
    code = enrollment_code(page)
    assert kiosk.get("/api/v1/kiosk/manifest").status_code == 200  # still works
    assert api.post("/api/v1/enroll", {"code": code}).status_code == 200
    assert kiosk.get("/api/v1/kiosk/manifest").status_code == 401


def test_kiosk_page_lists_its_status(admin: FlaskClient, town: Town) -> None:
    page = admin.get(f"/admin/kiosks/{town.kiosk}").get_data(as_text=True)
    assert "temperature_c" in page and "51.5" in page


def test_unknown_kiosk_is_404(admin: FlaskClient) -> None:
    assert admin.get("/admin/kiosks/9999").status_code == 404


@pytest.fixture
def kiosk_at(enroll: Callable[[int], KioskApi]) -> Callable[[int], KioskApi]:
    return enroll


def test_many_kiosks_are_paged(app: Flask, admin: FlaskClient, town: Town) -> None:
    with app.app_context():
        for number in range(55):
            add_kiosk(town.venue, f"Màn hình {number}")
        db.session.commit()
    first = admin.get("/admin/kiosks").get_data(as_text=True)
    assert "Trang 1/2" in first
    assert "Trang 2/2" in admin.get("/admin/kiosks?page=2").get_data(as_text=True)


def test_a_minimal_heartbeat_shows_dashes(admin: FlaskClient, town: Town,
                                          kiosk_at: Callable[[int], KioskApi]) -> None:
    kiosk = kiosk_at(town.venue)
    assert kiosk.post("/api/v1/heartbeat", {"version": "1", "uptime_s": 0}).status_code == 200
    page = admin.get(f"/admin/kiosks?venue={town.venue}").get_data(as_text=True)
    assert f'href="/admin/kiosks/{kiosk.kiosk_id}"' in page
