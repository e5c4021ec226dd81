"""Kiosks, their latest screenshot, and the counter that invalidates cached manifests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .places import Venue
from .types import UTCDateTime, utcnow


class Kiosk(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "kiosk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    #: sha256 hex of the bearer token; the token itself is never stored.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: sha256 hex of the one-time enrollment code, cleared once used.
    enrollment_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrollment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: HMAC key for the rotating presence token; the server must recompute tokens.
    presence_secret: Mapped[bytes] = mapped_column(LargeBinary(32))
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The manifest last computed for this kiosk, valid while ``manifest_generation``
    #: equals the global generation: the poll fast path is then one indexed query.
    manifest_generation: Mapped[int] = mapped_column(Integer, default=-1)
    manifest_etag: Mapped[str | None] = mapped_column(String(64))
    manifest_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    venue: Mapped[Venue] = relationship()


class KioskScreenshot(db.Model):  # type: ignore[name-defined,misc]
    """The latest screenshot a kiosk sent; one row per kiosk, replaced each time."""

    __tablename__ = "kiosk_screenshot"

    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosk.id", ondelete="CASCADE"),
                                          primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KioskHour(db.Model):  # type: ignore[name-defined,misc]
    """Per kiosk and UTC hour: heartbeats received and motion-sensor footfall. Screen
    uptime is beats x the heartbeat interval; reports sum these instead of scanning a log."""

    __tablename__ = "kiosk_hour"
    __table_args__ = (
        Index("ix_kiosk_hour_venue_hour", "venue_id", "hour",
              postgresql_include=["kiosk_id", "beats", "footfall"]),
        Index("ix_kiosk_hour_hour", "hour"),
    )

    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosk.id", ondelete="CASCADE"),
                                          primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"))
    beats: Mapped[int] = mapped_column(Integer, default=0)
    footfall: Mapped[int] = mapped_column(Integer, default=0)


class ManifestGeneration(db.Model):  # type: ignore[name-defined,misc]
    """One row: bumped by anything that can change a manifest (playlists, assignments,
    venues, media, settings). Keeping it in the database, not in a process, lets any
    server process answer any poll."""

    __tablename__ = "manifest_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
