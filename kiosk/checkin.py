"""Visitor check-ins on the kiosk: what one says, how it is checked, sealed and journalled.

The contract with the screens (``kiosk.state``) is the four values below and
``Recorder.record``: the state machine builds a ``Visitor``, the player calls ``record`` and
shows the ``Confirmation`` it returns, or the ``CheckinError`` message it raises.

Personal fields are checked the way the server's schema checks them (so the server never
rejects what the kiosk accepted), then sealed with the server's public key (libsodium
``SealedBox``): the journal holds only the box, which nothing on the kiosk can open. The
masked initials on the confirmation screen are computed before sealing and live only in
memory. Nothing personal is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.ids import new_client_uuid
from kiosk.journal import CHECKIN, Journal

if TYPE_CHECKING:
    from nacl.public import PublicKey, SealedBox

log = logging.getLogger(__name__)

PRIVACY_FIELDS: dict[str, tuple[str, ...]] = {
    "count": (),
    "contact": ("name", "phone"),
    "full": ("name", "phone", "organisation", "purpose", "host"),
}
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DIRECTIONS = ("in", "out")
METHODS = ("staff", "scanner", "button")
HAS_APP = ("yes", "no", "installed_now", "unknown")
#: Bounds of the server's ``PersonalFields`` schema (signage_server/api/schemas.py).
MAX_TEXT = 200
MAX_SEALED = 8192
KEY_BYTES = 32  # a Curve25519 public key
PHONE = re.compile(r"\+?[0-9 .\-]{6,20}")
ID_LAST4 = re.compile(r"[0-9]{1,4}")
LABELS = {  # field names as the screen shows them, for error messages
    "name": ("Họ tên", "Name"), "phone": ("Số điện thoại", "Phone"),
    "organisation": ("Cơ quan", "Organisation"), "purpose": ("Mục đích", "Purpose"),
    "host": ("Người cần gặp", "Host"), "id_last4": ("4 số cuối CCCD", "Last 4 ID digits"),
}


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
    #: True when personal fields were given but could not be kept (the kiosk has no server
    #: key or no venue settings yet): the anonymous part was recorded; the screen says so.
    personal_dropped: bool = False


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
    (SQLite WAL, synchronous=FULL).

    ``server_public_key`` is the enrollment's key, raw (32 bytes) or as the base64 text kept in
    ``credentials.json``; None before enrollment. ``settings`` follow the manifest (``use``).
    Without a key or without settings, personal data cannot be kept: the check-in is recorded
    without it and ``Confirmation.personal_dropped`` tells the screen (a venue would rather
    keep the count than lose the visitor; it cannot keep a name it cannot protect).
    """

    def __init__(self, journal: Journal, server_public_key: bytes | str | None,
                 settings: CheckinSettings | None = None) -> None:
        self._journal = journal
        self._key = _raw_key(server_public_key)
        # The box is made at the first seal: PyNaCl takes ~15 ms to import, which the kiosk's
        # start-up (time to the first frame) need not pay.
        self._box: SealedBox[PublicKey] | None = None
        self._settings = settings

    @property
    def settings(self) -> CheckinSettings | None:
        return self._settings

    @property
    def can_seal(self) -> bool:
        """Whether personal fields can be kept at all (the kiosk knows the server's key)."""
        return self._key is not None

    def use(self, settings: CheckinSettings | None) -> None:
        """Take the venue's settings from a manifest that took effect."""
        self._settings = settings

    def record(self, visitor: Visitor, wall: float) -> Confirmation:
        """Validate, seal and journal one check-in; return what the screen confirms.

        ``wall`` is the device's clock (unix seconds); the journal corrects it by the learned
        offset. Raises ``CheckinError`` for bad input, ``JournalError`` when the commit failed
        (then nothing was recorded and the screen must not confirm).
        """
        _check_choice(visitor.direction, DIRECTIONS, "direction")
        _check_choice(visitor.method, METHODS, "method")
        _check_choice(visitor.has_app, HAS_APP, "has_app")
        settings = self._settings
        given = {k: v for k, v in visitor.personal.items() if v is not None and str(v).strip()}
        dropped = bool(given) and (settings is None or self._key is None)
        personal = {} if dropped or settings is None else clean_personal(given, settings)
        if dropped:
            log.warning("check-in recorded without its personal fields: %s",
                        "no venue settings yet" if settings is None else "no server key")
        client_uuid = new_client_uuid(wall)
        occurred_at, uncorrected = self._journal.corrected(wall)
        payload: dict[str, Any] = {
            "client_uuid": client_uuid, "occurred_at": occurred_at,
            "clock_uncorrected": uncorrected, "direction": visitor.direction,
            "method": visitor.method, "has_app": visitor.has_app,
            "consent_version": settings.consent_version if personal and settings else None,
            "sealed": self._seal(personal) if personal else None,
        }
        masked = mask_name(personal.get("name"))
        self._journal.add(CHECKIN, client_uuid, payload, wall)
        return Confirmation(
            client_uuid=client_uuid, direction=visitor.direction, has_app=visitor.has_app,
            masked_name=masked,
            delete_on=settings.delete_on(wall) if personal and settings else None,
            personal_dropped=dropped)

    def _seal(self, personal: Mapping[str, str]) -> str:
        if self._box is None:
            from nacl.public import PublicKey, SealedBox

            assert self._key is not None  # record() drops personal data without a key
            self._box = SealedBox(PublicKey(self._key))
        plain = json.dumps(personal, ensure_ascii=False, separators=(",", ":"))
        sealed = base64.b64encode(self._box.encrypt(plain.encode("utf-8"))).decode("ascii")
        if len(sealed) > MAX_SEALED:
            raise CheckinError("Thông tin quá dài, vui lòng rút gọn.",
                               "The details are too long, please shorten them.")
        return sealed


