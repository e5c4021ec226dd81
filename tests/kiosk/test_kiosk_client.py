"""The kiosk's HTTP client over real sockets: errors translated, clock learned, ETags used."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests
from loopback_http import Loopback, serving

from kiosk import errors
from kiosk.client import ClockOffset, KioskClient, offset_estimate

MANIFEST = {"manifest_version": "v1", "playlist": None,
            "sync": {"poll_seconds": 30, "heartbeat_seconds": 60, "mqtt_topics": []}}


@pytest.fixture
def server() -> Iterator[Loopback]:
    with serving() as state:
        yield state


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def client(server: Loopback, session: requests.Session) -> KioskClient:
    return KioskClient(session, server.base_url, token="t0ken", timeout_s=2)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_manifest_is_fetched_with_the_token(client: KioskClient, server: Loopback) -> None:
    server.json_route("GET", "/api/v1/kiosk/manifest", 200, MANIFEST, ETag='"v1"')
    manifest, etag = client.manifest(None)
    assert manifest == MANIFEST
    assert etag == '"v1"'
    assert server.seen[-1].headers["Authorization"] == "Bearer t0ken"


def test_an_unchanged_manifest_is_a_304(client: KioskClient, server: Loopback) -> None:
    server.routes[("GET", "/api/v1/kiosk/manifest")] = (304, {"ETag": '"v1"'}, b"")
    assert client.manifest('"v1"') == (None, '"v1"')
    assert server.seen[-1].headers["If-None-Match"] == '"v1"'


def test_enroll_sends_no_token(server: Loopback, session: requests.Session) -> None:
    answer = {"kiosk_id": 1, "venue_id": 2, "token": "t", "server_public_key": "k",
              "presence_secret": "s", "server_time": "2026-11-23T10:00:00.250000Z"}
    server.json_route("POST", "/api/v1/enroll", 200, answer)
    client = KioskClient(session, server.base_url, token=None, timeout_s=2)
    assert client.enroll("K7Q2-9XMP-4TRA", "Lobby TV", "0.1.0") == answer
    assert "Authorization" not in server.seen[-1].headers


@pytest.mark.parametrize(("status", "expected"), [
    (400, errors.RequestRejected),
    (401, errors.Unauthorized),
    (413, errors.RequestRejected),
    (500, errors.ServerError),
    (503, errors.ServerError),
])
def test_error_statuses_become_api_errors(client: KioskClient, server: Loopback, status: int,
                                          expected: type[errors.ApiError]) -> None:
    server.json_route("POST", "/api/v1/plays", status,
                      {"error": {"code": "some_code", "message": "why"}})
    with pytest.raises(expected) as caught:
        client.post_batch("plays", [])
    assert (caught.value.status, caught.value.code, caught.value.message) == \
        (status, "some_code", "why")


def test_an_error_without_an_api_body_still_has_a_status(client: KioskClient,
                                                         server: Loopback) -> None:
    server.routes[("POST", "/api/v1/heartbeat")] = (502, {"Content-Type": "text/html"},
                                                    b"<h1>Bad Gateway</h1>")
    with pytest.raises(errors.ServerError) as caught:
        client.heartbeat({})
    assert caught.value.status == 502


def test_an_answer_that_is_not_json_breaks_the_protocol(client: KioskClient,
                                                        server: Loopback) -> None:
    server.routes[("GET", "/api/v1/kiosk/manifest")] = (200, {"Content-Type": "text/html"},
                                                        b"<html>captive portal</html>")
    with pytest.raises(errors.ProtocolError):
        client.manifest(None)


def test_a_batch_answer_without_results_breaks_the_protocol(client: KioskClient,
                                                            server: Loopback) -> None:
    server.json_route("POST", "/api/v1/plays", 200, {"accepted": 0})
    with pytest.raises(errors.ProtocolError):
        client.post_batch("plays", [])


def test_a_refused_connection_is_a_transport_error(session: requests.Session) -> None:
    client = KioskClient(session, f"http://127.0.0.1:{closed_port()}", "t", timeout_s=2)
    with pytest.raises(errors.TransportError) as caught:
        client.manifest(None)
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


def test_a_silent_server_times_out(client: KioskClient, server: Loopback,
                                   session: requests.Session) -> None:
    server.json_route("GET", "/api/v1/kiosk/manifest", 200, MANIFEST)
    server.delay_s = 1.0
    impatient = KioskClient(session, server.base_url, "t", timeout_s=0.2)
    with pytest.raises(errors.RequestTimeout):
        impatient.manifest(None)


def test_every_answer_teaches_the_clock(server: Loopback, session: requests.Session) -> None:
    device_now = [1_000.0]  # a Pi that booted in 1970
    client = KioskClient(session, server.base_url, "t", timeout_s=2,
                         clock=lambda: device_now[0])
    server.json_route("GET", "/api/v1/kiosk/manifest", 200, MANIFEST)
    assert client.clock_offset_s is None
    client.manifest(None)
    assert client.clock_offset_s is not None
    assert client.clock_offset_s > 1.7e9  # the server's Date header says it is 2020s


def test_a_precise_server_time_wins_over_the_date_header(server: Loopback,
                                                         session: requests.Session) -> None:
    client = KioskClient(session, server.base_url, "t", timeout_s=2, clock=lambda: 100.0)
    server.json_route("POST", "/api/v1/heartbeat", 200,
                      {"server_time": "1970-01-01T00:02:00.500000Z", "manifest_version": "v"})
    client.heartbeat({})
    assert client.clock_offset_s == pytest.approx(20.5)


@pytest.mark.parametrize(("stamps", "expected"), [
    ([(110.0, True)], 10.0),                   # precise: taken as is
    ([(110.0, False)], 10.5),                  # whole second: centred
    ([(110.0, True), (110.0, False)], 10.0),   # a coarse stamp within 1 s does not jitter it
    ([(110.0, True), (115.0, False)], 15.5),   # ... but a jumped clock is followed
    ([(110.0, False), (111.2, True)], 11.2),   # precise always wins
])
def test_clock_offset_table(stamps: list[tuple[float, bool]], expected: float) -> None:
    offset = ClockOffset()
    for stamp, precise in stamps:
        offset.observe(stamp, precise, sent_at=99.0, received_at=101.0)
    assert offset.value == pytest.approx(expected)


def test_the_offset_assumes_the_stamp_was_made_mid_trip() -> None:
    assert offset_estimate(1000.0, sent_at=990.0, received_at=994.0) == 8.0


def test_media_from_another_origin_gets_no_token(client: KioskClient, server: Loopback) -> None:
    with serving() as cdn:
        cdn.files["f"] = b"abc"
        with client.media(f"{cdn.base_url}/media/f", 0) as body:
            assert b"".join(body.chunks) == b"abc"
        assert "Authorization" not in cdn.seen[-1].headers


def test_media_resume_reports_where_the_body_belongs(client: KioskClient,
                                                     server: Loopback) -> None:
    server.files["f"] = b"abc"
    with client.media(f"{server.base_url}/media/f", 1) as body:
        assert (body.offset, body.total, b"".join(body.chunks)) == (1, 3, b"bc")
    assert server.seen[-1].headers["Range"] == "bytes=1-"
