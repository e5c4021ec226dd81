"""Reading manifests and the default playlist: what is kept, what is clamped, what is dropped."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.manifest import (
    DEFAULT_QR,
    DEFAULT_TIMEZONE,
    ManifestError,
    builtin_slides,
    load_default,
    parse_default,
    parse_manifest,
)

SHA_VIDEO = "a" * 64
SHA_POSTER = "b" * 64


def server_manifest() -> dict[str, Any]:
    """The example of docs/api.md, with real hashes."""
    always = {"days": [1, 2, 3, 4, 5, 6, 7], "windows": [], "valid_from": None, "valid_until": None}
    return {
        "manifest_version": "5f0c1e9a2b7d4c11",
        "kiosk": {"id": 12, "name": "Lobby TV"},
        "venue": {
            "id": 3,
            "name": "Bến xe Miền Đông",
            "kind": "bus_station",
            "timezone": "Asia/Ho_Chi_Minh",
        },
        "layout": {"bar": "bottom"},
        "playlist": {
            "id": 2,
            "name": "Tuần 47",
            "items": [
                {
                    "id": 7,
                    "kind": "video",
                    "sha256": SHA_VIDEO,
                    "url": "http://server/media/a",
                    "mime": "video/mp4",
                    "bytes": 912345,
                    "duration_s": 15.0,
                    "width": 1280,
                    "height": 720,
                    "schedule": {**always, "windows": [["07:00", "21:00"]]},
                    "data": {},
                },
                {
                    "id": 8,
                    "kind": "qr",
                    "sha256": None,
                    "url": None,
                    "mime": None,
                    "bytes": None,
                    "duration_s": 10.0,
                    "width": None,
                    "height": None,
                    "schedule": always,
                    "data": {
                        "url": "https://example.org/app",
                        "caption_vi": "Quét mã để cài đặt Bluezone",
                        "caption_en": "Scan to install Bluezone",
                    },
                },
                {
                    "id": 9,
                    "kind": "text",
                    "duration_s": 12.0,
                    "schedule": always,
                    "data": {
                        "title_vi": "Cài đặt",
                        "lines_vi": ["Mở CH Play"],
                        "title_en": "Install",
                        "lines_en": ["Open CH Play"],
                    },
                },
            ],
        },
        "qr": {
            "app_name": "Bluezone",
            "android_url": "https://play.google.com/store/apps/details?id=com.mic.bluezone",
            "ios_url": "https://apps.apple.com/vn/app/bluezone/id1508062685",
            "smart_url": "http://server/q/12",
        },
        "checkin": {"self_checkin_url": "http://server/v/3/12/"},
        "sync": {"poll_seconds": 30, "heartbeat_seconds": 60, "mqtt_topics": []},
    }


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, Path]:
    """What the sync side has verified: the video, not the poster."""
    video = tmp_path / SHA_VIDEO
    video.write_bytes(b"mp4")
    return {SHA_VIDEO: video}


def test_manifest_is_read_whole(cache: dict[str, Path]) -> None:
    programme = parse_manifest(server_manifest(), cache.get)
    assert programme.version == "5f0c1e9a2b7d4c11"
    assert programme.venue_name == "Bến xe Miền Đông"
    assert programme.timezone == "Asia/Ho_Chi_Minh"
    assert programme.kiosk_id == 12
    assert programme.qr.smart_url == "http://server/q/12"
    assert programme.self_checkin_url == "http://server/v/3/12/"
    assert [(i.id, i.kind) for i in programme.items] == [(7, "video"), (8, "qr"), (9, "text")]
    video, qr, text = programme.items
    assert video.path == cache[SHA_VIDEO] and video.duration_s == 15.0
    assert qr.qr is not None and qr.qr.url == "https://example.org/app"
    assert text.text is not None and text.text.lines_vi == ("Mở CH Play",)
    assert not any(item.builtin for item in programme.items)


def broken(change: dict[str, Any]) -> dict[str, Any]:
    """The example manifest with its first item changed."""
    manifest = server_manifest()
    manifest["playlist"]["items"][0].update(change)
    return manifest


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": SHA_POSTER},  # not in the cache
        {"sha256": None},
        {"duration_s": 0},
        {"duration_s": -3},
        {"duration_s": "15"},
        {"duration_s": True},
        {"kind": "flash"},
        {"id": None},
        {"id": "7"},
    ],
)
def test_a_bad_item_is_dropped_alone(cache: dict[str, Path], change: dict[str, Any]) -> None:
    programme = parse_manifest(broken(change), cache.get)
    assert [i.id for i in programme.items] == [8, 9]


@pytest.mark.parametrize(
    ("kind", "data"),
    [("qr", {"url": 5}), ("qr", {"url": " "}), ("text", {}), ("text", {"lines_vi": "no list"})],
)
def test_a_slide_without_content_is_dropped(kind: str, data: dict[str, Any]) -> None:
    manifest = server_manifest()
    manifest["playlist"]["items"] = [{"id": 1, "kind": kind, "duration_s": 5, "data": data}]
    assert parse_manifest(manifest, lambda sha: None).items == ()


def test_a_qr_slide_without_url_shows_the_install_link() -> None:
    manifest = server_manifest()
    manifest["playlist"]["items"] = [{"id": 1, "kind": "qr", "duration_s": 5, "data": {}}]
    (slide,) = parse_manifest(manifest, lambda sha: None).items
    assert slide.qr is not None and slide.qr.url is None


@pytest.mark.parametrize(
    ("duration", "kind", "expected"),
    [(0.2, "qr", 1.0), (10**9, "qr", 86400.0), (None, "video", None), (0.2, "video", 0.2)],
)
def test_durations_are_clamped(
    cache: dict[str, Path], duration: Any, kind: str, expected: float | None
) -> None:
    manifest = server_manifest()
    item = manifest["playlist"]["items"][0 if kind == "video" else 1]
    item["duration_s"] = duration
    found = [i for i in parse_manifest(manifest, cache.get).items if i.kind == kind]
    assert found[0].duration_s == expected


@pytest.mark.parametrize(
    ("part", "value", "field", "expected"),
    [
        ("venue", {"timezone": "Mars/Olympus"}, "timezone", DEFAULT_TIMEZONE),
        ("venue", None, "venue_name", ""),
        ("layout", {"bar": "left"}, "bar", "bottom"),
        ("layout", {"bar": "top"}, "bar", "top"),
        ("qr", None, "qr", DEFAULT_QR),
        ("playlist", None, "items", ()),
        ("checkin", None, "self_checkin_url", None),
    ],
)
def test_bad_parts_fall_back(part: str, value: Any, field: str, expected: Any) -> None:
    manifest = server_manifest()
    manifest[part] = value
    assert getattr(parse_manifest(manifest, lambda sha: None), field) == expected


@pytest.mark.parametrize("value", [None, [], "manifest", 3])
def test_not_a_manifest_is_refused(value: Any) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(value, lambda sha: None)


def test_reading_does_not_change_the_manifest(cache: dict[str, Path]) -> None:
    manifest = server_manifest()
    before = copy.deepcopy(manifest)
    parse_manifest(manifest, cache.get)
    assert manifest == before


def test_default_playlist_files_are_relative_to_its_folder(content: Path) -> None:
    items = load_default(content)
    assert [i.id for i in items] == [-1, -2, -3, -4]
    assert all(i.builtin and i.wire_kind == "default" for i in items)
    assert items[0].path == content / items[0].path.name  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["../outside.mp4", "/etc/passwd", "", "missing.mp4"])
def test_default_items_outside_the_folder_are_dropped(tmp_path: Path, name: str) -> None:
    playlist = {"items": [{"id": -1, "kind": "video", "file": name, "duration_s": 8}]}
    assert parse_default(playlist, tmp_path) == ()


def test_without_default_content_the_builtin_slides_play(tmp_path: Path) -> None:
    assert load_default(tmp_path / "nowhere") == builtin_slides()
    (tmp_path / "playlist.json").write_text("{not json", "utf-8")
    assert load_default(tmp_path) == builtin_slides()
    (tmp_path / "playlist.json").write_text(json.dumps({"items": []}), "utf-8")
    assert load_default(tmp_path) == builtin_slides()


def test_builtin_slides_need_no_file() -> None:
    slides = builtin_slides()
    assert [s.kind for s in slides] == ["qr", "text"]
    assert all(s.path is None and s.builtin for s in slides)
