"""Playlists in the console: the editor (with and without JavaScript), assignments,
publishing, the "applied on N of M kiosks" figure, and the day preview."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from admin_support import Town, build_town, client_for
from flask import Flask
from flask.testing import FlaskClient
from server_api import KioskApi
from sqlalchemy import select

from signage_server import push
from signage_server.extensions import db
from signage_server.models import Assignment, ManifestGeneration, Playlist, PlaylistItem


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def admin(app: Flask, town: Town) -> FlaskClient:
    return client_for(app, town, "admin")


def generation(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(ManifestGeneration.value)) or 0)


def items_of(app: Flask, playlist_id: int) -> list[PlaylistItem]:
    with app.app_context():
        rows = db.session.scalars(select(PlaylistItem).where(
            PlaylistItem.playlist_id == playlist_id).order_by(PlaylistItem.position)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def editor_form(town: Town, items: list[dict[str, Any]], action: str = "save",
                name: str = "Tuần 48") -> dict[str, Any]:
    """What the browser posts: the playlist fields, the order, and each item's fields."""
    form: dict[str, Any] = {"name": name, "area": town.province, "action": action,
                            "order": ",".join(f"k{i}" for i in range(len(items)))}
    for number, item in enumerate(items):
        for key, value in item.items():
            form[f"k{number}-{key}"] = value
    return form


def image_item(town: Town, **extra: Any) -> dict[str, Any]:
    return {"kind": "image", "media": town.media_sha, "duration": "8",
            "days": ["1", "2", "3", "4", "5"], "windows": "07:00-11:30, 13:30-17:00",
            "valid_from": "2026-11-01", "valid_until": "2026-12-31", **extra}


def qr_item(**extra: Any) -> dict[str, Any]:
    return {"kind": "qr", "duration": "10", "days": [str(d) for d in range(1, 8)],
            "url": "https://bluezone.gov.vn", "caption_vi": "Quét để cài đặt",
            "caption_en": "Scan to install", **extra}


def test_create_a_playlist(admin: FlaskClient, app: Flask, town: Town) -> None:
    response = admin.post("/admin/playlists/new", data={"name": "Tết", "area": 0})
    assert response.status_code == 302
    with app.app_context():
        playlist = db.session.scalars(select(Playlist).where(Playlist.name == "Tết")).one()
        assert playlist.area_id is None  # national
    assert response.headers["Location"].endswith(f"/admin/playlists/{playlist.id}")


def test_manager_owns_playlists_in_their_area(app: Flask, town: Town) -> None:
    manager = client_for(app, town, "manager")
    manager.post("/admin/playlists/new", data={"name": "Quốc gia?", "area": 0})
    manager.post("/admin/playlists/new", data={"name": "Của tỉnh", "area": town.district})
    with app.app_context():
        names = dict(db.session.execute(select(Playlist.name, Playlist.area_id)).all())
    assert "Quốc gia?" not in names
    assert names["Của tỉnh"] == town.district


def test_save_items_with_their_schedule(admin: FlaskClient, app: Flask, town: Town) -> None:
    form = editor_form(town, [image_item(town), qr_item()])
    response = admin.post(f"/admin/playlists/{town.playlist}", data=form)
    assert response.status_code == 302
    image, qr = items_of(app, town.playlist)
    assert (image.kind, image.duration_s, image.days) == ("image", 8.0, [1, 2, 3, 4, 5])
    assert image.windows == [["07:00", "11:30"], ["13:30", "17:00"]]
    assert (image.valid_from, image.valid_until) == (date(2026, 11, 1), date(2026, 12, 31))
    assert qr.data == {"url": "https://bluezone.gov.vn", "caption_vi": "Quét để cài đặt",
                       "caption_en": "Scan to install"}


def test_editor_shows_the_stored_items(admin: FlaskClient, town: Town) -> None:
    admin.post(f"/admin/playlists/{town.playlist}", data=editor_form(town, [image_item(town)]))
    page = admin.get(f"/admin/playlists/{town.playlist}").get_data(as_text=True)
    assert 'value="07:00-11:30, 13:30-17:00"' in page
    assert 'value="2026-12-31"' in page
    assert re.search(rf'<option value="{town.media_sha}" selected>', page)


def test_without_javascript_the_buttons_add_move_and_remove(admin: FlaskClient, app: Flask,
                                                            town: Town) -> None:
    url = f"/admin/playlists/{town.playlist}"
    items = [image_item(town), qr_item(caption_vi="thứ hai"), qr_item(caption_vi="thứ ba")]
    page = admin.post(url, data=editor_form(town, items, action="up:k2")).get_data(as_text=True)
    assert re.findall(r'name="order" id="order" value="([^"]+)"', page) == ["k0,k2,k1"]
    page = admin.post(url, data=editor_form(town, items, action="add:text")).get_data(
        as_text=True)
    assert 'name="k3-kind" value="text"' in page
    page = admin.post(url, data=editor_form(town, items, action="remove:k0")).get_data(
        as_text=True)
    assert 'name="k0-kind"' not in page
    assert items_of(app, town.playlist)[0].kind == "image"  # nothing saved by the buttons


