"""Retention: personal data goes after the venue's retention, counts stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from signage_server.extensions import db
from signage_server.models import AuditLog, CheckIn, Venue
from signage_server.retention import purge

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def add_checkin(venue_id: int, age_days: float, name: str | None = "Nguyễn Văn An") -> int:
    row = CheckIn(client_uuid=uuid.uuid4(), venue_id=venue_id, direction="in",
                  method="staff", has_app="yes", name=name, phone="0901234567" if name else None,
                  occurred_at=NOW - timedelta(days=age_days))
    db.session.add(row)
    db.session.commit()
    return row.id


def personal(checkin_id: int) -> tuple[Any, ...]:
    row = db.session.get(CheckIn, checkin_id)
    assert row is not None
    db.session.refresh(row)
    return row.name, row.phone, row.personal_purged_at


def test_old_personal_data_is_removed_and_the_row_kept(app: Flask, venue: int) -> None:
    with app.app_context():
        old = add_checkin(venue, 22)
        purge(NOW)
        assert personal(old) == (None, None, NOW)
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1


def test_data_within_retention_is_kept(app: Flask, venue: int) -> None:
    with app.app_context():
        recent = add_checkin(venue, 20.5)
        purge(NOW)
        assert personal(recent)[:2] == ("Nguyễn Văn An", "0901234567")


def test_each_venue_uses_its_own_retention(app: Flask, venue: int) -> None:
    with app.app_context():
        db.session.get(Venue, venue).retention_days = 7  # type: ignore[union-attr]
        db.session.commit()
        eight_days = add_checkin(venue, 8)
        result = purge(NOW)
        assert personal(eight_days)[0] is None
        assert result.checkins == 1


def test_a_second_run_changes_nothing(app: Flask, venue: int) -> None:
    with app.app_context():
        add_checkin(venue, 25)
        assert purge(NOW).checkins == 1
        assert purge(NOW + timedelta(hours=1)).checkins == 0


def test_every_run_is_audited(app: Flask, venue: int) -> None:
    with app.app_context():
        add_checkin(venue, 25)
        purge(NOW)
        entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "purge")).one()
        assert entry.details == {"venues": 1, "checkins": 1}


def test_purge_command(app: Flask, runner: FlaskCliRunner, venue: int) -> None:
    with app.app_context():
        add_checkin(venue, 40)
    result = runner.invoke(args=["purge", "--json"])
    assert result.exit_code == 0, result.output
    assert '"checkins_purged": 1' in result.output
