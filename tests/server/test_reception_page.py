"""The reception page (``/admin/reception``): staff log arrivals and departures, see today's
visitors of their venue masked, and sign people out. Every look at the list is audited."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from admin_support import Town, add_checkin, build_town, client_for, local_midnight
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from signage_server.extensions import db
from signage_server.models import AuditLog, CheckIn, Venue

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
HIDDEN = re.compile(r'name="(csrf_token|entry)" type="hidden" value="([^"]*)"')


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def desk(app: Flask, town: Town) -> FlaskClient:
    """The reception user of the town's venue, signed in."""
    return client_for(app, town, "reception")


def page(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def hidden(body: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in HIDDEN.findall(body)}


def log(client: FlaskClient, venue: int | None = None, **typed: Any) -> TestResponse:
    """Open the page, then send the log form as a browser would."""
    query = f"?venue={venue}" if venue else ""
    fields = hidden(page(client.get("/admin/reception" + query)))
    return client.post("/admin/reception/log" + query,
                       data={**fields, "direction": "in", "has_app": "yes", **typed})


def csrf(client: FlaskClient) -> str:
    return hidden(page(client.get("/admin/reception")))["csrf_token"]


def rows(app: Flask, **where: Any) -> list[CheckIn]:
    with app.app_context():
        query = select(CheckIn).order_by(CheckIn.id)
        for name, value in where.items():
            query = query.where(getattr(CheckIn, name) == value)
        found = list(db.session.scalars(query).all())
        for row in found:
            db.session.expunge(row)
        return found


def audits(app: Flask, action: str) -> list[AuditLog]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)
                                        .order_by(AuditLog.id)).all())
        for row in found:
            db.session.expunge(row)
        return found


# --- the list --------------------------------------------------------------------------------


def test_todays_visitors_are_listed_masked(app: Flask, town: Town, desk: FlaskClient) -> None:
    body = page(desk.get("/admin/reception"))
    assert "Bến xe Đông" in body
    assert "N. V. A." in body and "•••567" in body
    assert "Nguyễn Văn An" not in body and "0901234567" not in body
    assert "Trần Thị Bình" not in body and "T. T. B." not in body  # another venue's visitor


def test_looking_at_the_list_is_audited(app: Flask, town: Town, desk: FlaskClient) -> None:
    desk.get("/admin/reception")
    [row] = audits(app, "checkin.view")
    assert row.user_id == town.users["reception"]
    assert row.target == f"venue:{town.venue}"
    assert row.details["page"] == "reception" and row.details["rows"] == 2


def test_today_is_the_venue_local_day(app: Flask, town: Town, desk: FlaskClient) -> None:
    midnight = datetime.combine(datetime.now(ZONE).date(), time(), ZONE)
    with app.app_context():
        add_checkin(town.venue, midnight - timedelta(minutes=1), name="Hôm Qua",
                    phone="0911000111")
        add_checkin(town.venue, midnight + timedelta(minutes=1), name="Hôm Nay",
                    phone="0911000222")
        db.session.commit()
    body = page(desk.get("/admin/reception"))
    assert "•••222" in body and "•••111" not in body


def test_a_count_venue_lists_no_personal_columns(app: Flask, town: Town,
                                                 desk: FlaskClient) -> None:
    with app.app_context():
        venue = db.session.get(Venue, town.venue)
        assert venue is not None
        venue.privacy_mode = "count"
        db.session.commit()
    body = page(desk.get("/admin/reception"))
    assert 'name="name"' not in body and "<th>Tên</th>" not in body


# --- logging an arrival or a departure --------------------------------------------------------


def test_logging_an_arrival_records_a_staff_checkin(app: Flask, town: Town,
                                                    desk: FlaskClient) -> None:
    response = log(desk, name="Lê Thị Hoa", phone="0987 654 321", has_app="installed_now")
    assert response.status_code == 302
    [row] = rows(app, method="staff", name="Lê Thị Hoa")
    assert (row.venue_id, row.kiosk_id, row.direction) == (town.venue, None, "in")
    assert (row.phone, row.has_app, row.consent_version) == ("0987 654 321", "installed_now", 1)
    assert row.client_uuid.version == 7
    assert "Đã ghi nhận lượt đến." in page(desk.get("/admin/reception"))
    assert [a.details["venue"] for a in audits(app, "checkin.create")] == [town.venue]


