"""Playlists: build and reorder items, assign to areas and venues, publish, watch rollout.

Who may touch what: admins everything; a manager edits the playlists owned by an area of
theirs, may also use (assign, preview, publish) national playlists, and assigns only to
their own areas and venues. Saving stores the items, bumps the manifest generation and
tells the kiosks showing the playlist (``playlists.publish``); "Publish" pushes again, and
the page polls ``rollout.json`` to show how many kiosks have applied it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, true
from wtforms import SelectChoice

from .. import audit, playlists
from ..errors import SignageError
from ..extensions import db
from ..models import Area, Assignment, MediaAsset, Playlist, PlaylistItem, Venue
from ..security import Scope, allow, scope, staff
from . import bp, items, rollout, timeline
from .choices import area_choices, now, target_choices, venue_choices
from .forms import ActionForm, AssignForm, PlaylistForm, TimelineForm


def visible_playlists(visible: Scope) -> Any:
    """A WHERE clause: national playlists and those of the user's areas."""
    if visible.everything:
        return true()
    return or_(Playlist.area_id.is_(None), Playlist.area_id.in_(visible.area_ids))


def editable(playlist: Playlist) -> bool:
    visible = scope()
    return visible.everything or (playlist.area_id is not None
                                  and visible.has_area(playlist.area_id))


def _playlist_or_404(playlist_id: int) -> Playlist:
    playlist = db.session.get(Playlist, playlist_id)
    visible = scope()
    if playlist is None or not (visible.everything or playlist.area_id is None
                                or visible.has_area(playlist.area_id)):
        abort(404)
    return playlist


def _owner_choices() -> list[SelectChoice]:
    visible = scope()
    return area_choices(visible, none=_("National (administrators)") if visible.everything
                        else None)


def _targets(playlist_id: int) -> list[dict[str, Any]]:
    """Where the playlist is assigned, with names, and whether this user may remove it."""
    visible = scope()
    rows = db.session.execute(
        select(Assignment.id, Assignment.area_id, Assignment.venue_id, Area.name, Venue.name)
        .outerjoin(Area, Area.id == Assignment.area_id)
        .outerjoin(Venue, Venue.id == Assignment.venue_id)
        .where(Assignment.playlist_id == playlist_id)).all()
    return [{"id": aid, "kind": "area" if area_id else "venue", "name": area or venue,
             "removable": visible.has_area(area_id) if area_id else visible.has_venue(venue_id)}
            for aid, area_id, venue_id, area, venue in rows]


@bp.get("/playlists")
@allow("admin", "manager")
def playlist_list() -> str:
    rows = db.session.scalars(select(Playlist).where(visible_playlists(scope()))
                              .order_by(Playlist.updated_at.desc())).all()
    counts = dict(db.session.execute(select(PlaylistItem.playlist_id, func.count())
                                     .group_by(PlaylistItem.playlist_id)).all())
    owners = dict(db.session.execute(select(Area.id, Area.name)).all())
    return render_template("admin/playlists.html", playlists=rows, counts=counts,
                           owners=owners, targets={p.id: _targets(p.id) for p in rows})


@bp.route("/playlists/new", methods=["GET", "POST"])
@allow("admin", "manager")
def playlist_new() -> Response | str:
    form = PlaylistForm()
    form.area.choices = _owner_choices()
    if form.validate_on_submit():
        playlist = playlists.create(form.name.data, [])
        playlist.area_id = form.area.data or None
        audit.record("playlist.add", user_id=staff().id, target=f"playlist:{playlist.id}")
        db.session.commit()
        flash(_("Playlist %(name)s is created: add its items.", name=playlist.name), "success")
        return redirect(url_for("admin.playlist_edit", playlist_id=playlist.id))
    return render_template("admin/playlist_new.html", form=form)


def _library() -> dict[str, list[tuple[str, str]]]:
    rows = db.session.execute(select(MediaAsset.kind, MediaAsset.sha256, MediaAsset.title)
                              .order_by(MediaAsset.title)).all()
    library: dict[str, list[tuple[str, str]]] = {"video": [], "image": []}
    for kind, sha, title in rows:
        library.setdefault(kind, []).append((sha, title or sha[:12]))
    return library


