"""Kiosk lifecycle: creation with a one-time enrollment code, enrollment, tokens, revocation.

Tokens and codes are random and high-entropy, so a plain sha256 of them is a safe lookup
key; neither is ever stored in clear.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from .errors import BadRequest, Conflict, NotFound
from .extensions import db
from .models import Kiosk, Venue

#: No 0/O, 1/I/L, so a code read aloud or off a screen is typed right the first time.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


@dataclass(frozen=True)
class NewKiosk:
    kiosk_id: int
    venue_id: int
    enrollment_code: str
    expires_at: datetime


def add_kiosk(venue_id: int, name: str, now: datetime, valid_hours: int) -> NewKiosk:
    """Create a kiosk for a venue and give it a one-time enrollment code."""
    if db.session.get(Venue, venue_id) is None:
        raise NotFound(f"no venue with id {venue_id}")
    code = new_code()
    expires = now + timedelta(hours=valid_hours)
    kiosk = Kiosk(venue_id=venue_id, name=name[:200], presence_secret=secrets.token_bytes(32),
                  enrollment_code_hash=digest(normalise_code(code)),
                  enrollment_expires_at=expires, status={})
    db.session.add(kiosk)
    db.session.flush()
    return NewKiosk(kiosk.id, venue_id, code, expires)


def reissue_code(kiosk: Kiosk, now: datetime, valid_hours: int) -> str:
    """A fresh code for an existing kiosk (a replaced SD card); the old token stops working
    when the new code is used."""
    code = new_code()
    kiosk.enrollment_code_hash = digest(normalise_code(code))
    kiosk.enrollment_expires_at = now + timedelta(hours=valid_hours)
    return code


@dataclass(frozen=True)
class Enrollment:
    kiosk_id: int
    venue_id: int
    token: str
    presence_secret: bytes


def enroll(code: str, name: str | None, now: datetime) -> Enrollment:
    """Trade a one-time code for a token. One UPDATE both checks and consumes the code, so
    two kiosks racing with the same code cannot both win."""
    normal = normalise_code(code)
    if len(normal) != CODE_LENGTH:
        raise BadRequest("enrollment code must have 12 letters and digits", "invalid_code")
    token = secrets.token_urlsafe(32)
    presence = secrets.token_bytes(32)
    values: dict[str, object] = {
        "token_hash": digest(token), "enrollment_code_hash": None,
        "enrollment_expires_at": None, "enrolled_at": now, "revoked_at": None,
        "presence_secret": presence, "manifest_generation": -1,
    }
    if name:
        values["name"] = name[:200]
    row = db.session.execute(
        update(Kiosk)
        .where(Kiosk.enrollment_code_hash == digest(normal), Kiosk.enrollment_expires_at > now)
        .values(**values)
        .returning(Kiosk.id, Kiosk.venue_id)
    ).first()
    if row is None:
        raise Conflict("this enrollment code is unknown, already used or expired; "
                       "ask for a new one with `signage-server kiosk add`", "code_not_usable")
    db.session.commit()
    return Enrollment(row.id, row.venue_id, token, presence)


def revoke(kiosk_id: int, now: datetime) -> None:
    kiosk = db.session.get(Kiosk, kiosk_id)
    if kiosk is None:
        raise NotFound(f"no kiosk with id {kiosk_id}")
    kiosk.revoked_at = now
    kiosk.token_hash = None


def kiosk_by_token(token: str) -> Kiosk | None:
    return db.session.scalars(
        select(Kiosk).where(Kiosk.token_hash == digest(token), Kiosk.revoked_at.is_(None))
    ).first()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
