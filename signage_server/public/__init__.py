"""Pages for visitors' phones: the install link behind the kiosk's QR code (``/q/...``)
and, with the check-in issue, self check-in (``/v/...``). No login, no personal data in
logs, nothing loaded from outside the server."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("public", __name__)


def register(app: Flask) -> None:
    from . import install_link, visit  # noqa: F401  (routes register on import)

    app.register_blueprint(bp)
