"""The daily purge of a running server: one process at a time takes the ``purge`` lease, so a
server run without the systemd timer still deletes personal data on schedule and several
workers do not all do it. Also: the purge forgets old rate-limit counts."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from test_server_retention import NOW, add_checkin, personal

from signage_server import create_app, rate_limit, retention
from signage_server.extensions import db
from signage_server.models import AuditLog, CheckIn, JobLease, RateHit

DAY = timedelta(hours=24)


def purges() -> int:
    return int(db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "purge")) or 0)


def test_only_one_claim_wins_the_lease(app: Flask) -> None:
    with app.app_context():
        assert retention.claim("purge", NOW, DAY) is True
        assert retention.claim("purge", NOW + timedelta(hours=1), DAY) is False
        assert retention.claim("purge", NOW + DAY, DAY) is True
        lease = db.session.get(JobLease, "purge")
        assert lease is not None and lease.until == NOW + 2 * DAY


def test_purge_if_due_runs_once_a_day(app: Flask, venue: int) -> None:
    with app.app_context():
        old = add_checkin(venue, 30)
        first = retention.purge_if_due(NOW, DAY)
        assert first is not None and first.checkins == 1
        assert personal(old)[0] is None
        assert retention.purge_if_due(NOW + timedelta(hours=23), DAY) is None
        assert retention.purge_if_due(NOW + DAY, DAY) is not None
        assert purges() == 2


def test_a_released_lease_lets_the_next_check_try_again(app: Flask) -> None:
    with app.app_context():
        assert retention.claim("purge", NOW, DAY)
        retention.release("purge", NOW + timedelta(minutes=1))
        assert retention.claim("purge", NOW + timedelta(minutes=2), DAY)


def test_the_purge_forgets_old_rate_limit_counts(app: Flask, venue: int) -> None:
    with app.app_context():
        db.session.add_all([RateHit(key="a" * 64, at=NOW - timedelta(days=2)),
                            RateHit(key="b" * 64, at=NOW - timedelta(minutes=5))])
        db.session.commit()
        retention.purge(NOW)
        assert db.session.scalars(select(RateHit.key)).all() == ["b" * 64]
        assert rate_limit.forget_before(NOW) == 1


@contextlib.contextmanager
def serving_app(app: Flask, database_url: str, folder: Path) -> Iterator[Flask]:
    """An app as ``signage-server run`` or gunicorn builds it (not in testing mode), on the
    test app's database and secret; its engine is disposed afterwards."""
    served = create_app({"DATABASE_URL": database_url, "MQTT_URL": "",
                         "SECRET_KEY": str(app.config["SECRET_KEY"])}, instance_path=folder)
    try:
        yield served
    finally:
        with served.app_context():
            db.session.remove()
            db.engine.dispose()


def purge_thread(served: Flask) -> threading.Thread:
    """The daily purge's thread the last request started, once it has finished."""
    thread = served.extensions["signage_daily_purge"].thread
    assert thread is not None
    thread.join(timeout=30)
    return thread


def test_a_serving_app_purges_on_its_own(app: Flask, venue: int, database_url: str,
                                         tmp_path: Path) -> None:
    with app.app_context():
        old = add_checkin(venue, 40)
    with serving_app(app, database_url, tmp_path / "served") as served:
        served.test_client().get("/q/v/1")
        purge_thread(served)
        with app.app_context():
            assert personal(old)[0] is None
            assert purges() == 1


def test_several_processes_purge_once(app: Flask, venue: int, database_url: str,
                                      tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        workers = [stack.enter_context(serving_app(app, database_url, tmp_path / f"w{n}"))
                   for n in range(3)]
        for worker in workers:  # all started before any is waited for: they race
            worker.test_client().get("/q/v/1")
        for worker in workers:
            purge_thread(worker)
        with app.app_context():
            assert purges() == 1


def test_a_process_checks_again_only_after_a_while(app: Flask, database_url: str,
                                                   tmp_path: Path) -> None:
    with serving_app(app, database_url, tmp_path / "served") as served:
        client = served.test_client()
        client.get("/q/v/1")
        first = purge_thread(served)
        client.get("/q/v/1")
        assert served.extensions["signage_daily_purge"].thread is first  # within CHECK_SECONDS


@pytest.mark.parametrize("config", [{"PURGE_INTERVAL_HOURS": 0}, {"TESTING": True}])
def test_no_trigger_when_switched_off_or_testing(tmp_path: Path, config: dict[str, object]
                                                 ) -> None:
    served = create_app({"DATABASE_URL": "sqlite://", "MQTT_URL": "", **config},
                        instance_path=tmp_path)
    assert "signage_daily_purge" not in served.extensions


def test_checkin_rows_survive_the_purge(app: Flask, venue: int) -> None:
    with app.app_context():
        add_checkin(venue, 40)
        retention.purge_if_due(NOW, DAY)
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1
        assert db.session.scalar(select(CheckIn.client_uuid)) is not None
        assert isinstance(db.session.scalar(select(CheckIn.client_uuid)), uuid.UUID)


def test_a_failed_run_gives_the_lease_back(app: Flask, database_url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    def broken(_now: object, user_id: object = None) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(retention, "purge", broken)
    with serving_app(app, database_url, tmp_path / "served") as served:
        served.test_client().get("/q/v/1")
        purge_thread(served)
        assert "daily purge failed" in caplog.text
        with app.app_context():
            assert retention.claim("purge", datetime.now(UTC), DAY) is True
