"""The kiosk's exception tree: every failure the sync side can meet, named once.

Low-level errors (``requests``, ``OSError``, ``sqlite3``, ``json``) are translated where they
happen (``raise ... from exc``), so callers catch these names and never a library's::

    KioskError                      anything the kiosk raises on purpose
     ├── ConfigError                a setting or the kiosk.toml file is unusable
     ├── NotEnrolled                no credentials.json: run `signage-kiosk enroll` first
     ├── JournalError               the SQLite journal cannot be opened or written
     ├── HardwareError              a configured GPIO pin cannot be set up
     ├── CacheError                 the media cache cannot take a file
     │    ├── IntegrityError        a file's sha256 is not the one the manifest names
     │    └── DiskReserveError      the download would eat the journal's reserved room
     └── SyncError                  talking to the server failed (retry later, with backoff)
          ├── TransportError        no answer: refused, reset, DNS, cut mid-body
          │    └── RequestTimeout   no answer within the request timeout
          ├── ProtocolError         an answer that breaks the contract (bad JSON, bad range)
          └── ApiError              the server answered with an error status
               ├── ServerError      5xx: the server's fault, worth retrying
               └── RequestRejected  4xx: this request will not succeed as it is
                    └── Unauthorized   401: the token was revoked; enroll again

``SyncError`` is the one the sync thread catches around each round: whatever its kind, the
round failed and the next one waits the backoff delay. ``ApiError`` carries the HTTP status and
the ``error.code`` of the API's error body, so the reason can be shown and logged.
"""

from __future__ import annotations


class KioskError(Exception):
    """Root of everything the kiosk raises on purpose."""


class ConfigError(KioskError):
    """A setting or the configuration file cannot be used as given."""


class NotEnrolled(KioskError):
    """The kiosk has no credentials yet, so it cannot talk to a server."""


class JournalError(KioskError):
    """The SQLite journal failed to open or to commit."""


class HardwareError(KioskError):
    """A configured GPIO pin cannot be set up (wrong name, pin busy, no GPIO library)."""


class CacheError(KioskError):
    """The media cache could not store a file."""


class IntegrityError(CacheError):
    """Downloaded or cached bytes do not hash to the sha256 the manifest names."""


class DiskReserveError(CacheError):
    """Storing the file would leave less free space than the journal's reserve."""


class SyncError(KioskError):
    """A conversation with the server failed; the caller retries with backoff."""


class TransportError(SyncError):
    """The request got no (complete) answer: connection refused or reset, DNS, cut body."""


class RequestTimeout(TransportError):
    """The server did not answer within the request timeout."""


class ProtocolError(SyncError):
    """The server answered, but not in the shape the API contract promises."""


class ApiError(SyncError):
    """The server answered with an error status and (usually) an API error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ServerError(ApiError):
    """A 5xx answer: the server's trouble, retried later."""


class RequestRejected(ApiError):
    """A 4xx answer: this request will fail the same way if sent again unchanged."""


class Unauthorized(RequestRejected):
    """A 401 answer: the kiosk's token is unknown or revoked."""
