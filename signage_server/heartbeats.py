"""Kiosk health: the latest status and screenshot each kiosk reports."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from sqlalchemy import delete

from .api.schemas import HeartbeatRequest
from .errors import BadRequest, PayloadTooLarge
from .extensions import db
from .models import Kiosk, KioskScreenshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(encoded: str, max_bytes: int) -> bytes:
    """The screenshot's bytes, refused unless it is a PNG within the size limit."""
    if len(encoded) > (max_bytes * 4) // 3 + 4:
        raise PayloadTooLarge(f"screenshot over {max_bytes // 1024} KB", "screenshot_too_large")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise BadRequest("screenshot_png: not base64", "invalid_body") from exc
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
    db.session.commit()
