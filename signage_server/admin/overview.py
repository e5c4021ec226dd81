"""The landing page: what needs attention in the user's scope."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Response, current_app, redirect, render_template, url_for
from sqlalchemy import func, select

from ..extensions import db
from ..models import CheckIn, MediaAsset, Playlist, Venue
from ..security import ROLES, allow, scope, staff
from . import bp
from .choices import now
from .fleet import load_for_overview, state_of
from .playlists import visible_playlists


def _start_of_today(moment: datetime) -> datetime:
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return datetime.combine(moment.astimezone(zone).date(), time(), zone)


@bp.get("/")
@allow(*ROLES)
def overview() -> Response | str:
    if staff().role == "reception":  # their work is at the entrance: the reception page
        return redirect(url_for("admin.reception"))
    moment = now()
    visible = scope()
    states = Counter(state_of(k, moment) for k in load_for_overview())
    checkins = db.session.scalar(select(func.count()).select_from(CheckIn).where(
        visible.venues(CheckIn.venue_id), CheckIn.occurred_at >= _start_of_today(moment)))
    venues = db.session.scalar(select(func.count()).select_from(Venue).where(
        visible.venues(Venue.id)))
    media = db.session.scalar(select(func.count()).select_from(MediaAsset))
    playlists = db.session.scalar(select(func.count()).select_from(Playlist).where(
        visible_playlists(visible)))
    return render_template("admin/overview.html", states=states, checkins=checkins or 0,
                           venues=venues or 0, media=media or 0, playlists=playlists or 0)
