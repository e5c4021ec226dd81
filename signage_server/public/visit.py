"""Self check-in from the visitor's phone: ``/v/<venue>/<kiosk>/<token>`` (the kiosk's
rotating presence QR) and ``/v/<venue>/s/<token>`` (the printed poster's static QR).

A GET with a valid code shows the form; the code is only checked there. The form carries a
signed *ticket* (venue, kiosk, method and the check-in's UUID v7, made here) that the POST
must return within ``VISIT_FORM_MINUTES``: a visitor who takes two minutes to type is not
turned away because the screen's code moved on, a photo of the screen is still useless a
minute later, and a double submit carries the same UUID, so it records once.

Every request counts against the client's address (``rate_limit``, in the database, so the
limit holds across server processes); over the limit the page answers 429. A stale, forged or
unknown code gets a page that says what to do, a 4xx status and no record. Nothing a visitor
types is ever logged. Vietnamese by default, ``?lang=en`` for English.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template, request, url_for
from flask_babel import force_locale
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import HiddenField

from signage_shared import presence

from .. import checkin_links, personal, rate_limit, visitors
from ..extensions import db
from ..models import CheckIn, Kiosk, Venue
from . import bp

#: How far back a code still counts as "expired" rather than "not valid" (for the message).
STALE_WINDOWS = 20


class VisitForm(visitors.VisitorForm):
    ticket = HiddenField()


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "vi"


def _limit() -> rate_limit.Limit:
    cfg = current_app.config
    return rate_limit.Limit("visit", timedelta(minutes=int(cfg["VISIT_RATE_WINDOW_MINUTES"])),
                            int(cfg["VISIT_RATE_MAX"]))


def _page(template: str, status: int = 200, **values: Any) -> Response:
    lang = _lang()
    with force_locale(lang):
        body = render_template(template, lang=lang, other_lang="vi" if lang == "en" else "en",
                               app_name=current_app.config["APP_NAME"], **values)
    response = Response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    return response


def _refused(reason: str, status: int) -> Response:
    return _page("public/visit_refused.html", status, reason=reason)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt="self-checkin")


def _ticket(venue: Venue, kiosk_id: int | None, method: str) -> str:
    return str(_serializer().dumps({"v": venue.id, "k": kiosk_id, "m": method,
                                    "u": str(visitors.new_client_uuid())}))


def _open_ticket(raw: str, venue: Venue, kiosk_id: int | None) -> dict[str, Any] | None:
    max_age = int(current_app.config["VISIT_FORM_MINUTES"]) * 60
    try:
        data = _serializer().loads(raw or "", max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if not isinstance(data, dict) or data.get("v") != venue.id or data.get("k") != kiosk_id:
        return None
    return data


def _kiosk_code(venue_id: int, kiosk_id: int, token: str, now: datetime) -> str:
    """"ok", "stale" or "invalid" for a rotating code."""
    kiosk = db.session.get(Kiosk, kiosk_id)
    if (kiosk is None or kiosk.venue_id != venue_id or kiosk.revoked_at is not None
            or len(token) > 64):
        return "invalid"
    if presence.verify(kiosk.presence_secret, kiosk.id, token, now.timestamp()):
        return "ok"
    past = presence.window_of(now.timestamp())
    candidate = token.strip().lower()
    if any(presence.token_for(kiosk.presence_secret, kiosk.id, w) == candidate
           for w in range(past - STALE_WINDOWS, past)):
        return "stale"
    return "invalid"


def _static_code(venue_id: int, token: str) -> str:
    secret = str(current_app.config["SECRET_KEY"])
    if len(token) <= 64 and checkin_links.static_token_valid(secret, venue_id, token):
        return "ok"
    return "invalid"


def _handle(venue_id: int, kiosk_id: int | None, token: str) -> Response:
    now = datetime.now(UTC)
    if not rate_limit.allow(_limit(), request.remote_addr or "unknown", now):
        response = _refused("busy", 429)
        response.headers["Retry-After"] = str(int(_limit().window.total_seconds()))
        return response
    venue = db.session.get(Venue, venue_id)
    if venue is None:
        return _refused("invalid", 404)
    method = "self" if kiosk_id is not None else "self_static"
    form = visitors.for_venue(VisitForm(), venue)
    if request.method == "POST":
        return _submit(form, venue, kiosk_id, now)
    if kiosk_id is not None:
        code = _kiosk_code(venue_id, kiosk_id, token, now)
    else:
        code = _static_code(venue_id, token)
    if code != "ok":
        return _refused(code, 410 if code == "stale" else 404)
    form.ticket.data = _ticket(venue, kiosk_id, method)
    return _form(form, venue, now)


def _form(form: VisitForm, venue: Venue, now: datetime, status: int = 200) -> Response:
    lang = _lang()
    return _page("public/visit_form.html", status, form=form, venue=venue,
                 consent=venue.consent_texts()[lang],
                 deleted_on=visitors.deletion_date(venue, now),
                 asks_personal=visitors.has(form, "name"),
                 android_url=current_app.config["ANDROID_STORE_URL"],
                 ios_url=current_app.config["IOS_STORE_URL"],
                 action=url_for(request.endpoint or "", **(request.view_args or {}),
                                **({"lang": "en"} if lang == "en" else {})))


def _submit(form: VisitForm, venue: Venue, kiosk_id: int | None, now: datetime) -> Response:
    ticket = _open_ticket(form.ticket.data or "", venue, kiosk_id)
    if ticket is None:
        return _refused("expired_form", 410)
    client_uuid = uuid.UUID(ticket["u"])
    done = visitors.by_uuid(client_uuid)
    if done is not None:  # the same form sent twice: show what was recorded
        return _done(done, venue)
    with force_locale(_lang()):
        valid = form.validate()
    if not valid:
        return _form(form, venue, now, 422)
    entry = visitors.Entry(venue=venue, client_uuid=client_uuid,
                           direction=form.direction.data, method=ticket["m"],
                           has_app=form.has_app.data, personal=visitors.personal_values(form),
                           kiosk_id=kiosk_id)
    return _done(visitors.record(entry, now), venue)


def _done(row: CheckIn, venue: Venue) -> Response:
    install = (f"/q/{row.kiosk_id}" if row.kiosk_id is not None
               else checkin_links.install_url("", venue.id))
    return _page("public/visit_done.html", checkin=row, venue=venue,
                 masked_name=personal.mask_name(row.name),
                 local_time=row.occurred_at.astimezone(ZoneInfo(venue.timezone))
                 .strftime("%H:%M, %d/%m/%Y"),
                 deleted_on=visitors.deletion_date(venue, row.occurred_at),
                 install_url=install, hide_lang=True)


@bp.route("/v/<int:venue_id>/<int:kiosk_id>/<token>", methods=["GET", "POST"])
def visit_kiosk(venue_id: int, kiosk_id: int, token: str) -> Response:
    return _handle(venue_id, kiosk_id, token)


@bp.route("/v/<int:venue_id>/s/<token>", methods=["GET", "POST"])
def visit_static(venue_id: int, token: str) -> Response:
    return _handle(venue_id, None, token)


@bp.errorhandler(CSRFError)
def _csrf(_exc: CSRFError) -> Response:
    """A form whose CSRF token is missing or from another session: scan again."""
    return _refused("expired_form", 400)
