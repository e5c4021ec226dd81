"""Kiosk health: the latest status and screenshot each kiosk reports."""

from __future__ import annotations

import base64
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from .api.schemas import HeartbeatRequest
from .errors import BadRequest, PayloadTooLarge
from .extensions import db
from .models import Kiosk, KioskHour, KioskScreenshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(encoded: str, max_bytes: int) -> bytes:
    """The screenshot's bytes, refused unless it is a PNG within the size limit."""
    too_large = PayloadTooLarge(f"screenshot over {max_bytes // 1024} KB",
                                "screenshot_too_large")
    if len(encoded) > (max_bytes * 4) // 3 + 4:  # refuse before decoding a huge string
        raise too_large
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise BadRequest("screenshot_png: not base64", "invalid_body") from exc
    if len(raw) > max_bytes:  # the length check above lets up to 2 bytes more through
        raise too_large
    if not raw.startswith(PNG_SIGNATURE):
        raise BadRequest("screenshot_png: not a PNG image", "invalid_body")
    return raw


def store(kiosk_id: int, beat: HeartbeatRequest, now: datetime, max_png: int) -> None:
    """Keep the status fields and replace the kiosk's screenshot if one came."""
    png = decode_png(beat.screenshot_png, max_png) if beat.screenshot_png else None
    kiosk = db.session.get(Kiosk, kiosk_id)
    assert kiosk is not None
    kiosk.last_heartbeat_at = now
    kiosk.status = beat.model_dump(mode="json", exclude={"screenshot_png"})
    if png is not None:
        db.session.execute(delete(KioskScreenshot).where(KioskScreenshot.kiosk_id == kiosk_id))
        db.session.add(KioskScreenshot(kiosk_id=kiosk_id, png=png, taken_at=now))
    _count_hour(kiosk, now, beat.footfall or 0)
    db.session.commit()


def _count_hour(kiosk: Kiosk, now: datetime, footfall: int) -> None:
    """Add this beat (and its footfall) to the kiosk's row for the current UTC hour."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(KioskHour).values(kiosk_id=kiosk.id, hour=hour, venue_id=kiosk.venue_id,
                                    beats=1, footfall=footfall)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["kiosk_id", "hour"],
        set_={"beats": KioskHour.beats + 1, "footfall": KioskHour.footfall + footfall}))
