"""Every role against every console route, and each user's scope.

``ACCESS`` says who may open each endpoint. The table is checked against the application's
own ``url_map``: a route of the console (or of any new HTML blueprint) that is not in the
table fails ``test_every_route_has_a_rule``, so nobody adds a page without deciding who may
open it. Then each (endpoint, method, role) is requested:

- allowed: 200 or a redirect that is not the sign-in page;
- denied to a signed-in user: 403;
- anonymous: a redirect to the sign-in page.

The table runs against one town (``admin_support``) on SQLite, built once per module;
actions that destroy their target (revoke, delete) get a fresh target per request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import Town, build_town, client_for
from flask import Flask, url_for
from sqlalchemy import delete
from werkzeug.routing import Rule

from signage_server import create_app, playlists
from signage_server.api import EXTENSION as API_APP
from signage_server.api import PREFIX as API_PREFIX
from signage_server.extensions import db
from signage_server.models import Assignment, CheckIn, Playlist
from signage_server.security import PUBLIC

ANY_ROLE = ("admin", "manager", "reception")
STAFF = ("admin", "manager")
ADMIN = ("admin",)
#: Blueprints that are not staff pages: kiosks (bearer tokens), media files, visitors.
NOT_CONSOLE = ("api.", "media.", "public.", "static")

#: Who may open each route. A blueprint that adds pages for staff (reports, reception, ...)
#: adds its rows here, and its URL arguments to ``SAMPLES`` if they are new.
ACCESS: dict[str, tuple[str, ...]] = {
    "admin.login": PUBLIC,
    "admin.language": PUBLIC,
    "admin.logout": ANY_ROLE,
    "admin.password": ANY_ROLE,
    "admin.overview": ANY_ROLE,
    "admin.checkins": ANY_ROLE,
    "admin.checkins_reveal": ANY_ROLE,
    "admin.checkins_export": STAFF,
    "admin.places": STAFF,
    "admin.area_new": ADMIN,
    "admin.area_edit": ADMIN,
    "admin.venue_new": STAFF,
    "admin.venue_edit": STAFF,
    "admin.kiosks": STAFF,
    "admin.kiosk": STAFF,
    "admin.kiosk_new": STAFF,
    "admin.kiosk_code": STAFF,
    "admin.kiosk_revoke": STAFF,
    "admin.screenshot": STAFF,
    "admin.media": STAFF,
    "admin.media_upload": STAFF,
    "admin.media_thumbnail": STAFF,
    "admin.playlist_list": STAFF,
    "admin.playlist_new": STAFF,
    "admin.playlist_edit": STAFF,
    "admin.playlist_assign": STAFF,
    "admin.playlist_publish": STAFF,
    "admin.playlist_delete": STAFF,
    "admin.playlist_rollout": STAFF,
    "admin.playlist_timeline": STAFF,
    "admin.assignment_delete": STAFF,
    "admin.users": ADMIN,
    "admin.user_new": ADMIN,
    "admin.user_edit": ADMIN,
    "admin.audit_log": ADMIN,
    "admin.reception": ANY_ROLE,
    "admin.reception_log": ANY_ROLE,
    "admin.reception_sign_out": ANY_ROLE,
    # reports (docs/reports.md): figures for the analysts, posters for every venue's staff
    "reports.index": ANY_ROLE,
    "reports.adoption": STAFF,
    "reports.weekly": STAFF,
    "reports.weekly_print": STAFF,
    "reports.weekly_download": STAFF,
    "reports.posters_page": ANY_ROLE,
    "reports.poster": ANY_ROLE,
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory,
          sqlite_template: Path) -> Iterator[tuple[Flask, Town]]:
    folder = tmp_path_factory.mktemp("access")
    database = folder / "signage.sqlite"
    database.write_bytes(sqlite_template.read_bytes())
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{database}",
                      "WTF_CSRF_ENABLED": False, "MQTT_URL": ""}, instance_path=folder)
    yield app, build_town(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _fresh_playlist(town: Town) -> int:
    playlist = playlists.create("À jeter", [])
    playlist.area_id = town.province
    db.session.commit()
    return playlist.id


def _fresh_assignment(town: Town) -> int:
    db.session.execute(delete(Assignment).where(Assignment.area_id == town.district))
    row = playlists.assign(town.playlist, area_id=town.district)
    db.session.commit()
    return row.id


def _fresh_kiosk(town: Town) -> int:
    from admin_support import add_kiosk

    kiosk = add_kiosk(town.venue, "Spare")
    db.session.commit()
    return kiosk


#: URL arguments that are not ids of the town's rows.
SAMPLES: dict[str, Any] = {"code": "en", "fmt": "csv"}
#: Query strings a route needs to find its object.
QUERIES: dict[str, Callable[[Town], dict[str, Any]]] = {
    "reports.poster": lambda town: {"venue": town.venue, "format": "pdf"},
}


#: URL arguments per endpoint; a callable makes a fresh target for destructive actions.
def _arguments(endpoint: str, method: str, town: Town) -> dict[str, Any]:
    fresh: dict[str, Callable[[Town], int]] = {
        "admin.playlist_delete": _fresh_playlist,
        "admin.assignment_delete": _fresh_assignment,
        "admin.kiosk_revoke": _fresh_kiosk,
        "admin.kiosk_code": _fresh_kiosk,
    }
    values = {"area_id": town.province, "venue_id": town.venue, "kiosk_id": town.kiosk,
              "media_id": town.media, "playlist_id": town.playlist,
              "assignment_id": town.assignment, "user_id": town.users["reception"],
              "checkin_id": town.checkins[0],
              **SAMPLES}
    if method == "POST" and endpoint in fresh:
        made = fresh[endpoint](town)
        key = {"admin.playlist_delete": "playlist_id", "admin.assignment_delete":
               "assignment_id"}.get(endpoint, "kiosk_id")
        values[key] = made
    return values


def _cases() -> list[tuple[str, str, str]]:
    """(endpoint, method, role) for every console route, read from a fresh app."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}, instance_path=folder)
    cases = []
    for rule in sorted(served_rules(app), key=lambda r: (r.endpoint, r.rule)):
        if rule.endpoint.startswith(NOT_CONSOLE):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for role in ("anonymous", *ANY_ROLE):
                cases.append((rule.endpoint, method, role))
    return cases


