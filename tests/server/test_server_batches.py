"""Check-in and play batches: per-record results, idempotence, limits, untrusted times."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from signage_server.models import CheckIn, PlayEvent

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from server_api import KioskApi
    from server_data import Database

CliJson = Callable[..., dict[str, Any]]
Record = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    """One of the two batch endpoints, with the table it fills and a valid record maker."""

    path: str
    model: type[Any]
    time_field: str
    record: Record

    def stamped(self, moment: datetime | str) -> dict[str, Any]:
        text = moment if isinstance(moment, str) else \
            moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return self.record(**{self.time_field: text})


@pytest.fixture(params=["checkins", "plays"])
def endpoint(request: pytest.FixtureRequest, checkin_record: Record,
             play_record: Record) -> Endpoint:
    if request.param == "checkins":
        return Endpoint("/api/v1/checkins", CheckIn, "occurred_at", checkin_record)
    return Endpoint("/api/v1/plays", PlayEvent, "started_at", play_record)


def send(kiosk: KioskApi, endpoint: Endpoint, records: list[Any],
         **extra: Any) -> dict[str, Any]:
    response = kiosk.post(endpoint.path, {"records": records, **extra})
    assert response.status_code == 200, response.json
    return dict(response.json)


def statuses(body: dict[str, Any]) -> list[str]:
    return [r["status"] for r in body["results"]]


def test_valid_batch_is_accepted_and_stored(kiosk: KioskApi, endpoint: Endpoint,
                                            database: Database) -> None:
    records = [endpoint.record() for _ in range(3)]
    body = send(kiosk, endpoint, records)
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 0)
    assert [r["client_uuid"] for r in body["results"]] == [r["client_uuid"] for r in records]
    rows = database.rows(endpoint.model)
    assert {str(r.client_uuid) for r in rows} == {r["client_uuid"] for r in records}
    assert {(r.venue_id, r.kiosk_id) for r in rows} == {(kiosk.venue_id, kiosk.kiosk_id)}


def test_resent_batch_is_all_duplicates_and_changes_nothing(kiosk: KioskApi,
                                                           endpoint: Endpoint,
                                                           database: Database) -> None:
    records = [endpoint.record() for _ in range(5)]
    send(kiosk, endpoint, records)
    before = database.rows(endpoint.model)
    body = send(kiosk, endpoint, records)
    assert (body["accepted"], body["duplicates"]) == (0, 5)
    assert statuses(body) == ["duplicate"] * 5
    after = database.rows(endpoint.model)
    assert [(r.id, r.client_uuid, r.received_at) for r in after] == \
        [(r.id, r.client_uuid, r.received_at) for r in before]


def test_partly_resent_batch_stores_only_the_new(kiosk: KioskApi, endpoint: Endpoint,
                                                 database: Database) -> None:
    old = endpoint.record()
    send(kiosk, endpoint, [old])
    body = send(kiosk, endpoint, [old, endpoint.record()])
    assert statuses(body) == ["duplicate", "accepted"]
    assert database.count(endpoint.model) == 2


def test_duplicate_inside_one_batch_is_stored_once(kiosk: KioskApi, endpoint: Endpoint,
                                                   database: Database) -> None:
    record = endpoint.record()
    body = send(kiosk, endpoint, [record, dict(record), endpoint.record()])
    assert statuses(body) == ["accepted", "duplicate", "accepted"]
    assert database.count(endpoint.model) == 2


def test_same_uuid_spelled_in_capitals_is_a_duplicate(kiosk: KioskApi, endpoint: Endpoint,
                                                      database: Database) -> None:
    record = endpoint.record()
    shouted = {**record, "client_uuid": record["client_uuid"].upper()}
    assert statuses(send(kiosk, endpoint, [record, shouted])) == ["accepted", "duplicate"]
    assert database.count(endpoint.model) == 1


def test_malformed_record_never_fails_its_neighbours(kiosk: KioskApi, endpoint: Endpoint,
                                                     database: Database) -> None:
    bad = {**endpoint.record(), "client_uuid": "not-a-uuid"}
    body = send(kiosk, endpoint, [endpoint.record(), bad, endpoint.record()])
    assert statuses(body) == ["accepted", "rejected", "accepted"]
    assert body["results"][1]["reason"].startswith("client_uuid")
    assert body["results"][1]["client_uuid"] == "not-a-uuid"
    assert database.count(endpoint.model) == 2


def interleaved(bad: list[Any], good: Record) -> list[Any]:
    """Each bad record followed by a good one: [bad0, good, bad1, good, ...]."""
    return [record for one in bad for record in (one, good())]


def assert_rejected_beside_accepted(body: dict[str, Any], blamed: list[str]) -> None:
    """Even results are the bad records, rejected for their reason; odd ones accepted."""
    results = body["results"]
    for reason, bad, good in zip(blamed, results[0::2], results[1::2], strict=True):
        assert (bad["status"], good["status"]) == ("rejected", "accepted"), bad
        assert reason in bad["reason"], (reason, bad["reason"])
    assert (body["accepted"], body["rejected"]) == (len(blamed), len(blamed))


INVALID_CHECKINS: list[tuple[dict[str, Any], str]] = [
    ({"client_uuid": None}, "client_uuid"),
    ({"client_uuid": 12345}, "client_uuid"),
    ({"client_uuid": "'; DROP TABLE checkin; --"}, "client_uuid"),
    ({"occurred_at": 1700000000}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": "2026-11-23T08:01:02"}, "time zone"),
    ({"occurred_at": "2026-11-23"}, "time zone"),
    ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "out of range"),
    ({"occurred_at": "9999-12-31T23:59:59-01:00"}, "out of range"),
    ({"direction": "sideways"}, "direction"),
    ({"method": "telepathy"}, "method"),
    ({"has_app": True}, "has_app"),
    ({"consent_version": -1}, "consent_version"),
    ({"consent_version": "1"}, "consent_version"),
    ({"clock_uncorrected": "yes"}, "clock_uncorrected"),
    ({"sealed": 42}, "sealed"),
    ({"sealed": "not base64!"}, "sealed"),
    ({"mood": "happy"}, "mood"),
]


def test_each_invalid_checkin_is_rejected_with_its_reason(kiosk: KioskApi,
                                                          checkin_record: Record,
                                                          database: Database) -> None:
    bad = [{k: v for k, v in {**checkin_record(), **change}.items() if v is not None}
           for change, _ in INVALID_CHECKINS]
    response = kiosk.post("/api/v1/checkins", {"records": interleaved(bad, checkin_record)})
    assert_rejected_beside_accepted(response.json, [blamed for _, blamed in INVALID_CHECKINS])
    assert database.count(CheckIn) == len(INVALID_CHECKINS)


INVALID_PLAYS: list[tuple[dict[str, Any], str]] = [
    ({"kind": "hologram"}, "kind"),
    ({"sha256": "ABC"}, "sha256"),
    ({"item_id": -1}, "item_id"),
    ({"item_id": 2**31}, "item_id"),
    ({"duration_ms": -5}, "duration_ms"),
    ({"duration_ms": 1.5}, "duration_ms"),
    ({"duration_ms": 25 * 3600 * 1000}, "duration_ms"),
    ({"started_at": "2026-11-23 08:01"}, "time zone"),
    ({"manifest_version": "x" * 33}, "manifest_version"),
    ({"manifest_version": "a\x00b"}, "manifest_version"),
    ({"direction": "in"}, "direction"),
]


def test_each_invalid_play_is_rejected_with_its_reason(kiosk: KioskApi, play_record: Record,
                                                       database: Database) -> None:
    bad = [play_record(**change) for change, _ in INVALID_PLAYS]
    response = kiosk.post("/api/v1/plays", {"records": interleaved(bad, play_record)})
    assert_rejected_beside_accepted(response.json, [blamed for _, blamed in INVALID_PLAYS])
    assert database.count(PlayEvent) == len(INVALID_PLAYS)


NOT_OBJECTS = [None, "a string", 42, 1.5, [], ["a", "list"], True, {}]


def test_record_that_is_not_an_object_is_rejected_alone(kiosk: KioskApi,
                                                        endpoint: Endpoint) -> None:
    body = send(kiosk, endpoint, interleaved(NOT_OBJECTS, endpoint.record))
    assert_rejected_beside_accepted(body, [""] * len(NOT_OBJECTS))
    assert all(r["client_uuid"] is None for r in body["results"][0::2])


def test_empty_batch_is_fine(kiosk: KioskApi, endpoint: Endpoint) -> None:
    body = send(kiosk, endpoint, [])
    assert (body["accepted"], body["duplicates"], body["rejected"], body["results"]) == \
        (0, 0, 0, [])


def test_a_thousand_records_go_in_one_batch(kiosk: KioskApi, endpoint: Endpoint,
                                            database: Database) -> None:
    body = send(kiosk, endpoint, [endpoint.record() for _ in range(1000)])
    assert body["accepted"] == 1000
    assert database.count(endpoint.model) == 1000


def test_a_thousand_and_one_records_are_413_and_nothing_is_stored(kiosk: KioskApi,
                                                                 endpoint: Endpoint,
                                                                 database: Database) -> None:
    response = kiosk.post(endpoint.path, {"records": [endpoint.record() for _ in range(1001)]})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "batch_too_large"
    assert database.count(endpoint.model) == 0


@pytest.mark.parametrize("app_config", [{"MAX_BATCH_RECORDS": 3}])
def test_the_batch_limit_is_the_setting(kiosk: KioskApi, endpoint: Endpoint,
                                        database: Database) -> None:
    assert send(kiosk, endpoint, [endpoint.record() for _ in range(3)])["accepted"] == 3
    response = kiosk.post(endpoint.path, {"records": [endpoint.record() for _ in range(4)]})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "batch_too_large"
    assert database.count(endpoint.model) == 3


@pytest.mark.parametrize("app_config", [{"MAX_BATCH_RECORDS": 1200}])
def test_a_larger_setting_lets_larger_batches_in(kiosk: KioskApi, endpoint: Endpoint,
                                                 database: Database) -> None:
    body = send(kiosk, endpoint, [endpoint.record() for _ in range(1001)])
    assert body["accepted"] == 1001
    assert database.count(endpoint.model) == 1001


@pytest.mark.parametrize("app_config", [{"MAX_BATCH_RECORDS": 250}])
def test_the_contract_states_the_configured_limit(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert document["components"]["schemas"]["Batch"]["properties"]["records"]["maxItems"] \
        == 250


def test_own_venue_id_is_accepted(kiosk: KioskApi, endpoint: Endpoint) -> None:
    body = send(kiosk, endpoint, [endpoint.record()], venue_id=kiosk.venue_id)
    assert body["accepted"] == 1


def test_another_venues_id_is_403_and_nothing_is_stored(kiosk: KioskApi, endpoint: Endpoint,
                                                        cli_json: CliJson,
                                                        database: Database) -> None:
    other = cli_json("venue", "add", "Bến xe Miền Tây", "--kind", "bus_station")["id"]
    response = kiosk.post(endpoint.path, {"venue_id": other, "records": [endpoint.record()]})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "wrong_venue"
    assert database.count(endpoint.model) == 0


def test_records_go_to_the_kiosks_venue_whoever_else_sends(kiosk: KioskApi,
                                                           endpoint: Endpoint,
                                                           enroll: Callable[[int], KioskApi],
                                                           cli_json: CliJson,
                                                           database: Database) -> None:
    other = enroll(cli_json("venue", "add", "Chợ Bến Thành", "--kind", "other")["id"])
    send(other, endpoint, [endpoint.record()])
    send(kiosk, endpoint, [endpoint.record()])
    rows = database.rows(endpoint.model)
    assert sorted((r.venue_id, r.kiosk_id) for r in rows) == \
        sorted([(kiosk.venue_id, kiosk.kiosk_id), (other.venue_id, other.kiosk_id)])


def stored_time(row: Any, endpoint: Endpoint) -> datetime:
    return getattr(row, endpoint.time_field)


def test_future_time_is_replaced_by_receive_time_and_flagged(kiosk: KioskApi,
                                                            endpoint: Endpoint,
                                                            database: Database) -> None:
    claimed = datetime.now(UTC) + timedelta(minutes=6)
    body = send(kiosk, endpoint, [endpoint.stamped(claimed)])
    assert body["results"][0]["status"] == "accepted"
    assert body["results"][0]["flagged"] == "future"
    row = database.one(endpoint.model)
    assert row.time_untrusted is True
    assert stored_time(row, endpoint) == row.received_at
    assert abs(row.received_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_future_record_keeps_its_claimed_time(kiosk: KioskApi, endpoint: Endpoint,
                                              database: Database) -> None:
    send(kiosk, endpoint, [endpoint.stamped("2031-01-01T15:00:00+07:00")])
    row = database.one(endpoint.model)
    assert row.claimed_at == datetime(2031, 1, 1, 8, 0, tzinfo=UTC)
    assert stored_time(row, endpoint) == row.received_at


def test_time_a_little_ahead_is_trusted(kiosk: KioskApi, endpoint: Endpoint,
                                        database: Database) -> None:
    claimed = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=4)
    body = send(kiosk, endpoint, [endpoint.stamped(claimed)])
    assert body["results"][0]["flagged"] is None
    row = database.one(endpoint.model)
    assert (stored_time(row, endpoint), row.time_untrusted) == (claimed, False)


def test_time_before_2020_is_flagged_past(kiosk: KioskApi, endpoint: Endpoint,
                                          database: Database) -> None:
    body = send(kiosk, endpoint, [endpoint.stamped("1970-01-01T00:00:07Z")])
    assert body["results"][0]["flagged"] == "past"
    row = database.one(endpoint.model)
    assert row.time_untrusted is True
    assert stored_time(row, endpoint) == row.received_at


def test_past_record_keeps_its_claimed_time(kiosk: KioskApi, endpoint: Endpoint,
                                            database: Database) -> None:
    send(kiosk, endpoint, [endpoint.stamped("2019-12-31T23:59:59Z")])
    row = database.one(endpoint.model)
    assert row.claimed_at == datetime(2019, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_trusted_record_has_no_claimed_time(kiosk: KioskApi, endpoint: Endpoint,
                                            database: Database) -> None:
    send(kiosk, endpoint, [endpoint.stamped(datetime.now(UTC) - timedelta(minutes=1))])
    assert database.one(endpoint.model).claimed_at is None


def test_time_with_an_offset_is_stored_in_utc(kiosk: KioskApi, endpoint: Endpoint,
                                              database: Database) -> None:
    moment = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    hanoi = moment.astimezone(timezone(timedelta(hours=7))).isoformat()  # ...T17:00:00+07:00
    send(kiosk, endpoint, [endpoint.stamped(hanoi)])
    assert stored_time(database.one(endpoint.model), endpoint) == moment


def test_checkin_fields_are_stored_as_sent(kiosk: KioskApi, checkin_record: Record,
                                           database: Database) -> None:
    record = checkin_record(direction="out", method="scanner", has_app="installed_now",
                            consent_version=3, clock_uncorrected=True)
    kiosk.post("/api/v1/checkins", {"records": [record]})
    row = database.one(CheckIn)
    assert (row.client_uuid, row.direction, row.method, row.has_app, row.consent_version,
            row.clock_uncorrected) == (uuid.UUID(record["client_uuid"]), "out", "scanner",
                                       "installed_now", 3, True)


def test_play_fields_are_stored_as_sent(kiosk: KioskApi, play_record: Record,
                                        database: Database) -> None:
    record = play_record(item_id=7, sha256="ab" * 32, kind="video", duration_ms=15000,
                         manifest_version="5f0c1e9a2b7d4c11")
    kiosk.post("/api/v1/plays", {"records": [record]})
    row = database.one(PlayEvent)
    assert (row.item_id, row.media_sha256, row.kind, row.duration_ms, row.manifest_version) \
        == (7, "ab" * 32, "video", 15000, "5f0c1e9a2b7d4c11")