def test_saving_in_a_new_order(admin: FlaskClient, app: Flask, town: Town) -> None:
    form = editor_form(town, [image_item(town), qr_item()])
    form["order"] = "k1,k0"  # what the drag and drop or the up/down buttons leave behind
    admin.post(f"/admin/playlists/{town.playlist}", data=form)
    assert [i.kind for i in items_of(app, town.playlist)] == ["qr", "image"]


@pytest.mark.parametrize(("change", "message"), [
    ({"windows": "8h-12h"}, "Khung giờ có dạng"),
    ({"windows": "25:00-26:00"}, "Khung giờ có dạng"),
    ({"days": []}, "Chọn ít nhất một ngày"),
    ({"media": ""}, "Chọn một tệp"),
    ({"duration": "-3"}, "Thời lượng"),
    ({"valid_from": "31/12/2026"}, "Ngày có dạng"),
    ({"valid_from": "2026-12-31", "valid_until": "2026-01-01"}, "valid until is before"),
    ({"media": "0" * 64}, "no image with that hash"),
])
def test_invalid_items_are_shown_back_and_nothing_is_saved(admin: FlaskClient, app: Flask,
                                                          town: Town, change: dict[str, Any],
                                                          message: str) -> None:
    before = [(i.kind, i.duration_s) for i in items_of(app, town.playlist)]
    response = admin.post(f"/admin/playlists/{town.playlist}",
                          data=editor_form(town, [image_item(town, **change)]))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert [(i.kind, i.duration_s) for i in items_of(app, town.playlist)] == before


