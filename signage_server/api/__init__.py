"""Kiosk API v1: JSON for kiosks (DESIGN.md section 5, docs/api.md).

Routes stay thin: parse with the pydantic models in ``schemas``, call the module that does
the work (``fleet``, ``manifests``, ``ingest``, ``heartbeats``), answer JSON.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request

from ..errors import UnsupportedMedia

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _limits() -> None:
    """Bound the body before anything reads it and insist on JSON for writes."""
    request.max_content_length = current_app.config["MAX_JSON_BYTES"]
    if request.method in {"POST", "PUT", "PATCH"} and request.mimetype != "application/json":
        raise UnsupportedMedia("send the body as application/json")


def register(app: Flask) -> None:
    from . import openapi, views  # noqa: F401  (routes register on import)

    app.register_blueprint(bp)