def test_a_double_submit_records_once(app: Flask, town: Town, desk: FlaskClient) -> None:
    fields = hidden(page(desk.get("/admin/reception")))
    data = {**fields, "direction": "in", "has_app": "no", "name": "Lê Văn Tám",
            "phone": "0909 000 888"}
    assert desk.post("/admin/reception/log", data=data).status_code == 302
    assert desk.post("/admin/reception/log", data=data).status_code == 302
    assert len(rows(app, name="Lê Văn Tám")) == 1


@pytest.mark.parametrize(("typed", "message"), [
    ({"name": "A" * 10_000}, "Tối đa 200 ký tự."),
    ({"name": "Bình\x1b[2J"}, "ký tự điều khiển"),
    ({"phone": "=HYPERLINK(1)"}, "Nhập số điện thoại"),
    ({"has_app": "unknown"}, "Hãy chọn một trong các câu trả lời có sẵn."),
])
def test_bad_input_shows_the_form_again(app: Flask, town: Town, desk: FlaskClient,
                                        typed: dict[str, str], message: str) -> None:
    before = len(rows(app))
    response = log(desk, **{"name": "Lê Thị Hoa", "phone": "0987 654 321", **typed})
    assert response.status_code == 200
    assert message in page(response)
    assert len(rows(app)) == before


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "=HYPERLINK(\"x\",\"y\")",
                                  "Đặng Thị 🌸 Ngọc", "ﷺ Ω ≠ 𝔘"])
def test_hostile_names_are_stored_as_typed_and_shown_escaped(
        app: Flask, town: Town, desk: FlaskClient, name: str) -> None:
    assert log(desk, name=name, phone="0987 654 321").status_code == 302
    assert [r.name for r in rows(app, method="staff", direction="in")][-1] == name
    assert "<script>alert" not in page(desk.get("/admin/reception"))


def test_an_expired_or_forged_entry_is_not_recorded(app: Flask, town: Town,
                                                    desk: FlaskClient) -> None:
    fields = hidden(page(desk.get("/admin/reception")))
    response = desk.post("/admin/reception/log", data={
        **fields, "entry": "forged", "direction": "in", "has_app": "yes",
        "name": "Lê Thị Hoa", "phone": "0987 654 321"})
    assert response.status_code == 200
    assert "Biểu mẫu đã hết hạn" in page(response)
    assert rows(app, name="Lê Thị Hoa") == []


def test_a_post_without_the_csrf_token_is_refused(app: Flask, town: Town,
                                                  desk: FlaskClient) -> None:
    fields = hidden(page(desk.get("/admin/reception")))
    response = desk.post("/admin/reception/log", data={
        "entry": fields["entry"], "direction": "in", "has_app": "yes",
        "name": "Lê Thị Hoa", "phone": "0987 654 321"})
    assert response.status_code == 400
    assert rows(app, name="Lê Thị Hoa") == []
    response = desk.post(f"/admin/reception/{town.checkins[0]}/out")
    assert response.status_code == 400
    assert rows(app, arrival_id=town.checkins[0]) == []


# --- signing out ------------------------------------------------------------------------------


def test_signing_out_records_a_departure_linked_to_the_arrival(
        app: Flask, town: Town, desk: FlaskClient) -> None:
    arrival = town.checkins[0]
    response = desk.post(f"/admin/reception/{arrival}/out", data={"csrf_token": csrf(desk)})
    assert response.status_code == 302
    [out] = rows(app, arrival_id=arrival)
    assert (out.direction, out.method, out.venue_id) == ("out", "staff", town.venue)
    assert (out.name, out.phone) == (None, None)  # the arrival names the visitor
    body = page(desk.get("/admin/reception"))
    assert "Đã về lúc" in body
    assert f"/admin/reception/{arrival}/out" not in body


def test_signing_out_twice_records_one_departure(app: Flask, town: Town,
                                                 desk: FlaskClient) -> None:
    arrival = town.checkins[0]
    for _ in range(2):
        desk.post(f"/admin/reception/{arrival}/out", data={"csrf_token": csrf(desk)})
    assert len(rows(app, arrival_id=arrival)) == 1
    assert "Khách này đã được ghi nhận ra về." in page(desk.get("/admin/reception"))


