"""Kiosk API v1: JSON for kiosks (DESIGN.md section 5, docs/api.md).

Routes stay thin: parse with the pydantic models in ``schemas``, call the module that does
the work (``fleet``, ``manifests``, ``ingest``, ``heartbeats``), answer JSON.

The API is served by its own small Flask app (``create_api_app``), mounted in front of the
main app for every path under ``/api/`` (``mount``). Kiosks authenticate with bearer tokens
and read no HTML, so none of the console's per-request machinery applies to them: no cookie
session, no Flask-Login, no CSRF, no Babel, no upload-size lookup. Through the main app a
manifest poll answered 304 cost about 2.3 times the bare Flask endpoint of bench/ceiling_app.py
in CPU, mostly in those hooks (docs/benchmarks.md, manifest_poll). The API app shares the main
app's configuration, extensions and database engines, so both see the same settings, keys and
connection pools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import NullSession, SessionInterface

from ..errors import UnsupportedMedia
from ..security import with_headers

bp = Blueprint("api", __name__, url_prefix="/api/v1")
#: Requests whose path starts with this go to the API app.
PREFIX = "/api/"
#: ``app.extensions`` key of the API app, for code that needs its routes (tests, url_for).
EXTENSION = "signage_api"


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

    #: Kiosks read the answers by key; sorting the keys of the 1,000 results of a batch
    #: answer is work for nobody.
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


class _NoSession(SessionInterface):
    """Kiosks never send a cookie: no session is opened or saved."""

    def open_session(self, app: Flask, request: Any) -> NullSession:
        return self.null_session_class()

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


class _ApiFlask(Flask):
    """Flask for the API: its hooks and views are all plain functions, so whether each one is
    a coroutine is asked once, not on every request (``inspect`` took about 5 % of a poll)."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        known = self.__dict__.setdefault("_sync", {})
        try:
            return known[func]  # type: ignore[no-any-return]
        except (KeyError, TypeError):  # TypeError: unhashable; ask Flask every time
            pass
        sync = super().ensure_sync(func)
        if len(known) < 256:  # only registered hooks and views come here; stay bounded
            known[func] = sync
        return sync


class _Mount:
    """WSGI: paths under ``/api/`` to the API app, with the security headers every response
    carries (``security.with_headers``), and the rest to the main app.

    werkzeug's ``DispatcherMiddleware`` would move ``/api`` into ``SCRIPT_NAME``, so the API's
    routes would read ``/v1/...`` inside its app and ``/api/v1/...`` everywhere else; this
    leaves the environ alone, so the routes, the OpenAPI document and ``url_for`` agree."""

    def __init__(self, main: Callable[..., Iterable[bytes]], api: Flask) -> None:
        self.main = main
        self.api = api

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            secure = self.api.config["SESSION_COOKIE_SECURE"]
            return self.api.wsgi_app(environ, with_headers(start_response, secure))
        return self.main(environ, start_response)


def create_api_app(app: Flask) -> Flask:
    """The kiosk API as its own Flask app, sharing ``app``'s config, extensions and engines."""
    from .. import errors
    from ..extensions import db
    from . import openapi, views  # noqa: F401  (routes register on import)

    api = _ApiFlask(__name__, static_folder=None)
    api.config = app.config  # type: ignore[misc]  # one configuration, read once
    api.extensions = app.extensions  # the sealing keys, Flask-SQLAlchemy, the purge trigger
    # Flask-SQLAlchemy keeps its engines per app; the API app uses the main app's, so there
    # is one pool per process and disposing the main app's engine closes the API's too.
    db._app_engines[api] = db._app_engines[app]  # no public way to share them
    api.teardown_appcontext(lambda _exc: db.session.remove())
    api.session_interface = _NoSession()
    api.json = JSONProvider(api)
    errors.register(api)
    api.register_blueprint(bp)
    return api


def register(app: Flask) -> Flask:
    """Build the API app and put it in front of ``app`` for ``/api/``; returns it."""
    api = create_api_app(app)
    app.extensions[EXTENSION] = api
    app.json = JSONProvider(app)
    app.wsgi_app = _Mount(app.wsgi_app, api)  # type: ignore[method-assign]
    return api