def served_rules(app: Flask) -> list[Rule]:
    """The routes of the main app and of the kiosk API's own app, mounted in front of it for
    ``/api/`` (``signage_server.api.register``): a page added to either is in the table."""
    return [*app.url_map.iter_rules(), *app.extensions[API_APP].url_map.iter_rules()]


def console_endpoints(app: Flask) -> set[str]:
    return {r.endpoint for r in served_rules(app) if not r.endpoint.startswith(NOT_CONSOLE)}


def test_each_app_serves_its_own_paths(world: tuple[Flask, Town]) -> None:
    """Every path under /api/ goes to the API app: a route of the main app there would never
    be reached, and a route of the API app elsewhere neither."""
    app, _town = world
    kiosk_rules = list(app.extensions[API_APP].url_map.iter_rules())
    assert {r.endpoint for r in kiosk_rules} >= {"api.manifest", "api.checkins",
                                                  "api.openapi_json"}
    assert all(r.rule.startswith(API_PREFIX) for r in kiosk_rules)
    assert not [r.rule for r in app.url_map.iter_rules() if r.rule.startswith(API_PREFIX)]


def test_every_route_has_a_rule(world: tuple[Flask, Town]) -> None:
    app, _town = world
    missing = console_endpoints(app) - set(ACCESS)
    assert not missing, f"routes without an access rule in ACCESS: {sorted(missing)}"
    assert not set(ACCESS) - console_endpoints(app), "ACCESS names routes that are gone"


def test_every_view_declares_its_roles(world: tuple[Flask, Town]) -> None:
    """Deny by default needs each view to carry the rule the table expects."""
    app, _town = world
    for endpoint in console_endpoints(app):
        declared = getattr(app.view_functions[endpoint], "allowed_roles", None)
        assert declared is not None, endpoint
        assert set(declared) - {"anonymous"} == set(ACCESS[endpoint]) - {"anonymous"}


@pytest.mark.parametrize(("endpoint", "method", "role"), _cases())
def test_role_against_route(world: tuple[Flask, Town], endpoint: str, method: str,
                            role: str) -> None:
    app, town = world
    if endpoint not in ACCESS:
        pytest.fail(f"{endpoint} has no access rule: add it to ACCESS in {__name__}")
    client = client_for(app, town, role)
    with app.app_context(), app.test_request_context():
        arguments = {k: v for k, v in _arguments(endpoint, method, town).items()
                     if k in _rule_arguments(app, endpoint)}
        url = url_for(endpoint, **arguments, **QUERIES.get(endpoint, lambda _t: {})(town))
    response = client.open(url, method=method, data={})
    location = response.headers.get("Location", "")
    allowed = role in ACCESS[endpoint]
    if allowed:
        assert response.status_code in (200, 302, 303), (response.status_code, location)
        assert "/admin/login" not in location or endpoint == "admin.logout"
    elif role == "anonymous":
        assert response.status_code == 302 and "/admin/login" in location
    else:
        assert response.status_code == 403


