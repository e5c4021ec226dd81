"""Console pages for reports: the adoption dashboard, the weekly report and the posters.

They live in the staff console (``/admin/reports/...``, the console's base template, sign-in,
roles and language) and follow its rules: every view says who may open it
(``security.allow``), a view without a rule is refused, and what a user may not see is
reported as missing. Who sees what:

- admin: everything, the whole country included;
- manager: their area (a province with its districts), its venues and kiosks;
- reception: no dashboard and no report, only the posters of their own venue.

Charts are SVG images embedded as ``data:`` URIs (see ``charts``); the pages load no script.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import posters, security
from ..errors import SignageError
from ..extensions import db
from ..models import Area, Kiosk, Venue
from ..security import allow, staff
from . import dashboard, formats
from .dashboard import DEFAULT_SPAN, Granularity
from .figures import Settings, total
from .periods import IsoWeek, PeriodError, last_complete_week
from .scope import Scope, ScopeNotFound, resolve
from .texts import Texts
from .weekly import build as build_weekly

bp = Blueprint("reports", __name__, url_prefix="/admin/reports")
bp.before_request(security.refuse_unruled)

ANALYSTS = ("admin", "manager")
NAV_LABEL = {"vi": "Báo cáo & áp phích", "en": "Reports & posters"}


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(403)
@bp.errorhandler(404)
def _error(exc: Any) -> tuple[str, int]:
    return render_template("admin/error.html", code=exc.code, message=None), exc.code


@bp.errorhandler(SignageError)
def _refused(exc: SignageError) -> tuple[str, int]:
    return render_template("admin/error.html", code=exc.status, message=exc.message), exc.status


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["reports_nav_label"] = lambda: NAV_LABEL[security.locale()]


def _texts() -> Texts:
    return Texts(security.locale())


def _settings() -> Settings:
    return Settings.from_config(current_app.config)


def _now() -> datetime:
    return datetime.now(UTC)


# -- scope --------------------------------------------------------------------------------------


def default_scope_key() -> str:
    user = staff()
    return "all" if user.role == "admin" else f"area-{user.area_id}"


def chosen_scope(raw: str | None) -> Scope:
    """The scope named by ``all``, ``area-ID``, ``venue-ID`` or ``kiosk-ID``, if the user may
    see it; 404 otherwise (a scope one may not see is not said to exist)."""
    key = raw or default_scope_key()
    kind, _, ident = key.partition("-")
    if kind not in ("all", "area", "venue", "kiosk") or (kind != "all") != ident.isdigit():
        abort(404)
    number = int(ident) if ident else None
    try:
        scope = resolve(db.session, kind, number)  # type: ignore[arg-type]
    except ScopeNotFound:
        abort(404)
    if not _visible(scope):
        abort(404)
    return scope


def _visible(scope: Scope) -> bool:
    visible = security.scope()
    if scope.kind == "all":
        return visible.everything
    if scope.kind == "area":
        return visible.has_area(scope.id)
    return visible.has_venue(scope.venue_id)


def _scope_options(t: Texts) -> list[tuple[str, str]]:
    """What the scope picker offers: the country (admin), areas, venues."""
    from ..admin.choices import areas

    visible = security.scope()
    found = [("all", t("scope.all"))] if visible.everything else []
    found += [(f"area-{a.id}", ("— " if a.parent_id else "") + a.name)
              for a in areas(visible)]
    found += [(f"venue-{v.id}", f"{v.name}") for v in db.session.scalars(
        select(Venue).where(visible.venues(Venue.id)).order_by(Venue.name, Venue.id))]
    return found


# -- pages --------------------------------------------------------------------------------------


@bp.get("/")
@allow(*security.ROLES)
def index() -> WerkzeugResponse:
    target = "reports.posters_page" if staff().role == "reception" else "reports.adoption"
    return redirect(url_for(target))


@bp.get("/dashboard")
@allow(*ANALYSTS)
def adoption() -> str:
    t = _texts()
    scope = chosen_scope(request.args.get("scope"))
    granularity: Granularity = "week" if request.args.get("by") == "week" else "day"
    settings = _settings()
    moment = _now()
    until = _date_arg("until") or dashboard.today(moment, settings.default_timezone)
    span = _int_arg("span", DEFAULT_SPAN[granularity])
    periods = dashboard.periods_for(granularity, until, span)
    board = dashboard.build(db.session, scope, periods, granularity, moment, settings)
    from . import charts  # pygal, loaded with the first dashboard rather than at start

    images = [(name, title, charts.data_uri(svg))
              for name, title, svg in charts.render_all(board, t)]
    kiosks = (db.session.scalars(select(Kiosk).where(Kiosk.venue_id == scope.id,
                                                    Kiosk.revoked_at.is_(None))
                                 .order_by(Kiosk.name, Kiosk.id)).all()
              if scope.kind == "venue" else [])
    return render_template(
        "reports/dashboard.html", t=t, board=board, scope=scope, images=images,
        overall=total(board.series), labels=charts.period_labels(board, t), until=until,
        span=span, options=_scope_options(t), kiosks=kiosks,
        last_week=str(last_complete_week(moment, settings.default_timezone)),
        app_name=current_app.config["APP_NAME"])


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise PeriodError(f"{name}: not a date (YYYY-MM-DD): {raw[:40]!r}") from exc


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 4:
        raise PeriodError(f"{name}: not a whole number: {raw[:40]!r}")
    return int(raw)


def _weekly_args() -> tuple[Scope, IsoWeek, Texts]:
    scope = chosen_scope(request.args.get("scope"))
    raw = request.args.get("week", "").strip()
    week = (IsoWeek.parse(raw) if raw
            else last_complete_week(_now(), _settings().default_timezone))
    lang = request.args.get("lang") or security.locale()
    return scope, week, Texts(lang if lang in ("vi", "en") else "vi")


@bp.get("/weekly")
@allow(*ANALYSTS)
def weekly() -> str:
    scope, week, t = _weekly_args()
    report = build_weekly(db.session, scope, week, _now(), _settings())
    context = formats.html_context(report, t)
    return render_template("reports/weekly_page.html", scope=scope, iso_week=str(week),
                           options=_scope_options(t), **context)


@bp.get("/weekly/print")
@allow(*ANALYSTS)
def weekly_print() -> str:
    """The report alone, as the A4 document the command prints (stylesheet linked)."""
    scope, week, t = _weekly_args()
    report = build_weekly(db.session, scope, week, _now(), _settings())
    return formats.html(report, t, standalone=False)


@bp.get("/weekly.<fmt>")
@allow(*ANALYSTS)
def weekly_download(fmt: str) -> Response:
    if fmt not in formats.FORMATS:
        abort(404)
    scope, week, t = _weekly_args()
    report = build_weekly(db.session, scope, week, _now(), _settings())
    data = formats.render(report, fmt, t.lang)
    return _attachment(data, formats.MEDIA_TYPES[fmt], formats.filename(report, fmt))


def _attachment(data: bytes, media_type: str, name: str) -> Response:
    response = Response(data, mimetype=media_type.split(";")[0])  # text/*: "; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/posters")
@allow(*security.ROLES)
def posters_page() -> str:
    visible = security.scope()
    venues = db.session.scalars(select(Venue).where(visible.venues(Venue.id))
                                .order_by(Venue.name, Venue.id)).all()
    areas = {a.id: a.name for a in db.session.scalars(select(Area))}
    return render_template("reports/posters.html", t=_texts(), venues=venues, areas=areas,
                           sizes=tuple(posters.SIZES), lang=security.locale())


@bp.get("/poster")
@allow(*security.ROLES)
def poster() -> Response:
    """A venue's poster as PDF or PNG (``venue``, ``size``, ``lang``, ``format``)."""
    raw = request.args.get("venue", "")
    venue = security.venue_or_404(int(raw)) if raw.isdigit() and len(raw) < 10 else abort(404)
    size = request.args.get("size", "A4").upper()
    fmt = request.args.get("format", "pdf")
    cfg = current_app.config
    content = posters.content_for(venue, cfg, request.args.get("lang", security.locale()))
    data = posters.render(content, size, fmt, posters.Fonts(posters.font_dir(cfg["FONT_DIR"])))
    media_type = "application/pdf" if fmt == "pdf" else "image/png"
    return _attachment(data, media_type, posters.filename(content, size, fmt))
