"""The manifest: what a kiosk shows and how it records, with a strong ETag."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event, text

from signage_server.extensions import db
from signage_server.playlists import ItemSpec

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskCliRunner
    from server_api import KioskApi
    from server_data import Library, Programme

CliJson = Callable[..., dict[str, Any]]
MANIFEST = "/api/v1/kiosk/manifest"


def manifest_of(kiosk: KioskApi) -> dict[str, Any]:
    response = kiosk.get(MANIFEST)
    assert response.status_code == 200
    return dict(response.json)


def version_of(kiosk: KioskApi) -> str:
    return str(manifest_of(kiosk)["manifest_version"])


def test_manifest_names_the_kiosk_and_its_venue(kiosk: KioskApi) -> None:
    manifest = manifest_of(kiosk)
    assert manifest["kiosk"] == {"id": kiosk.kiosk_id, "name": "Lobby TV"}
    assert manifest["venue"] == {"id": kiosk.venue_id, "name": "Bến xe Miền Đông",
                                 "kind": "bus_station", "timezone": "Asia/Ho_Chi_Minh"}


def test_qr_links_point_at_the_stores_and_this_kiosks_smart_link(kiosk: KioskApi) -> None:
    qr = manifest_of(kiosk)["qr"]
    assert qr["app_name"] == "Bluezone"
    assert qr["android_url"].startswith("https://play.google.com/")
    assert qr["ios_url"].startswith("https://apps.apple.com/")
    assert qr["smart_url"] == f"http://127.0.0.1:5000/q/{kiosk.kiosk_id}"


@pytest.mark.parametrize(("privacy", "fields"), [
    ("count", []),
    ("contact", ["name", "phone"]),
    ("full", ["name", "phone", "organisation", "purpose", "host"]),
])
def test_checkin_fields_follow_the_privacy_mode(cli_json: CliJson,
                                                 enroll: Callable[[int], KioskApi],
                                                 privacy: str, fields: list[str]) -> None:
    venue = cli_json("venue", "add", "Khách sạn Rex", "--kind", "hotel", "--privacy", privacy)
    checkin = manifest_of(enroll(venue["id"]))["checkin"]
    assert checkin["privacy_mode"] == privacy
    assert checkin["fields"] == fields


def test_checkin_settings_carry_retention_and_consent(cli_json: CliJson,
                                                      enroll: Callable[[int], KioskApi]) -> None:
    venue = cli_json("venue", "add", "Bệnh viện Chợ Rẫy", "--kind", "hospital",
                     "--privacy", "full", "--retention-days", "14")
    kiosk = enroll(venue["id"])
    checkin = manifest_of(kiosk)["checkin"]
    assert checkin["retention_days"] == 14
    assert "14" in checkin["consent"]["vi"] and "14" in checkin["consent"]["en"]
    assert checkin["consent_version"] == 1
    assert checkin["self_checkin_url"] == \
        f"http://127.0.0.1:5000/v/{venue['id']}/{kiosk.kiosk_id}/"


def test_sync_tells_intervals_and_topics(kiosk: KioskApi) -> None:
    sync = manifest_of(kiosk)["sync"]
    assert sync["poll_seconds"] == 30
    assert sync["heartbeat_seconds"] == 60
    assert f"signage/kiosk/{kiosk.kiosk_id}" in sync["mqtt_topics"]
    assert f"signage/venue/{kiosk.venue_id}" in sync["mqtt_topics"]


def test_etag_is_strong_and_names_the_version(kiosk: KioskApi) -> None:
    response = kiosk.get(MANIFEST)
    assert response.headers["ETag"] == f'"{response.json["manifest_version"]}"'
    assert response.headers["Cache-Control"] == "no-cache"


def test_if_none_match_gets_304_without_body(kiosk: KioskApi) -> None:
    etag = kiosk.get(MANIFEST).headers["ETag"]
    response = kiosk.get(MANIFEST, **{"If-None-Match": etag})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """SQL the app runs through SQLAlchemy while the test goes on."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_unchanged_poll_does_not_rebuild_the_manifest(kiosk: KioskApi,
                                                      statements: list[str]) -> None:
    etag = kiosk.get(MANIFEST).headers["ETag"]
    statements.clear()
    assert kiosk.get(MANIFEST, **{"If-None-Match": etag}).status_code == 304
    assert statements == []  # only the one poll query, on a raw cursor


def test_weak_etag_from_a_gzipping_proxy_gets_the_same_fast_304(kiosk: KioskApi,
                                                                 statements: list[str]) -> None:
    etag = kiosk.get(MANIFEST).headers["ETag"]
    statements.clear()
    response = kiosk.get(MANIFEST, **{"If-None-Match": f"W/{etag}"})
    assert response.status_code == 304
    assert statements == []