def test_two_staff_signing_out_at_once_record_one_departure(
        app: Flask, town: Town, desk: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other press commits its departure after this request checked for one and before
    it writes its own: the database keeps one departure per arrival, the page says so."""
    from signage_server import visitors
    from signage_server.admin import reception

    arrival = town.checkins[0]
    real_record = visitors.record

    def other_staff_first(entry: visitors.Entry, when: datetime) -> CheckIn:
        with app.app_context(), db.engine.begin() as other:
            other.execute(CheckIn.__table__.insert().values(
                client_uuid=visitors.new_client_uuid(), venue_id=entry.venue.id,
                occurred_at=when, received_at=when, direction="out", method="staff",
                has_app=entry.has_app, arrival_id=entry.arrival_id, clock_uncorrected=False,
                time_untrusted=False))
        return real_record(entry, when)

    monkeypatch.setattr(reception.visitors, "record", other_staff_first)
    response = desk.post(f"/admin/reception/{arrival}/out", data={"csrf_token": csrf(desk)})
    assert response.status_code == 302
    assert len(rows(app, arrival_id=arrival)) == 1
    monkeypatch.undo()
    assert "Khách này đã được ghi nhận ra về." in page(desk.get("/admin/reception"))


def test_a_departure_cannot_be_signed_out(app: Flask, town: Town, desk: FlaskClient) -> None:
    departure = town.checkins[1]
    desk.post(f"/admin/reception/{departure}/out", data={"csrf_token": csrf(desk)})
    assert rows(app, arrival_id=departure) == []


# --- who may use it for which venue -----------------------------------------------------------


def test_reception_cannot_open_or_sign_out_another_venue(app: Flask, town: Town,
                                                         desk: FlaskClient) -> None:
    assert desk.get(f"/admin/reception?venue={town.other_venue}").status_code == 404
    other_arrival = town.checkins[2]
    response = desk.post(f"/admin/reception/{other_arrival}/out",
                         data={"csrf_token": csrf(desk)})
    assert response.status_code == 404
    assert rows(app, arrival_id=other_arrival) == []
    fields = hidden(page(desk.get("/admin/reception")))
    response = desk.post(f"/admin/reception/log?venue={town.other_venue}", data={
        **fields, "direction": "in", "has_app": "yes", "name": "Lê Thị Hoa",
        "phone": "0987 654 321"})
    assert response.status_code == 404
    assert rows(app, name="Lê Thị Hoa") == []


def test_a_nul_byte_is_refused_before_anything(app: Flask, town: Town,
                                               desk: FlaskClient) -> None:
    """The console refuses NUL bytes outright (PostgreSQL cannot store them)."""
    before = len(rows(app))
    assert log(desk, name="Bình\x00", phone="0987 654 321").status_code == 400
    assert len(rows(app)) == before


def test_a_manager_uses_it_for_the_venues_of_their_area(app: Flask, town: Town) -> None:
    manager = client_for(app, town, "manager")
    assert "Bến xe Đông" in page(manager.get(f"/admin/reception?venue={town.venue}"))
    assert manager.get(f"/admin/reception?venue={town.other_venue}").status_code == 404
    assert log(manager, venue=town.venue, name="Hồ Văn Quản",
               phone="0912 345 678").status_code == 302
    assert [r.venue_id for r in rows(app, name="Hồ Văn Quản")] == [town.venue]


def test_an_admin_chooses_any_venue(app: Flask, town: Town) -> None:
    admin = client_for(app, town, "admin")
    body = page(admin.get(f"/admin/reception?venue={town.other_venue}"))
    assert "Khách sạn Nam" in body and "T. T. B." in body
    assert 'name="venue"' in body  # the venue chooser


def test_anonymous_visitors_are_sent_to_sign_in(app: Flask) -> None:
    response = app.test_client().get("/admin/reception")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_the_page_in_english(app: Flask, town: Town, desk: FlaskClient) -> None:
    desk.get("/admin/lang/en")
    body = page(desk.get("/admin/reception"))
    assert "Today's visitors" in body and "Log an arrival or departure" in body


def test_timestamps_use_the_venue_zone(app: Flask, town: Town, desk: FlaskClient) -> None:
    now = datetime.now(UTC)
    moment = max(now.replace(second=0, microsecond=0) - timedelta(minutes=1),
                 local_midnight(now))  # today at the venue, even just after its midnight
    with app.app_context():
        add_checkin(town.venue, moment, name="Giờ Địa Phương", phone="0900 000 999")
        db.session.commit()
    assert moment.astimezone(ZONE).strftime("%H:%M") in page(desk.get("/admin/reception"))
