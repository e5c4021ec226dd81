"""Check-in records: filtered, masked by default, revealed only with a reason, exported.

Every look at the list writes an audit row (``checkin.view``); revealing the clear values
asks why and writes ``checkin.reveal`` with the reason and the records shown; an export
writes ``checkin.export``. Reveals are stateless: the clear values appear in the response
to that POST only, so a reload or the next page is masked again. Masking and the export
formats live in ``signage_server.personal`` for the reception page to reuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from .. import audit, personal
from ..extensions import db
from ..models import AuditLog, CheckIn, User, Venue
from ..models.places import PRIVACY_FIELDS
from ..security import ROLES, allow, scope, staff
from . import bp
from .choices import venue_choices
from .forms import CheckinFilter, ExportForm, RevealForm
from .paging import Page, paginate

MAX_EXPORT_ROWS = 100_000
FIELDS = ("name", "phone", "organisation", "purpose", "host", "id_last4")


def _filter_form(data: Any) -> CheckinFilter:
    form = CheckinFilter(formdata=data)
    form.venue.choices = venue_choices(scope(), none=_("All my venues"))
    if not form.validate():  # a stale or forged filter value: drop it, keep the scope
        for name, _errors in form.errors.items():
            getattr(form, name).data = None
    return form


def _zone(form: CheckinFilter) -> ZoneInfo:
    venue = db.session.get(Venue, form.venue.data) if form.venue.data else None
    return ZoneInfo(venue.timezone if venue else current_app.config["DEFAULT_TIMEZONE"])


def _query(form: CheckinFilter) -> Select[Any]:
    query = select(CheckIn).where(scope().venues(CheckIn.venue_id))
    zone = _zone(form)
    if form.venue.data:
        query = query.where(CheckIn.venue_id == form.venue.data)
    if form.date_from.data:
        query = query.where(CheckIn.occurred_at >= _midnight(form.date_from.data, zone))
    if form.date_to.data:
        query = query.where(CheckIn.occurred_at < _midnight(
            form.date_to.data + timedelta(days=1), zone))
    for name in ("method", "direction", "has_app"):
        value = getattr(form, name).data
        if value:
            query = query.where(getattr(CheckIn, name) == value)
    return query.order_by(CheckIn.occurred_at.desc(), CheckIn.id.desc())


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def _filters(form: CheckinFilter) -> dict[str, Any]:
    """The filters as plain values, for audit rows and hidden form fields."""
    values = {name: getattr(form, name).data for name in
              ("venue", "date_from", "date_to", "method", "direction", "has_app")}
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items() if v}


@dataclass(frozen=True)
class Shown:
    """One check-in row as displayed: local time and personal fields masked or clear."""

    checkin: CheckIn
    venue: str
    local: datetime
    fields: dict[str, str]


def _shown(rows: list[CheckIn], reveal: bool) -> list[Shown]:
    venues = {v.id: v for v in db.session.scalars(select(Venue).where(
        Venue.id.in_({r.venue_id for r in rows}))).all()}
    shown = []
    for row in rows:
        venue = venues[row.venue_id]
        values = {f: getattr(row, f) or "" for f in FIELDS}
        fields = values if reveal else {f: personal.masked(f, v) for f, v in values.items()}
        shown.append(Shown(row, venue.name, row.occurred_at.astimezone(ZoneInfo(venue.timezone)),
                           fields))
    return shown


def _columns(rows: list[Shown]) -> list[str]:
    """Personal columns worth a column: those any shown venue's privacy mode records."""
    used = {f for r in rows for f, v in r.fields.items() if v}
    modes = {f for v in db.session.scalars(select(Venue.privacy_mode).where(
        Venue.id.in_({r.checkin.venue_id for r in rows}))).all() for f in PRIVACY_FIELDS[v]}
    return [f for f in FIELDS if f in used or f in modes]


