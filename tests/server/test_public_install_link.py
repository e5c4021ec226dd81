"""The smart install link behind the kiosk's QR: redirect by platform, count once."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from signage_server.extensions import db
from signage_server.models import QrScan

ANDROID = "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 Chrome/120 Mobile"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari"
CRAWLER = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def scans(app: Flask) -> list[Any]:
    with app.app_context():
        return [(s.kiosk_id, s.venue_id, s.item_id, s.platform)
                for s in db.session.scalars(select(QrScan).order_by(QrScan.id))]


@pytest.mark.parametrize(("agent", "store"), [
    (ANDROID, "https://play.google.com/"),
    (IPHONE, "https://apps.apple.com/"),
])
def test_phone_goes_to_its_store(client: FlaskClient, kiosk: Any, agent: str,
                                 store: str) -> None:
    response = client.get(f"/q/{kiosk.kiosk_id}?i=7", headers={"User-Agent": agent})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(store)


def test_scan_is_recorded_with_kiosk_venue_item_and_platform(app: Flask, client: FlaskClient,
                                                             kiosk: Any) -> None:
    client.get(f"/q/{kiosk.kiosk_id}?i=7", headers={"User-Agent": ANDROID})
    assert scans(app) == [(kiosk.kiosk_id, kiosk.venue_id, 7, "android")]


def test_desktop_gets_a_page_with_both_stores_and_the_steps(client: FlaskClient,
                                                            kiosk: Any) -> None:
    response = client.get(f"/q/{kiosk.kiosk_id}", headers={"User-Agent": DESKTOP})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "play.google.com" in page and "apps.apple.com" in page
    assert "Cài đặt Bluezone" in page and "cấp các quyền" in page


def test_english_page_on_request(client: FlaskClient, kiosk: Any) -> None:
    page = client.get(f"/q/{kiosk.kiosk_id}?lang=en",
                      headers={"User-Agent": DESKTOP}).get_data(as_text=True)
    assert "Install Bluezone" in page


def test_reload_within_a_minute_counts_once(app: Flask, client: FlaskClient,
                                            kiosk: Any) -> None:
    for _ in range(3):
        client.get(f"/q/{kiosk.kiosk_id}", headers={"User-Agent": IPHONE})
    assert len(scans(app)) == 1


def test_another_phone_counts_again(app: Flask, kiosk: Any) -> None:
    for _ in range(2):
        app.test_client().get(f"/q/{kiosk.kiosk_id}", headers={"User-Agent": IPHONE})
    assert len(scans(app)) == 2


@pytest.mark.parametrize("agent", [CRAWLER, "", "curl/8.4.0", "Googlebot/2.1"])
def test_crawlers_and_previews_are_not_counted(app: Flask, client: FlaskClient, kiosk: Any,
                                               agent: str) -> None:
    response = client.get(f"/q/{kiosk.kiosk_id}", headers={"User-Agent": agent})
    assert response.status_code == 200
    assert scans(app) == []


def test_unknown_kiosk_still_helps_the_visitor(app: Flask, client: FlaskClient) -> None:
    response = client.get("/q/999999", headers={"User-Agent": ANDROID})
    assert response.status_code == 302
    assert scans(app) == []


def test_poster_link_counts_for_the_venue(app: Flask, client: FlaskClient, venue: int) -> None:
    client.get(f"/q/v/{venue}", headers={"User-Agent": ANDROID})
    assert scans(app) == [(None, venue, None, "android")]


@pytest.mark.parametrize("item", ["abc", "-1", "9" * 30, "<script>"])
def test_malformed_item_is_ignored_not_an_error(app: Flask, client: FlaskClient, kiosk: Any,
                                                item: str) -> None:
    response = client.get(f"/q/{kiosk.kiosk_id}", query_string={"i": item},
                          headers={"User-Agent": ANDROID})
    assert response.status_code == 302
    assert scans(app) == [(kiosk.kiosk_id, kiosk.venue_id, None, "android")]


def test_no_address_is_stored(app: Flask, client: FlaskClient, kiosk: Any) -> None:
    client.get(f"/q/{kiosk.kiosk_id}", headers={"User-Agent": ANDROID},
               environ_base={"REMOTE_ADDR": "203.0.113.9"})
    columns = {c.name for c in QrScan.__table__.columns}
    assert columns == {"id", "at", "kiosk_id", "venue_id", "item_id", "platform"}
