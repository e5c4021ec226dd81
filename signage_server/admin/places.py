"""Areas (province ▸ district) and venues.

A change to a venue's settings reaches its kiosks like a playlist change: the manifest
generation is bumped and the venue's kiosks are told (``playlists.publish``). Moving a
district to another province may change which playlist its venues inherit, so it tells
the whole fleet.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms import SelectChoice

from .. import audit, playlists
from ..extensions import db
from ..models import Area, Kiosk, Venue
from ..security import allow, scope, staff, venue_or_404
from . import bp
from .choices import area_choices, areas, options
from .forms import AreaForm, VenueForm


@lru_cache(maxsize=1)
def timezones() -> list[SelectChoice]:
    return options((name, name) for name in sorted(available_timezones()) if "/" in name)


@bp.get("/areas")
@allow("admin", "manager")
def places() -> str:
    visible = scope()
    venues = db.session.scalars(select(Venue).where(visible.venues(Venue.id))
                                .order_by(Venue.name)).all()
    by_area: dict[int | None, list[Venue]] = {}
    for venue in venues:
        by_area.setdefault(venue.area_id, []).append(venue)
    counts = dict(db.session.execute(
        select(Kiosk.venue_id, db.func.count()).where(Kiosk.revoked_at.is_(None),
                                                      visible.venues(Kiosk.venue_id))
        .group_by(Kiosk.venue_id)).all())
    return render_template("admin/places.html", areas=areas(visible), by_area=by_area,
                           kiosk_counts=counts)


def _province_choices(exclude: int | None) -> list[SelectChoice]:
    provinces = db.session.scalars(select(Area).where(Area.kind == "province",
                                                      Area.id != (exclude or 0))
                                   .order_by(Area.name)).all()
    return options([(0, _("None (a province)"))] + [(a.id, a.name) for a in provinces])


def _area_form(area: Area | None) -> AreaForm:
    form = AreaForm(obj=area) if area else AreaForm()
    if area is not None and not form.is_submitted():
        form.parent.data = area.parent_id or 0
    form.parent.choices = _province_choices(area.id if area else None)
    return form


@bp.route("/areas/new", methods=["GET", "POST"])
@allow("admin")
def area_new() -> Response | str:
    form = _area_form(None)
    if form.validate_on_submit():
        area = Area(name=form.name.data, kind=form.kind.data,
                    parent_id=form.parent.data if form.kind.data == "district" else None)
        db.session.add(area)
        db.session.flush()
        audit.record("area.add", user_id=staff().id, target=f"area:{area.id}")
        db.session.commit()
        flash(_("Area %(name)s is created.", name=area.name), "success")
        return redirect(url_for("admin.places"))
    return render_template("admin/area_form.html", form=form, area=None)


@bp.route("/areas/<int:area_id>/edit", methods=["GET", "POST"])
@allow("admin")
def area_edit(area_id: int) -> Response | str:
    area = db.session.get(Area, area_id) or abort(404)
    form = _area_form(area)
    if form.validate_on_submit():
        has_children = db.session.scalar(select(Area.id).where(Area.parent_id == area.id))
        if form.kind.data == "district" and has_children:
            form.kind.errors.append(_("This province has districts: it cannot become one."))
            return render_template("admin/area_form.html", form=form, area=area)
        parent = form.parent.data if form.kind.data == "district" else None
        moved = parent != area.parent_id
        area.name, area.kind, area.parent_id = form.name.data, form.kind.data, parent
        audit.record("area.edit", user_id=staff().id, target=f"area:{area.id}")
        if moved:  # inherited playlists may change for every venue below it
            playlists.publish(None)
        db.session.commit()
        flash(_("Area %(name)s is saved.", name=area.name), "success")
        return redirect(url_for("admin.places"))
    return render_template("admin/area_form.html", form=form, area=area)


def _venue_form(venue: Venue | None) -> VenueForm:
    cfg = current_app.config
    defaults = {} if venue else {"timezone": cfg["DEFAULT_TIMEZONE"],
                                 "retention_days": cfg["DEFAULT_RETENTION_DAYS"]}
    form = VenueForm(obj=venue, **defaults)
    if venue is not None and not form.is_submitted():
        form.area.data = venue.area_id or 0
    visible = scope()
    none = _("No area") if visible.everything else None
    form.area.choices = area_choices(visible, none=none)
    form.timezone.choices = timezones()
    return form


def _save_venue(form: VenueForm, venue: Venue) -> None:
    texts = (venue.consent_text_vi, venue.consent_text_en)
    venue.name, venue.kind = form.name.data, form.kind.data
    venue.area_id = form.area.data or None
    venue.address = (form.address.data or "").strip()
    venue.timezone, venue.privacy_mode = form.timezone.data, form.privacy_mode.data
    venue.retention_days = form.retention_days.data
    venue.consent_text_vi = (form.consent_text_vi.data or "").strip()
    venue.consent_text_en = (form.consent_text_en.data or "").strip()
    if venue.id is not None and texts != (venue.consent_text_vi, venue.consent_text_en):
        venue.consent_version = (venue.consent_version or 1) + 1  # records say which they saw


@bp.route("/venues/new", methods=["GET", "POST"])
@allow("admin", "manager")
def venue_new() -> Response | str:
    form = _venue_form(None)
    if form.validate_on_submit():
        venue = Venue(consent_version=1)
        _save_venue(form, venue)
        db.session.add(venue)
        db.session.flush()
        audit.record("venue.add", user_id=staff().id, target=f"venue:{venue.id}")
        playlists.publish([venue.id])
        flash(_("Venue %(name)s is created.", name=venue.name), "success")
        return redirect(url_for("admin.places"))
    return render_template("admin/venue_form.html", form=form, venue=None)


@bp.route("/venues/<int:venue_id>/edit", methods=["GET", "POST"])
@allow("admin", "manager")
def venue_edit(venue_id: int) -> Response | str:
    venue = venue_or_404(venue_id)
    form = _venue_form(venue)
    if form.validate_on_submit():
        _save_venue(form, venue)
        audit.record("venue.edit", user_id=staff().id, target=f"venue:{venue.id}")
        playlists.publish([venue.id])  # bumps the manifest generation, commits, pushes
        flash(_("Venue %(name)s is saved; its kiosks are told.", name=venue.name), "success")
        return redirect(url_for("admin.places"))
    return render_template("admin/venue_form.html", form=form, venue=venue)
