"""The reception page: staff at the entrance log arrivals and departures and sign visitors
out, on a phone or a PC (``/admin/reception``).

Reception users work on their venue; admins and area managers may use it for any venue they
see (``?venue=``). The list shows today's check-ins of the venue (today in the venue's
timezone), personal data masked (initials, last three digits of the phone); looking at it
writes a ``checkin.view`` audit row. Signing someone out records an "out" check-in whose
``arrival_id`` names the arrival, so the departure needs no personal data of its own.
Entries use ``visitors.VisitorForm``, the same rules as the visitor's own phone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField

from .. import audit, personal, visitors
from ..extensions import db
from ..models import CheckIn, Venue
from ..security import ROLES, allow, locale, scope, staff, venue_or_404
from . import bp
from .choices import now, venues
from .forms import ActionForm

#: Most rows the page lists; a venue busier than this in one day uses the check-ins page.
MAX_ROWS = 500


class EntryForm(visitors.VisitorForm):
    entry = HiddenField()


@dataclass(frozen=True)
class Row:
    """One check-in as listed: plain values, so committing the audit row (which expires the
    loaded ORM objects) does not reload each check-in while the page renders."""

    id: int
    direction: str
    has_app: str
    arrival_id: int | None
    local: datetime
    name: str
    phone: str
    left_at: datetime | None


def _entry_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt="reception-entry")


def _venue() -> Venue:
    """The venue asked for, else the user's own, else the first one they see."""
    raw = request.values.get("venue", "")
    if raw.isdigit() and len(raw) <= 9:
        return venue_or_404(int(raw))
    own = staff().venue_id
    if own is not None:
        return venue_or_404(own)
    visible = venues(scope())
    if not visible:
        abort(404)
    return visible[0]


def _start_of_today(venue: Venue, moment: datetime) -> datetime:
    zone = ZoneInfo(venue.timezone)
    return datetime.combine(moment.astimezone(zone).date(), time(), zone)


def _today(venue: Venue, moment: datetime) -> list[Row]:
    rows = list(db.session.scalars(
        select(CheckIn).where(CheckIn.venue_id == venue.id,
                              CheckIn.occurred_at >= _start_of_today(venue, moment))
        .order_by(CheckIn.occurred_at.desc(), CheckIn.id.desc()).limit(MAX_ROWS)).all())
    departures = dict(db.session.execute(
        select(CheckIn.arrival_id, CheckIn.occurred_at).where(
            CheckIn.arrival_id.in_([r.id for r in rows if r.direction == "in"]))).all())
    zone = ZoneInfo(venue.timezone)
    return [Row(r.id, r.direction, r.has_app, r.arrival_id, r.occurred_at.astimezone(zone),
                personal.mask_name(r.name), personal.mask_phone(r.phone),
                departures[r.id].astimezone(zone) if r.id in departures else None)
            for r in rows]


def _new_form(venue: Venue) -> EntryForm:
    form = visitors.for_venue(EntryForm(formdata=None), venue, consent=False)
    form.entry.data = _entry_serializer().dumps(str(visitors.new_client_uuid()))
    return form


def _render(venue: Venue, form: EntryForm, status: int = 200) -> tuple[str, int]:
    moment = now()
    rows = _today(venue, moment)
    audit.record("checkin.view", user_id=staff().id, target=f"venue:{venue.id}",
                 details={"page": "reception", "rows": len(rows)})
    db.session.commit()
    inside = sum(1 for r in rows if r.direction == "in" and r.left_at is None)
    return render_template(
        "admin/reception.html", venue=venue, venues=venues(scope()), form=form, rows=rows,
        action_form=ActionForm(formdata=None), inside=inside,
        arrivals=sum(1 for r in rows if r.direction == "in"),
        consent=venue.consent_texts()[locale()],
        deleted_on=visitors.deletion_date(venue, moment), truncated=len(rows) >= MAX_ROWS,
        sign_out_prefix=url_for("admin.reception_sign_out", checkin_id=0).removesuffix("0/out"),
    ), status


@bp.get("/reception")
@allow(*ROLES)
def reception() -> tuple[str, int]:
    venue = _venue()
    return _render(venue, _new_form(venue))


@bp.post("/reception/log")
@allow(*ROLES)
def reception_log() -> Response | tuple[str, int]:
    venue = _venue()
    form = visitors.for_venue(EntryForm(), venue, consent=False)
    try:
        client_uuid = uuid.UUID(str(_entry_serializer().loads(form.entry.data or "")))
    except (BadSignature, ValueError):
        client_uuid = None
    if client_uuid is None or not form.validate():
        if client_uuid is None:
            flash(_("This form has expired. Check the details and send it again."), "error")
            form.entry.data = _entry_serializer().dumps(str(visitors.new_client_uuid()))
        return _render(venue, form)
    row = visitors.record(visitors.Entry(
        venue=venue, client_uuid=client_uuid, direction=form.direction.data, method="staff",
        has_app=form.has_app.data, personal=visitors.personal_values(form)), now())
    audit.record("checkin.create", user_id=staff().id, target=f"checkin:{row.id}",
                 details={"page": "reception", "venue": venue.id})
    db.session.commit()
    flash(_("Arrival recorded.") if row.direction == "in" else _("Departure recorded."),
          "success")
    return redirect(url_for("admin.reception", venue=venue.id))


@bp.post("/reception/<int:checkin_id>/out")
@allow(*ROLES)
def reception_sign_out(checkin_id: int) -> Response:
    arrival = db.session.get(CheckIn, checkin_id)
    if arrival is None or not scope().has_venue(arrival.venue_id):
        abort(404)
    venue = venue_or_404(arrival.venue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    gone = db.session.scalar(select(CheckIn.id).where(CheckIn.arrival_id == arrival.id))
    if arrival.direction != "in" or gone is not None:
        return _already_signed_out(venue.id)
    try:
        row = visitors.record(visitors.Entry(
            venue=venue, client_uuid=visitors.new_client_uuid(), direction="out",
            method="staff", has_app=arrival.has_app, personal={}, arrival_id=arrival.id), now())
    except IntegrityError:  # two staff pressed "sign out" at once: the other one recorded it
        return _already_signed_out(venue.id)
    audit.record("checkin.sign_out", user_id=staff().id, target=f"checkin:{row.id}",
                 details={"arrival": arrival.id, "venue": venue.id})
    db.session.commit()
    flash(_("Signed out."), "success")
    return redirect(url_for("admin.reception", venue=venue.id))


def _already_signed_out(venue_id: int) -> Response:
    flash(_("This visitor was already signed out."), "info")
    return redirect(url_for("admin.reception", venue=venue_id))
