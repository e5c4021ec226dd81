"""The report pages of the console: who may open them, what each role sees, and that they
keep the console's rules (no inline script or style, charts as script-free SVG images).

The pages run against the console's test town (``admin_support``): a manager of Tỉnh Bắc
sees Huyện Đông and Bến xe Đông, not Tỉnh Nam and Khách sạn Nam; a reception user of Bến xe
Đông sees only that venue's posters.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_support import Town, build_town, client_for
from flask import Flask
from openpyxl import load_workbook

from signage_server import create_app
from signage_server.extensions import db
from signage_server.reports.views import bp

ANY_ROLE = ("admin", "manager", "reception")
STAFF = ("admin", "manager")
#: Who may open each report page (the console's deny-by-default rule, for this blueprint).
ACCESS: dict[str, tuple[str, ...]] = {
    "reports.index": ANY_ROLE,
    "reports.adoption": STAFF,
    "reports.weekly": STAFF,
    "reports.weekly_print": STAFF,
    "reports.weekly_download": STAFF,
    "reports.posters_page": ANY_ROLE,
    "reports.poster": ANY_ROLE,
}
URLS = {
    "reports.index": "/admin/reports/",
    "reports.adoption": "/admin/reports/dashboard?scope=venue-{venue}",
    "reports.weekly": "/admin/reports/weekly?scope=venue-{venue}&week=2026-W47",
    "reports.weekly_print": "/admin/reports/weekly/print?scope=venue-{venue}&week=2026-W47",
    "reports.weekly_download": "/admin/reports/weekly.csv?scope=venue-{venue}&week=2026-W47",
    "reports.posters_page": "/admin/reports/posters",
    "reports.poster": "/admin/reports/poster?venue={venue}&size=A5&format=png",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory,
          sqlite_template: Path) -> Iterator[tuple[Flask, Town]]:
    folder = tmp_path_factory.mktemp("report-pages")
    database = folder / "signage.sqlite"
    database.write_bytes(sqlite_template.read_bytes())
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{database}",
                      "WTF_CSRF_ENABLED": False, "MQTT_URL": ""}, instance_path=folder)
    yield app, build_town(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def get(world: tuple[Flask, Town], role: str, url: str) -> tuple[int, str, bytes]:
    app, town = world
    client = client_for(app, town, role)
    response = client.get(url.format(venue=town.venue, other_venue=town.other_venue,
                                     province=town.province, district=town.district,
                                     other_province=town.other_province, kiosk=town.kiosk,
                                     other_kiosk=town.other_kiosk))
    return response.status_code, response.headers.get("Location", ""), response.get_data()


def test_every_report_route_has_a_rule(world: tuple[Flask, Town]) -> None:
    app, _town = world
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("reports.")}
    assert endpoints == set(ACCESS)
    for endpoint in endpoints:
        declared = app.view_functions[endpoint].allowed_roles  # type: ignore[attr-defined]
        assert set(declared) == set(ACCESS[endpoint]), endpoint
    assert bp.before_request_funcs  # views without a rule are refused


@pytest.mark.parametrize("role", ["anonymous", *ANY_ROLE])
@pytest.mark.parametrize("endpoint", sorted(ACCESS))
def test_role_against_report_route(world: tuple[Flask, Town], endpoint: str,
                                   role: str) -> None:
    status, location, _body = get(world, role, URLS[endpoint])
    if role == "anonymous":
        assert status == 302 and "/admin/login" in location
    elif role in ACCESS[endpoint]:
        assert status in (200, 302), status
        assert "/admin/login" not in location
    else:
        assert status == 403


@pytest.mark.parametrize(("role", "url", "status"), [
    ("admin", "/admin/reports/dashboard", 200),  # the whole country by default
    ("admin", "/admin/reports/dashboard?scope=area-{other_province}", 200),
    ("manager", "/admin/reports/dashboard", 200),  # their own area by default
    ("manager", "/admin/reports/dashboard?scope=all", 404),
    ("manager", "/admin/reports/dashboard?scope=area-{province}", 200),
    ("manager", "/admin/reports/dashboard?scope=area-{district}", 200),
    ("manager", "/admin/reports/dashboard?scope=area-{other_province}", 404),
    ("manager", "/admin/reports/dashboard?scope=venue-{other_venue}", 404),
    ("manager", "/admin/reports/dashboard?scope=kiosk-{kiosk}", 200),
    ("manager", "/admin/reports/dashboard?scope=kiosk-{other_kiosk}", 404),
    ("manager", "/admin/reports/weekly?scope=all", 404),
    ("manager", "/admin/reports/weekly.xlsx?scope=venue-{other_venue}", 404),
    ("manager", "/admin/reports/weekly/print?scope=area-{other_province}", 404),
    ("manager", "/admin/reports/poster?venue={other_venue}", 404),
    ("reception", "/admin/reports/poster?venue={venue}&size=A5", 200),
    ("reception", "/admin/reports/poster?venue={other_venue}", 404),
    ("admin", "/admin/reports/dashboard?scope=area-999999", 404),
    ("admin", "/admin/reports/dashboard?scope=venue-abc", 404),
    ("admin", "/admin/reports/dashboard?scope=everything", 404),
    ("admin", "/admin/reports/poster?venue=abc", 404),
])
def test_each_role_sees_only_its_scope(world: tuple[Flask, Town], role: str, url: str,
                                       status: int) -> None:
    assert get(world, role, url)[0] == status


def test_reception_lands_on_its_posters(world: tuple[Flask, Town]) -> None:
    status, location, _ = get(world, "reception", "/admin/reports/")
    assert status == 302 and location.endswith("/admin/reports/posters")
    page = get(world, "reception", "/admin/reports/posters")[2].decode()
    assert "Bến xe Đông" in page and "Khách sạn Nam" not in page


def test_manager_picker_offers_only_their_area(world: tuple[Flask, Town]) -> None:
    page = get(world, "manager", "/admin/reports/dashboard")[2].decode()
    assert "Tỉnh Bắc" in page and "Bến xe Đông" in page
    assert "Tỉnh Nam" not in page and "Khách sạn Nam" not in page and "Toàn quốc" not in page


@pytest.mark.parametrize(("url", "message"), [
    ("/admin/reports/weekly?week=2026-W60", "2026 has weeks 1 to 53, not 60"),
    ("/admin/reports/weekly.csv?week=W47", "not an ISO week"),
    ("/admin/reports/dashboard?until=23/11/2026", "not a date"),
    ("/admin/reports/dashboard?span=-3", "not a whole number"),
    ("/admin/reports/dashboard?by=day&span=400", "show 1 to 92 days"),
    ("/admin/reports/poster?venue={venue}&size=B5", "size 'B5'"),
    ("/admin/reports/poster?venue={venue}&format=gif", "format 'gif'"),
])
def test_bad_input_gets_a_clear_400(world: tuple[Flask, Town], url: str, message: str) -> None:
    status, _location, body = get(world, "admin", url)
    assert status == 400
    assert message in body.decode().replace("&#39;", "'")


SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize("url", [
    "/admin/reports/dashboard?scope=area-{province}&by=week",
    "/admin/reports/dashboard?scope=kiosk-{kiosk}",
    "/admin/reports/weekly?scope=area-{province}",
    "/admin/reports/weekly/print?scope=area-{province}",
    "/admin/reports/posters",
])
def test_pages_have_no_inline_script_or_style(world: tuple[Flask, Town], url: str) -> None:
    _status, _location, body = get(world, "admin", url)
    assert not SCRIPT.search(body)
    assert b"<style" not in body and b" style=" not in body
    assert b"reports.css" in body
    assert b"http://" not in body.replace(b"http://www.w3.org", b"").replace(
        b'http://127.0.0.1', b"")


def test_dashboard_charts_are_svg_images_without_script(world: tuple[Flask, Town]) -> None:
    body = get(world, "admin", "/admin/reports/dashboard?scope=venue-{venue}")[2]
    images = re.findall(rb'src="data:image/svg\+xml;base64,([^"]+)"', body)
    assert len(images) >= 6
    for encoded in images:
        svg = base64.b64decode(encoded)
        assert svg.startswith(b"<svg") and b"<script" not in svg
        assert b"googleapis" not in svg and b"<foreignObject" not in svg


def test_dashboard_shows_the_venue_figures_and_kiosk_links(world: tuple[Flask, Town]) -> None:
    page = get(world, "admin", "/admin/reports/dashboard?scope=venue-{venue}")[2].decode()
    # the town's venue has one arrival with the app and one departure today
    assert "100,0 %" in page
    assert "scope=kiosk-" in page and "Lobby TV" in page


def test_english_when_the_console_is_in_english(world: tuple[Flask, Town]) -> None:
    app, town = world
    client = client_for(app, town, "admin")
    client.get("/admin/lang/en")
    page = client.get(f"/admin/reports/dashboard?scope=venue-{town.venue}").get_data(True)
    assert "Check-ins (arrivals)" in page and "App share" in page


def test_weekly_downloads_are_attachments_in_each_format(world: tuple[Flask, Town]) -> None:
    app, town = world
    client = client_for(app, town, "manager")
    base = f"scope=area-{town.province}&week=2026-W47&lang=en"
    csv = client.get(f"/admin/reports/weekly.csv?{base}")
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.get_data().startswith(b"\xef\xbb\xbf")
    assert "attachment" in csv.headers["Content-Disposition"]
    xlsx = client.get(f"/admin/reports/weekly.xlsx?{base}")
    book = load_workbook(io.BytesIO(xlsx.get_data()))
    assert "Venues" in book.sheetnames
    html = client.get(f"/admin/reports/weekly.html?{base}").get_data()
    assert b"<style>" in html  # a downloaded file carries its stylesheet
    assert client.get(f"/admin/reports/weekly.pdf?{base}").status_code == 404


def test_poster_download_is_the_venues_pdf(world: tuple[Flask, Town]) -> None:
    app, town = world
    response = client_for(app, town, "reception").get(
        f"/admin/reports/poster?venue={town.venue}&size=A5&lang=en&format=pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.get_data().startswith(b"%PDF")
    assert f"poster-venue-{town.venue}-A5-en.pdf" in response.headers["Content-Disposition"]
