"""The poll cache: on PostgreSQL a repeated 304 poll is answered without a query, and every
change (here, from another connection, or the listener dying) reaches the next polls.

"Another process" is a psycopg connection of the test's own, outside the app, committing
plain SQL: the app hears of it only through the triggers' notifications. The database
queries of a poll are counted at both doors: the poll query's own DB-API cursor
(``manifests._fetch_one``, wrapped) and SQLAlchemy's ``before_cursor_execute``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import event, make_url, text

from signage_server import create_app, manifests, poll_cache
from signage_server.extensions import db
from signage_server.migrate import alembic_config, upgrade

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskCliRunner
    from server_api import KioskApi

MANIFEST = "/api/v1/kiosk/manifest"
HEARTBEAT = "/api/v1/heartbeat"
DELIVERY_SECONDS = 2.0  # notifications take well under a millisecond; this is a deadline
TRIGGERS = {"kiosk_poll_state_insert_delete", "kiosk_poll_state_update",
            "manifest_generation_poll_state"}

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
cache_off = pytest.mark.parametrize("app_config", [{"POLL_CACHE": False}])


class Queries:
    """Database statements the app runs while a test goes on."""

    def __init__(self) -> None:
        self.count = 0

    def seen(self, *_args: Any) -> None:
        self.count += 1

    def during(self, action: Callable[[], Any]) -> int:
        before = self.count
        action()
        return self.count - before


@pytest.fixture
def queries(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Queries]:
    counter = Queries()
    fetch_one = manifests._fetch_one

    def counted(*args: Any) -> Any:
        counter.seen()
        return fetch_one(*args)

    monkeypatch.setattr(manifests, "_fetch_one", counted)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter.seen)
    yield counter
    event.remove(engine, "before_cursor_execute", counter.seen)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def outside(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """Another process's connection to the same database, in autocommit."""
    with psycopg.connect(libpq(database_url), autocommit=True) as conn:
        yield conn


def poll(kiosk: KioskApi, etag: str) -> int:
    return kiosk.get(MANIFEST, **{"If-None-Match": etag}).status_code


def current_etag(kiosk: KioskApi) -> str:
    response = kiosk.get(MANIFEST)
    assert response.status_code == 200
    return str(response.headers["ETag"])


