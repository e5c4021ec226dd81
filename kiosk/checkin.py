"""Visitor check-ins on the kiosk: what one says, how it is checked, sealed and journalled.

The contract with the screens (``kiosk.state``) is the four values below and
``Recorder.record``: the state machine builds a ``Visitor``, the player calls ``record`` and
shows the ``Confirmation`` it returns, or the ``CheckinError`` message it raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.journal import Journal

PRIVACY_FIELDS: dict[str, tuple[str, ...]] = {
    "count": (),
    "contact": ("name", "phone"),
    "full": ("name", "phone", "organisation", "purpose", "host"),
}
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class CheckinSettings:
    """How the venue records visitors, parsed from the manifest's ``checkin`` object."""

    privacy_mode: str
    retention_days: int
    consent_version: int | None
    consent_text_vi: str
    consent_text_en: str
    timezone: str

    def fields(self) -> tuple[str, ...]:
        """The personal fields the form asks for, in order (none in ``count`` mode)."""
        return PRIVACY_FIELDS.get(self.privacy_mode, ())

    def delete_on(self, wall: float) -> date | None:
        """The venue-local day the personal data of a check-in made at ``wall`` is deleted;
        None in ``count`` mode, where nothing personal is kept."""
        if not self.fields():
            return None
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo(DEFAULT_TIMEZONE)
        return datetime.fromtimestamp(wall, zone).date() + timedelta(days=self.retention_days)


@dataclass(frozen=True)
class Visitor:
    """What one check-in says, before sealing."""

    direction: str
    method: str
    has_app: str
    personal: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation screen shows; the masked name lives only in memory."""

    client_uuid: str
    direction: str
    has_app: str
    masked_name: str | None
    delete_on: date | None


class CheckinError(ValueError):
    """Bad input for a check-in, with a message for the screen in both languages."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en


class Recorder:
    """Called from the pygame thread. record() drops nothing silently: fields the privacy mode
    does not allow raise CheckinError; allowed personal fields are sealed (PyNaCl SealedBox with
    the server's public key) before they are written; it returns only after the durable commit
    (SQLite WAL, synchronous=FULL)."""

    def __init__(self, journal: Journal, server_public_key: bytes | None,
                 settings: CheckinSettings | None = None) -> None:
        self._journal = journal
        self._key = server_public_key
        self._settings = settings

    def use(self, settings: CheckinSettings | None) -> None:
        """Take the venue's settings from a manifest that took effect."""
        self._settings = settings

    def record(self, visitor: Visitor, wall: float) -> Confirmation:
        """Validate, seal and journal one check-in; return what the screen confirms."""
        raise NotImplementedError("Recorder.record is being written (engineer A)")
