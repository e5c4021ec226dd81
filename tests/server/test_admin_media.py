"""The media library upload: checks by decoding, refusals, thumbnails, profile warnings."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from admin_support import Town, build_town, client_for, mp4_bytes, png_bytes
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from signage_server.extensions import db
from signage_server.models import AuditLog, MediaAsset

LIMIT = 400_000


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False, "MAX_UPLOAD_BYTES": LIMIT}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def admin(app: Flask, town: Town) -> FlaskClient:
    return client_for(app, town, "admin")


def upload(client: FlaskClient, body: bytes, name: str, title: str = "",
           json: bool = True) -> Any:
    headers = {"Accept": "application/json"} if json else {}
    return client.post("/admin/media/upload", headers=headers,
                       content_type="multipart/form-data",
                       data={"file": (io.BytesIO(body), name), "title": title})


def assets(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(MediaAsset)) or 0)


def media_files(app: Flask) -> list[Path]:
    return sorted(p for p in Path(app.config["MEDIA_DIR"]).rglob("*") if p.is_file())


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def zip_bomb_png() -> bytes:
    """A valid PNG header declaring 50000 x 50000 pixels (7.5 GB decoded) in a few bytes."""
    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 150_001 * 4, 9)) + _chunk(b"IEND", b""))


def polyglot() -> bytes:
    """A real PNG with a ZIP archive (holding a web page) appended."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("index.html", "<script>alert(document.cookie)</script>")
    return png_bytes() + archive.getvalue()


def truncated_video() -> bytes:
    whole = mp4_bytes(frames=60)  # +faststart: the index comes first, so frames still decode
    return whole[: len(whole) * 3 // 4]


REFUSED = {
    "renamed executable": (Path("/bin/ls").read_bytes()[:200_000], "poster.png"),
    "zip bomb image": (zip_bomb_png(), "bomb.png"),
    "truncated video": (truncated_video(), "promo.mp4"),
    "polyglot": (polyglot(), "poster.png"),
    "html named as video": (b"<html><script>alert(1)</script></html>", "promo.mp4"),
    "empty file": (b"", "empty.png"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.gif"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_bad_files_are_refused(admin: FlaskClient, app: Flask, case: str) -> None:
    body, name = REFUSED[case]
    before = media_files(app)
    response = upload(admin, body, name)
    assert response.status_code == 400, response.json
    assert response.json["ok"] is False  # type: ignore[index]
    assert response.json["error"].startswith("Bị từ chối")  # type: ignore[index]
    assert assets(app) == 1  # only the town's poster
    assert media_files(app) == before  # no temporary file left behind


def test_the_refusal_says_why(admin: FlaskClient) -> None:
    body, name = REFUSED["truncated video"]
    assert "bị cắt" in upload(admin, body, name).json["error"]  # type: ignore[index]
    body, name = REFUSED["polyglot"]
    assert "ngụy trang" in upload(admin, body, name).json["error"]  # type: ignore[index]


def test_too_large_is_refused(admin: FlaskClient, app: Flask) -> None:
    response = upload(admin, b"\x00" * (LIMIT + 100_000), "huge.mp4")
    assert response.status_code == 413
    assert assets(app) == 1


def test_upload_an_image(admin: FlaskClient, app: Flask) -> None:
    response = upload(admin, png_bytes((800, 450), "red"), "Áp phích mới.png")
    assert response.status_code == 200
    body = response.json
    assert body["ok"] and not body["duplicate"] and body["warnings"] == []  # type: ignore[index]
    media = body["media"]  # type: ignore[index]
    assert (media["kind"], media["title"]) == ("image", "Áp phích mới")
    thumbnail = admin.get(f"/admin/media/{media['id']}/thumbnail.jpg")
    assert thumbnail.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.data)).size == (320, 180)


def test_upload_a_video_makes_a_first_frame_thumbnail(admin: FlaskClient, app: Flask) -> None:
    body = upload(admin, mp4_bytes(), "clip.mp4", title="Quảng cáo 8 giây").json
    assert body["ok"] and body["warnings"] == []  # type: ignore[index]
    with app.app_context():
        asset = db.session.get(MediaAsset, body["media"]["id"])  # type: ignore[index]
        assert asset is not None
        assert (asset.kind, asset.width, asset.height, asset.title) == (
            "video", 320, 180, "Quảng cáo 8 giây")
    stored = [p.name for p in media_files(app) if p.name.startswith(asset.sha256)]
    assert sorted(stored) == [asset.sha256, f"{asset.sha256}.thumb.jpg"]
    thumbnail = admin.get(f"/admin/media/{asset.id}/thumbnail.jpg")
    assert Image.open(io.BytesIO(thumbnail.data)).size == (320, 180)


@pytest.mark.parametrize(("video", "expected"), [
    ({"fps": 60, "frames": 20}, "60 khung hình/giây"),
    ({"codec": "mpeg4"}, "Mã hóa mpeg4"),
])
def test_videos_outside_the_kiosk_profile_get_a_warning(admin: FlaskClient,
                                                        video: dict[str, Any],
                                                        expected: str) -> None:
    body = upload(admin, mp4_bytes(**video), "clip.mp4").json
    assert body["ok"]  # type: ignore[index]
    assert any(expected in w for w in body["warnings"])  # type: ignore[index]


def test_same_file_twice_is_stored_once(admin: FlaskClient, app: Flask) -> None:
    first = upload(admin, png_bytes((100, 100), "green"), "a.png").json
    second = upload(admin, png_bytes((100, 100), "green"), "b.png").json
    assert second["duplicate"] is True  # type: ignore[index]
    assert second["media"]["id"] == first["media"]["id"]  # type: ignore[index]
    assert assets(app) == 2


@pytest.mark.parametrize("name", ["../../../../tmp/evil.png", "..\\..\\windows\\evil.png",
                                  "/etc/passwd", "a\x00b.png", "<script>.png"])
def test_a_file_name_never_becomes_a_path(admin: FlaskClient, app: Flask, name: str) -> None:
    response = upload(admin, png_bytes((90, 90), "purple"), name)
    assert response.status_code == 200
    media = Path(app.config["MEDIA_DIR"]).resolve()
    for path in media_files(app):
        assert path.resolve().is_relative_to(media)
        assert len(path.name.split(".")[0]) == 64  # named by its hash only
    assert not Path("/tmp/evil.png").exists()


def test_form_upload_without_javascript(admin: FlaskClient) -> None:
    response = upload(admin, png_bytes((50, 50), "black"), "poster.png", json=False)
    assert response.status_code == 302
    page = admin.get("/admin/media").get_data(as_text=True)
    assert "Đã thêm “poster”" in page


def test_upload_is_audited(admin: FlaskClient, app: Flask, town: Town) -> None:
    upload(admin, png_bytes((60, 60), "white"), "poster.png")
    with app.app_context():
        row = db.session.scalars(select(AuditLog).where(AuditLog.action == "media.upload")).one()
        assert row.user_id == town.users["admin"]


def test_missing_file_is_a_clear_message(admin: FlaskClient) -> None:
    response = admin.post("/admin/media/upload", data={},
                          headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]  # type: ignore[index]


def test_library_page_lists_files_with_thumbnails(admin: FlaskClient, town: Town) -> None:
    page = admin.get("/admin/media").get_data(as_text=True)
    assert "Áp phích" in page
    assert f"/admin/media/{town.media}/thumbnail.jpg" in page
    assert 'id="upload-progress"' in page
