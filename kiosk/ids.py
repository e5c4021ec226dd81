"""Time-ordered record ids (UUID version 7, RFC 9562).

Python 3.11's ``uuid`` module has no ``uuid7``; the layout is small enough to write here
rather than add a dependency. Ids sort by creation time, which keeps the server's unique
index on ``client_uuid`` append-mostly and makes journals easy to read.
"""

from __future__ import annotations

import os
import uuid

_SUBMS_STEPS = 4096  # rand_a holds a 12-bit sub-millisecond fraction (RFC 9562, method 3)


def uuid7(unix_time: float, random_bytes: bytes | None = None) -> uuid.UUID:
    """A version-7 UUID for ``unix_time``: 48-bit milliseconds, 12-bit sub-millisecond
    fraction, then 62 random bits (``random_bytes``, 8 bytes, for reproducible tests)."""
    nanos = int(unix_time * 1_000_000_000)
    millis, rest = divmod(max(nanos, 0), 1_000_000)
    fraction = rest * _SUBMS_STEPS // 1_000_000
    tail = int.from_bytes(random_bytes if random_bytes is not None else os.urandom(8), "big")
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= fraction << 64
    value |= 0b10 << 62
    value |= tail & (2**62 - 1)
    return uuid.UUID(int=value)


def new_client_uuid(unix_time: float) -> str:
    """The string form used on the wire for ``client_uuid``."""
    return str(uuid7(unix_time))
