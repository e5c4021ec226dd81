"""Where kiosks stand: areas (province ▸ district) and venues."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

AREA_KINDS = ("province", "district")
VENUE_KINDS = ("office", "bus_station", "hotel", "hospital", "other")
PRIVACY_MODES = ("count", "contact", "full")
MAX_RETENTION_DAYS = 30

#: Personal fields each privacy mode allows, in the order forms show them.
PRIVACY_FIELDS: dict[str, tuple[str, ...]] = {
    "count": (),
    "contact": ("name", "phone"),
    "full": ("name", "phone", "organisation", "purpose", "host"),
}

DEFAULT_CONSENT_VI = (
    "Thông tin của bạn chỉ dùng để phòng chống dịch và sẽ được xoá sau {days} ngày."
)
DEFAULT_CONSENT_EN = (
    "Your details are used only for epidemic control and are deleted after {days} days."
)


def _enum(values: tuple[str, ...], name: str) -> Enum:
    return Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


class Area(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "area"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(_enum(AREA_KINDS, "area_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class Venue(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "venue"
    __table_args__ = (
        CheckConstraint(f"retention_days BETWEEN 1 AND {MAX_RETENTION_DAYS}", name="retention"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(_enum(VENUE_KINDS, "venue_kind"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    address: Mapped[str] = mapped_column(String(500), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    privacy_mode: Mapped[str] = mapped_column(_enum(PRIVACY_MODES, "privacy_mode"),
                                              default="count")
    retention_days: Mapped[int] = mapped_column(Integer, default=21)
    consent_text_vi: Mapped[str] = mapped_column(Text, default="")
    consent_text_en: Mapped[str] = mapped_column(Text, default="")
    consent_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    area: Mapped[Area | None] = relationship()

    def consent_texts(self) -> dict[str, str]:
        """The consent text in both languages, falling back to the default wording."""
        days = self.retention_days
        return {
            "vi": self.consent_text_vi or DEFAULT_CONSENT_VI.format(days=days),
            "en": self.consent_text_en or DEFAULT_CONSENT_EN.format(days=days),
        }
