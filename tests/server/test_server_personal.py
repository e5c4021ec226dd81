"""Personal fields: sealed by the kiosk, opened by the server, kept only as the venue allows,
and stored exactly as typed, whatever was typed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox
from sqlalchemy import select

from signage_server.extensions import db
from signage_server.models import CheckIn, Venue

if TYPE_CHECKING:
    from flask import Flask
    from server_api import KioskApi
    from server_data import Database

CliJson = Callable[..., dict[str, Any]]
Record = Callable[..., dict[str, Any]]
Seal = Callable[[dict[str, Any]], str]

VISITOR = {"name": "Nguyễn Thị Ánh Tuyết", "phone": "+84 901 234 567",
           "organisation": "Công ty TNHH Sao Mai", "purpose": "Họp", "host": "Anh Bình",
           "id_last4": "0427"}
PERSONAL = ("name", "phone", "organisation", "purpose", "host", "id_last4")


@pytest.fixture
def kiosk_at(cli_json: CliJson, enroll: Callable[[int], KioskApi]) -> Callable[[str], KioskApi]:
    """A kiosk at a new venue with the given privacy mode."""

    def make(privacy: str) -> KioskApi:
        venue = cli_json("venue", "add", f"Văn phòng ({privacy})", "--kind", "office",
                         "--privacy", privacy)
        return enroll(int(venue["id"]))

    return make


def personal(row: CheckIn) -> dict[str, str]:
    return {f: getattr(row, f) for f in PERSONAL if getattr(row, f) is not None}


def check_in(kiosk: KioskApi, *records: dict[str, Any]) -> list[dict[str, Any]]:
    response = kiosk.post("/api/v1/checkins", {"records": list(records)})
    assert response.status_code == 200, response.json
    return list(response.json["results"])


def interleaved(bad: list[dict[str, Any]], good: Record) -> list[dict[str, Any]]:
    """Each bad record followed by a good one: [bad0, good, bad1, good, ...]."""
    return [record for one in bad for record in (one, good())]


def assert_rejected_beside_accepted(results: list[dict[str, Any]], blamed: list[str]) -> None:
    for reason, bad, good in zip(blamed, results[0::2], results[1::2], strict=True):
        assert (bad["status"], good["status"]) == ("rejected", "accepted"), bad
        assert reason in bad["reason"], (reason, bad["reason"])


@pytest.mark.parametrize(("privacy", "kept"), [
    ("count", set()),
    ("contact", {"name", "phone", "id_last4"}),
    ("full", {"name", "phone", "organisation", "purpose", "host", "id_last4"}),
])
def test_only_what_the_privacy_mode_allows_is_kept(kiosk_at: Callable[[str], KioskApi],
                                                   checkin_record: Record, seal: Seal,
                                                   database: Database, privacy: str,
                                                   kept: set[str]) -> None:
    kiosk = kiosk_at(privacy)
    results = check_in(kiosk, checkin_record(sealed=seal(VISITOR)))
    assert results[0]["status"] == "accepted"
    row = database.one(CheckIn, CheckIn.venue_id == kiosk.venue_id)
    assert personal(row) == {f: VISITOR[f] for f in kept}


def test_count_venue_keeps_the_visit_without_the_person(kiosk_at: Callable[[str], KioskApi],
                                                        checkin_record: Record, seal: Seal,
                                                        database: Database) -> None:
    kiosk = kiosk_at("count")
    check_in(kiosk, checkin_record(sealed=seal({"name": "Lê Văn Tám"}), direction="out"))
    row = database.one(CheckIn, CheckIn.venue_id == kiosk.venue_id)
    assert (row.direction, personal(row)) == ("out", {})


def test_box_sealed_with_another_key_is_rejected(kiosk: KioskApi, checkin_record: Record,
                                                 database: Database) -> None:
    stranger = SealedBox(PrivateKey.generate().public_key)
    sealed = base64.b64encode(stranger.encrypt(json.dumps(VISITOR).encode())).decode()
    results = check_in(kiosk, checkin_record(sealed=sealed), checkin_record())
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["reason"] == "sealed: cannot be opened with this server's key"
    assert database.count(CheckIn) == 1


NO_BOXES = [
    ("not base64!", "sealed: not base64"),
    ("Nguyễn", "sealed: not base64"),
    ("AAAA", "sealed: cannot be opened with this server's key"),
    ("A" * 8193, "sealed: String should have at most 8192 characters"),
]


def test_sealed_that_is_no_box_is_rejected(kiosk: KioskApi, checkin_record: Record) -> None:
    results = check_in(kiosk, *interleaved([checkin_record(sealed=s) for s, _ in NO_BOXES],
                                           checkin_record))
    assert_rejected_beside_accepted(results, [reason for _, reason in NO_BOXES])


INVALID_FIELDS: list[tuple[Any, str]] = [
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name: String should have at most 200 characters"),
    ({"name": "Tuyết\x00"}, "name"),
    ({"name": 42}, "name"),
    ({"phone": "call me"}, "phone"),
    ({"phone": "0901234567" * 3}, "phone"),
    ({"id_last4": "12345"}, "id_last4"),
    ({"id_last4": "12a4"}, "id_last4"),
    ({"organisation": "x" * 201}, "organisation"),
    ({"passport": "B1234567"}, "passport"),
    ([VISITOR], "valid dictionary"),
    ("Nguyễn", "valid dictionary"),
    (None, "valid dictionary"),
]


def test_invalid_personal_field_rejects_its_record(kiosk: KioskApi, checkin_record: Record,
                                                   seal: Seal, database: Database) -> None:
    bad = [checkin_record(sealed=seal(fields)) for fields, _ in INVALID_FIELDS]
    results = check_in(kiosk, *interleaved(bad, checkin_record))
    assert_rejected_beside_accepted(results, [blamed for _, blamed in INVALID_FIELDS])
    assert database.rows(CheckIn, CheckIn.name.is_not(None)) == []


def test_box_nested_too_deeply_is_rejected(kiosk: KioskApi, checkin_record: Record) -> None:
    box = SealedBox(PublicKey(base64.b64decode(kiosk.public_key)))
    sealed = base64.b64encode(box.encrypt(b"[" * 2500 + b"]" * 2500)).decode()
    results = check_in(kiosk, checkin_record(sealed=sealed), checkin_record())
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["reason"] == "sealed: nested too deeply"


def test_ten_thousand_character_name_is_rejected_not_truncated(kiosk: KioskApi,
                                                               checkin_record: Record,
                                                               seal: Seal,
                                                               database: Database) -> None:
    results = check_in(kiosk, checkin_record(sealed=seal({"name": "A" * 10_000})),
                       checkin_record())
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["reason"] == "sealed: String should have at most 8192 characters"
    assert database.one(CheckIn).name is None


HOSTILE = {
    "sql": "'; DROP TABLE checkin; --",
    "sql_or": "x' OR '1'='1",
    "html": "<script>alert(1)</script>",
    "vietnamese": "Nguyễn Thị Ánh Tuyết",
    "emoji": "Tuyết 👩🏽‍⚕️🇻🇳",
    "rtl_and_zero_width": "\u202eabc\u200b\ufeff",
    "longest_vietnamese": "Ữ" * 200,
    "quotes_and_backslashes": '"\\\'`${}%_',
}


def test_hostile_text_is_stored_exactly(kiosk_at: Callable[[str], KioskApi],
                                        checkin_record: Record, seal: Seal,
                                        database: Database) -> None:
    kiosk = kiosk_at("full")
    sent = [{"name": text, "organisation": text, "purpose": text, "host": text}
            for text in HOSTILE.values()]
    results = check_in(kiosk, *[checkin_record(sealed=seal(fields)) for fields in sent])
    assert [r["status"] for r in results] == ["accepted"] * len(HOSTILE)
    stored = {str(r.client_uuid): personal(r) for r in database.rows(CheckIn)}
    assert [stored[r["client_uuid"]] for r in results] == sent


def test_tables_survive_hostile_text(kiosk_at: Callable[[str], KioskApi], app: Flask,
                                     checkin_record: Record, seal: Seal) -> None:
    kiosk = kiosk_at("full")
    records = [checkin_record(sealed=seal({"name": t, "host": t})) for t in HOSTILE.values()]
    check_in(kiosk, *records)
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(CheckIn)) == len(HOSTILE)
        assert db.session.get(Venue, kiosk.venue_id) is not None
    assert [r["status"] for r in check_in(kiosk, checkin_record())] == ["accepted"]


def test_hostile_text_in_a_play_record_is_stored_exactly(kiosk: KioskApi,
                                                         play_record: Record,
                                                         database: Database) -> None:
    from signage_server.models import PlayEvent

    response = kiosk.post("/api/v1/plays", {"records": [play_record(
        manifest_version="<b>'; DROP--</b>🇻🇳")]})
    assert response.json["accepted"] == 1
    assert database.one(PlayEvent).manifest_version == "<b>'; DROP--</b>🇻🇳"
