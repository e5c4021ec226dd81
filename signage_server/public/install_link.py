"""The smart install link: ``/q/<kiosk id>?i=<item id>`` and ``/q/v/<venue id>``.

The kiosk draws this link in its install QR, naming itself and the item on screen, so the
adoption report can tell which venue and which promo made people scan. Opening it records a
scan (time, kiosk, venue, item, platform; no IP address or other identifier) and sends the
phone to its store, or shows both store buttons and the install steps elsewhere. The phone
does the network hop, so this works while the kiosk is offline.

Inflation guards: crawlers and link previewers are not counted, and a cookie scoped to the
link makes a reload within a minute count once. Nothing about the client is stored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Response, current_app, redirect, render_template, request
from sqlalchemy import select

from ..extensions import db
from ..models import Kiosk, QrScan, Venue
from . import bp

COOLDOWN_SECONDS = 60
BOT = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|headless|curl|wget|"
    r"python-requests|httpclient|okhttp|go-http-client|java/|libwww|scan|monitor",
    re.IGNORECASE)


def platform_of(user_agent: str) -> str:
    """android, ios or other, from the User-Agent alone."""
    if re.search(r"android", user_agent, re.IGNORECASE):
        return "android"
    if re.search(r"iphone|ipad|ipod", user_agent, re.IGNORECASE):
        return "ios"
    return "other"


def is_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(BOT.search(user_agent))


def _item_id() -> int | None:
    raw = request.args.get("i", "")
    return int(raw) if raw.isdigit() and len(raw) <= 9 else None


def _count(cookie: str, kiosk_id: int | None, venue_id: int | None, ua: str) -> bool:
    """Record the scan unless it is a bot or a reload within the cool-down."""
    if is_bot(ua) or request.cookies.get(cookie):
        return False
    db.session.add(QrScan(at=datetime.now(UTC), kiosk_id=kiosk_id, venue_id=venue_id,
                          item_id=_item_id(), platform=platform_of(ua)))
    db.session.commit()
    return True


def _answer(cookie: str, counted: bool) -> Response:
    cfg = current_app.config
    ua = request.headers.get("User-Agent", "")
    target = {"android": cfg["ANDROID_STORE_URL"], "ios": cfg["IOS_STORE_URL"]}.get(
        platform_of(ua))
    if target and not is_bot(ua):
        response = redirect(target, code=302)
    else:
        lang = "en" if request.args.get("lang") == "en" else "vi"
        response = Response(render_template(
            "public/install.html", lang=lang, app_name=cfg["APP_NAME"],
            android_url=cfg["ANDROID_STORE_URL"], ios_url=cfg["IOS_STORE_URL"]))
    response.headers["Cache-Control"] = "no-store"
    if counted:
        response.set_cookie(cookie, "1", max_age=COOLDOWN_SECONDS, path=request.path,
                            httponly=True, samesite="Lax")
    return response


@bp.get("/q/<int:kiosk_id>")
def from_kiosk(kiosk_id: int) -> Response:
    ua = request.headers.get("User-Agent", "")
    venue_id = db.session.scalar(select(Kiosk.venue_id).where(Kiosk.id == kiosk_id))
    cookie = f"qs{kiosk_id}"
    counted = venue_id is not None and _count(cookie, kiosk_id, venue_id, ua)
    return _answer(cookie, counted)


@bp.get("/q/v/<int:venue_id>")
def from_poster(venue_id: int) -> Response:
    ua = request.headers.get("User-Agent", "")
    cookie = f"qv{venue_id}"
    counted = db.session.get(Venue, venue_id) is not None and _count(cookie, None, venue_id, ua)
    return _answer(cookie, counted)
