"""Who may do what in the staff console, and the protections every response carries.

- **Sessions**: Flask-Login over Flask's signed session cookie, so no session lives in a
  server process and any process can answer any request. The cookie holds the user id and
  a keyed fingerprint of the password hash: a new password or a deactivated account ends
  every session at once. Cookies are HttpOnly, SameSite=Lax, and Secure when PUBLIC_URL is
  https.
- **Roles** (``allow``): ``admin`` may do everything; a ``manager`` works on an area (a
  province includes its districts), its venues, kiosks and playlists; ``reception`` sees the
  check-ins of one venue. Views without a rule are refused (deny by default).
- **Scope** (``scope``): the venues and areas the signed-in user may see, for queries.
- **CSRF**: Flask-WTF on every form. The kiosk API (bearer tokens, no cookies) is served by
  its own app without sessions or CSRF (``api.create_api_app``); it adds ``add_headers``.
- **Headers**: a CSP without inline scripts or styles, frames denied, no MIME sniffing, no
  referrer leaving the site, HSTS over https.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    session,
)
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import ColumnElement, select, true
from werkzeug.middleware.proxy_fix import ProxyFix

from .extensions import db
from .models import Area, User, Venue

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
ROLES = ("admin", "manager", "reception")
#: ``allowed_roles`` of a page anyone may open (sign-in, language switch).
PUBLIC: tuple[str, ...] = ("anonymous", *ROLES)
#: Largest body of an ordinary form; uploads raise it with ``large_body``.
MAX_FORM_BYTES = 4 * 1024 * 1024
#: Room for the multipart envelope and the other fields around an uploaded file.
FORM_OVERHEAD = 64 * 1024

CSP = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'",
    "img-src 'self' data:", "media-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
))

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

F = TypeVar("F", bound=Callable[..., Any])


class Staff(UserMixin):
    """The signed-in user as Flask-Login sees it; wraps the ``User`` row."""

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def id(self) -> int:  # type: ignore[override]
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def area_id(self) -> int | None:
        return self.user.area_id

    @property
    def venue_id(self) -> int | None:
        return self.user.venue_id

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.user.active)

    def get_id(self) -> str:
        return f"{self.user.id}:{fingerprint(self.user.password_hash)}"


class Anonymous(AnonymousUserMixin):
    role = "anonymous"
    email = ""


def fingerprint(password_hash: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, password_hash.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


@login_manager.user_loader
def _load(session_id: str) -> Staff | None:
    raw_id, _, mark = session_id.partition(":")
    if not raw_id.isdigit():
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(fingerprint(user.password_hash), mark):
        return None
    return Staff(user)


def staff() -> Staff:
    """The signed-in user (views guarded by ``allow`` only)."""
    return cast(Staff, current_user._get_current_object())  # type: ignore[attr-defined]


def allow(*roles: str) -> Callable[[F], F]:
    """Guard a view: anonymous users go to the sign-in page, other roles get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded.allowed_roles = roles  # type: ignore[attr-defined]
        return cast(F, guarded)

    return decorate


def public(view: F) -> F:
    """Mark a page anyone may open (the deny-by-default check looks for a rule)."""
    view.allowed_roles = PUBLIC  # type: ignore[attr-defined]
    return view


def may(endpoint: str) -> bool:
    """Whether the current user may open ``endpoint`` (for navigation links)."""
    view = current_app.view_functions.get(endpoint)
    return current_user.role in getattr(view, "allowed_roles", ())


