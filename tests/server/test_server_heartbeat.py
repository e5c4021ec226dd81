"""Heartbeats: the kiosk's status and latest screenshot, answered with time and version."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from server_data import png

from signage_server.models import Kiosk, KioskScreenshot

if TYPE_CHECKING:
    from server_api import KioskApi
    from server_data import Database, Programme

HEARTBEAT = "/api/v1/heartbeat"
LIMIT = 512 * 1024
STATUS = {
    "version": "0.1.0", "uptime_s": 3600, "manifest_version": "5f0c1e9a2b7d4c11",
    "current_item": {"id": 7, "kind": "video", "sha256": "ab" * 32},
    "disk_free_bytes": 12_000_000_000, "temperature_c": 51.2,
    "unsynced": {"checkins": 0, "plays": 4}, "clock_offset_s": -0.8, "late_frames": 0,
    "last_error": "Lỗi: không tải được video",
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def png_of_size(size: int) -> bytes:
    """A PNG file padded with trailing bytes to exactly ``size`` (viewers ignore them)."""
    image = png()
    return image + b"\0" * (size - len(image))


def beat(kiosk: KioskApi, **fields: Any) -> dict[str, Any]:
    response = kiosk.post(HEARTBEAT, {**STATUS, **fields})
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_status_is_stored_on_the_kiosk(kiosk: KioskApi, database: Database) -> None:
    beat(kiosk)
    status = database.one(Kiosk).status
    assert {k: status[k] for k in STATUS} == STATUS


def test_heartbeat_time_is_recorded(kiosk: KioskApi, database: Database) -> None:
    beat(kiosk)
    seen = database.one(Kiosk).last_heartbeat_at
    assert seen is not None and abs(datetime.now(UTC) - seen) < timedelta(minutes=1)


def test_minimal_heartbeat_is_enough(kiosk: KioskApi, database: Database) -> None:
    assert kiosk.post(HEARTBEAT, {"version": "0.1.0", "uptime_s": 0}).status_code == 200
    assert database.one(Kiosk).status["version"] == "0.1.0"


def test_each_heartbeat_replaces_the_status(kiosk: KioskApi, database: Database) -> None:
    beat(kiosk, last_error="disk full")
    beat(kiosk, last_error=None, uptime_s=7200)
    status = database.one(Kiosk).status
    assert (status["last_error"], status["uptime_s"]) == (None, 7200)


def test_answer_has_server_time_and_manifest_version(kiosk: KioskApi) -> None:
    body = beat(kiosk)
    served = datetime.fromisoformat(body["server_time"])
    assert abs(datetime.now(UTC) - served) < timedelta(minutes=1)
    manifest = kiosk.get("/api/v1/kiosk/manifest").json
    assert body["manifest_version"] == manifest["manifest_version"]


def test_answer_tells_a_changed_manifest_before_the_next_poll(kiosk: KioskApi,
                                                              programme: Programme) -> None:
    before = beat(kiosk)["manifest_version"]
    programme.assign(programme.text_playlist("Tuần 48"), venue=kiosk.venue_id)
    after = beat(kiosk)["manifest_version"]
    assert after != before
    assert after == kiosk.get("/api/v1/kiosk/manifest").json["manifest_version"]


def test_screenshot_is_stored(kiosk: KioskApi, database: Database) -> None:
    image = png(color="red")
    beat(kiosk, screenshot_png=b64(image))
    shot = database.one(KioskScreenshot)
    assert (shot.kiosk_id, shot.png) == (kiosk.kiosk_id, image)


def test_new_screenshot_replaces_the_old(kiosk: KioskApi, database: Database) -> None:
    beat(kiosk, screenshot_png=b64(png(color="red")))
    beat(kiosk, screenshot_png=b64(png(color="blue")))
    assert database.one(KioskScreenshot).png == png(color="blue")


def test_heartbeat_without_screenshot_keeps_the_last(kiosk: KioskApi,
                                                     database: Database) -> None:
    beat(kiosk, screenshot_png=b64(png(color="red")))
    beat(kiosk)
    assert database.one(KioskScreenshot).png == png(color="red")


def test_screenshot_of_exactly_512_kb_is_kept(kiosk: KioskApi, database: Database) -> None:
    beat(kiosk, screenshot_png=b64(png_of_size(LIMIT)))
    assert len(database.one(KioskScreenshot).png) == LIMIT


def test_screenshot_over_512_kb_is_413(kiosk: KioskApi, database: Database) -> None:
    for size in [LIMIT + 1, LIMIT + 3, LIMIT + 1024, 2 * LIMIT]:
        response = kiosk.post(HEARTBEAT, {**STATUS, "screenshot_png": b64(png_of_size(size))})
        assert response.status_code == 413, size
        assert response.json["error"]["code"] == "screenshot_too_large"
    assert database.count(KioskScreenshot) == 0


NOT_PNGS = [
    b64(b"GIF89a not a png at all"),
    b64(b"\xff\xd8\xff\xe0 a jpeg"),
    "not base64 !",
    "iVBORw0KGgoñ",
    "iVBORw0KGgo",  # a PNG signature without its padding
]


def test_screenshot_that_is_no_png_is_400(kiosk: KioskApi, database: Database) -> None:
    for screenshot in NOT_PNGS:
        response = kiosk.post(HEARTBEAT, {**STATUS, "screenshot_png": screenshot})
        assert response.status_code == 400, screenshot
        assert "screenshot_png" in response.json["error"]["message"]
    assert database.count(KioskScreenshot) == 0


def test_empty_screenshot_means_none_this_time(kiosk: KioskApi, database: Database) -> None:
    assert kiosk.post(HEARTBEAT, {**STATUS, "screenshot_png": ""}).status_code == 200
    assert database.count(KioskScreenshot) == 0


def test_refused_screenshot_leaves_the_status_as_it_was(kiosk: KioskApi,
                                                        database: Database) -> None:
    beat(kiosk, uptime_s=10)
    kiosk.post(HEARTBEAT, {**STATUS, "uptime_s": 20, "screenshot_png": b64(b"GIF89a")})
    assert database.one(Kiosk).status["uptime_s"] == 10


def test_numbers_that_are_not_finite_are_400(kiosk: KioskApi, database: Database) -> None:
    for field in ["uptime_s", "temperature_c", "clock_offset_s"]:
        for number in ["NaN", "Infinity", "-Infinity", "1e400"]:
            body = f'{{"version": "0.1.0", "uptime_s": 1, "{field}": {number}}}'
            response = kiosk.send("POST", HEARTBEAT, data=body)
            assert response.status_code == 400, (field, number)
            assert response.json["error"]["message"].startswith(field)
    assert database.one(Kiosk).last_heartbeat_at is None
