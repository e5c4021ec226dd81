"""Areas and venues: creating, editing, and telling the kiosks when a venue changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from admin_support import Town, build_town, client_for
from flask import Flask
from flask.testing import FlaskClient
from server_api import KioskApi
from sqlalchemy import select

from signage_server.extensions import db
from signage_server.models import Area, ManifestGeneration, Venue


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def admin(app: Flask, town: Town) -> FlaskClient:
    return client_for(app, town, "admin")


def venue_form(town: Town, **changes: Any) -> dict[str, Any]:
    return {"name": "Bệnh viện Đa khoa", "kind": "hospital", "area": town.district,
            "address": "12 Lê Lợi", "timezone": "Asia/Ho_Chi_Minh", "privacy_mode": "full",
            "retention_days": 14, "consent_text_vi": "", "consent_text_en": "", **changes}


def generation(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(ManifestGeneration.value)) or 0)


def test_create_a_province_and_a_district(admin: FlaskClient, app: Flask) -> None:
    admin.post("/admin/areas/new", data={"name": "Tỉnh Tây", "kind": "province", "parent": 0})
    with app.app_context():
        west = db.session.scalars(select(Area).where(Area.name == "Tỉnh Tây")).one()
        west_id = west.id
    admin.post("/admin/areas/new", data={"name": "Huyện Tây", "kind": "district",
                                         "parent": west_id})
    with app.app_context():
        district = db.session.scalars(select(Area).where(Area.name == "Huyện Tây")).one()
        assert (district.kind, district.parent_id) == ("district", west_id)


def test_a_district_needs_a_province(admin: FlaskClient, app: Flask) -> None:
    response = admin.post("/admin/areas/new", data={"name": "Mồ côi", "kind": "district",
                                                    "parent": 0})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalars(select(Area).where(Area.name == "Mồ côi")).first() is None


def test_a_province_with_districts_cannot_become_one(admin: FlaskClient, town: Town,
                                                     app: Flask) -> None:
    admin.post(f"/admin/areas/{town.province}/edit",
               data={"name": "Tỉnh Bắc", "kind": "district", "parent": town.other_province})
    with app.app_context():
        assert db.session.get(Area, town.province).kind == "province"  # type: ignore[union-attr]


def test_moving_a_district_tells_every_kiosk(admin: FlaskClient, town: Town,
                                             app: Flask) -> None:
    before = generation(app)
    admin.post(f"/admin/areas/{town.district}/edit",
               data={"name": "Huyện Đông", "kind": "district", "parent": town.other_province})
    assert generation(app) > before


def test_create_a_venue(admin: FlaskClient, town: Town, app: Flask) -> None:
    response = admin.post("/admin/venues/new", data=venue_form(town))
    assert response.status_code == 302
    with app.app_context():
        venue = db.session.scalars(select(Venue).where(Venue.name == "Bệnh viện Đa khoa")).one()
        assert (venue.kind, venue.area_id, venue.privacy_mode, venue.retention_days,
                venue.address) == ("hospital", town.district, "full", 14, "12 Lê Lợi")


@pytest.mark.parametrize(("days", "accepted"), [(0, False), (1, True), (21, True),
                                                (30, True), (31, False), ("", False)])
def test_retention_is_one_to_thirty_days(admin: FlaskClient, town: Town, app: Flask,
                                         days: Any, accepted: bool) -> None:
    admin.post(f"/admin/venues/{town.venue}/edit", data=venue_form(town, retention_days=days))
    with app.app_context():
        kept = db.session.get(Venue, town.venue).retention_days  # type: ignore[union-attr]
    assert kept == (days if accepted else 21)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd"])
def test_unknown_timezone_is_refused(admin: FlaskClient, town: Town, app: Flask,
                                     zone: str) -> None:
    response = admin.post(f"/admin/venues/{town.venue}/edit",
                          data=venue_form(town, timezone=zone))
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Venue, town.venue).timezone == "Asia/Ho_Chi_Minh"  # type: ignore[union-attr]


def test_venue_change_reaches_the_kiosk_manifest(admin: FlaskClient, town: Town, app: Flask,
                                                 enroll: Callable[[int], KioskApi]) -> None:
    kiosk = enroll(town.venue)
    before = kiosk.get("/api/v1/kiosk/manifest").json
    assert before is not None
    generation_before = generation(app)
    admin.post(f"/admin/venues/{town.venue}/edit",
               data=venue_form(town, privacy_mode="count", retention_days=7))
    assert generation(app) > generation_before
    after = kiosk.get("/api/v1/kiosk/manifest",
                      **{"If-None-Match": f'"{before["manifest_version"]}"'})
    assert after.status_code == 200
    assert after.json["checkin"]["privacy_mode"] == "count"  # type: ignore[index]
    assert after.json["checkin"]["retention_days"] == 7  # type: ignore[index]


def test_new_consent_text_gets_a_new_version(admin: FlaskClient, town: Town,
                                             app: Flask) -> None:
    admin.post(f"/admin/venues/{town.venue}/edit",
               data=venue_form(town, consent_text_vi="Đồng ý cho phép lưu trong 14 ngày."))
    with app.app_context():
        assert db.session.get(Venue, town.venue).consent_version == 2  # type: ignore[union-attr]


def test_manager_creates_venues_only_in_their_area(app: Flask, town: Town) -> None:
    manager = client_for(app, town, "manager")
    manager.post("/admin/venues/new", data=venue_form(town, area=town.other_province))
    manager.post("/admin/venues/new", data=venue_form(town, area=0))
    with app.app_context():
        assert db.session.scalars(select(Venue).where(
            Venue.name == "Bệnh viện Đa khoa")).first() is None
    manager.post("/admin/venues/new", data=venue_form(town, area=town.province))
    with app.app_context():
        assert db.session.scalars(select(Venue).where(
            Venue.name == "Bệnh viện Đa khoa")).one().area_id == town.province


def test_places_page_lists_areas_and_venues(admin: FlaskClient) -> None:
    page = admin.get("/admin/areas").get_data(as_text=True)
    for name in ("Tỉnh Bắc", "Huyện Đông", "Tỉnh Nam", "Bến xe Đông", "Khách sạn Nam"):
        assert name in page
