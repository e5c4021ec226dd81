"""What the bar shows, decided as a value: install link, captions, venue, clock, presence code.

The display redraws the bar only when this value changes (once a minute for the clock, every
30 seconds with a presence code, and when the item on screen changes the install link), so
a still poster costs no drawing at all between those moments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from kiosk.manifest import Item, Programme, QrLinks
from signage_shared.presence import current_token

WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


@dataclass(frozen=True)
class BarContent:
    install_url: str
    caption_vi: str
    caption_en: str
    venue_name: str
    clock: str
    date: str
    checkin_url: str | None = None
    position: str = "bottom"


def install_url(qr: QrLinks, item: Item | None) -> str:
    """The server's counting link, tagged with the item on screen (``?i=<id>``) so the
    server learns which poster or video made people scan; without one, the Android store
    (most visitors' phones)."""
    if not qr.smart_url:
        return qr.android_url
    if item is None or item.builtin or item.id < 0:
        return qr.smart_url
    parts = urlsplit(qr.smart_url)
    query = f"{parts.query}&i={item.id}" if parts.query else f"i={item.id}"
    return urlunsplit(parts._replace(query=query))


def bar_content(
    programme: Programme,
    item: Item | None,
    now: datetime,
    presence_secret: bytes | None = None,
    kiosk_id: int | None = None,
) -> BarContent:
    """The bar at ``now`` (aware, best known time) in the venue's timezone.

    The self check-in code appears when the manifest gives its URL and the kiosk has its
    presence secret (from enrollment); ``kiosk_id`` defaults to the manifest's.
    """
    local = now.astimezone(programme.zone)
    app = programme.qr.app_name
    kiosk_id = programme.kiosk_id if kiosk_id is None else kiosk_id
    checkin = None
    if presence_secret and programme.self_checkin_url and kiosk_id is not None:
        token = current_token(presence_secret, kiosk_id, now.timestamp())
        checkin = programme.self_checkin_url + token
    return BarContent(
        install_url=install_url(programme.qr, item),
        caption_vi=f"Quét mã để cài đặt {app}",
        caption_en=f"Scan to install {app}",
        venue_name=programme.venue_name,
        clock=local.strftime("%H:%M"),
        date=f"{WEEKDAYS_VI[local.isoweekday() - 1]}, {local:%d/%m/%Y}",
        checkin_url=checkin,
        position=programme.bar,
    )
