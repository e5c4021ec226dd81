"""What kiosks and phones record: check-ins, proof of play and QR scans.

Personal columns of a check-in are filled only as the venue's privacy mode allows and are
emptied (``personal_purged_at`` set) after the venue's retention; the counts live on.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

DIRECTIONS = ("in", "out")
METHODS = ("staff", "scanner", "button", "self", "self_static")
HAS_APP = ("yes", "no", "installed_now", "unknown")
PERSONAL_FIELDS = ("name", "phone", "organisation", "purpose", "host", "id_last4")


def one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    """``CHECK (column = 'a' OR column = 'b' ...)``, named ``ck_<table>_<name>``.

    Not ``IN (...)``, which an ``Enum`` column would render: SQLite builds a throwaway index
    of the list each time it checks a row, so the three checks of a check-in cost more than
    the rest of its insert (12 of 15 us a row; 0.8 us as comparisons). Every check-in ever
    recorded passes these, so the form matters (docs/benchmarks.md, server_ingest)."""
    return CheckConstraint(" OR ".join(f"{column} = '{v}'" for v in values), name=name)


class CheckIn(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "checkin"
    __table_args__ = (
        # reports: a venue's or an area's period read from the index alone (PostgreSQL)
        Index("ix_checkin_venue_occurred", "venue_id", "occurred_at",
              postgresql_include=["direction", "has_app", "method"]),
        # reports: the whole country's period
        Index("ix_checkin_occurred_at", "occurred_at",
              postgresql_include=["venue_id", "direction", "has_app", "method"]),
        one_of("direction", DIRECTIONS, "direction"),
        one_of("method", METHODS, "checkin_method"),
        one_of("has_app", HAS_APP, "has_app"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The kiosk had not yet learned the server's time when it stamped the record.
    clock_uncorrected: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Stamped in the future (beyond the tolerance) or before 2020: occurred_at was replaced by
    #: received_at and the claimed time kept in ``claimed_at``.
    time_untrusted: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    direction: Mapped[str] = mapped_column(String(16))  # DIRECTIONS
    method: Mapped[str] = mapped_column(String(16))  # METHODS
    has_app: Mapped[str] = mapped_column(String(16))  # HAS_APP
    consent_version: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    organisation: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(200))
    host: Mapped[str | None] = mapped_column(String(200))
    id_last4: Mapped[str | None] = mapped_column(String(4))
    personal_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: On an "out" check-in made by signing a visitor out at reception: the "in" check-in
    #: it closes. The departure carries no personal data of its own; the link names the visit.
    arrival_id: Mapped[int | None] = mapped_column(ForeignKey("checkin.id"), index=True,
                                                   unique=True)


class PlayEvent(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "play_event"
    __table_args__ = (
        # reports: plays per venue and item read from the index alone (PostgreSQL)
        Index("ix_play_event_venue_started", "venue_id", "started_at",
              postgresql_include=["item_id", "kind", "duration_ms"]),
        Index("ix_play_event_started_at", "started_at",
              postgresql_include=["venue_id", "item_id", "kind", "duration_ms"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosk.id"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"))
    item_id: Mapped[int | None] = mapped_column(Integer)
    media_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    manifest_version: Mapped[str | None] = mapped_column(String(32))
    clock_uncorrected: Mapped[bool] = mapped_column(Boolean, default=False)
    #: As on a check-in: started_at was replaced by received_at, the claimed time is here.
    time_untrusted: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QrScan(db.Model):  # type: ignore[name-defined,misc]
    """A phone opened a kiosk's install link. No IP address or other identifier is kept."""

    __tablename__ = "qr_scan"
    __table_args__ = (Index("ix_qr_scan_venue_at", "venue_id", "at"), Index("ix_qr_scan_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk.id"), index=True)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id"))
    item_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
