"""The staff console: HTML pages for administrators, area managers and reception staff.

One module per page group (``auth``, ``overview``, ``places``, ``fleet``, ``media``,
``playlists``, ``records``, ``users``); views parse a form, call the module that does the
work (``fleet``, ``library``, ``playlists``, ...) and render. Every view declares who may
open it with ``security.allow``; a view without a rule is refused. See docs/admin.md.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, render_template, request

from .. import security
from ..errors import SignageError

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(security.refuse_unruled)


@bp.before_request
def _no_nul() -> None:
    """A NUL byte is never text anyone typed; PostgreSQL refuses it in text columns."""
    values = [*request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values):
        abort(400)


@bp.after_request
def _no_store(response: Response) -> Response:
    """Console pages may hold personal data: never keep them in a shared cache."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(code: int, message: Any = None) -> tuple[str, int]:
    return render_template("admin/error.html", code=code, message=message), code


@bp.errorhandler(403)
def _forbidden(_exc: Exception) -> tuple[str, int]:
    return _error_page(403)


@bp.errorhandler(404)
def _missing(_exc: Exception) -> tuple[str, int]:
    return _error_page(404)


@bp.errorhandler(SignageError)
def _refused(exc: SignageError) -> tuple[str, int]:
    return _error_page(exc.status, exc.message)


def register(app: Flask) -> None:
    security.init_app(app)
    from . import filters

    filters.register(app)
    from . import (  # noqa: F401  (routes register on import)
        auth,
        fleet,
        media,
        overview,
        places,
        playlists,
        reception,
        records,
        users,
    )

    app.register_blueprint(bp)
