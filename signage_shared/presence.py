"""The rotating presence token shown in the kiosk's self check-in QR.

token = first 10 bytes of HMAC-SHA256(secret, "<kiosk_id>:<window>"), base32 without padding,
where window = floor(unix_time / 30). The kiosk needs no network to draw it, and the server
accepts a token only for the current and the previous window (at most 60 s old), so a photo
of the screen is useless a minute later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

WINDOW_SECONDS = 30
TOKEN_BYTES = 10
MAX_AGE_WINDOWS = 1  # the current window plus one before it: at most 60 s


def window_of(unix_time: float) -> int:
    """The 30-second window number a moment falls in."""
    return int(unix_time // WINDOW_SECONDS)


def token_for(secret: bytes, kiosk_id: int, window: int) -> str:
    """The token a kiosk shows during ``window``."""
    message = f"{kiosk_id}:{window}".encode("ascii")
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def current_token(secret: bytes, kiosk_id: int, unix_time: float) -> str:
    """The token to show at ``unix_time``."""
    return token_for(secret, kiosk_id, window_of(unix_time))


def verify(secret: bytes, kiosk_id: int, token: str, unix_time: float) -> bool:
    """True when ``token`` was shown by this kiosk in the last 60 seconds (or is about to be:
    one window of tolerance on either side absorbs small clock differences)."""
    now_window = window_of(unix_time)
    candidate = token.strip().lower()
    return any(
        hmac.compare_digest(token_for(secret, kiosk_id, w), candidate)
        for w in range(now_window - MAX_AGE_WINDOWS, now_window + 2)
    )