def until(condition: Callable[[], bool], seconds: float = DELIVERY_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def cached(kiosk: KioskApi, queries: Queries) -> str:
    """The kiosk's ETag, once its 304 is answered from the cache. The first polls read the
    database: the notification of the manifest's own refresh may still be on its way."""
    etag = current_etag(kiosk)

    def answered_from_cache() -> bool:
        status = 0

        def run() -> None:
            nonlocal status
            status = poll(kiosk, etag)

        return queries.during(run) == 0 and status == 304

    assert until(answered_from_cache), "the poll never came from the cache"
    return etag


def listener_pids(conn: psycopg.Connection[Any]) -> list[int]:
    return [row[0] for row in conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query = 'LISTEN signage_poll_state' AND pid <> pg_backend_pid()")]


@on_postgresql
def test_repeated_304_is_answered_without_a_query(kiosk: KioskApi, queries: Queries) -> None:
    etag = cached(kiosk, queries)
    statuses: list[int] = []
    assert queries.during(lambda: statuses.extend(poll(kiosk, etag) for _ in range(20))) == 0
    assert statuses == [304] * 20


@on_postgresql
@cache_off
def test_with_the_cache_off_every_poll_reads_the_database(kiosk: KioskApi,
                                                          queries: Queries) -> None:
    etag = current_etag(kiosk)
    for _ in range(5):
        assert queries.during(lambda: poll(kiosk, etag)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_polls_read_the_database_every_time(kiosk: KioskApi,
                                                   queries: Queries) -> None:
    etag = current_etag(kiosk)
    for _ in range(5):
        assert queries.during(lambda: poll(kiosk, etag)) == 1


@on_postgresql
def test_other_requests_never_trust_the_cache(kiosk: KioskApi, queries: Queries) -> None:
    etag = cached(kiosk, queries)
    assert queries.during(lambda: kiosk.get(MANIFEST)) >= 1  # 200 with the body
    assert queries.during(lambda: poll(kiosk, '"0000000000000000"')) >= 1
    assert queries.during(lambda: kiosk.post(HEARTBEAT, {"version": "0.1.0"})) >= 1
    assert poll(kiosk, etag) == 304


@on_postgresql
def test_revoking_here_stops_the_very_next_poll(kiosk: KioskApi, queries: Queries,
                                               runner: FlaskCliRunner,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    etag = cached(kiosk, queries)
    # The notification may well arrive first; without it, the commit alone must do.
    monkeypatch.setattr(poll_cache.PollCache, "_heard", lambda _cache, _payload: None)
    assert runner.invoke(args=["kiosk", "revoke", str(kiosk.kiosk_id)]).exit_code == 0
    assert poll(kiosk, etag) == 401


@on_postgresql
def test_revoking_elsewhere_stops_polls_once_notified(kiosk: KioskApi, queries: Queries,
                                                     outside: psycopg.Connection[Any]) -> None:
    etag = cached(kiosk, queries)
    outside.execute("UPDATE kiosk SET revoked_at = now(), token_hash = NULL WHERE id = %s",
                    (kiosk.kiosk_id,))
    statuses: list[int] = []

    def refused() -> bool:
        statuses.append(poll(kiosk, etag))
        return statuses[-1] == 401

    assert until(refused)
    assert set(statuses[:-1]) <= {304}  # only while the notification was on its way
    assert [poll(kiosk, etag) for _ in range(20)] == [401] * 20


@on_postgresql
def test_generation_bumped_elsewhere_brings_the_new_manifest(
        kiosk: KioskApi, queries: Queries, outside: psycopg.Connection[Any]) -> None:
    etag = cached(kiosk, queries)
    with outside.transaction():  # as an admin's change in another process publishes
        outside.execute("UPDATE venue SET name = 'Ga Sài Gòn' WHERE id = %s", (kiosk.venue_id,))
        outside.execute("UPDATE manifest_generation SET value = value + 1")
    assert until(lambda: poll(kiosk, etag) == 200)
    response = kiosk.get(MANIFEST, **{"If-None-Match": etag})
    assert response.status_code == 200
    assert (response.json or {})["venue"]["name"] == "Ga Sài Gòn"
    assert response.headers["ETag"] != etag


@on_postgresql
def test_heartbeat_does_not_invalidate(kiosk: KioskApi, queries: Queries,
                                       outside: psycopg.Connection[Any]) -> None:
    etag = cached(kiosk, queries)
    outside.execute("LISTEN signage_poll_state")
    beat = kiosk.post(HEARTBEAT, {"version": "0.1.0", "uptime_s": 60, "footfall": 3})
    assert beat.status_code == 200
    outside.execute("SELECT pg_notify('signage_poll_state', '0')")  # no kiosk has id 0
    heard = [n.payload for n in outside.notifies(timeout=DELIVERY_SECONDS, stop_after=1)]
    assert heard == ["0"]  # notifications come in commit order: the heartbeat sent none
    time.sleep(0.2)  # the app's listener got the same
    assert queries.during(lambda: poll(kiosk, etag)) == 0


@on_postgresql
def test_listener_killed_then_polls_read_the_database_until_it_is_back(
        kiosk: KioskApi, queries: Queries, outside: psycopg.Connection[Any]) -> None:
    etag = cached(kiosk, queries)
    [listener] = listener_pids(outside)
    outside.execute("SELECT pg_terminate_backend(%s)", (listener,))
    assert until(lambda: listener not in listener_pids(outside))
    with outside.transaction():  # a change the dead listener can no longer hear of
        outside.execute("UPDATE venue SET name = 'Ga Hà Nội' WHERE id = %s", (kiosk.venue_id,))
        outside.execute("UPDATE manifest_generation SET value = value + 1")
    changed = kiosk.get(MANIFEST, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert (changed.json or {})["venue"]["name"] == "Ga Hà Nội"
    cached(kiosk, queries)  # a later poll listened again; the cache answers once more
    assert len(listener_pids(outside)) == 1


@on_postgresql
def test_an_idle_listener_is_read_all_the_same(app: Flask, kiosk: KioskApi, queries: Queries,
                                               outside: psycopg.Connection[Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that stops getting polls still reads its notifications, so PostgreSQL's
    queue does not grow behind it; and the drain thread ends with the engine."""
    monkeypatch.setattr(poll_cache, "DRAIN_SECONDS", 0.2)
    cached(kiosk, queries)
    with app.app_context():
        engine = db.engine
        cache = poll_cache.for_engine(engine, app)
    assert cache is not None and cache.drainer is not None and cache.drainer.is_alive()
    before = cache.epoch
    for _ in range(3):  # no polls from here on
        outside.execute("SELECT pg_notify('signage_poll_state', '0')")
    assert until(lambda: cache.epoch >= before + 3), "nobody read the notifications"
    engine.dispose()
    cache.drainer.join(timeout=DELIVERY_SECONDS)
    assert not cache.drainer.is_alive() and cache.listener is None


@on_postgresql
@pytest.mark.parametrize("app_config", [{"POLL_CACHE_ENTRIES": 1}])
def test_cache_keeps_at_most_its_entries(kiosk: KioskApi, enroll: Callable[[int], KioskApi],
                                         queries: Queries) -> None:
    other = enroll(kiosk.venue_id)
    first = cached(kiosk, queries)
    cached(other, queries)
    assert queries.during(lambda: poll(kiosk, first)) == 1  # pushed out by the other


@pytest.fixture
def scratch_app(scratch_postgres_url: str, tmp_path: Any) -> Iterator[Flask]:
    """An app on a new, empty database of the test PostgreSQL server."""
    app = create_app({"TESTING": True, "DATABASE_URL": scratch_postgres_url},
                     instance_path=tmp_path)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


def triggers(app: Flask) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(conn.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))


def test_migration_adds_and_removes_the_triggers(scratch_app: Flask) -> None:
    upgrade(scratch_app, "0007")
    assert triggers(scratch_app) == set()
    upgrade(scratch_app)
    assert triggers(scratch_app) == TRIGGERS
    with scratch_app.app_context(), db.engine.begin() as connection:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0007")
    assert triggers(scratch_app) == set()