def test_saving_tells_the_kiosks(admin: FlaskClient, app: Flask, town: Town,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[list[str]] = []
    monkeypatch.setitem(app.config, "MQTT_URL", "mqtt://broker.invalid:1883")
    monkeypatch.setattr(push, "_publish", lambda url, topics, payload: sent.append(topics))
    before = generation(app)
    admin.post(f"/admin/playlists/{town.playlist}", data=editor_form(town, [qr_item()]))
    assert generation(app) > before
    assert sent == [[f"signage/venue/{town.venue}"]]


def test_assign_to_a_venue_and_to_an_area(admin: FlaskClient, app: Flask, town: Town) -> None:
    admin.post(f"/admin/playlists/{town.other_playlist}/assign",
               data={"target": f"area:{town.district}"})
    admin.post(f"/admin/playlists/{town.other_playlist}/assign",
               data={"target": f"venue:{town.venue}"})
    with app.app_context():
        rows = db.session.execute(select(Assignment.area_id, Assignment.venue_id).where(
            Assignment.playlist_id == town.other_playlist)).all()
    assert set(rows) == {(town.district, None), (None, town.venue),
                         (None, town.other_venue)}


def test_remove_an_assignment(admin: FlaskClient, app: Flask, town: Town) -> None:
    before = generation(app)
    admin.post(f"/admin/assignments/{town.assignment}/delete")
    with app.app_context():
        assert db.session.get(Assignment, town.assignment) is None
    assert generation(app) > before


def test_publish_bumps_the_generation(admin: FlaskClient, app: Flask, town: Town) -> None:
    before = generation(app)
    response = admin.post(f"/admin/playlists/{town.playlist}/publish")
    assert response.status_code == 302
    assert generation(app) == before + 1


def rollout(client: FlaskClient, playlist: int) -> str:
    return str(client.get(f"/admin/playlists/{playlist}/rollout.json").json["text"])  # type: ignore[index]


def heartbeat(kiosk: KioskApi) -> None:
    version = kiosk.get("/api/v1/kiosk/manifest").json["manifest_version"]  # type: ignore[index]
    assert kiosk.post("/api/v1/heartbeat", {"version": "1.0", "uptime_s": 1,
                                            "manifest_version": version}).status_code == 200


@pytest.fixture
def only_api_kiosks(admin: FlaskClient, town: Town) -> None:
    """Retire the town's simulated kiosks so only kiosks enrolled by the test count."""
    admin.post(f"/admin/kiosks/{town.kiosk}/revoke")
    admin.post(f"/admin/kiosks/{town.other_kiosk}/revoke")


@pytest.mark.usefixtures("only_api_kiosks")
def test_applied_on_n_of_m_kiosks(admin: FlaskClient, app: Flask, town: Town,
                                  enroll: Callable[[int], KioskApi]) -> None:
    admin.get("/admin/lang/en")
    first, second = enroll(town.venue), enroll(town.venue)
    assert rollout(admin, town.playlist) == "applied on 0 of 2 kiosks"
    heartbeat(first)
    assert rollout(admin, town.playlist) == "applied on 1 of 2 kiosks"
    heartbeat(second)
    assert rollout(admin, town.playlist) == "applied on 2 of 2 kiosks"
    admin.post(f"/admin/playlists/{town.playlist}", data=editor_form(town, [qr_item()]))
    assert rollout(admin, town.playlist) == "applied on 0 of 2 kiosks"  # a new version
    heartbeat(first)
    assert rollout(admin, town.playlist) == "applied on 1 of 2 kiosks"


@pytest.mark.usefixtures("only_api_kiosks")
def test_rollout_counts_kiosks_that_inherit_the_playlist(admin: FlaskClient, town: Town,
                                                         enroll: Callable[[int], KioskApi]
                                                         ) -> None:
    admin.post(f"/admin/assignments/{town.assignment}/delete")
    admin.post(f"/admin/playlists/{town.playlist}/assign",
               data={"target": f"area:{town.province}"})
    kiosk = enroll(town.venue)
    heartbeat(kiosk)
    body = admin.get(f"/admin/playlists/{town.playlist}/rollout.json").json
    assert (body["applied"], body["total"]) == (1, 1)  # type: ignore[index]
    other = admin.get(f"/admin/playlists/{town.other_playlist}/rollout.json").json
    assert other["applied"] == 0  # type: ignore[index]


@pytest.mark.usefixtures("only_api_kiosks")
def test_rollout_ignores_revoked_kiosks(admin: FlaskClient, town: Town,
                                        enroll: Callable[[int], KioskApi]) -> None:
    kiosk = enroll(town.venue)
    heartbeat(kiosk)
    admin.post(f"/admin/kiosks/{kiosk.kiosk_id}/revoke")
    assert admin.get(f"/admin/playlists/{town.playlist}/rollout.json").json["total"] == 0  # type: ignore[index]


def test_the_page_polls_the_rollout(admin: FlaskClient, town: Town) -> None:
    page = admin.get(f"/admin/playlists/{town.playlist}").get_data(as_text=True)
    assert f'data-url="/admin/playlists/{town.playlist}/rollout.json"' in page
    assert "đã áp dụng trên 0/1 kiosk" in page  # the town's kiosk reported no version


def test_timeline_of_a_day(admin: FlaskClient, town: Town) -> None:
    admin.post(f"/admin/playlists/{town.playlist}", data=editor_form(
        town, [image_item(town), qr_item(windows="22:00-06:00")]))
    page = admin.get(f"/admin/playlists/{town.playlist}/timeline?venue={town.venue}"
                     "&day=2026-11-23").get_data(as_text=True)  # a Monday
    rows = re.findall(r"<tr>\s*<td>(\d\d:\d\d)</td><td>(\d\d:\d\d)</td>", page)
    assert rows == [("00:00", "06:00"), ("06:00", "07:00"), ("07:00", "11:30"),
                    ("11:30", "13:30"), ("13:30", "17:00"), ("17:00", "22:00"),
                    ("22:00", "24:00")]
    assert "Asia/Ho_Chi_Minh" in page


def test_timeline_on_a_weekend_skips_weekday_items(admin: FlaskClient, town: Town) -> None:
    admin.post(f"/admin/playlists/{town.playlist}", data=editor_form(town, [image_item(town)]))
    page = admin.get(f"/admin/playlists/{town.playlist}/timeline?venue={town.venue}"
                     "&day=2026-11-28").get_data(as_text=True)  # a Saturday
    assert "không có lịch: phát nội dung mặc định" in page
    assert "Áp phích" not in page.split("<tbody>")[1]


def test_a_playlist_in_use_cannot_be_deleted(admin: FlaskClient, app: Flask,
                                             town: Town) -> None:
    admin.post(f"/admin/playlists/{town.playlist}/delete")
    with app.app_context():
        assert db.session.get(Playlist, town.playlist) is not None
    admin.post(f"/admin/assignments/{town.assignment}/delete")
    admin.post(f"/admin/playlists/{town.playlist}/delete")
    with app.app_context():
        assert db.session.get(Playlist, town.playlist) is None


def test_list_shows_where_each_playlist_plays(admin: FlaskClient) -> None:
    page = admin.get("/admin/playlists").get_data(as_text=True)
    assert "Tuần 47" in page and "Bến xe Đông" in page and "Khách sạn Nam" in page
