"""The audit trail: one row per access to personal data and per change an operator makes.

``record`` adds the row to the current transaction, so an action and its audit entry are
committed together or not at all. Actions are dotted names (``checkin.view``,
``checkin.reveal``, ``checkin.export``, ``kiosk.revoke``, ``user.edit``, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .extensions import db
from .models import AuditLog


def record(action: str, *, user_id: int | None, target: str = "", reason: str = "",
           details: dict[str, Any] | None = None, now: datetime | None = None) -> AuditLog:
    """Add an audit row for ``action`` by ``user_id`` (None: the system)."""
    row = AuditLog(at=now or datetime.now(UTC), user_id=user_id, action=action[:64],
                   target=target[:200], reason=reason[:500], details=details or {})
    db.session.add(row)
    return row
