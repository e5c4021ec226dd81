"""Staff accounts, failed sign-ins, and the audit trail of every access to personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

ROLES = ("admin", "manager", "reception")


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(
        Enum(*ROLES, name="role", native_enum=False, create_constraint=True, length=16))
    #: A manager's area (province or district).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    #: A reception user's venue.
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditLog(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: e.g. "checkin.view", "checkin.reveal", "checkin.export", "purge", "kiosk.revoke"
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginFailure(db.Model):  # type: ignore[name-defined,misc]
    """One failed sign-in, counted per account and per client to rate-limit guessing.

    Kept in the database, not in a process, so every server process sees the same count.
    ``key`` is an HMAC of "account:<email>" or "client:<address>": no address is stored in
    clear, and rows older than the window are deleted as new failures arrive.
    """

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
