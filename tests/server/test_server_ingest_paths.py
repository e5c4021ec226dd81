"""The fast paths of batch ingest store exactly what the general ones would.

- A batch whose records are all valid is validated in one pass from the body; any fault
  sends it down the per-record path (test_server_batches.py covers the answers of that one).
- Columns empty in every row of a batch are left out of the INSERT, so rows that do carry
  them must still store them, and the rest NULL.
- On SQLite, batches take turns on a lock file beside the database.
- The check-in value checks refuse what they refused as IN lists (migration 0007).
"""

from __future__ import annotations

import fcntl
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask

from signage_server import create_app
from signage_server.extensions import db
from signage_server.migrate import alembic_config
from signage_server.models import CheckIn, PlayEvent

if TYPE_CHECKING:
    from server_api import KioskApi
    from server_data import Database

Record = Callable[..., dict[str, Any]]


def test_columns_given_by_few_records_are_stored_for_those_only(
        kiosk: KioskApi, checkin_record: Record, seal: Callable[[dict[str, Any]], str],
        database: Database) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    records = [checkin_record(consent_version=None) for _ in range(5)]
    records[1]["consent_version"] = 4
    records[2]["sealed"] = seal({"name": "Nguyễn Thị Hoà", "phone": "0912 345 678"})
    records[3]["occurred_at"] = future.isoformat().replace("+00:00", "Z")
    response = kiosk.post("/api/v1/checkins", {"records": records})
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 5
    rows = {str(r.client_uuid): r for r in database.rows(CheckIn)}
    stored = [rows[r["client_uuid"]] for r in records]
    assert [r.consent_version for r in stored] == [None, 4, None, None, None]
    assert [(r.name, r.phone) for r in stored] == \
        [(None, None), (None, None), ("Nguyễn Thị Hoà", "0912 345 678"), (None, None),
         (None, None)]
    assert [r.claimed_at for r in stored] == [None, None, None, future, None]
    assert [r.time_untrusted for r in stored] == [False, False, False, True, False]


def test_batch_of_only_empty_optional_columns_stores_nulls(kiosk: KioskApi,
                                                          play_record: Record,
                                                          database: Database) -> None:
    records = [play_record() for _ in range(3)]  # item_id, sha256, manifest_version: null
    assert kiosk.post("/api/v1/plays", {"records": records}).json["accepted"] == 3
    assert {(r.item_id, r.media_sha256, r.manifest_version, r.claimed_at)
            for r in database.rows(PlayEvent)} == {(None, None, None, None)}


