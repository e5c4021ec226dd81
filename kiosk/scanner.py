"""The USB QR scanner: telling its bursts from typing, and reading a citizen ID card.

A scanner is a keyboard that types very fast: a whole code arrives within tens of
milliseconds and ends with Enter, while a person types with gaps of 80 ms and more. ``feed``
collects key presses (pure: the time is passed in) and hands back a finished burst;
``read_code`` decides what the burst was.

A Vietnamese citizen ID card (CCCD) QR reads
``id12|old_id9|Full Name|ddmmyyyy birth|gender|address|ddmmyyyy issued``. Only the name and
at most the last four digits of the ID are kept; the full number, the birth date and the
address are dropped here, before anything is stored or shown.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

#: A burst: every gap between keys under this (scanners: 1-20 ms; people: 80 ms and up).
MAX_GAP_S = 0.035
#: Shorter bursts are a person's quick double tap, not a code.
MIN_LENGTH = 6
#: After this many keys at burst pace a longer pause (up to LATE_GAP_S) no longer ends the
#: burst: the kiosk stamps keys when its loop looks at them, and a look can come late (the
#: time a key waited for a late look is not counted at all, see ``paused``). A burst still
#: counts as a scan only if its keys came at scanner pace on average (``scanner_pace``), so
#: a fast typist's run of keys is still typing.
BURST_KEYS = 3
LATE_GAP_S = 0.25
#: Longest code kept in the buffer; anything longer is garbage.
MAX_LENGTH = 512


@dataclass(frozen=True)
class Buffer:
    text: str = ""
    last_key_at: float | None = None
    #: More than MAX_LENGTH keys in one burst: garbage, whatever follows.
    overflow: bool = False
    first_key_at: float | None = None


def allowed_gap(buffer: Buffer, patient: bool = False) -> float:
    """The longest pause that keeps ``buffer``'s burst going. ``patient``: nobody is typing
    (no form is open), so no typed key waits to be shown and any pause up to LATE_GAP_S keeps
    the burst; whether it was a scan is decided by its pace at the end."""
    return LATE_GAP_S if patient or len(buffer.text) >= BURST_KEYS else MAX_GAP_S


def scanner_pace(buffer: Buffer) -> bool:
    """Whether ``buffer``'s keys came, on average, as fast as a scanner sends them."""
    if buffer.first_key_at is None or buffer.last_key_at is None or len(buffer.text) < 2:
        return False
    return (buffer.last_key_at - buffer.first_key_at) / (len(buffer.text) - 1) <= MAX_GAP_S


@dataclass(frozen=True)
class Burst:
    """A finished scan: what the scanner typed."""

    text: str


def paused(buffer: Buffer, now: float, since: float | None = None,
           patient: bool = False) -> bool:
    """Whether a key seen at ``now`` came after a pause that ends ``buffer``'s burst.

    ``since``: when the kiosk last looked at the keyboard before it saw this key. Keys wait
    in the queue until the loop looks, so the key may have come any time after ``since``;
    the pause counts from there. A loop turn that ran long (a video opening, a loaded
    machine) then adds no pause of its own: keys seen at one look and more at the next are
    as close as the scanner sent them, however long the turn between took."""
    if buffer.last_key_at is None:
        return False
    came = now if since is None else min(since, now)
    return came - buffer.last_key_at > allowed_gap(buffer, patient)


def feed(
    buffer: Buffer, key: str, now: float, patient: bool = False, since: float | None = None
) -> tuple[Buffer, Burst | None]:
    """Add one key press, seen at ``now`` (and come after ``since``, see ``paused``). Enter
    ends a burst; a slow key means a person is typing, and the keys so far are not a scan."""
    if key in ("\r", "\n"):
        done = not buffer.overflow and len(buffer.text) >= MIN_LENGTH and scanner_pace(buffer)
        return Buffer(), Burst(buffer.text) if done else None
    if paused(buffer, now, since, patient):
        return Buffer(key, now, first_key_at=now), None  # a person typed: start again
    overflow = buffer.overflow or len(buffer.text) >= MAX_LENGTH
    first = buffer.first_key_at if buffer.first_key_at is not None else now
    return Buffer(buffer.text if overflow else buffer.text + key, now, overflow, first), None


@dataclass(frozen=True)
class CitizenCard:
    """What the kiosk keeps from a CCCD: the name and the last 4 digits of the number."""

    name: str
    id_last4: str


@dataclass(frozen=True)
class NotACard:
    """A code that is not an ID card; nothing is stored. Messages for the screen."""

    reason: str
    message_vi: str
    message_en: str


def _ddmmyyyy(text: str) -> bool:
    if not re.fullmatch(r"\d{8}", text):
        return False
    try:
        date(int(text[4:]), int(text[2:4]), int(text[:2]))
    except ValueError:
        return False
    return True


def _clean_name(raw: str) -> str | None:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not 2 <= len(name) <= 100:
        return None
    if not all(ch.isalpha() or ch in " .'-" for ch in name):
        return None
    return name


def read_code(text: str) -> CitizenCard | NotACard:
    """A citizen ID card, or why not (a link, a product barcode, a partial or garbled scan)."""
    text = text.strip()
    if re.match(r"(?i)^[a-z][a-z0-9+.-]*://", text):
        return NotACard("url", "Đây là một đường link, không phải CCCD.",
                        "This is a link, not a citizen ID card.")
    if re.fullmatch(r"\d{8}|\d{12,14}", text):
        return NotACard("barcode", "Đây là mã vạch sản phẩm, không phải CCCD.",
                        "This is a product barcode, not a citizen ID card.")
    parts = text.split("|")
    if len(parts) != 7:
        return NotACard("garbled", "Không đọc được mã. Vui lòng quét lại CCCD.",
                        "Could not read the code. Please scan the ID card again.")
    number, _old, raw_name, born, _gender, _address, issued = parts
    name = _clean_name(raw_name)
    if not re.fullmatch(r"\d{12}", number) or name is None or not _ddmmyyyy(born) \
            or not _ddmmyyyy(issued):
        return NotACard("garbled", "Mã CCCD không hợp lệ. Vui lòng quét lại.",
                        "The ID card code is not valid. Please scan it again.")
    return CitizenCard(name=name, id_last4=number[-4:])
