"""Kiosk API v1: JSON for kiosks (DESIGN.md section 5, docs/api.md).

Routes stay thin: parse with the pydantic models in ``schemas``, call the module that does
the work (``fleet``, ``manifests``, ``ingest``, ``heartbeats``), answer JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, request
from flask.json.provider import DefaultJSONProvider

from ..errors import UnsupportedMedia

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _limits() -> None:
    """Bound the body before anything reads it and insist on JSON for writes."""
    request.max_content_length = current_app.config["MAX_JSON_BYTES"]
    if request.method in {"POST", "PUT", "PATCH"} and request.mimetype != "application/json":
        raise UnsupportedMedia("send the body as application/json")


class JSONProvider(DefaultJSONProvider):
    """``json.loads`` raises RecursionError, not ValueError, on deeply nested input such as
    ``[[[[...]]]]``; werkzeug only treats ValueError as malformed JSON, so a small body
    would otherwise end in a 500. Say it is malformed."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def register(app: Flask) -> None:
    from . import openapi, views  # noqa: F401  (routes register on import)

    app.json = JSONProvider(app)
    app.register_blueprint(bp)