def _editor(playlist: Playlist, form: PlaylistForm, drafts: list[items.Draft],
            status: int = 200) -> tuple[str, int]:
    show = rollout.rollout(playlist.id, scope())
    assign = AssignForm()
    assign.target.choices = target_choices(scope())
    timeline_form = TimelineForm(formdata=None)
    timeline_form.venue.choices = venue_choices(scope())
    html = render_template(
        "admin/playlist_edit.html", playlist=playlist, form=form, drafts=drafts,
        library=_library(), editable=editable(playlist), assign=assign,
        targets=_targets(playlist.id), rollout=show, action=ActionForm(),
        timeline_form=timeline_form, weekdays=WEEKDAYS)
    return html, status


WEEKDAYS = ((1, _l("Mon")), (2, _l("Tue")), (3, _l("Wed")), (4, _l("Thu")), (5, _l("Fri")),
            (6, _l("Sat")), (7, _l("Sun")))


@bp.route("/playlists/<int:playlist_id>", methods=["GET", "POST"])
@allow("admin", "manager")
def playlist_edit(playlist_id: int) -> Response | tuple[str, int]:
    playlist = _playlist_or_404(playlist_id)
    form = PlaylistForm(obj=playlist)
    form.area.choices = _owner_choices()
    if not form.is_submitted():
        form.area.data = playlist.area_id or 0
        return _editor(playlist, form, items.from_items(list(playlist.items)))
    if not editable(playlist):
        abort(403)
    drafts = items.from_form(request.form, request.form.to_dict(flat=False))
    action = request.form.get("action", "save")
    if action != "save":
        return _editor(playlist, form, items.apply(drafts, action))
    specs, drafts = items.to_specs(drafts)
    if not form.validate() or any(d.errors for d in drafts):
        flash(_("Nothing was saved: correct the marked fields."), "error")
        return _editor(playlist, form, drafts, 200)
    return _save(playlist, form, specs, drafts)


def _save(playlist: Playlist, form: PlaylistForm, specs: list[playlists.ItemSpec],
          drafts: list[items.Draft]) -> Response | tuple[str, int]:
    try:
        playlists.replace_items(playlist.id, specs)
    except SignageError as exc:
        db.session.rollback()
        flash(_("Nothing was saved: %(reason)s", reason=exc.message), "error")
        return _editor(playlist, form, drafts, 200)
    playlist.name = form.name.data
    playlist.area_id = form.area.data or None
    playlist.updated_at = now()
    audit.record("playlist.save", user_id=staff().id, target=f"playlist:{playlist.id}",
                 details={"items": len(specs)})
    playlists.publish(playlists.affected_venues(playlist.id))
    flash(_("Saved; the kiosks showing it are told."), "success")
    return redirect(url_for("admin.playlist_edit", playlist_id=playlist.id))


@bp.post("/playlists/<int:playlist_id>/assign")
@allow("admin", "manager")
def playlist_assign(playlist_id: int) -> Response:
    playlist = _playlist_or_404(playlist_id)
    form = AssignForm()
    form.target.choices = target_choices(scope())
    if not form.validate_on_submit():
        flash(_("Choose an area or a venue of yours."), "error")
        return redirect(url_for("admin.playlist_edit", playlist_id=playlist.id))
    kind, _sep, raw = form.target.data.partition(":")
    target = {"area_id": int(raw)} if kind == "area" else {"venue_id": int(raw)}
    playlists.assign(playlist.id, **target)
    audit.record("playlist.assign", user_id=staff().id, target=f"playlist:{playlist.id}",
                 details={"target": form.target.data})
    playlists.publish([int(raw)] if kind == "venue" else None)
    flash(_("Assigned; the kiosks there are told."), "success")
    return redirect(url_for("admin.playlist_edit", playlist_id=playlist.id))


@bp.post("/assignments/<int:assignment_id>/delete")
@allow("admin", "manager")
def assignment_delete(assignment_id: int) -> Response:
    row = db.session.get(Assignment, assignment_id) or abort(404)
    visible = scope()
    if not (visible.has_area(row.area_id) if row.area_id else visible.has_venue(row.venue_id)):
        abort(404)
    playlist_id = row.playlist_id
    if ActionForm().validate_on_submit():
        venue = row.venue_id
        db.session.execute(delete(Assignment).where(Assignment.id == assignment_id))
        audit.record("playlist.unassign", user_id=staff().id, target=f"playlist:{playlist_id}",
                     details={"area_id": row.area_id, "venue_id": venue})
        playlists.publish([venue] if venue else None)
        flash(_("Removed; the kiosks there are told."), "success")
    return redirect(url_for("admin.playlist_edit", playlist_id=playlist_id))