def test_revoking_a_polling_kiosk_stops_its_next_poll(kiosk: KioskApi,
                                                     runner: FlaskCliRunner) -> None:
    etag = kiosk.get(MANIFEST).headers["ETag"]
    assert kiosk.get(MANIFEST, **{"If-None-Match": etag}).status_code == 304
    assert runner.invoke(args=["kiosk", "revoke", str(kiosk.kiosk_id)]).exit_code == 0
    response = kiosk.get(MANIFEST, **{"If-None-Match": etag})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_poll_survives_the_database_dropping_its_connection(app: Flask,
                                                            kiosk: KioskApi) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("only a database server drops connections")
    etag = kiosk.get(MANIFEST).headers["ETag"]
    assert kiosk.get(MANIFEST, **{"If-None-Match": etag}).status_code == 304
    with engine.connect() as conn:  # as a restart of PostgreSQL would, for every other one
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    assert kiosk.get(MANIFEST, **{"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("header", ['"0000000000000000", {etag}', '{weak}, "0000000000000000"',
                                    "*", ' {etag} ', '{etag},"0000000000000000"'])
def test_if_none_match_in_any_valid_form_gets_304(kiosk: KioskApi, header: str) -> None:
    """The text comparison takes the ETag as served and as nginx weakens it; any other
    form (lists, *, spaces) is parsed, so it must answer alike."""
    etag = kiosk.get(MANIFEST).headers["ETag"]
    sent = header.format(etag=etag, weak=f"W/{etag}")
    response = kiosk.get(MANIFEST, **{"If-None-Match": sent})
    assert response.status_code == 304, sent
    assert response.headers["ETag"] == etag


@pytest.mark.parametrize("header", ['"{bare}"x', 'W/"0000000000000000"', '""', ","])
def test_if_none_match_that_does_not_name_the_etag_gets_the_manifest(kiosk: KioskApi,
                                                                    header: str) -> None:
    etag = kiosk.get(MANIFEST).headers["ETag"]
    sent = header.format(bare=etag.strip('"'))
    assert kiosk.get(MANIFEST, **{"If-None-Match": sent}).status_code == 200, sent


def test_other_etag_gets_the_manifest(kiosk: KioskApi) -> None:
    response = kiosk.get(MANIFEST, **{"If-None-Match": '"0000000000000000"'})
    assert response.status_code == 200