def _rule_arguments(app: Flask, endpoint: str) -> set[str]:
    return {a for r in served_rules(app) if r.endpoint == endpoint for a in r.arguments}


# --- scope: what a manager and a reception user see of the other province ----------------


@pytest.mark.parametrize("path", [
    "/admin/venues/{other_venue}/edit",
    "/admin/kiosks/{other_kiosk}",
    "/admin/kiosks/{other_kiosk}/screenshot.png",
    "/admin/playlists/{other_playlist}",
    "/admin/playlists/{other_playlist}/rollout.json",
    "/admin/playlists/{other_playlist}/timeline",
])
def test_manager_cannot_open_another_province(world: tuple[Flask, Town], path: str) -> None:
    app, town = world
    client = client_for(app, town, "manager")
    response = client.get(path.format(**vars(town)))
    assert response.status_code == 404


def test_manager_sees_the_district_venue_under_their_province(
        world: tuple[Flask, Town]) -> None:
    app, town = world
    page = client_for(app, town, "manager").get("/admin/areas").get_data(as_text=True)
    assert "Bến xe Đông" in page
    assert "Khách sạn Nam" not in page


def test_manager_fleet_lists_only_their_kiosks(world: tuple[Flask, Town]) -> None:
    app, town = world
    page = client_for(app, town, "manager").get("/admin/kiosks").get_data(as_text=True)
    assert f"/admin/kiosks/{town.kiosk}" in page
    assert f"/admin/kiosks/{town.other_kiosk}\"" not in page


@pytest.mark.parametrize("role", ["manager", "reception"])
def test_checkins_are_scoped(world: tuple[Flask, Town], role: str) -> None:
    app, town = world
    client = client_for(app, town, role)
    page = client.post("/admin/checkins/reveal",
                       data={"reason": "kiểm tra phạm vi"}).get_data(as_text=True)
    assert "Nguyễn Văn An" in page
    assert "Trần Thị Bình" not in page


def test_a_forged_venue_filter_does_not_widen_the_scope(world: tuple[Flask, Town]) -> None:
    app, town = world
    client = client_for(app, town, "reception")
    page = client.post(f"/admin/checkins/reveal?venue={town.other_venue}",
                       data={"reason": "thử vượt quyền", "venue": town.other_venue}
                       ).get_data(as_text=True)
    assert "Trần Thị Bình" not in page


def test_manager_cannot_assign_outside_their_area(world: tuple[Flask, Town]) -> None:
    app, town = world
    client = client_for(app, town, "manager")
    client.post(f"/admin/playlists/{town.playlist}/assign",
                data={"target": f"venue:{town.other_venue}"})
    with app.app_context():
        row = db.session.scalars(db.select(Assignment).where(
            Assignment.venue_id == town.other_venue)).one()
        assert row.playlist_id == town.other_playlist


def test_manager_cannot_edit_a_national_playlist(world: tuple[Flask, Town]) -> None:
    app, town = world
    with app.app_context():
        national = playlists.create("Toàn quốc", [])
        db.session.commit()
        national_id = national.id
    client = client_for(app, town, "manager")
    assert client.get(f"/admin/playlists/{national_id}").status_code == 200
    response = client.post(f"/admin/playlists/{national_id}",
                           data={"name": "đổi tên", "action": "save"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Playlist, national_id).name == "Toàn quốc"  # type: ignore[union-attr]


def test_reception_export_is_refused(world: tuple[Flask, Town]) -> None:
    app, town = world
    with app.app_context():
        before = db.session.query(CheckIn).count()
    response = client_for(app, town, "reception").post("/admin/checkins/export",
                                                       data={"format": "csv"})
    assert response.status_code == 403
    with app.app_context():  # the table also runs reception sign-outs in this world
        assert db.session.query(CheckIn).count() == before


def test_a_console_view_without_a_rule_is_refused(tmp_path: Path) -> None:
    """Deny by default: a view added to the console without ``allow`` answers 403."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}, instance_path=tmp_path)
    app.add_url_rule("/admin/forgotten", endpoint="admin.forgotten", view_func=lambda: "open")
    assert app.test_client().get("/admin/forgotten").status_code == 403
