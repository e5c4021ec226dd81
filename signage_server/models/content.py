"""What kiosks show: media assets, playlists, their items and where they are assigned."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

MEDIA_KINDS = ("video", "image")
ITEM_KINDS = ("video", "image", "qr", "text")


class MediaAsset(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "media_asset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(
        Enum(*MEDIA_KINDS, name="media_kind", native_enum=False, create_constraint=True,
             length=16))
    mime: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Playlist(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "playlist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The area whose managers may edit it; None for a national playlist (admins only).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    items: Mapped[list[PlaylistItem]] = relationship(
        back_populates="playlist", order_by="PlaylistItem.position",
        cascade="all, delete-orphan")


class PlaylistItem(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "playlist_item"
    __table_args__ = (
        CheckConstraint("duration_s IS NULL OR duration_s > 0", name="duration"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"),
                                             index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(
        Enum(*ITEM_KINDS, name="item_kind", native_enum=False, create_constraint=True,
             length=16))
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_asset.id"), index=True)
    #: Seconds on screen; for a video, None means "the clip's own duration".
    duration_s: Mapped[float | None] = mapped_column()
    #: ISO weekdays the item may play on (1 = Monday ... 7 = Sunday).
    days: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1, 2, 3, 4, 5, 6, 7])
    #: [["08:00", "12:00"], ...] in the venue's timezone; empty means all day.
    windows: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    #: Slide content: {"url", "caption_vi", "caption_en"} for qr, {"title_vi", "lines_vi",
    #: "title_en", "lines_en"} for text.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    playlist: Mapped[Playlist] = relationship(back_populates="items")
    media: Mapped[MediaAsset | None] = relationship()


class Assignment(db.Model):  # type: ignore[name-defined,misc]
    """A playlist shown in an area (all its venues) or one venue; a venue's own assignment
    overrides its area's, and a district's overrides its province's."""

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint("(area_id IS NULL) <> (venue_id IS NULL)", name="one_target"),
        UniqueConstraint("area_id", name="uq_assignment_area"),
        UniqueConstraint("venue_id", name="uq_assignment_venue"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"),
                                             index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    playlist: Mapped[Playlist] = relationship()