def test_change_that_leaves_the_manifest_alike_still_gets_304(kiosk: KioskApi,
                                                               programme: Programme) -> None:
    etag = kiosk.get(MANIFEST).headers["ETag"]
    programme.text_playlist("chưa gán")  # publishes: every cached version goes stale
    response = kiosk.get(MANIFEST, **{"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["ETag"] == etag


def test_nothing_assigned_means_no_playlist(kiosk: KioskApi) -> None:
    assert manifest_of(kiosk)["playlist"] is None


@pytest.fixture
def province(programme: Programme) -> int:
    return programme.area("Hồ Chí Minh")


@pytest.fixture
def district(programme: Programme, province: int) -> int:
    return programme.area("Quận 1", parent=province)


@pytest.fixture
def district_kiosk(cli_json: CliJson, enroll: Callable[[int], KioskApi],
                   district: int) -> KioskApi:
    venue = cli_json("venue", "add", "UBND Quận 1", "--kind", "office",
                     "--area", str(district))
    return enroll(venue["id"])


@pytest.mark.parametrize(("assigned", "shown"), [
    (["province"], "province"),
    (["district"], "district"),
    (["venue"], "venue"),
    (["province", "district"], "district"),
    (["province", "venue"], "venue"),
    (["province", "district", "venue"], "venue"),
])
def test_nearest_assignment_wins(district_kiosk: KioskApi, programme: Programme,
                                 province: int, district: int,
                                 assigned: list[str], shown: str) -> None:
    targets = {"province": {"area": province}, "district": {"area": district},
               "venue": {"venue": district_kiosk.venue_id}}
    for level in assigned:
        programme.assign(programme.text_playlist(level), **targets[level])
    assert manifest_of(district_kiosk)["playlist"]["name"] == shown


def test_another_venues_assignment_is_not_shown(kiosk: KioskApi, programme: Programme,
                                                cli_json: CliJson) -> None:
    other = cli_json("venue", "add", "Bến xe Miền Tây", "--kind", "bus_station")["id"]
    programme.assign(programme.text_playlist("Miền Tây"), venue=other)
    assert manifest_of(kiosk)["playlist"] is None


def test_image_item_points_at_its_media(kiosk: KioskApi, programme: Programme,
                                        library: Library) -> None:
    sha = library.image(size=(320, 180))
    playlist = programme.playlist("Tuần 47", [ItemSpec("image", sha, duration_s=8)])
    programme.assign(playlist, venue=kiosk.venue_id)
    item = manifest_of(kiosk)["playlist"]["items"][0]
    assert item["sha256"] == sha
    assert item["url"] == f"http://127.0.0.1:5000/media/{sha}"
    assert (item["kind"], item["mime"], item["width"], item["height"]) == \
        ("image", "image/png", 320, 180)
    assert item["duration_s"] == 8.0
    assert item["bytes"] > 0


def test_video_without_duration_plays_its_length(kiosk: KioskApi, programme: Programme,
                                                 library: Library) -> None:
    sha = library.video(b"not really mp4", duration_ms=12500)
    programme.assign(programme.playlist("clip", [ItemSpec("video", sha)]), venue=kiosk.venue_id)
    item = manifest_of(kiosk)["playlist"]["items"][0]
    assert (item["kind"], item["duration_s"], item["url"].endswith(f"/media/{sha}")) == \
        ("video", 12.5, True)


def test_items_carry_their_schedule_and_data(kiosk: KioskApi, programme: Programme) -> None:
    spec = ItemSpec("qr", duration_s=10, days=[1, 2, 3, 4, 5], windows=[["07:00", "11:30"]],
                    valid_from=date(2026, 11, 16), valid_until=date(2026, 11, 22),
                    data={"url": "https://bluezone.gov.vn", "caption_vi": "Quét mã"})
    programme.assign(programme.playlist("qr", [spec]), venue=kiosk.venue_id)
    item = manifest_of(kiosk)["playlist"]["items"][0]
    assert item["schedule"] == {"days": [1, 2, 3, 4, 5], "windows": [["07:00", "11:30"]],
                                "valid_from": "2026-11-16", "valid_until": "2026-11-22"}
    assert item["data"] == {"url": "https://bluezone.gov.vn", "caption_vi": "Quét mã"}
    assert item["sha256"] is None and item["url"] is None


def test_items_keep_their_order(kiosk: KioskApi, programme: Programme) -> None:
    specs = [ItemSpec("text", data={"title_vi": str(n)}) for n in range(5)]
    programme.assign(programme.playlist("thứ tự", specs), venue=kiosk.venue_id)
    items = manifest_of(kiosk)["playlist"]["items"]
    assert [i["data"]["title_vi"] for i in items] == ["0", "1", "2", "3", "4"]


def test_version_changes_when_the_playlist_changes(kiosk: KioskApi,
                                                   programme: Programme) -> None:
    playlist = programme.text_playlist("trước")
    programme.assign(playlist, venue=kiosk.venue_id)
    before = version_of(kiosk)
    programme.replace_items(playlist, [ItemSpec("text", data={"title_vi": "sau"})])
    assert version_of(kiosk) != before


def test_version_changes_when_the_assignment_changes(kiosk: KioskApi,
                                                     programme: Programme) -> None:
    before = version_of(kiosk)
    programme.assign(programme.text_playlist("mới"), venue=kiosk.venue_id)
    assert version_of(kiosk) != before


@pytest.mark.parametrize("setting", [{"privacy_mode": "full"}, {"retention_days": 7},
                                     {"name": "Bến xe Miền Đông mới"},
                                     {"consent_version": 2}])
def test_version_changes_when_a_venue_setting_changes(kiosk: KioskApi, programme: Programme,
                                                      setting: dict[str, Any]) -> None:
    before = kiosk.get(MANIFEST).headers["ETag"]
    programme.change_venue(kiosk.venue_id, **setting)
    response = kiosk.get(MANIFEST, **{"If-None-Match": before})
    assert response.status_code == 200
    assert response.headers["ETag"] != before


def test_version_stays_while_nothing_changes(kiosk: KioskApi, checkin_record: Any,
                                             programme: Programme) -> None:
    first = version_of(kiosk)
    kiosk.post("/api/v1/checkins", {"records": [checkin_record()]})
    kiosk.post("/api/v1/heartbeat", {"version": "0.1.0", "uptime_s": 5})
    programme.text_playlist("không gán")
    assert version_of(kiosk) == first == version_of(kiosk)


def test_two_kiosks_of_a_venue_differ_only_in_themselves(kiosk: KioskApi,
                                                         enroll: Callable[[int], KioskApi]
                                                         ) -> None:
    other = enroll(kiosk.venue_id)
    mine, theirs = manifest_of(kiosk), manifest_of(other)
    assert mine["manifest_version"] != theirs["manifest_version"]
    assert mine["venue"] == theirs["venue"] and mine["playlist"] == theirs["playlist"]
