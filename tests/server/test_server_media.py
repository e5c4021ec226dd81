"""Media by hash: immutable caching, ranges, and the hand-off to nginx."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from signage_server.media_files import path_of

if TYPE_CHECKING:
    from flask import Flask
    from server_api import Api
    from server_data import Library

CONTENT = bytes(range(256)) * 40  # 10,240 bytes, every offset tells its position


@pytest.fixture
def video(library: Library) -> str:
    return library.video(CONTENT)


def test_file_comes_whole_with_immutable_caching(api: Api, video: str) -> None:
    response = api.get(f"/media/{video}")
    assert response.status_code == 200
    assert response.get_data() == CONTENT
    assert response.mimetype == "video/mp4"
    assert response.headers["ETag"] == f'"{video}"'
    assert set(response.headers["Cache-Control"].split(", ")) == \
        {"public", "max-age=31536000", "immutable"}
    assert response.headers["Accept-Ranges"] == "bytes"


def test_imported_image_is_served_by_its_hash(api: Api, library: Library) -> None:
    sha = library.image()
    response = api.get(f"/media/{sha}")
    assert response.mimetype == "image/png"
    assert hashlib.sha256(response.get_data()).hexdigest() == sha


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 99),
    ("bytes=1000-1999", 1000, 1999),
    ("bytes=10000-", 10000, 10239),
    ("bytes=-240", 10000, 10239),
    ("bytes=10200-99999", 10200, 10239),
])
def test_range_gets_206_with_those_bytes(api: Api, video: str, header: str,
                                         start: int, end: int) -> None:
    response = api.get(f"/media/{video}", Range=header)
    assert response.status_code == 206
    assert response.get_data() == CONTENT[start:end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert response.headers["ETag"] == f'"{video}"'


def test_range_past_the_end_is_416(api: Api, video: str) -> None:
    response = api.get(f"/media/{video}", Range="bytes=20000-30000")
    assert response.status_code == 416


def test_if_none_match_gets_304(api: Api, video: str) -> None:
    response = api.get(f"/media/{video}", **{"If-None-Match": f'"{video}"'})
    assert response.status_code == 304
    assert response.get_data() == b""


def test_resumed_download_with_if_range_gets_the_rest(api: Api, video: str) -> None:
    response = api.get(f"/media/{video}", Range="bytes=5000-", **{"If-Range": f'"{video}"'})
    assert response.status_code == 206
    assert response.get_data() == CONTENT[5000:]


NOT_HASHES = [
    "0" * 64,  # well-formed, unknown
    "A" * 64,  # upper case is not how hashes are named
    "abc",     # too short
    "g" * 64,
]


def test_unknown_or_invalid_hash_is_404_json(api: Api) -> None:
    for name in NOT_HASHES:
        response = api.get(f"/media/{name}")
        assert response.status_code == 404, name
        assert response.json["error"]["code"] == "not_found", name


def test_path_outside_the_media_folder_is_404_json(api: Api) -> None:
    response = api.client.get("/media/../../instance/secret_key")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_file_missing_on_disk_is_404(api: Api, video: str, app: Flask) -> None:
    with app.app_context():
        path_of(video).unlink()
    assert api.get(f"/media/{video}").status_code == 404


@pytest.fixture
def accel(app: Flask) -> str:
    app.config["MEDIA_ACCEL_REDIRECT"] = "/_protected_media/"
    return "/_protected_media"


def test_accel_redirect_hands_the_file_to_nginx(api: Api, video: str, accel: str) -> None:
    response = api.get(f"/media/{video}")
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == f"{accel}/{video[:2]}/{video}"
    assert response.get_data() == b""
    assert response.headers["ETag"] == f'"{video}"'
    assert "immutable" in response.headers["Cache-Control"]


def test_accel_redirect_still_answers_304(api: Api, video: str, accel: str) -> None:
    response = api.get(f"/media/{video}", **{"If-None-Match": f'"{video}"'})
    assert response.status_code == 304
    assert "X-Accel-Redirect" not in response.headers
