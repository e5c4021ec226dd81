"""Deleting personal data on schedule: each venue's retention (default 21 days, at most 30).

Names, phones and the other personal columns of a check-in are emptied once the check-in is
older than its venue's retention; the row itself (time, direction, method, has_app) stays, so
counts and adoption figures live on. Each run writes one audit record with what it did.

Two things run it: ``signage-server purge`` (the systemd timer in deploy/ calls it daily) and
the server itself. A running server checks every few minutes, on the back of the requests it
answers (kiosks poll all day), whether the daily purge is due; the process that takes the
``purge`` job lease (one conditional UPDATE, atomic on SQLite and PostgreSQL) runs it in a
background thread, the others skip. So a server run without the timer still purges, and
several gunicorn workers or servers do not all do it. ``PURGE_INTERVAL_HOURS=0`` leaves it
to the timer alone. The purge is idempotent: the timer and the server both running it on
the same day costs one cheap UPDATE per venue.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import rate_limit
from .extensions import db
from .models import AuditLog, CheckIn, JobLease, Venue
from .models.places import MAX_RETENTION_DAYS
from .models.records import PERSONAL_FIELDS

log = logging.getLogger(__name__)
PURGE_JOB = "purge"
#: How often each process asks the database whether the purge is due.
CHECK_SECONDS = 300.0
#: Rate-limit counts older than this are no use to any window.
RATE_HITS_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class PurgeResult:
    venues: int
    checkins: int


def _has_personal() -> object:
    return or_(*(getattr(CheckIn, f).is_not(None) for f in PERSONAL_FIELDS))


def purge(now: datetime, user_id: int | None = None) -> PurgeResult:
    """Empty the personal fields of every check-in past its venue's retention."""
    cleared = {f: None for f in PERSONAL_FIELDS}
    total = 0
    venues = db.session.execute(select(Venue.id, Venue.retention_days)).all()
    for venue_id, days in venues:
        keep = max(1, min(MAX_RETENTION_DAYS, days or MAX_RETENTION_DAYS))
        result = db.session.execute(
            update(CheckIn)
            .where(and_(CheckIn.venue_id == venue_id,
                        CheckIn.occurred_at < now - timedelta(days=keep),
                        CheckIn.personal_purged_at.is_(None), _has_personal()))
            .values(**cleared, personal_purged_at=now)
            .execution_options(synchronize_session=False))
        total += result.rowcount or 0
    rate_limit.forget_before(now - RATE_HITS_KEPT)
    db.session.add(AuditLog(at=now, user_id=user_id, action="purge", target="checkin",
                            reason="retention schedule",
                            details={"venues": len(venues), "checkins": total}))
    db.session.commit()
    return PurgeResult(len(venues), total)


def claim(job: str, now: datetime, hold: timedelta) -> bool:
    """Take the lease of ``job`` until ``now + hold`` if nobody holds it; True if taken.

    One conditional UPDATE decides between processes: on PostgreSQL the second one waits for
    the first's row lock and then finds the lease taken; on SQLite writers are serialised.
    """
    taken = db.session.execute(
        update(JobLease).where(JobLease.name == job, JobLease.until <= now)
        .values(until=now + hold, last_run_at=now)
        .execution_options(synchronize_session=False))
    if taken.rowcount == 1:
        db.session.commit()
        return True
    exists = db.session.get(JobLease, job) is not None
    if exists:
        db.session.rollback()
        return False
    db.session.add(JobLease(name=job, until=now + hold, last_run_at=now))
    try:
        db.session.commit()
    except IntegrityError:  # another process created it first
        db.session.rollback()
        return False
    return True


def release(job: str, now: datetime) -> None:
    """Give the lease back early (the job failed), so the next check tries again."""
    db.session.execute(update(JobLease).where(JobLease.name == job).values(until=now)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def purge_if_due(now: datetime, every: timedelta) -> PurgeResult | None:
    """Purge when no process has within ``every``; None when it was not this one's turn."""
    if not claim(PURGE_JOB, now, every):
        return None
    return purge(now)


class DailyPurge:
    """``before_request`` hook that starts ``purge_if_due`` in a background thread at most
    every ``CHECK_SECONDS`` per process; a request never waits for it."""

    def __init__(self, app: Flask, every: timedelta, check_seconds: float = CHECK_SECONDS):
        self.app = app
        self.every = every
        self.check_seconds = check_seconds
        self.next_check = 0.0
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def __call__(self) -> None:
        if time.monotonic() < self.next_check or not self.lock.acquire(blocking=False):
            return
        try:
            if time.monotonic() >= self.next_check:
                self.next_check = time.monotonic() + self.check_seconds
                self.thread = threading.Thread(target=self.run, name="signage-purge",
                                               daemon=True)
                self.thread.start()
        finally:
            self.lock.release()

    def run(self) -> None:
        with self.app.app_context():
            try:
                result = purge_if_due(datetime.now(UTC), self.every)
                if result is not None:
                    log.info("daily purge: personal data removed from %d check-ins in %d "
                             "venues", result.checkins, result.venues)
            except Exception:  # the edge of a background job: log it, try again later
                log.exception("daily purge failed; retrying in %.0f s", self.check_seconds)
                db.session.rollback()
                self._give_back()
            finally:
                db.session.remove()

    def _give_back(self) -> None:
        try:
            release(PURGE_JOB, datetime.now(UTC))
        except Exception:  # the database is down: the lease runs out by itself
            log.warning("could not release the purge lease; it expires on schedule")
            db.session.rollback()


def install(app: Flask) -> DailyPurge | None:
    """Hook the daily purge into a serving app (not into tests, which call it directly)."""
    hours = int(app.config["PURGE_INTERVAL_HOURS"])
    if hours <= 0 or app.testing:
        return None
    trigger = DailyPurge(app, timedelta(hours=hours))
    app.before_request(trigger)
    app.extensions["signage_daily_purge"] = trigger
    return trigger