@bp.post("/playlists/<int:playlist_id>/publish")
@allow("admin", "manager")
def playlist_publish(playlist_id: int) -> Response:
    playlist = _playlist_or_404(playlist_id)
    if ActionForm().validate_on_submit():
        venues = playlists.affected_venues(playlist.id)
        sent = playlists.publish(venues)
        audit.record("playlist.publish", user_id=staff().id, target=f"playlist:{playlist.id}",
                     details={"pushed": sent})
        db.session.commit()
        flash(_("Published: kiosks fetch it now (or at their next poll)."), "success")
    return redirect(url_for("admin.playlist_edit", playlist_id=playlist.id))


@bp.post("/playlists/<int:playlist_id>/delete")
@allow("admin", "manager")
def playlist_delete(playlist_id: int) -> Response:
    playlist = _playlist_or_404(playlist_id)
    if not editable(playlist):
        abort(403)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("admin.playlist_edit", playlist_id=playlist.id))
    if db.session.scalar(select(Assignment.id).where(Assignment.playlist_id == playlist.id)):
        flash(_("This playlist is assigned: remove its assignments first."), "error")
        return redirect(url_for("admin.playlist_edit", playlist_id=playlist.id))
    audit.record("playlist.delete", user_id=staff().id, target=f"playlist:{playlist.id}",
                 details={"name": playlist.name})
    db.session.delete(playlist)
    db.session.commit()
    flash(_("Playlist deleted."), "success")
    return redirect(url_for("admin.playlist_list"))


@bp.get("/playlists/<int:playlist_id>/rollout.json")
@allow("admin", "manager")
def playlist_rollout(playlist_id: int) -> Response:
    playlist = _playlist_or_404(playlist_id)
    show = rollout.rollout(playlist.id, scope())
    return jsonify({"applied": show.applied, "total": show.total,
                    "text": _("applied on %(n)d of %(m)d kiosks", n=show.applied,
                              m=show.total)})


def _entries(playlist: Playlist) -> list[timeline.Entry]:
    entries = []
    for item in playlist.items:
        duration = item.duration_s
        if duration is None:
            media_ms = item.media.duration_ms if item.media else None
            duration = (media_ms or 0) / 1000 if item.kind == "video" else 10.0
        label = item.media.title if item.media else _label(item)
        entries.append(timeline.Entry(
            label=label, kind=item.kind, duration_s=float(duration),
            days=frozenset(item.days or items.ALL_DAYS),
            windows=timeline.parse_windows(item.windows or []),
            valid_from=item.valid_from, valid_until=item.valid_until))
    return entries


def _label(item: PlaylistItem) -> str:
    data = item.data or {}
    text = data.get("caption_vi") or data.get("title_vi") or data.get("url") or ""
    return str(text)[:60] or item.kind


@bp.get("/playlists/<int:playlist_id>/timeline")
@allow("admin", "manager")
def playlist_timeline(playlist_id: int) -> str:
    playlist = _playlist_or_404(playlist_id)
    form = TimelineForm(formdata=request.args)
    form.venue.choices = venue_choices(scope())
    if not form.validate() or not form.venue.data:
        showing = rollout.venues_showing(playlist.id, scope())
        choices = form.venue.choices or []
        form.venue.data = showing[0] if showing else (choices[0].value if choices else 0)
    venue = db.session.get(Venue, form.venue.data) if form.venue.data else None
    zone = ZoneInfo(venue.timezone if venue else "UTC")
    day: date = form.day.data or datetime.now(zone).date()
    form.day.data = day
    entries = _entries(playlist)
    shows = rollout.effective(scope()).get(venue.id) if venue else None
    return render_template("admin/timeline.html", playlist=playlist, form=form, venue=venue,
                           day=day, entries=entries, plan=timeline.day_plan(entries, day),
                           clock=timeline.clock, shows_here=shows == playlist.id,
                           shown_playlist=db.session.get(Playlist, shows) if shows else None)