def test_valid_and_invalid_batches_answer_alike(kiosk: KioskApi, checkin_record: Record,
                                                database: Database) -> None:
    """The same good records, once alone (one-pass validation) and once beside a bad one
    (record by record): the same results for them, and stored once."""
    good = [checkin_record() for _ in range(3)]
    alone = kiosk.post("/api/v1/checkins", {"records": good}).json
    mixed = kiosk.post("/api/v1/checkins",
                       {"records": [*good, {**checkin_record(), "direction": "up"}]}).json
    assert [r["client_uuid"] for r in alone["results"]] == \
        [r["client_uuid"] for r in mixed["results"][:3]]
    assert [r["status"] for r in mixed["results"]] == \
        ["duplicate", "duplicate", "duplicate", "rejected"]
    assert mixed["results"][3]["reason"].startswith("direction")
    assert database.count(CheckIn) == 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_batches_wait_their_turn_on_the_writer_lock(kiosk: KioskApi,
                                                           checkin_record: Record,
                                                           database: Database,
                                                           database_url: str) -> None:
    lock_file = Path(database_url.removeprefix("sqlite:///") + "-writer.lock")
    kiosk.post("/api/v1/checkins", {"records": [checkin_record()]})  # makes the file
    assert lock_file.exists()
    answers: list[int] = []
    sender = threading.Thread(target=lambda: answers.append(kiosk.post(
        "/api/v1/checkins", {"records": [checkin_record()]}).status_code))
    with lock_file.open("rb") as held:  # another process's turn
        fcntl.flock(held, fcntl.LOCK_EX)
        sender.start()
        sender.join(0.5)
        assert sender.is_alive(), "the batch did not wait for the writer lock"
        assert database.count(CheckIn) == 1
    sender.join(30)
    assert answers == [200]
    assert database.count(CheckIn) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lock_file_that_cannot_be_opened_never_fails_a_batch(
        kiosk: KioskApi, checkin_record: Record, database: Database, database_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    lock_file = Path(database_url.removeprefix("sqlite:///") + "-writer.lock")
    lock_file.mkdir()  # opening it fails for any user, root included
    for _ in range(2):
        response = kiosk.post("/api/v1/checkins", {"records": [checkin_record()]})
        assert response.status_code == 200 and response.json["accepted"] == 1
    assert database.count(CheckIn) == 2
    warnings = [r for r in caplog.records if "writer.lock" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "busy handler" in warnings[0].getMessage()


def _raw_checkin(direction: str, method: str = "button", has_app: str = "yes") -> sa.Insert:
    now = datetime.now(UTC)
    return sa.insert(CheckIn).values(client_uuid=uuid.uuid4(), venue_id=sa.select(
        sa.text("id FROM venue LIMIT 1")).scalar_subquery(), occurred_at=now, received_at=now,
        clock_uncorrected=False, time_untrusted=False, direction=direction, method=method,
        has_app=has_app)


@pytest.mark.parametrize(("field", "value"), [("direction", "sideways"),
                                              ("method", "telepathy"), ("has_app", "maybe"),
                                              ("direction", "IN"), ("has_app", "")])
def test_checkin_value_checks_refuse_what_is_not_listed(app: Flask, venue: int, field: str,
                                                        value: str) -> None:
    values = {"direction": "in", "method": "self_static", "has_app": "installed_now",
              field: value}
    with app.app_context():
        db.session.execute(_raw_checkin(**{"direction": "out", "method": "staff",
                                           "has_app": "unknown"}))  # every listed value
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(_raw_checkin(**values))
            db.session.flush()
        db.session.rollback()


def test_migration_0007_keeps_the_rows_and_rewrites_the_checks(tmp_path: Path) -> None:
    """On SQLite, where the table is rebuilt (batch mode) to change its checks."""
    database = tmp_path / "migrate.sqlite"
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{database}",
                      "MQTT_URL": ""}, instance_path=tmp_path / "inst")

    def step(direction: str, revision: str) -> None:
        with app.app_context(), db.engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            getattr(command, direction)(cfg, revision)

    def checks() -> str:
        with app.app_context(), db.engine.connect() as connection:
            return str(connection.scalar(sa.text(
                "SELECT sql FROM sqlite_master WHERE name = 'checkin'")))

    step("upgrade", "0006")
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO venue (id, name, kind, address, timezone, privacy_mode, "
            "retention_days, consent_text_vi, consent_text_en, consent_version, created_at) "
            "VALUES (1, 'v', 'office', '', 'Asia/Ho_Chi_Minh', 'count', 14, '', '', 1, "
            "'2026-01-01 00:00:00.000000')"))
        connection.execute(sa.text(
            "INSERT INTO checkin (client_uuid, venue_id, occurred_at, received_at, "
            "clock_uncorrected, time_untrusted, direction, method, has_app) VALUES "
            "('00000000000070008000000000000001', 1, '2026-11-23 08:00:00.000000', "
            "'2026-11-23 08:00:01.000000', 0, 0, 'out', 'self_static', 'installed_now')"))
    assert "direction IN ('in', 'out')" in checks()
    step("upgrade", "head")
    assert "direction = 'in' OR direction = 'out'" in checks() and " IN (" not in checks()
    step("downgrade", "0006")
    assert "direction IN ('in', 'out')" in checks()
    step("upgrade", "head")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(sa.text(
            "SELECT direction, method, has_app FROM checkin")).all() == \
            [("out", "self_static", "installed_now")]
        assert connection.execute(sa.text("PRAGMA foreign_key_check")).all() == []
    with app.app_context():
        db.engine.dispose()
