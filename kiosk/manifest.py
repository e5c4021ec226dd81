"""The manifest (server format, docs/api.md) and the default playlist, read into frozen values.

Everything here is clamped on read, the way a signage player must treat stored data: an item
with a missing file, an unknown kind or no usable duration is dropped (and the reason logged),
a bad schedule window is ignored, an unknown timezone falls back to the campaign's. Nothing in
a manifest can raise into the screen loop; only a value that is not a manifest at all does
(``ManifestError``), and the loop then keeps the last good one.

The default playlist (``media/default/playlist.json``) uses the same item format plus a
``file`` field relative to its folder, and negative ids. When it is missing too, two
built-in slides (install QR and install steps) stand in, so the screen is never black.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.checkin import PRIVACY_FIELDS, CheckinSettings

log = logging.getLogger(__name__)

KINDS = ("video", "image", "qr", "text")
ALL_DAYS = frozenset(range(1, 8))
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
MIN_STILL_S = 1.0  # a poster shown for less than this only flickers
MAX_ITEM_S = 24 * 3600.0  # the server's own bound on duration_ms
DEFAULT_RETENTION_DAYS = 21  # the server's default; it never allows more than 30
MAX_RETENTION_DAYS = 30

Resolve = Callable[[str], Path | None]


class ManifestError(ValueError):
    """The value is not a manifest at all; the caller keeps the last good one."""


@dataclass(frozen=True)
class Window:
    """A local time window; ``end`` None means midnight at the end of the day.

    ``end <= start`` is a window crossing midnight (``22:00-06:00``); ``start == end`` is a
    full 24 hours starting at ``start``.
    """

    start: time
    end: time | None


@dataclass(frozen=True)
class Schedule:
    """When an item may play, in the venue's local time; the defaults mean "always"."""

    days: frozenset[int] = ALL_DAYS
    windows: tuple[Window, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None
    never: bool = False  # windows were given but none could be read


@dataclass(frozen=True)
class QrSlide:
    """A full-screen QR code; ``url`` None means the install link (as in the bar)."""

    url: str | None
    caption_vi: str
    caption_en: str


@dataclass(frozen=True)
class TextSlide:
    title_vi: str
    lines_vi: tuple[str, ...]
    title_en: str
    lines_en: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    """One thing the main zone can show.

    ``duration_s`` None means a video plays to its last frame. ``builtin`` marks the default
    content: its ids are local and negative, so proof of play reports it as kind "default".
    """

    id: int
    kind: str
    duration_s: float | None
    path: Path | None = None
    sha256: str | None = None
    schedule: Schedule = field(default_factory=Schedule)
    qr: QrSlide | None = None
    text: TextSlide | None = None
    builtin: bool = False

    @property
    def wire_kind(self) -> str:
        """The kind reported to the server (play records, heartbeat)."""
        return "default" if self.builtin else self.kind

    @property
    def key(self) -> str:
        """Identifies the content, so a file that failed is not retried in a tight loop."""
        if self.sha256:
            return self.sha256
        return str(self.path) if self.path else f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class QrLinks:
    app_name: str
    android_url: str
    ios_url: str
    smart_url: str | None = None


DEFAULT_QR = QrLinks(
    app_name="Bluezone",
    android_url="https://play.google.com/store/apps/details?id=com.mic.bluezone",
    ios_url="https://apps.apple.com/vn/app/bluezone/id1508062685",
)


@dataclass(frozen=True)
class Programme:
    """What one manifest asks of the screen: the playlist and everything the bar shows.

    ``items`` empty means the venue has no playlist (or none of it could be read): the
    default content plays.
    """

    version: str | None = None
    venue_name: str = ""
    timezone: str = DEFAULT_TIMEZONE
    bar: str = "bottom"
    qr: QrLinks = DEFAULT_QR
    self_checkin_url: str | None = None
    kiosk_id: int | None = None
    items: tuple[Item, ...] = ()
    checkin: CheckinSettings | None = None  # None: no manifest yet, check-ins are not set up

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def default_content_dir() -> Path:
    """Where the project ships its default content (``media/default``)."""
    return Path(__file__).resolve().parents[1] / "media" / "default"


def parse_manifest(manifest: Any, resolve: Resolve) -> Programme:
    """The server's manifest as a ``Programme``; items whose file ``resolve`` cannot find
    are dropped, since the sync side only promises what it has verified."""
    if not isinstance(manifest, Mapping):
        raise ManifestError(f"manifest is a {type(manifest).__name__}, not an object")
    venue = _mapping(manifest.get("venue"))
    kiosk = _mapping(manifest.get("kiosk"))
    playlist = _mapping(manifest.get("playlist"))
    items = tuple(_items(playlist.get("items"), lambda raw: _server_media(raw, resolve)))
    return Programme(
        version=_text(manifest.get("manifest_version")) or None,
        venue_name=_text(venue.get("name")),
        timezone=_timezone(venue.get("timezone")),
        bar=_bar(_mapping(manifest.get("layout")).get("bar")),
        qr=_qr_links(manifest.get("qr")),
        self_checkin_url=_text(_mapping(manifest.get("checkin")).get("self_checkin_url")) or None,
        kiosk_id=_int(kiosk.get("id")),
        items=items,
        checkin=parse_checkin(manifest.get("checkin"), _timezone(venue.get("timezone"))),
    )


def parse_checkin(raw: Any, timezone: str) -> CheckinSettings | None:
    """The venue's check-in settings, clamped: an unknown privacy mode reads as ``count``
    (record nothing personal rather than guess), retention stays within 1-30 days."""
    if not isinstance(raw, Mapping):
        return None
    mode = raw.get("privacy_mode")
    if mode not in PRIVACY_FIELDS:
        log.warning("unknown privacy mode %r: recording counts only", mode)
        mode = "count"
    days = _int(raw.get("retention_days"))
    consent = _mapping(raw.get("consent"))
    version = _int(raw.get("consent_version"))
    return CheckinSettings(
        privacy_mode=mode,
        retention_days=min(max(days, 1), MAX_RETENTION_DAYS) if days is not None
        else DEFAULT_RETENTION_DAYS,
        consent_version=version if version is not None and version >= 0 else None,
        consent_text_vi=_text(consent.get("vi")),
        consent_text_en=_text(consent.get("en")),
        timezone=timezone,
    )


def parse_default(playlist: Any, folder: Path) -> tuple[Item, ...]:
    """The default playlist's items (files relative to ``folder``), marked ``builtin``."""
    body = _mapping(playlist)
    raw_items = body.get("items", _mapping(body.get("playlist")).get("items"))

    def media(raw: Mapping[str, Any]) -> Path | None:
        name = Path(_text(raw.get("file")))
        if not name.parts or name.is_absolute() or ".." in name.parts:
            return None
        path = folder / name
        return path if path.is_file() else None

    return tuple(_items(raw_items, media, builtin=True))


def load_default(folder: Path | None = None) -> tuple[Item, ...]:
    """The default content to fall back on: the shipped playlist, else the built-in slides."""
    folder = default_content_dir() if folder is None else folder
    source = folder / "playlist.json"
    try:
        items = parse_default(json.loads(source.read_text(encoding="utf-8")), folder)
    except (OSError, ValueError) as exc:
        log.warning("default playlist %s unusable (%s): using built-in slides", source, exc)
        return builtin_slides()
    if not items:
        log.warning("default playlist %s has no playable item: using built-in slides", source)
        return builtin_slides()
    return items


def builtin_slides(qr: QrLinks = DEFAULT_QR) -> tuple[Item, ...]:
    """The last resort: needs no file, so it cannot fail to open."""
    app = qr.app_name
    return (
        Item(
            id=-1001,
            kind="qr",
            duration_s=10.0,
            builtin=True,
            qr=QrSlide(None, f"Quét mã để cài đặt {app}", f"Scan to install {app}"),
        ),
        Item(
            id=-1002,
            kind="text",
            duration_s=12.0,
            builtin=True,
            text=install_steps(app),
        ),
    )


def install_steps(app: str) -> TextSlide:
    """The install guide of the campaign letters, in Vietnamese and English."""
    return TextSlide(
        title_vi=f"Cài đặt {app} trong 4 bước",
        lines_vi=(
            "Mở CH Play (Android) hoặc App Store (iOS)",
            f"Tìm “{app}”",
            "Cài đặt ứng dụng",
            "Mở ứng dụng và cấp các quyền được yêu cầu",
        ),
        title_en=f"Install {app} in 4 steps",
        lines_en=(
            "Open CH Play (Android) or the App Store (iOS)",
            f"Search for “{app}”",
            "Install the app",
            "Open the app and grant the permissions it asks for",
        ),
    )


def _items(
    raw_items: Any,
    media: Callable[[Mapping[str, Any]], Path | None],
    builtin: bool = False,
) -> Iterable[Item]:
    if not isinstance(raw_items, list):
        return
    for position, raw in enumerate(raw_items):
        try:
            item = _item(_mapping(raw), media, builtin)
        except (TypeError, ValueError, OverflowError) as exc:
            log.warning("playlist item #%d skipped: %s", position, exc)
            continue
        yield item


def _item(
    raw: Mapping[str, Any], media: Callable[[Mapping[str, Any]], Path | None], builtin: bool
) -> Item:
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    item_id = _int(raw.get("id"))
    if item_id is None:
        raise ValueError("no id")
    duration = _duration(raw.get("duration_s"), kind)
    data = _mapping(raw.get("data"))
    path = media(raw) if kind in ("video", "image") else None
    if kind in ("video", "image") and path is None:
        raise ValueError(f"item {item_id}: media file missing")
    sha = raw.get("sha256")
    return Item(
        id=item_id,
        kind=kind,
        duration_s=duration,
        path=path,
        sha256=sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) else None,
        schedule=parse_schedule(raw.get("schedule")),
        qr=_qr_slide(data, item_id) if kind == "qr" else None,
        text=_text_slide(data, item_id) if kind == "text" else None,
        builtin=builtin,
    )


