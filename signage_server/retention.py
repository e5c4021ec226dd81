"""Deleting personal data on schedule: each venue's retention (default 21 days, at most 30).

Names, phones and the other personal columns of a check-in are emptied once the check-in is
older than its venue's retention; the row itself (time, direction, method, has_app) stays, so
counts and adoption figures live on. Each run writes one audit record with what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from .extensions import db
from .models import AuditLog, CheckIn, Venue
from .models.places import MAX_RETENTION_DAYS
from .models.records import PERSONAL_FIELDS


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
    db.session.add(AuditLog(at=now, user_id=user_id, action="purge", target="checkin",
                            reason="retention schedule",
                            details={"venues": len(venues), "checkins": total}))
    db.session.commit()
    return PurgeResult(len(venues), total)
