"""Sign-in rate limits, per account and per client address, shared by every process.

Each failure writes one ``LoginFailure`` row per key (the account and the client); an
attempt is refused while a key has reached its limit within the window. The window slides,
so a lock lifts as the oldest failure ages out. Keys are HMACs under the secret key: no
email or address is stored in clear, and stale rows are deleted as new ones arrive.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import LoginFailure


@dataclass(frozen=True)
class Limits:
    window: timedelta
    per_account: int
    per_client: int

    @classmethod
    def from_config(cls) -> Limits:
        cfg = current_app.config
        return cls(timedelta(minutes=int(cfg["LOGIN_WINDOW_MINUTES"])),
                   int(cfg["LOGIN_MAX_FAILURES"]), int(cfg["LOGIN_MAX_FAILURES_PER_CLIENT"]))


def _key(kind: str, value: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def account_key(email: str) -> str:
    return _key("account", email.strip().lower())


def client_key(address: str) -> str:
    return _key("client", address)


def _failures(key: str, since: datetime) -> int:
    return int(db.session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.key == key, LoginFailure.at > since)) or 0)


def locked(email: str, address: str, now: datetime, limits: Limits) -> bool:
    """Whether this account or this client has used up its failures in the window."""
    since = now - limits.window
    return (_failures(account_key(email), since) >= limits.per_account
            or _failures(client_key(address), since) >= limits.per_client)


def failed(email: str, address: str, now: datetime, limits: Limits) -> None:
    """Count a failure against both keys; commit so other processes see it at once."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - limits.window))
    db.session.add_all([LoginFailure(key=account_key(email), at=now),
                        LoginFailure(key=client_key(address), at=now)])
    db.session.commit()


def succeeded(email: str) -> None:
    """A correct password clears the account's failures (not the client's)."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == account_key(email)))