def _server_media(raw: Mapping[str, Any], resolve: Resolve) -> Path | None:
    sha = raw.get("sha256")
    return resolve(sha) if isinstance(sha, str) and sha else None


def _duration(raw: Any, kind: str) -> float | None:
    """Zero, negative or unreadable durations drop the item; huge ones are capped."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        if kind == "video" and raw is None:
            return None
        raise ValueError(f"bad duration {raw!r}")
    if not raw > 0:
        raise ValueError(f"duration {raw!r} is not positive")
    seconds = min(float(raw), MAX_ITEM_S)
    return seconds if kind == "video" else max(seconds, MIN_STILL_S)


def _qr_slide(data: Mapping[str, Any], item_id: int) -> QrSlide:
    url = data.get("url")
    if url is not None and not (isinstance(url, str) and url.strip()):
        raise ValueError(f"item {item_id}: QR slide with a bad url {url!r}")
    return QrSlide(
        url.strip() if url else None, _text(data.get("caption_vi")), _text(data.get("caption_en"))
    )


def _text_slide(data: Mapping[str, Any], item_id: int) -> TextSlide:
    slide = TextSlide(
        title_vi=_text(data.get("title_vi")),
        lines_vi=_lines(data.get("lines_vi")),
        title_en=_text(data.get("title_en")),
        lines_en=_lines(data.get("lines_en")),
    )
    if not any((slide.title_vi, slide.lines_vi, slide.title_en, slide.lines_en)):
        raise ValueError(f"item {item_id}: empty text slide")
    return slide


def parse_schedule(raw: Any) -> Schedule:
    """An item's ``schedule`` object; unreadable parts are dropped, an absent one is "always"."""
    body = _mapping(raw)
    days = body.get("days")
    day_set = frozenset(d for d in days if type(d) is int and 1 <= d <= 7) if days else ALL_DAYS
    raw_windows = body.get("windows") if isinstance(body.get("windows"), list) else []
    windows = tuple(w for w in map(_window, raw_windows) if w is not None)
    return Schedule(
        days=day_set or ALL_DAYS,
        windows=windows,
        valid_from=_date(body.get("valid_from")),
        valid_until=_date(body.get("valid_until")),
        never=bool(raw_windows) and not windows,
    )


