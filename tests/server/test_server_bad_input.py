"""Bad input on every endpoint: always a JSON error with a 4xx, never a 5xx, nothing lost.

Each case runs against every endpoint it applies to, after the kiosk has stored a check-in,
a play and a heartbeat; afterwards those are still there, unchanged, and nothing was added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from signage_server.models import CheckIn, Kiosk, PlayEvent

if TYPE_CHECKING:
    from flask.testing import FlaskCliRunner
    from server_api import Api, KioskApi
    from server_data import Database
    from werkzeug.test import TestResponse

Record = Callable[..., dict[str, Any]]
MAX_JSON_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    authenticated: bool = True


ENROLL = Endpoint("enroll", "POST", "/api/v1/enroll", authenticated=False)
MANIFEST = Endpoint("manifest", "GET", "/api/v1/kiosk/manifest")
CHECKINS = Endpoint("checkins", "POST", "/api/v1/checkins")
PLAYS = Endpoint("plays", "POST", "/api/v1/plays")
HEARTBEAT = Endpoint("heartbeat", "POST", "/api/v1/heartbeat")
WRITES = [ENROLL, CHECKINS, PLAYS, HEARTBEAT]
WITH_TOKEN = [MANIFEST, CHECKINS, PLAYS, HEARTBEAT]

#: Per endpoint: bodies that are JSON objects but wrong, and the status each must get.
WRONG_TYPES: dict[str, list[Any]] = {
    "enroll": [{"code": 123456789012}, {"code": ["2222-3333-4444"]}, {"code": "2222-3333-4444",
                                                                       "name": 7}],
    "checkins": [{"records": "all of them"}, {"records": {"0": {}}}, {"records": None},
                 {"records": [], "venue_id": "3"}, {"records": [], "venue_id": True}],
    "plays": [{"records": 5}, {"records": [], "venue_id": 1.5}],
    "heartbeat": [{"version": 1, "uptime_s": 1}, {"version": "0.1", "uptime_s": "long"},
                  {"version": "0.1", "uptime_s": True},
                  {"version": "0.1", "uptime_s": 1, "unsynced": {"plays": -1}},
                  {"version": "0.1", "uptime_s": 1, "temperature_c": "hot"},
                  {"version": "0.1", "uptime_s": 1, "current_item": {"kind": "hologram"}},
                  {"version": "0.1", "uptime_s": 1, "screenshot_png": 42}],
}
MISSING: dict[str, list[Any]] = {
    "enroll": [{}, {"name": "Lobby TV"}],
    "checkins": [{}, {"venue_id": 1}],
    "plays": [{}],
    "heartbeat": [{}, {"version": "0.1.0"}, {"uptime_s": 5}],
}
UNKNOWN: dict[str, Any] = {
    "enroll": {"code": "2222-3333-4444", "admin": True},
    "checkins": {"records": [], "kiosk_id": 1},
    "plays": {"records": [], "extra": None},
    "heartbeat": {"version": "0.1.0", "uptime_s": 1, "cpu": "hot"},
}
NOT_OBJECTS = ["[]", '[{"code": "2222-3333-4444"}]', '"a string"', "42", "null", "true"]
MALFORMED = ['{"records": [', "{'records': []}", "{records: []}", '{"a": 1,}', "",
             '{"a": NaN', b'{"code": "\xff\xfe"}', b"\x00\x01", "{" * 100_000,
             "[" * 100_000 + "]" * 100_000]


@pytest.fixture
def history(kiosk: KioskApi, checkin_record: Record, play_record: Record,
            database: Database) -> Callable[[], tuple[Any, ...]]:
    """What the kiosk stored before the bad request, and a way to look at it again."""
    assert kiosk.post("/api/v1/checkins", {"records": [checkin_record()]}).json["accepted"]
    assert kiosk.post("/api/v1/plays", {"records": [play_record()]}).json["accepted"]
    assert kiosk.post("/api/v1/heartbeat", {"version": "0.1.0", "uptime_s": 9}).status_code \
        == 200

    def look() -> tuple[Any, ...]:
        kiosks = database.rows(Kiosk)
        return ([str(r.client_uuid) for r in database.rows(CheckIn)],
                [str(r.client_uuid) for r in database.rows(PlayEvent)],
                [(k.id, k.token_hash, k.status, k.last_heartbeat_at) for k in kiosks])

    return look


def assert_refused(response: TestResponse, status: int, case: object = None) -> None:
    where = f"{response.request.method} {response.request.path} with {case!r:.80}"
    assert response.status_code == status, f"{where}: {response.get_data(as_text=True)}"
    error = response.json["error"]
    assert isinstance(error["code"], str) and error["code"], where
    assert isinstance(error["message"], str) and error["message"], where


def send(kiosk: KioskApi, endpoint: Endpoint, data: str | bytes,
         content_type: str = "application/json") -> TestResponse:
    return kiosk.send(endpoint.method, endpoint.path, data=data, content_type=content_type)


def send_json(kiosk: KioskApi, endpoint: Endpoint, body: Any) -> TestResponse:
    return kiosk.api.request(endpoint.method, endpoint.path, json_body=body,
                             headers=kiosk.headers())


by_endpoint = pytest.mark.parametrize("endpoint", WRITES, ids=lambda e: e.name)


@by_endpoint
def test_malformed_json_is_400(kiosk: KioskApi, history: Callable[[], Any],
                               endpoint: Endpoint) -> None:
    before = history()
    for body in MALFORMED:
        response = send(kiosk, endpoint, body)
        assert_refused(response, 400, body)
        assert response.json["error"]["code"] == "invalid_json"
    assert history() == before


@by_endpoint
def test_json_that_is_not_an_object_is_400(kiosk: KioskApi, history: Callable[[], Any],
                                           endpoint: Endpoint) -> None:
    before = history()
    for body in NOT_OBJECTS:
        assert_refused(send(kiosk, endpoint, body), 400, body)
    assert history() == before


@by_endpoint
def test_wrong_types_are_400(kiosk: KioskApi, history: Callable[[], Any],
                             endpoint: Endpoint) -> None:
    before = history()
    for body in WRONG_TYPES[endpoint.name]:
        response = send_json(kiosk, endpoint, body)
        assert_refused(response, 400, body)
        assert response.json["error"]["code"] == "invalid_body"
    assert history() == before


@by_endpoint
def test_missing_fields_are_400(kiosk: KioskApi, history: Callable[[], Any],
                                endpoint: Endpoint) -> None:
    before = history()
    for body in MISSING[endpoint.name]:
        response = send_json(kiosk, endpoint, body)
        assert_refused(response, 400, body)
        assert "Field required" in response.json["error"]["message"]
    assert history() == before


@by_endpoint
def test_unknown_fields_are_400(kiosk: KioskApi, history: Callable[[], Any],
                                endpoint: Endpoint) -> None:
    before = history()
    response = send_json(kiosk, endpoint, UNKNOWN[endpoint.name])
    assert_refused(response, 400)
    assert "Extra inputs are not permitted" in response.json["error"]["message"]
    assert history() == before


@by_endpoint
def test_body_over_the_limit_is_413(kiosk: KioskApi, history: Callable[[], Any],
                                    endpoint: Endpoint) -> None:
    before = history()
    body = '{"records": [], "pad": "' + "x" * MAX_JSON_BYTES + '"}'
    assert_refused(send(kiosk, endpoint, body), 413)
    assert history() == before


CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/xml",
                 "application/json-patch+json", ""]


@by_endpoint
def test_wrong_content_type_is_415(kiosk: KioskApi, history: Callable[[], Any],
                                   endpoint: Endpoint) -> None:
    before = history()
    for content_type in CONTENT_TYPES:
        response = kiosk.client.open(endpoint.path, method=endpoint.method,
                                     data='{"records": []}', headers=kiosk.headers(
                                         **{"Content-Type": content_type}))
        assert_refused(kiosk.api.contract.check(response), 415, content_type)
    assert history() == before


@by_endpoint
def test_json_with_a_charset_is_read(kiosk: KioskApi, endpoint: Endpoint) -> None:
    response = send(kiosk, endpoint, "{}", "application/json; charset=utf-8")
    assert_refused(response, 400)  # read, then refused for its missing fields
    assert response.json["error"]["code"] == "invalid_body"


AUTHORIZATIONS = [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc",
                  "Bearer not-a-token", "Bearer " + "A" * 5000, "Bearer Nguyễn"]


@pytest.mark.parametrize("endpoint", WITH_TOKEN, ids=lambda e: e.name)
def test_missing_or_bad_token_is_401(kiosk: KioskApi, api: Api, history: Callable[[], Any],
                                     endpoint: Endpoint) -> None:
    before = history()
    body = "{}" if endpoint.method == "POST" else None
    for authorization in AUTHORIZATIONS:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = api.request(endpoint.method, endpoint.path, data=body, headers=headers)
        assert_refused(response, 401, authorization)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert history() == before


@pytest.mark.parametrize("endpoint", WITH_TOKEN, ids=lambda e: e.name)
def test_revoked_token_is_401(kiosk: KioskApi, runner: FlaskCliRunner,
                              history: Callable[[], Any], endpoint: Endpoint) -> None:
    assert runner.invoke(args=["kiosk", "revoke", str(kiosk.kiosk_id)]).exit_code == 0
    body = '{"records": []}' if endpoint in (CHECKINS, PLAYS) else \
        '{"version": "0.1.0", "uptime_s": 1}'
    response = kiosk.send(endpoint.method, endpoint.path,
                          data=body if endpoint.method == "POST" else None)
    assert_refused(response, 401)
    assert response.json["error"]["code"] == "invalid_token"


def test_token_of_a_kiosk_in_the_query_string_is_not_enough(kiosk: KioskApi, api: Api) -> None:
    assert_refused(api.get(f"/api/v1/kiosk/manifest?token={kiosk.token}"), 401)


def test_garbage_if_none_match_still_gets_the_manifest(kiosk: KioskApi) -> None:
    for etag in ["*garbage", '"', "W/", ",,,", '"a", W/"b"', "x" * 10000]:
        response = kiosk.get("/api/v1/kiosk/manifest", **{"If-None-Match": etag})
        assert response.status_code == 200, etag


WRONG_ROUTES = [("GET", "/api/v1/enroll"), ("GET", "/api/v1/checkins"),
                ("PUT", "/api/v1/heartbeat"), ("DELETE", "/api/v1/kiosk/manifest"),
                ("POST", "/api/v1/kiosk/manifest"), ("GET", "/api/v1/nothing-here"),
                ("POST", "/media/" + "0" * 64)]


def test_wrong_method_or_path_is_a_json_4xx(kiosk: KioskApi) -> None:
    for method, path in WRONG_ROUTES:
        response = kiosk.client.open(path, method=method, headers=kiosk.headers(),
                                     data="{}", content_type="application/json")
        assert response.status_code in (404, 405), (method, path)
        assert set(response.json["error"]) == {"code", "message"}, (method, path)
