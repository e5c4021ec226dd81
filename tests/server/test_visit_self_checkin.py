"""Self check-in from the visitor's phone (``/v/...``): the code, the form, the record.

Runs on SQLite and, with ``SIGNAGE_TEST_DATABASE_URL``, on PostgreSQL, with CSRF on: the
phone sends back the CSRF token and the ticket of the page it opened, as a browser does.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from admin_support import Town, build_town
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from visit_support import Phone, kiosk_code, page

from signage_server import checkin_links
from signage_server.extensions import db
from signage_server.models import CheckIn, Kiosk, Venue
from signage_shared import presence

NAME = "Nguyễn Văn An"
PHONE = "0901 234 567"


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def phone(app: Flask) -> Phone:
    return Phone(app.test_client())


def kiosk_path(app: Flask, town: Town, at: float | None = None) -> str:
    return f"/v/{town.venue}/{town.kiosk}/{kiosk_code(app, town.kiosk, at)}"


def static_path(app: Flask, venue: int) -> str:
    return f"/v/{venue}/s/{checkin_links.static_token(app.config['SECRET_KEY'], venue)}"


def self_checkins(app: Flask) -> list[CheckIn]:
    with app.app_context():
        rows = list(db.session.scalars(select(CheckIn).where(
            CheckIn.method.in_(("self", "self_static"))).order_by(CheckIn.id)).all())
        for row in rows:
            db.session.expunge(row)
        return rows


def set_privacy(app: Flask, venue: int, mode: str) -> None:
    with app.app_context():
        row = db.session.get(Venue, venue)
        assert row is not None
        row.privacy_mode = mode
        db.session.commit()


def deletion_day(days: int = 21) -> str:
    """How the form writes the deletion date in Vietnamese: ``14 tháng 12, 2026``."""
    day = (datetime.now(UTC) + timedelta(days=days)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    return f"{day.day} tháng {day.month}, {day.year}"


# --- the form -------------------------------------------------------------------------------


def test_a_fresh_code_opens_the_form_in_vietnamese(app: Flask, town: Town, phone: Phone) -> None:
    response = phone.open(kiosk_path(app, town))
    body = page(response)
    assert response.status_code == 200
    assert '<html lang="vi">' in body
    assert "Họ và tên" in body and "Số điện thoại" in body
    assert "Đơn vị" not in body  # organisation: not in the "contact" privacy mode
    assert "sẽ được xoá sau 21 ngày" in body  # the venue's consent text
    assert f"sẽ được xoá vào ngày {deletion_day()}" in body
    assert app.config["ANDROID_STORE_URL"] in body and app.config["IOS_STORE_URL"] in body
    assert response.headers["Cache-Control"] == "no-store"
    assert set(phone.hidden) == {"csrf_token", "ticket"}


def test_the_form_in_english(app: Flask, town: Town, phone: Phone) -> None:
    body = page(phone.open(kiosk_path(app, town) + "?lang=en"))
    assert '<html lang="en">' in body
    assert "Full name" in body and "Do you have Bluezone?" in body
    assert "Your details are used only for epidemic control" in body


def test_the_deletion_date_follows_the_venue_retention(app: Flask, town: Town,
                                                       phone: Phone) -> None:
    with app.app_context():
        venue = db.session.get(Venue, town.venue)
        assert venue is not None
        venue.retention_days = 7
        db.session.commit()
    assert f"vào ngày {deletion_day(7)}" in page(phone.open(kiosk_path(app, town)))


# --- recording ------------------------------------------------------------------------------


def test_sending_the_form_records_one_self_checkin(app: Flask, town: Town,
                                                   phone: Phone) -> None:
    phone.open(kiosk_path(app, town))
    response = phone.send(direction="in", name=NAME, phone=PHONE, has_app="yes", consent="y")
    body = page(response)
    assert response.status_code == 200
    assert "Bạn đã khai báo xong" in body
    assert "N. V. A." in body and NAME not in body and PHONE not in body
    assert deletion_day() in body
    [row] = self_checkins(app)
    assert (row.venue_id, row.kiosk_id, row.method) == (town.venue, town.kiosk, "self")
    assert (row.direction, row.has_app, row.name, row.phone) == ("in", "yes", NAME, PHONE)
    assert row.consent_version == 1
    assert row.client_uuid.version == 7
    assert abs((row.occurred_at - datetime.now(UTC)).total_seconds()) < 60


def test_a_double_submit_records_once(app: Flask, town: Town, phone: Phone) -> None:
    phone.open(kiosk_path(app, town))
    first = phone.send(direction="in", name=NAME, phone=PHONE, has_app="yes", consent="y")
    again = phone.send(direction="in", name=NAME, phone=PHONE, has_app="yes", consent="y")
    assert first.status_code == again.status_code == 200
    assert "N. V. A." in page(again)
    assert len(self_checkins(app)) == 1


def test_each_opening_of_the_code_is_its_own_checkin(app: Flask, town: Town,
                                                     phone: Phone) -> None:
    for direction in ("in", "out"):
        phone.open(kiosk_path(app, town))
        phone.send(direction=direction, name=NAME, phone=PHONE, has_app="no", consent="y")
    assert [r.direction for r in self_checkins(app)] == ["in", "out"]


def test_not_yet_gets_the_install_link(app: Flask, town: Town, phone: Phone) -> None:
    phone.open(kiosk_path(app, town))
    body = page(phone.send(direction="in", name=NAME, phone=PHONE, has_app="no",
                           consent="y"))
    assert f'href="/q/{town.kiosk}"' in body
    assert "Hãy cài đặt Bluezone" in body


def test_the_poster_code_records_self_static_without_a_kiosk(app: Flask, town: Town,
                                                             phone: Phone) -> None:
    assert phone.open(static_path(app, town.venue)).status_code == 200
    body = page(phone.send(direction="in", name=NAME, phone=PHONE, has_app="no",
                           consent="y"))
    [row] = self_checkins(app)
    assert (row.method, row.kiosk_id, row.venue_id) == ("self_static", None, town.venue)
    assert f'href="/q/v/{town.venue}"' in body


def test_a_form_sent_after_the_screen_moved_on_is_still_accepted(
        app: Flask, town: Town, phone: Phone) -> None:
    """The code is checked when the form opens; typing may take longer than 60 s."""
    phone.open(kiosk_path(app, town, time.time() - 25))
    phone.path = kiosk_path(app, town, time.time() - 600)  # what the URL holds by then
    response = phone.send(direction="in", name=NAME, phone=PHONE, has_app="yes", consent="y")
    assert response.status_code == 200
    assert len(self_checkins(app)) == 1


# --- codes that must not work ----------------------------------------------------------------


def test_a_stale_code_says_scan_again_and_records_nothing(app: Flask, town: Town,
                                                          phone: Phone) -> None:
    response = phone.open(kiosk_path(app, town, time.time() - 120))
    assert response.status_code == 410
    assert "Mã này đã hết hạn" in page(response)
    assert "Hãy quét lại mã trên màn hình" in page(response)
    assert "ticket" not in phone.hidden
    assert self_checkins(app) == []


@pytest.mark.parametrize("path", [
    "/v/{venue}/{kiosk}/aaaaaaaaaaaaaaaa",           # forged
    "/v/{venue}/{kiosk}/" + "a" * 500,                # absurdly long
    "/v/{venue}/{other_kiosk}/{code}",                # a kiosk of another venue
    "/v/{venue}/99999/{code}",                        # no such kiosk
    "/v/99999/{kiosk}/{code}",                        # no such venue
    "/v/{venue}/s/aaaaaaaaaaaaaaaa",                  # forged poster code
    "/v/{other_venue}/s/{static}",                    # another venue's poster code
])
def test_forged_or_unknown_codes_are_refused(app: Flask, town: Town, phone: Phone,
                                             path: str) -> None:
    url = path.format(venue=town.venue, kiosk=town.kiosk, other_kiosk=town.other_kiosk,
                      other_venue=town.other_venue, code=kiosk_code(app, town.kiosk),
                      static=checkin_links.static_token(app.config["SECRET_KEY"], town.venue))
    response = phone.open(url)
    assert response.status_code == 404
    assert "không hợp lệ" in page(response)
    response = phone.send(url, direction="in", name=NAME, phone=PHONE, has_app="yes",
                          consent="y")
    assert 400 <= response.status_code < 500
    assert self_checkins(app) == []


def test_a_revoked_kiosk_code_is_refused(app: Flask, town: Town, phone: Phone) -> None:
    path = kiosk_path(app, town)
    with app.app_context():
        kiosk = db.session.get(Kiosk, town.kiosk)
        assert kiosk is not None
        kiosk.revoked_at = datetime.now(UTC)
        db.session.commit()
    assert phone.open(path).status_code == 404


def test_an_expired_form_is_refused(app: Flask, town: Town, phone: Phone) -> None:
    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 86400

    phone.open(kiosk_path(app, town))
    old = URLSafeTimedSerializer(str(app.config["SECRET_KEY"]), salt="self-checkin",
                                 signer=Yesterday).dumps(
        {"v": town.venue, "k": town.kiosk, "m": "self", "u": str(uuid.uuid4())})
    response = phone.send(ticket=old, direction="in", name=NAME, phone=PHONE, has_app="yes",
                          consent="y")
    assert response.status_code == 410
    assert "Biểu mẫu đã hết hạn" in page(response)
    assert self_checkins(app) == []


def test_a_ticket_of_another_venue_is_refused(app: Flask, town: Town, phone: Phone) -> None:
    phone.open(static_path(app, town.other_venue))
    other_ticket = phone.hidden["ticket"]
    phone.open(kiosk_path(app, town))
    response = phone.send(ticket=other_ticket, direction="in", name=NAME, phone=PHONE,
                          has_app="yes", consent="y")
    assert response.status_code == 410
    assert self_checkins(app) == []


def test_a_post_without_the_csrf_token_records_nothing(app: Flask, town: Town,
                                                       phone: Phone) -> None:
    phone.open(kiosk_path(app, town))
    response = phone.send(csrf_token="", direction="in", name=NAME, phone=PHONE,
                          has_app="yes", consent="y")
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in page(response)
    assert self_checkins(app) == []


def test_a_post_from_another_browser_records_nothing(app: Flask, town: Town,
                                                     phone: Phone) -> None:
    """A form lifted from one phone's page and posted from another session."""
    phone.open(kiosk_path(app, town))
    thief = Phone(app.test_client(), "198.51.100.9")
    response = thief.client.post(phone.path, data={**phone.hidden, "direction": "in",
                                                   "name": NAME, "phone": PHONE,
                                                   "has_app": "yes", "consent": "y"})
    assert response.status_code == 400
    assert self_checkins(app) == []


def test_the_link_an_enrolled_kiosk_draws_opens_the_form(app: Flask, kiosk: Any) -> None:
    """What the kiosk's bar does: the manifest's self_checkin_url plus the presence token
    made with the secret the kiosk received at enrollment (``kiosk/bar.py``)."""
    manifest = kiosk.get("/api/v1/kiosk/manifest").json
    secret = base64.b64decode(kiosk.presence_secret)
    url = manifest["checkin"]["self_checkin_url"] + presence.current_token(
        secret, kiosk.kiosk_id, time.time())
    visitor = Phone(app.test_client())
    assert visitor.open(url.removeprefix(app.config["PUBLIC_URL"])).status_code == 200
    response = visitor.send(direction="in", name=NAME, phone=PHONE, has_app="yes",
                            consent="y")
    assert response.status_code == 200
    [row] = self_checkins(app)
    assert (row.kiosk_id, row.venue_id) == (kiosk.kiosk_id, kiosk.venue_id)