def refuse_unruled() -> None:
    """``before_request`` of the console blueprints: a view without a rule is refused."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and not hasattr(view, "allowed_roles"):
        abort(403)


@dataclass(frozen=True)
class Scope:
    """What one user may see: every row, or these areas and venues."""

    everything: bool
    area_ids: frozenset[int]
    venue_ids: frozenset[int]

    def venues(self, column: Any) -> ColumnElement[bool]:
        """A WHERE clause keeping rows of the visible venues."""
        return true() if self.everything else column.in_(self.venue_ids)

    def areas(self, column: Any) -> ColumnElement[bool]:
        return true() if self.everything else column.in_(self.area_ids)

    def has_venue(self, venue_id: int | None) -> bool:
        return self.everything or venue_id in self.venue_ids

    def has_area(self, area_id: int | None) -> bool:
        return self.everything or area_id in self.area_ids


def subtree(area_id: int) -> frozenset[int]:
    """The area and every area under it (a province's districts)."""
    children: dict[int | None, list[int]] = {}
    for child, parent in db.session.execute(select(Area.id, Area.parent_id)).all():
        children.setdefault(parent, []).append(child)
    found, todo = {area_id}, [area_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)


def scope() -> Scope:
    """The signed-in user's scope, computed once per request."""
    if "signage_scope" not in g:
        g.signage_scope = _scope_of(staff())
    return cast(Scope, g.signage_scope)


def _scope_of(user: Staff) -> Scope:
    if user.role == "admin":
        return Scope(True, frozenset(), frozenset())
    if user.role == "manager" and user.area_id is not None:
        areas = subtree(user.area_id)
        venues = db.session.scalars(select(Venue.id).where(Venue.area_id.in_(areas))).all()
        return Scope(False, areas, frozenset(venues))
    if user.role == "reception" and user.venue_id is not None:
        return Scope(False, frozenset(), frozenset({user.venue_id}))
    return Scope(False, frozenset(), frozenset())


def venue_or_404(venue_id: int) -> Venue:
    """A venue the user may see; others are reported as missing, not as forbidden."""
    venue = db.session.get(Venue, venue_id)
    if venue is None or not scope().has_venue(venue.id):
        abort(404)
    return venue


def large_body(setting: str) -> Callable[[F], F]:
    """Let a view accept a body up to the size named by ``setting`` (uploads); every other
    request is held to ``MAX_CONTENT_LENGTH`` before anything, CSRF included, reads it."""

    def decorate(view: F) -> F:
        view.max_body_setting = setting  # type: ignore[attr-defined]
        return view

    return decorate


def _body_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    setting = getattr(view, "max_body_setting", None)
    if setting:
        request.max_content_length = int(current_app.config[setting]) + FORM_OVERHEAD


def locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


#: Added to every response that does not set them itself (lower-case name, name, value).
SECURITY_HEADERS = tuple((name.lower(), name, value) for name, value in (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
))
HSTS = ("strict-transport-security", "Strict-Transport-Security", "max-age=31536000")


def add_headers(response: Response) -> Response:
    """The headers above, each unless the view set its own. One pass over the response's
    headers instead of a ``setdefault`` (a scan) per header: this runs on every response,
    and was a tenth of the CPU of a manifest poll answered 304 (docs/benchmarks.md)."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118  (Headers, not dict)
    wanted = SECURITY_HEADERS + ((HSTS,) if current_app.config["SESSION_COOKIE_SECURE"]
                                 else ())
    missing = [(name, value) for low, name, value in wanted if low not in present]
    if missing:
        headers.extend(missing)
    return response


def missing_headers(headers: list[tuple[str, str]], secure: bool) -> list[tuple[str, str]]:
    """``add_headers`` on a WSGI header list: the headers above that ``headers`` lacks."""
    present = {name.lower() for name, _value in headers}
    wanted = SECURITY_HEADERS + ((HSTS,) if secure else ())
    return [(name, value) for low, name, value in wanted if low not in present]


def with_headers(start_response: Callable[..., Any], secure: bool) -> Callable[..., Any]:
    """A WSGI ``start_response`` that adds the headers above to what the app answers.

    For the kiosk API app (``api.create_api_app``): the values are constants, so they go
    straight into the WSGI header list instead of through werkzeug's ``Headers``, which
    checks every value it is given; on a manifest poll answered 304 that check was most of
    the cost of the headers."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        headers.extend(missing_headers(headers, secure))
        return start_response(status, headers, exc_info)

    return start


def _csrf_failed(exc: CSRFError) -> tuple[Any, int]:
    message = _l("This form has expired or did not come from this site. Reload the page and "
                 "try again.")
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"error": {"code": "csrf", "message": str(message)}}), 400
    return render_template("admin/error.html", code=400, message=message), 400


def init_app(app: Flask) -> None:
    """Sessions, CSRF, languages, proxies and headers for the whole application."""
    cfg = app.config
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_SECURE"] = str(cfg["PUBLIC_URL"]).lower().startswith("https://")
    cfg["SESSION_COOKIE_NAME"] = "signage_session"
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=int(cfg["SESSION_HOURS"]))
    cfg.setdefault("WTF_CSRF_TIME_LIMIT", int(cfg["SESSION_HOURS"]) * 3600)
    cfg.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    cfg.setdefault("BABEL_DEFAULT_TIMEZONE", cfg["DEFAULT_TIMEZONE"])
    hops = int(cfg["TRUSTED_PROXY_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    cfg.setdefault("MAX_CONTENT_LENGTH", MAX_FORM_BYTES)
    app.before_request(_body_limit)  # registered before CSRF's, so it runs first
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Anonymous
    csrf.init_app(app)  # the kiosk API is its own app (api.create_api_app), without CSRF
    babel.init_app(app, locale_selector=locale)
    app.after_request(add_headers)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.jinja_env.globals.update(may=may, current_locale=locale, languages=LANGUAGES)
