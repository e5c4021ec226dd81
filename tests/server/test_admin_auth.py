"""Signing in: passwords, rate limits, session cookies, CSRF, headers and languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from admin_support import PASSWORD, Town, build_town, client_for, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from signage_server.extensions import db
from signage_server.models import AuditLog, LoginFailure, User
from signage_server.passwords import hash_password


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False, "LOGIN_MAX_FAILURES": 3,
            "LOGIN_MAX_FAILURES_PER_CLIENT": 5}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


def login(client: FlaskClient, email: str, password: str = PASSWORD,
          address: str = "203.0.113.7") -> Any:
    return client.post("/admin/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_sign_in_with_the_right_password(client: FlaskClient, town: Town) -> None:
    response = login(client, "Admin@Example.vn ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    assert client.get("/admin/users").status_code == 200


def test_wrong_password_is_refused_without_saying_which_part(client: FlaskClient,
                                                             town: Town) -> None:
    wrong = login(client, "admin@example.vn", "not the password")
    unknown = login(client, "nobody@example.vn", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.get_data(as_text=True).count("Sai email hoặc mật khẩu") == 1
    assert "Sai email hoặc mật khẩu" in unknown.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_account_is_locked_after_repeated_failures(client: FlaskClient, town: Town,
                                                   app: Flask) -> None:
    for attempt in range(3):
        login(client, "admin@example.vn", f"guess {attempt}", address=f"198.51.100.{attempt}")
    locked = login(client, "admin@example.vn", address="198.51.100.99")
    assert locked.status_code == 429  # even the right password, from a new address
    assert client.get("/admin/").status_code == 302
    other = client_for(app, town, "anonymous")
    assert login(other, "manager@example.vn").status_code == 302  # other accounts work


def test_client_is_locked_across_accounts(client: FlaskClient, town: Town) -> None:
    for attempt in range(5):  # 5 failures from one address, at most 2 per account
        login(client, ("admin", "manager", "reception")[attempt % 3] + "@example.vn", "guess")
    assert login(client, "admin@example.vn").status_code == 429
    assert login(client, "admin@example.vn", address="192.0.2.1").status_code == 302


def test_failures_are_stored_in_the_database_not_in_clear(client: FlaskClient, town: Town,
                                                          app: Flask) -> None:
    login(client, "admin@example.vn", "guess")
    with app.app_context():
        keys = db.session.scalars(select(LoginFailure.key)).all()
    assert len(keys) == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


def test_success_clears_the_account_failures(client: FlaskClient, town: Town,
                                             app: Flask) -> None:
    login(client, "admin@example.vn", "guess")
    login(client, "admin@example.vn")
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(LoginFailure))
        actions = db.session.scalars(select(AuditLog.action)).all()
    assert count == 1  # the client's failure stays, the account's is cleared
    assert "login" in actions


def test_inactive_user_cannot_sign_in(client: FlaskClient, town: Town, app: Flask) -> None:
    with app.app_context():
        town.user("manager").active = False
        db.session.commit()
    assert login(client, "manager@example.vn").status_code == 200
    assert client.get("/admin/").status_code == 302


def test_deactivating_a_user_ends_their_session(app: Flask, town: Town) -> None:
    client = client_for(app, town, "manager")
    assert client.get("/admin/kiosks").status_code == 200
    with app.app_context():
        town.user("manager").active = False
        db.session.commit()
    assert client.get("/admin/kiosks").status_code == 302


def test_a_new_password_ends_other_sessions(app: Flask, town: Town) -> None:
    elsewhere = client_for(app, town, "manager")
    here = client_for(app, town, "manager")
    response = here.post("/admin/account/password", data={
        "current": PASSWORD, "new": "another long password", "confirm": "another long password"})
    assert response.status_code == 302
    assert here.get("/admin/kiosks").status_code == 200
    assert elsewhere.get("/admin/kiosks").status_code == 302


def test_password_change_needs_the_current_password(app: Flask, town: Town) -> None:
    client = client_for(app, town, "reception")
    response = client.post("/admin/account/password", data={
        "current": "wrong one", "new": "another long password",
        "confirm": "another long password"})
    assert response.status_code == 200
    with app.app_context():
        assert town.user("reception").password_hash != hash_password("another long password")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "javascript:alert(1)", "/\\evil.example"])
def test_next_never_leaves_the_site(client: FlaskClient, town: Town, target: str) -> None:
    response = client.post(f"/admin/login?next={target}",
                           data={"email": "admin@example.vn", "password": PASSWORD})
    location = response.headers["Location"]
    assert location.startswith("/admin") and "evil" not in location


def test_next_returns_to_the_page_asked_for(client: FlaskClient, town: Town) -> None:
    first = client.get("/admin/kiosks?state=offline")
    assert "/admin/login" in first.headers["Location"]
    response = client.post(first.headers["Location"],
                           data={"email": "admin@example.vn", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/kiosks?state=offline"


def test_sign_out(app: Flask, town: Town) -> None:
    client = client_for(app, town, "admin")
    assert client.post("/admin/logout").headers["Location"].endswith("/admin/login")
    assert client.get("/admin/").status_code == 302


def test_session_cookie_is_httponly_and_lax(client: FlaskClient, town: Town) -> None:
    cookie = login(client, "admin@example.vn").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http in tests


def test_session_cookie_is_secure_behind_https(app_factory: Any) -> None:
    app = app_factory({"PUBLIC_URL": "https://signage.example.gov.vn"})
    town = build_town(app)
    response = login(app.test_client(), "admin@example.vn")
    assert response.status_code == 302, town
    assert "Secure" in response.headers["Set-Cookie"]
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


@pytest.fixture
def app_factory(tmp_path: Any, database_url: str, app: Flask) -> Iterator[Any]:
    """Another app on the test database (``app`` has emptied it), with other settings."""
    from signage_server import create_app

    made: list[Flask] = []

    def make(extra: dict[str, Any]) -> Flask:
        other = create_app({"TESTING": True, "DATABASE_URL": database_url, "MQTT_URL": "",
                            "WTF_CSRF_ENABLED": False, **extra},
                           instance_path=tmp_path / "other-instance")
        made.append(other)
        return other

    yield make
    for other in made:  # close its pool, or PostgreSQL connections outlive the test
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("path", ["/admin/login", "/api/v1/openapi.json", "/q/1"])
def test_security_headers(client: FlaskClient, path: str) -> None:
    headers = client.get(path, headers={"User-Agent": "curl/8"}).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_console_pages_are_not_cached(app: Flask, town: Town) -> None:
    response = client_for(app, town, "admin").get("/admin/checkins")
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_or_style(app: Flask, town: Town) -> None:
    client = client_for(app, town, "admin")
    for path in ("/admin/", "/admin/kiosks", "/admin/media",
                 f"/admin/playlists/{town.playlist}", "/admin/checkins"):
        page = client.get(path).get_data(as_text=True)
        assert re.search(r"<script(?![^>]*\bsrc=)", page) is None, path
        assert " style=" not in page and "<style" not in page, path
        assert re.search(r"\son[a-z]+=", page) is None, path  # no onclick= handlers
        assert "http://" not in page.replace("http://127.0.0.1:5000", ""), path


def test_vietnamese_is_the_default_and_english_is_a_click_away(app: Flask,
                                                              town: Town) -> None:
    client = client_for(app, town, "admin")
    page = client.get("/admin/kiosks").get_data(as_text=True)
    assert '<html lang="vi">' in page and "Thêm kiosk" in page
    switched = client.get("/admin/lang/en?next=/admin/kiosks")
    assert switched.headers["Location"] == "/admin/kiosks"
    page = client.get("/admin/kiosks").get_data(as_text=True)
    assert '<html lang="en">' in page and "Add a kiosk" in page


def test_language_survives_sign_out(app: Flask, town: Town) -> None:
    client = client_for(app, town, "admin")
    client.get("/admin/lang/en")
    client.post("/admin/logout")
    assert "Sign in" in client.get("/admin/login").get_data(as_text=True)


def test_unknown_language_is_ignored(app: Flask, town: Town) -> None:
    client = client_for(app, town, "admin")
    client.get("/admin/lang/xx")
    assert '<html lang="vi">' in client.get("/admin/").get_data(as_text=True)


def test_users_password_is_stored_with_argon2(app: Flask, town: Town) -> None:
    with app.app_context():
        stored = db.session.get(User, town.users["admin"]).password_hash  # type: ignore[union-attr]
    assert stored.startswith("$argon2id$")


def test_sign_in_marks_the_session_permanent(client: FlaskClient, town: Town,
                                            app: Flask) -> None:
    cookie = login(client, "admin@example.vn").headers["Set-Cookie"]
    assert "Expires=" in cookie
    assert app.permanent_session_lifetime.total_seconds() == 12 * 3600


def test_signed_in_user_visiting_login_goes_home(app: Flask, town: Town) -> None:
    client = sign_in(app, app.test_client(), town.users["manager"])
    assert client.get("/admin/login").headers["Location"].endswith("/admin/")
