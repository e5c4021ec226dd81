"""The server's exception tree and how each branch becomes a JSON error.

    SignageError                 anything the server refuses on purpose (4xx)
    ├── BadRequest        400    malformed JSON, wrong types, missing or unknown fields
    ├── Unauthorized      401    missing, unknown or revoked kiosk token
    ├── Forbidden         403    a kiosk writing for another venue
    ├── NotFound          404
    ├── Conflict          409    an enrollment code already used or expired
    ├── PayloadTooLarge   413    body or batch over the limit
    └── UnsupportedMedia  415    not application/json

Views raise these; ``register`` turns them (and werkzeug's own HTTP errors on API paths) into
``{"error": {"code", "message"}}`` so a kiosk never has to parse HTML.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException


class SignageError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(SignageError):
    status, code = 400, "bad_request"


class Unauthorized(SignageError):
    status, code = 401, "unauthorized"


class Forbidden(SignageError):
    status, code = 403, "forbidden"


class NotFound(SignageError):
    status, code = 404, "not_found"


class Conflict(SignageError):
    status, code = 409, "conflict"


class PayloadTooLarge(SignageError):
    status, code = 413, "payload_too_large"


class UnsupportedMedia(SignageError):
    status, code = 415, "unsupported_media_type"


def error_response(status: int, code: str, message: str) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kiosk"'
    return response


def _wants_json() -> bool:
    path = request.path
    return path.startswith(("/api/", "/media/"))


def register(app: Flask) -> None:
    @app.errorhandler(SignageError)
    def _signage_error(exc: SignageError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if not _wants_json():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response
