"""Per-client request limits for public pages, shared by every server process.

Each counted request writes one ``RateHit`` row under an HMAC of "<scope>:<address>", so no
address is stored in clear; a client is refused while it has reached the limit within a
sliding window. A client's old rows are deleted when it comes back; the daily purge
(``retention``) deletes those of clients that never did. The same approach
as the sign-in limits (``admin.throttle``), kept in the database so it holds across processes.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from .extensions import db
from .models import RateHit


@dataclass(frozen=True)
class Limit:
    scope: str
    window: timedelta
    most: int


def client_key(scope: str, address: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(secret, f"{scope}:{address}".encode(), hashlib.sha256).hexdigest()


def allow(limit: Limit, address: str, now: datetime) -> bool:
    """Count this request; False (and nothing counted) when the client is over the limit.
    Commits, so other processes see the count at once."""
    key = client_key(limit.scope, address)
    since = now - limit.window
    used = db.session.scalar(select(func.count()).select_from(RateHit).where(
        RateHit.key == key, RateHit.at > since)) or 0
    if used >= limit.most:
        db.session.rollback()
        return False
    db.session.execute(delete(RateHit).where(RateHit.key == key, RateHit.at <= since))
    db.session.add(RateHit(key=key, at=now))
    db.session.commit()
    return True


def forget_before(moment: datetime) -> int:
    """Delete every count older than ``moment`` (the daily purge calls this)."""
    result = db.session.execute(delete(RateHit).where(RateHit.at < moment))
    return int(getattr(result, "rowcount", 0) or 0)
