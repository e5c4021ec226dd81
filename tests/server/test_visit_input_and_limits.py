"""Self check-in under bad input and abuse: hostile text, the privacy modes' fields, the
per-client rate limit (held in the database, so it spans server processes), and logs that
never see what a visitor typed."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import pytest
from admin_support import Town, build_town, client_for
from flask import Flask
from sqlalchemy import select
from test_visit_self_checkin import kiosk_path, self_checkins, set_privacy
from visit_support import Phone, page

from signage_server import create_app
from signage_server.extensions import db
from signage_server.models import RateHit

NAME = "Nguyễn Văn An"
PHONE = "0901 234 567"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"VISIT_RATE_MAX": 4, "VISIT_RATE_WINDOW_MINUTES": 10}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def phone(app: Flask) -> Phone:
    return Phone(app.test_client())


def send(app: Flask, town: Town, visitor: Phone, **typed: Any) -> Any:
    visitor.open(kiosk_path(app, town))
    return visitor.send(**{"direction": "in", "has_app": "yes", "consent": "y", **typed})


# --- hostile and unusual text -----------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "<script>alert('xss')</script>",
    '=HYPERLINK("http://evil.example","bấm vào đây")',
    "+84 SUM(A1)",
    "Trần Thị 😀 Bích 👩‍⚕️",
    "Nguyễn Thị Ánh Tuyết",
    "Ê-đê Y Bih Niê",
    "O'Brien \"Jr\" & Sons",
])
def test_hostile_and_unusual_names_are_stored_as_typed_and_shown_escaped(
        app: Flask, town: Town, phone: Phone, name: str) -> None:
    response = send(app, town, phone, name=name, phone=PHONE)
    assert response.status_code == 200, page(response)
    assert "<script>alert" not in page(response)
    [row] = self_checkins(app)
    assert row.name == name


def test_an_exported_formula_name_is_escaped(app: Flask, town: Town, phone: Phone) -> None:
    formula = '=HYPERLINK("http://evil.example","bấm")'
    send(app, town, phone, name=formula, phone=PHONE)
    admin = client_for(app, town, "admin")
    with admin.session_transaction():
        pass
    token = page(admin.get("/admin/checkins")).split('name="csrf_token" type="hidden" value="')
    csrf = token[1].split('"')[0] if len(token) > 1 else ""
    export = admin.post("/admin/checkins/export", data={
        "csrf_token": csrf, "format": "csv", "reveal": "y", "reason": "kiểm tra xuất dữ liệu",
        "method": "self"})
    assert export.status_code == 200
    text = export.get_data().decode("utf-8-sig")
    names = [r[5] for r in csv.reader(io.StringIO(text))][1:]
    assert names == ["'" + formula]


@pytest.mark.parametrize(("typed", "message"), [
    ({"name": "A" * 10_000}, "Tối đa 200 ký tự."),
    ({"name": "   "}, "Vui lòng điền ô này."),
    ({"name": "An\x00Bình"}, "ký tự điều khiển"),
    ({"name": "An\x1b[2JBình"}, "ký tự điều khiển"),
    ({"phone": "gọi tôi"}, "Nhập số điện thoại"),
    ({"phone": "12345"}, "Nhập số điện thoại"),
    ({"phone": "0" * 40}, "Tối đa 32 ký tự."),
    ({"has_app": "maybe"}, "Hãy chọn một trong các câu trả lời có sẵn."),
    ({"has_app": ""}, "Hãy chọn một câu trả lời."),
    ({"consent": ""}, "Vui lòng đồng ý"),
    ({"direction": "sideways"}, "Hãy chọn một trong các câu trả lời có sẵn."),
])
def test_bad_input_shows_the_form_again_with_what_was_typed(
        app: Flask, town: Town, phone: Phone, typed: dict[str, str], message: str) -> None:
    values = {"name": NAME, "phone": PHONE, **typed}
    response = send(app, town, phone, **values)
    body = page(response)
    assert response.status_code == 422
    assert "Vui lòng sửa các ô được đánh dấu" in body
    assert message in body
    if "\x00" not in values["name"] and "\x1b" not in values["name"]:
        assert f'value="{values["name"].strip()}"' in body or values["name"].strip() == ""
    assert self_checkins(app) == []
    retry = phone.send(direction="in", name=NAME, phone=PHONE, has_app="yes", consent="y")
    assert retry.status_code == 200  # the same form, corrected, still goes through
    assert len(self_checkins(app)) == 1


# --- privacy modes ---------------------------------------------------------------------------


def test_a_count_venue_asks_nothing_personal_and_stores_nothing(
        app: Flask, town: Town, phone: Phone) -> None:
    set_privacy(app, town.venue, "count")
    body = page(phone.open(kiosk_path(app, town)))
    assert 'name="name"' not in body and 'name="phone"' not in body
    assert 'name="consent"' not in body
    assert "không hỏi tên hay số điện thoại" in body
    assert "sẽ được xoá vào ngày" not in body  # nothing personal, nothing to delete
    response = phone.send(direction="in", has_app="installed_now", name=NAME, phone=PHONE)
    assert response.status_code == 200
    [row] = self_checkins(app)
    assert (row.name, row.phone, row.has_app) == (None, None, "installed_now")


def test_a_full_venue_asks_and_stores_the_visit_details(app: Flask, town: Town,
                                                        phone: Phone) -> None:
    set_privacy(app, town.venue, "full")
    body = page(phone.open(kiosk_path(app, town)))
    for field in ("organisation", "purpose", "host"):
        assert f'name="{field}"' in body
    phone.send(direction="in", has_app="yes", consent="y", name=NAME, phone=PHONE,
               organisation="Sở Y tế", purpose="Họp <b>giao ban</b>", host="Bà Lê Thị Hoa")
    [row] = self_checkins(app)
    assert (row.organisation, row.purpose, row.host) == ("Sở Y tế", "Họp <b>giao ban</b>",
                                                         "Bà Lê Thị Hoa")


def test_a_contact_venue_ignores_fields_it_does_not_ask(app: Flask, town: Town,
                                                        phone: Phone) -> None:
    send(app, town, phone, name=NAME, phone=PHONE, organisation="Công ty X", host="Ông Y")
    [row] = self_checkins(app)
    assert (row.organisation, row.host) == (None, None)


# --- rate limit ------------------------------------------------------------------------------


def test_too_many_requests_from_one_client_get_429(app: Flask, town: Town,
                                                   phone: Phone) -> None:
    path = kiosk_path(app, town)
    statuses = [phone.get(path).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    refused = phone.get(path)
    assert "Quá nhiều lượt thử" in page(refused)
    assert refused.headers["Retry-After"] == "600"
    assert Phone(app.test_client(), "198.51.100.20").get(path).status_code == 200


def test_a_limited_client_cannot_record(app: Flask, town: Town, phone: Phone) -> None:
    phone.open(kiosk_path(app, town))
    for _ in range(3):
        phone.get(phone.path)
    response = phone.send(direction="in", name=NAME, phone=PHONE, has_app="yes", consent="y")
    assert response.status_code == 429
    assert self_checkins(app) == []


def test_the_limit_holds_across_server_processes(app: Flask, town: Town, tmp_path: Any,
                                                 database_url: str) -> None:
    """A second app on the same database (another gunicorn worker) sees the same count."""
    path = kiosk_path(app, town)
    second = create_app({"TESTING": True, "DATABASE_URL": database_url, "MQTT_URL": "",
                         "VISIT_RATE_MAX": 4,
                         "SECRET_KEY": app.config["SECRET_KEY"]},
                        instance_path=tmp_path / "second")
    try:
        first_phone, second_phone = Phone(app.test_client()), Phone(second.test_client())
        assert [first_phone.get(path).status_code for _ in range(2)] == [200, 200]
        assert [second_phone.get(path).status_code for _ in range(3)] == [200, 200, 429]
    finally:
        with second.app_context():
            db.session.remove()
            db.engine.dispose()


def test_client_addresses_are_not_stored_in_clear(app: Flask, town: Town,
                                                  phone: Phone) -> None:
    phone.get(kiosk_path(app, town))
    with app.app_context():
        keys = db.session.scalars(select(RateHit.key)).all()
    assert keys and all(phone.address not in key for key in keys)


def test_behind_a_proxy_the_limit_counts_the_forwarded_address(
        app: Flask, town: Town, tmp_path: Any, database_url: str) -> None:
    proxied = create_app({"TESTING": True, "DATABASE_URL": database_url, "MQTT_URL": "",
                          "VISIT_RATE_MAX": 2, "TRUSTED_PROXY_HOPS": 1,
                          "SECRET_KEY": app.config["SECRET_KEY"]},
                         instance_path=tmp_path / "proxied")
    try:
        client = proxied.test_client()
        path = kiosk_path(app, town)

        def get(visitor: str) -> int:
            return client.get(path, headers={"X-Forwarded-For": visitor},
                              environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code

        assert [get("203.0.113.1") for _ in range(3)] == [200, 200, 429]
        assert get("203.0.113.2") == 200  # another phone behind the same nginx
    finally:
        with proxied.app_context():
            db.session.remove()
            db.engine.dispose()


# --- logs ------------------------------------------------------------------------------------


def test_nothing_a_visitor_types_reaches_the_logs(app: Flask, town: Town, phone: Phone,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    send(app, town, phone, name="Phạm Thị Duyên", phone="0977 111 222")
    send(app, town, phone, name="A" * 300, phone="0977 111 222")  # refused, shown again
    assert "Duyên" not in caplog.text and "0977" not in caplog.text and "AAAA" not in caplog.text
