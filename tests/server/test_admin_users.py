"""Administrators manage staff accounts."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import PASSWORD, Town, build_town, client_for
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from signage_server.extensions import db
from signage_server.models import AuditLog, User


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def admin(app: Flask, town: Town) -> FlaskClient:
    return client_for(app, town, "admin")


def user_form(**changes: Any) -> dict[str, Any]:
    return {"email": "new@example.vn", "role": "reception", "area": 0, "venue": 0,
            "password": "a long enough password", "active": "y", **changes}


def find(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).first()
        if user is not None:
            db.session.expunge(user)
        return user


def test_create_a_reception_user_who_can_sign_in(admin: FlaskClient, app: Flask,
                                                 town: Town) -> None:
    response = admin.post("/admin/users/new", data=user_form(venue=town.venue,
                                                             email=" New@Example.vn"))
    assert response.status_code == 302
    user = find(app, "new@example.vn")
    assert user is not None and (user.role, user.venue_id, user.area_id) == (
        "reception", town.venue, None)
    fresh = app.test_client()
    signed_in = fresh.post("/admin/login", data={"email": "new@example.vn",
                                                 "password": "a long enough password"})
    assert signed_in.status_code == 302
    assert fresh.get("/admin/media").status_code == 403


@pytest.mark.parametrize(("changes", "error"), [
    ({"role": "manager"}, "Quản lý cần có một khu vực"),
    ({"role": "reception"}, "Lễ tân cần có một địa điểm"),
    ({"role": "admin", "password": ""}, "Người dùng mới cần có mật khẩu"),
    ({"role": "admin", "password": "short"}, "10"),
    ({"role": "admin", "email": "manager@example.vn"}, "Email này đã có tài khoản"),
    ({"role": "admin", "email": "not-an-email"}, "Không phải địa chỉ email"),
])
def test_invalid_users_are_refused(admin: FlaskClient, app: Flask, changes: dict[str, Any],
                                   error: str) -> None:
    response = admin.post("/admin/users/new", data=user_form(**changes))
    assert response.status_code == 200
    assert error in response.get_data(as_text=True)


def test_change_role_and_scope(admin: FlaskClient, app: Flask, town: Town) -> None:
    admin.post(f"/admin/users/{town.users['reception']}/edit", data=user_form(
        email="reception@example.vn", role="manager", area=town.district, password=""))
    user = find(app, "reception@example.vn")
    assert user is not None and (user.role, user.area_id, user.venue_id) == (
        "manager", town.district, None)
    with app.app_context():
        assert db.session.scalar(select(AuditLog.action).where(
            AuditLog.action == "user.edit")) == "user.edit"


def test_an_admin_cannot_demote_or_deactivate_themselves(admin: FlaskClient, app: Flask,
                                                        town: Town) -> None:
    me = town.users["admin"]
    admin.post(f"/admin/users/{me}/edit", data=user_form(email="admin@example.vn",
                                                         role="manager", area=town.province))
    admin.post(f"/admin/users/{me}/edit", data=user_form(email="admin@example.vn",
                                                         role="admin", active=""))
    user = find(app, "admin@example.vn")
    assert user is not None and user.role == "admin" and user.active


def test_resetting_a_password_signs_the_user_out(admin: FlaskClient, app: Flask,
                                                 town: Town) -> None:
    manager = client_for(app, town, "manager")
    admin.post(f"/admin/users/{town.users['manager']}/edit", data=user_form(
        email="manager@example.vn", role="manager", area=town.province,
        password="brand new password"))
    assert manager.get("/admin/kiosks").status_code == 302
    assert app.test_client().post("/admin/login", data={
        "email": "manager@example.vn", "password": PASSWORD}).status_code == 200


def test_changing_my_own_password_keeps_me_signed_in(admin: FlaskClient, town: Town) -> None:
    admin.post(f"/admin/users/{town.users['admin']}/edit", data=user_form(
        email="admin@example.vn", role="admin", password="brand new password"))
    assert admin.get("/admin/users").status_code == 200


def test_users_page_lists_scopes(admin: FlaskClient) -> None:
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Tỉnh Bắc" in page and "Bến xe Đông" in page
