"""Shared counters that must hold across several server processes.

- ``RateHit``: one request counted against a client, for per-client rate limits of public
  pages (self check-in). Like ``LoginFailure``, the key is an HMAC, never an address in clear.
- ``JobLease``: who runs a periodic job (the daily purge) and until when no one else may, so
  several server processes do not all run it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class RateHit(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "rate_hit"
    __table_args__ = (Index("ix_rate_hit_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobLease(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "job_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Nobody starts the job again before this moment.
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