def clean_personal(given: Mapping[str, str], settings: CheckinSettings) -> dict[str, str]:
    """The personal fields, normalised (NFC, spaces collapsed) and checked against the
    privacy mode and the server's bounds; anything else raises ``CheckinError``."""
    allowed = set(settings.fields())
    if allowed:
        allowed.add("id_last4")  # the server keeps it whenever the mode keeps anything
    clean: dict[str, str] = {}
    for key, raw in given.items():
        if key not in allowed:
            vi, en = LABELS.get(key, (key, key))
            raise CheckinError(f"Nơi này không thu thập “{vi}”.",
                               f"This venue does not collect “{en}”.")
        clean[key] = _clean_field(key, raw)
    return clean


def _clean_field(key: str, raw: object) -> str:
    vi, en = LABELS[key]
    if not isinstance(raw, str):
        raise CheckinError(f"{vi}: giá trị không hợp lệ.", f"{en}: not a valid value.")
    if len(raw) > 4 * MAX_TEXT:  # refuse before normalising a huge paste
        raise CheckinError(f"{vi} dài quá {MAX_TEXT} ký tự.",
                           f"{en} is longer than {MAX_TEXT} characters.")
    text = " ".join(unicodedata.normalize("NFC", raw).split())
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise CheckinError(f"{vi} chứa ký tự điều khiển.", f"{en} contains control characters.")
    if len(text) > MAX_TEXT:
        raise CheckinError(f"{vi} dài quá {MAX_TEXT} ký tự.",
                           f"{en} is longer than {MAX_TEXT} characters.")
    if key == "phone" and not PHONE.fullmatch(text):
        raise CheckinError("Số điện thoại chỉ gồm 6-20 chữ số (có thể có +, dấu cách, chấm, "
                           "gạch ngang).", "A phone number has 6-20 digits (+, spaces, dots "
                           "and dashes allowed).")
    if key == "id_last4" and not ID_LAST4.fullmatch(text):
        raise CheckinError("Chỉ giữ tối đa 4 số cuối của CCCD.",
                           "Only the last 4 digits of the ID card may be kept.")
    return text


def mask_name(name: str | None) -> str | None:
    """Initials only, for the confirmation screen: "Nguyễn Văn An" -> "N. V. A."."""
    if not name:
        return None
    initials = [word[0].upper() + "." for word in name.split() if word]
    return " ".join(initials) or None


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise CheckinError(f"Giá trị {what} không hợp lệ: {value!r}.",
                           f"Invalid {what}: {value!r}.")


def _raw_key(key: bytes | str | None) -> bytes | None:
    """The server's public key as 32 raw bytes; None (logged) when there is none or it is
    unusable, so personal fields are then not kept rather than sealed for nobody."""
    if key is None or key == "" or key == b"":
        return None
    try:
        raw = base64.b64decode(key, validate=True) if isinstance(key, str) else bytes(key)
    except (binascii.Error, ValueError, TypeError):
        raw = b""
    if len(raw) != KEY_BYTES:
        log.error("the server's public key is unusable: personal fields will not be kept")
        return None
    return raw