def _render(form: CheckinFilter, page: Page[CheckIn], reveal: bool,
            reveal_form: RevealForm) -> str:
    rows = _shown(page.items, reveal)
    return render_template("admin/checkins.html", form=form, page=page, rows=rows,
                           columns=_columns(rows), revealed=reveal, reveal_form=reveal_form,
                           export_form=ExportForm(formdata=None), filters=_filters(form))


@bp.get("/checkins")
@allow(*ROLES)
def checkins() -> str:
    form = _filter_form(request.args)
    page = paginate(_query(form))
    audit.record("checkin.view", user_id=staff().id, target="checkin",
                 details={"filters": _filters(form), "page": page.number,
                          "rows": len(page.items)})
    db.session.commit()
    return _render(form, page, False, RevealForm(formdata=None))


@bp.post("/checkins/reveal")
@allow(*ROLES)
def checkins_reveal() -> Response | str:
    form = _filter_form(request.form)
    reveal = RevealForm()
    if not reveal.validate_on_submit():
        flash(_("Say why you need to see personal data (at least 5 characters)."), "error")
        return redirect(url_for("admin.checkins", **_filters(form)))
    page = paginate(_query(form))
    audit.record("checkin.reveal", user_id=staff().id, target="checkin",
                 reason=reveal.reason.data.strip(),
                 details={"filters": _filters(form), "page": page.number,
                          "ids": [r.id for r in page.items]})
    db.session.commit()
    return _render(form, page, True, reveal)


HEADER = ("occurred_at", "venue", "direction", "method", "has_app", *FIELDS, "kiosk_id",
          "clock_uncorrected", "time_untrusted")


def _export_rows(rows: list[CheckIn], reveal: bool) -> list[list[personal.Cell]]:
    out: list[list[personal.Cell]] = []
    for shown in _shown(rows, reveal):
        row = shown.checkin
        out.append([shown.local.isoformat(timespec="seconds"), shown.venue, row.direction,
                    row.method, row.has_app, *(shown.fields[f] for f in FIELDS),
                    row.kiosk_id, int(row.clock_uncorrected), int(row.time_untrusted)])
    return out


@bp.post("/checkins/export")
@allow("admin", "manager")
def checkins_export() -> Response:
    form = _filter_form(request.form)
    export = ExportForm()
    if not export.validate_on_submit():
        for errors in export.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("admin.checkins", **_filters(form)))
    query = _query(form)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if (total or 0) > MAX_EXPORT_ROWS:
        flash(_("More than %(n)d records: narrow the dates or venues.", n=MAX_EXPORT_ROWS),
              "error")
        return redirect(url_for("admin.checkins", **_filters(form)))
    rows = list(db.session.scalars(query).all())
    reveal = bool(export.reveal.data)
    audit.record("checkin.export", user_id=staff().id, target="checkin",
                 reason=(export.reason.data or "").strip(),
                 details={"filters": _filters(form), "format": export.format.data,
                          "rows": len(rows), "personal": reveal})
    db.session.commit()
    return _download(export.format.data, _export_rows(rows, reveal))


def _download(kind: str, rows: list[list[personal.Cell]]) -> Response:
    stamp = datetime.now(ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])).strftime("%Y%m%d-%H%M")
    if kind == "xlsx":
        body = personal.to_xlsx(HEADER, rows, "checkins")
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, mime = personal.to_csv(HEADER, rows), "text/csv; charset=utf-8"
    response = Response(body, mimetype=mime)
    response.headers["Content-Disposition"] = f'attachment; filename="checkins-{stamp}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/audit")
@allow("admin")
def audit_log() -> str:
    action = request.args.get("action", "").strip()[:64]
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if action:
        query = query.where(AuditLog.action.startswith(action, autoescape=True))
    page = paginate(query, per_page=100)
    users = dict(db.session.execute(select(User.id, User.email).where(
        User.id.in_({r.user_id for r in page.items if r.user_id}))).all())
    return render_template("admin/audit.html", page=page, users=users, action=action)
