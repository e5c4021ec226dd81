"""Links a phone opens to check itself in.

- The kiosk's rotating presence QR: ``/v/<venue>/<kiosk>/<token>``, token from
  ``signage_shared.presence`` (at most 60 s old).
- The printed poster's static QR: ``/v/<venue>/s/<token>``, a fallback recorded with method
  ``self_static`` so reports can tell it from the rotating code. Its token is an HMAC of the
  venue id under the server's SECRET_KEY, so it needs no storage and changing the secret
  key retires every printed poster at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def static_token(secret_key: str, venue_id: int) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), f"static:{venue_id}".encode("ascii"),
                      hashlib.sha256).digest()[:10]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def static_url(base_url: str, secret_key: str, venue_id: int) -> str:
    return f"{base_url.rstrip('/')}/v/{venue_id}/s/{static_token(secret_key, venue_id)}"


def static_token_valid(secret_key: str, venue_id: int, token: str) -> bool:
    return hmac.compare_digest(static_token(secret_key, venue_id), token.strip().lower())


def install_url(base_url: str, venue_id: int) -> str:
    """The poster's install link: counted for the venue, redirected to the phone's store."""
    return f"{base_url.rstrip('/')}/q/v/{venue_id}"
