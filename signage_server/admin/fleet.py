"""The fleet: every kiosk's health, its latest screenshot, adding and revoking kiosks.

A kiosk is **online** while its last heartbeat is at most two heartbeat intervals old
(``HEARTBEAT_SECONDS``): two missed beats make it **offline**. A kiosk not yet enrolled is
**pending**; a revoked one keeps its row and history but its token no longer works.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, load_only

from .. import audit
from .. import fleet as fleet_ops
from ..extensions import db
from ..models import Kiosk, KioskScreenshot, MediaAsset, Venue
from ..security import allow, scope, staff, subtree, venue_or_404
from . import bp
from .choices import area_choices, now, options, venue_choices
from .forms import ActionForm, FleetFilter, KioskForm
from .paging import Page, paginate

STATES = [("", _l("Any")), ("online", _l("Online")), ("offline", _l("Offline")),
          ("pending", _l("Not enrolled yet")), ("revoked", _l("Revoked"))]


def offline_after() -> timedelta:
    return timedelta(seconds=2 * int(current_app.config["HEARTBEAT_SECONDS"]))


def state_of(kiosk: Kiosk, moment: datetime) -> str:
    if kiosk.revoked_at is not None:
        return "revoked"
    if kiosk.token_hash is None:
        return "pending"
    seen = kiosk.last_heartbeat_at
    return "online" if seen is not None and moment - seen <= offline_after() else "offline"


def _state_clause(state: str, moment: datetime) -> Any:
    fresh = Kiosk.last_heartbeat_at >= moment - offline_after()
    live = and_(Kiosk.revoked_at.is_(None), Kiosk.token_hash.is_not(None))
    return {
        "online": and_(live, fresh),
        "offline": and_(live, or_(Kiosk.last_heartbeat_at.is_(None), ~fresh)),
        "pending": and_(Kiosk.revoked_at.is_(None), Kiosk.token_hash.is_(None)),
        "revoked": Kiosk.revoked_at.is_not(None),
    }[state]


@dataclass(frozen=True)
class Row:
    """One kiosk as the fleet table shows it."""

    kiosk: Kiosk
    state: str
    status: dict[str, Any]
    current: str
    screenshot_at: datetime | None

    @property
    def applied(self) -> bool | None:
        """Whether the kiosk reports the manifest the server last computed for it."""
        if not self.kiosk.manifest_version or not self.status.get("manifest_version"):
            return None
        return bool(self.status["manifest_version"] == self.kiosk.manifest_version)


def _current_items(kiosks: list[Kiosk]) -> dict[str, str]:
    shas = {str(((k.status or {}).get("current_item") or {}).get("sha256") or "")
            for k in kiosks}
    shas.discard("")
    if not shas:
        return {}
    rows = db.session.execute(select(MediaAsset.sha256, MediaAsset.title)
                              .where(MediaAsset.sha256.in_(shas))).all()
    return {sha: title for sha, title in rows}


def _describe(status: dict[str, Any], titles: dict[str, str]) -> str:
    item = status.get("current_item") or {}
    if not item:
        return ""
    kind = str(item.get("kind", ""))
    title = titles.get(str(item.get("sha256") or ""), "")
    return f"{kind}: {title}" if title else kind


def _rows(kiosks: list[Kiosk], moment: datetime) -> list[Row]:
    titles = _current_items(kiosks)
    shots = dict(db.session.execute(
        select(KioskScreenshot.kiosk_id, KioskScreenshot.taken_at)
        .where(KioskScreenshot.kiosk_id.in_([k.id for k in kiosks]))).all())
    return [Row(k, state_of(k, moment), dict(k.status or {}), _describe(k.status or {}, titles),
                shots.get(k.id)) for k in kiosks]


def _filters(form: FleetFilter) -> list[Any]:
    visible = scope()
    clauses: list[Any] = [visible.venues(Kiosk.venue_id)]
    if form.area.data:  # one of the visible areas: WTForms checked the choice
        areas = subtree(form.area.data)
        clauses.append(Kiosk.venue_id.in_(select(Venue.id).where(Venue.area_id.in_(areas))))
    if form.venue.data:
        clauses.append(Kiosk.venue_id == form.venue.data)
    if form.state.data:
        clauses.append(_state_clause(form.state.data, now()))
    return clauses


@bp.get("/kiosks")
@allow("admin", "manager")
def kiosks() -> str:
    form = FleetFilter(request.args)
    form.area.choices = area_choices(scope(), none=_("All areas"))
    form.venue.choices = venue_choices(scope(), none=_("All venues"))
    form.state.choices = options(STATES)
    if not form.validate():  # a stale or forged filter: show the unfiltered list
        form = FleetFilter(formdata=None)
        form.area.choices, form.venue.choices, form.state.choices = (
            area_choices(scope(), none=_("All areas")),
            venue_choices(scope(), none=_("All venues")), options(STATES))
    query = select(Kiosk).where(*_filters(form)).options(joinedload(Kiosk.venue))
    page: Page[Kiosk] = paginate(query.order_by(Kiosk.venue_id, Kiosk.id))
    moment = now()
    return render_template("admin/kiosks.html", form=form, page=page,
                           rows=_rows(page.items, moment), action=ActionForm(),
                           heartbeat=int(current_app.config["HEARTBEAT_SECONDS"]))


def _kiosk_or_404(kiosk_id: int) -> Kiosk:
    kiosk = db.session.get(Kiosk, kiosk_id)
    if kiosk is None:
        abort(404)
    venue_or_404(kiosk.venue_id)
    return kiosk


@bp.get("/kiosks/<int:kiosk_id>")
@allow("admin", "manager")
def kiosk(kiosk_id: int) -> str:
    item = _kiosk_or_404(kiosk_id)
    row = _rows([item], now())[0]
    return render_template("admin/kiosk.html", row=row, action=ActionForm())


@bp.get("/kiosks/<int:kiosk_id>/screenshot.png")
@allow("admin", "manager")
def screenshot(kiosk_id: int) -> Response:
    _kiosk_or_404(kiosk_id)
    shot = db.session.get(KioskScreenshot, kiosk_id)
    if shot is None:
        abort(404)
    response = Response(shot.png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(f"{kiosk_id}-{shot.taken_at.timestamp():.0f}")
    return response.make_conditional(request)


def _qr_image(text: str) -> Markup:
    """The enrollment code as a QR code, a PNG inlined in the page: the code exists only in
    this response (the server keeps its hash), so there is no URL to fetch it from later."""
    import qrcode

    out = io.BytesIO()
    qrcode.make(text, border=2, box_size=8).save(out)
    data = base64.b64encode(out.getvalue()).decode("ascii")
    return Markup(f'<img class="qr" alt="QR" src="data:image/png;base64,{data}">')


def _show_code(kiosk: Kiosk, code: str, expires: datetime) -> Response:
    server = current_app.config["PUBLIC_URL"]
    html = render_template("admin/kiosk_code.html", kiosk=kiosk, code=code, expires=expires,
                           qr=_qr_image(code), server=server)
    response = Response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/kiosks/new", methods=["GET", "POST"])
@allow("admin", "manager")
def kiosk_new() -> Response | str:
    form = KioskForm(venue=request.args.get("venue", type=int))
    form.venue.choices = venue_choices(scope())
    if not form.validate_on_submit():
        return render_template("admin/kiosk_form.html", form=form)
    venue = venue_or_404(form.venue.data)
    hours = int(current_app.config["ENROLLMENT_CODE_HOURS"])
    new = fleet_ops.add_kiosk(venue.id, (form.name.data or "").strip(), now(), hours)
    audit.record("kiosk.add", user_id=staff().id, target=f"kiosk:{new.kiosk_id}",
                 details={"venue_id": venue.id})
    db.session.commit()
    item = db.session.get(Kiosk, new.kiosk_id)
    assert item is not None
    return _show_code(item, new.enrollment_code, new.expires_at)


@bp.post("/kiosks/<int:kiosk_id>/code")
@allow("admin", "manager")
def kiosk_code(kiosk_id: int) -> Response:
    item = _kiosk_or_404(kiosk_id)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("admin.kiosk", kiosk_id=kiosk_id))
    hours = int(current_app.config["ENROLLMENT_CODE_HOURS"])
    moment = now()
    code = fleet_ops.reissue_code(item, moment, hours)
    audit.record("kiosk.code", user_id=staff().id, target=f"kiosk:{kiosk_id}")
    db.session.commit()
    return _show_code(item, code, moment + timedelta(hours=hours))


@bp.post("/kiosks/<int:kiosk_id>/revoke")
@allow("admin", "manager")
def kiosk_revoke(kiosk_id: int) -> Response:
    item = _kiosk_or_404(kiosk_id)
    if ActionForm().validate_on_submit() and item.revoked_at is None:
        fleet_ops.revoke(kiosk_id, now())
        item.enrollment_code_hash = None  # a pending code must not bring it back either
        audit.record("kiosk.revoke", user_id=staff().id, target=f"kiosk:{kiosk_id}",
                     details={"venue_id": item.venue_id, "name": item.name})
        db.session.commit()
        flash(_("Kiosk %(name)s is revoked: its token no longer works.",
                name=item.name or f"#{kiosk_id}"), "success")
    return redirect(url_for("admin.kiosks"))


def load_for_overview() -> Any:
    """Kiosks of the user's scope, light columns only (for the overview counts)."""
    return db.session.scalars(select(Kiosk).where(scope().venues(Kiosk.venue_id)).options(
        load_only(Kiosk.id, Kiosk.token_hash, Kiosk.revoked_at, Kiosk.last_heartbeat_at))).all()