_HHMM = re.compile(r"(\d{1,2}):(\d{2})(?::\d{2})?")


def _minutes(raw: Any) -> int | None:
    """``HH:MM`` as minutes since midnight, 0 to 1440 (``24:00``); None when unreadable."""
    match = _HHMM.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if not match:
        return None
    minutes = int(match[1]) * 60 + int(match[2])
    return minutes if int(match[2]) < 60 and minutes <= 24 * 60 else None


def _window(raw: Any) -> Window | None:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    start, end = _minutes(raw[0]), _minutes(raw[1])
    if start is None or end is None:
        return None
    start %= 24 * 60  # "24:00" as a start is midnight
    return Window(
        time(start // 60, start % 60), None if end == 24 * 60 else time(end // 60, end % 60)
    )


def _date(raw: Any) -> date | None:
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _qr_links(raw: Any) -> QrLinks:
    body = _mapping(raw)
    return QrLinks(
        app_name=_text(body.get("app_name")) or DEFAULT_QR.app_name,
        android_url=_text(body.get("android_url")) or DEFAULT_QR.android_url,
        ios_url=_text(body.get("ios_url")) or DEFAULT_QR.ios_url,
        smart_url=_text(body.get("smart_url")) or None,
    )


def _timezone(raw: Any) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        log.warning("unknown timezone %r: using %s", raw, DEFAULT_TIMEZONE)
        return DEFAULT_TIMEZONE
    return str(raw)


def _bar(raw: Any) -> str:
    return raw if raw in ("top", "bottom") else "bottom"


def _mapping(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


def _text(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""


def _lines(raw: Any) -> tuple[str, ...]:
    return (
        tuple(line.strip() for line in raw if isinstance(line, str))
        if isinstance(raw, list)
        else ()
    )


def _int(raw: Any) -> int | None:
    return raw if type(raw) is int else None
