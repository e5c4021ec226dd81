"""The playlist editor's items: read from the posted form, shown back, turned into specs.

Each item in the form has a stable key (``k0``, ``k1``, ...) and its fields are named
``<key>-<field>``; the hidden ``order`` field lists the keys in playing order. Dragging an
item or pressing its up/down buttons (``admin.js``) only rewrites ``order``; without
JavaScript the same buttons submit the form and the server moves the item and renders the
form again, unsaved edits included. Nothing is stored until "Save".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from flask_babel import gettext as _

from ..models import PlaylistItem
from ..playlists import ItemSpec

KEY = re.compile(r"^k\d{1,4}$")
WINDOW = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
MAX_ITEMS = 200
KINDS = ("video", "image", "qr", "text")
#: The slide fields each kind keeps in ``PlaylistItem.data``.
DATA_FIELDS = {"qr": ("url", "caption_vi", "caption_en"),
               "text": ("title_vi", "lines_vi", "title_en", "lines_en")}
LINES = ("lines_vi", "lines_en")
ALL_DAYS = (1, 2, 3, 4, 5, 6, 7)
DAY_VALUES = {str(d) for d in ALL_DAYS}


@dataclass(frozen=True)
class Draft:
    """One item as typed in the editor (strings, so a typo is shown back, not lost)."""

    key: str
    kind: str
    media: str = ""
    duration: str = ""
    days: tuple[int, ...] = ALL_DAYS
    windows: str = ""
    valid_from: str = ""
    valid_until: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


def from_items(items: list[PlaylistItem]) -> list[Draft]:
    """The stored items as editor drafts."""
    return [Draft(
        key=f"k{i}", kind=item.kind, media=item.media.sha256 if item.media else "",
        duration="" if item.duration_s is None else f"{item.duration_s:g}",
        days=tuple(item.days or ALL_DAYS),
        windows=", ".join(f"{a}-{b}" for a, b in item.windows or []),
        valid_from=item.valid_from.isoformat() if item.valid_from else "",
        valid_until=item.valid_until.isoformat() if item.valid_until else "",
        data={name: _data_text(name, (item.data or {}).get(name))
              for name in DATA_FIELDS.get(item.kind, ())},
    ) for i, item in enumerate(items)]


def _data_text(name: str, value: Any) -> str:
    if name in LINES and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def from_form(form: Mapping[str, str], lists: Mapping[str, list[str]]) -> list[Draft]:
    """The drafts in the posted order; unknown keys and kinds are dropped."""
    keys = [k for k in form.get("order", "").split(",") if KEY.match(k)]
    drafts = []
    for key in dict.fromkeys(keys):  # no key twice
        kind = form.get(f"{key}-kind", "")
        if kind not in KINDS:
            continue
        days = tuple(sorted({int(d) for d in lists.get(f"{key}-days", []) if d in DAY_VALUES}))
        drafts.append(Draft(
            key=key, kind=kind, media=form.get(f"{key}-media", "").strip(),
            duration=form.get(f"{key}-duration", "").strip(), days=days,
            windows=form.get(f"{key}-windows", "").strip(),
            valid_from=form.get(f"{key}-valid_from", "").strip(),
            valid_until=form.get(f"{key}-valid_until", "").strip(),
            data={n: form.get(f"{key}-{n}", "").strip()[:2000]
                  for n in DATA_FIELDS.get(kind, ())}))
    return drafts[:MAX_ITEMS]


def new_key(drafts: list[Draft]) -> str:
    used = {int(d.key[1:]) for d in drafts}
    return f"k{max(used, default=-1) + 1}"


def apply(drafts: list[Draft], action: str) -> list[Draft]:
    """An editor button without JavaScript: ``add:<kind>``, ``up:<key>``, ``down:<key>``,
    ``remove:<key>``."""
    verb, _sep, arg = action.partition(":")
    if verb == "add" and arg in KINDS and len(drafts) < MAX_ITEMS:
        return [*drafts, Draft(key=new_key(drafts), kind=arg)]
    keys = [d.key for d in drafts]
    if arg not in keys:
        return drafts
    at = keys.index(arg)
    moved = list(drafts)
    if verb == "remove":
        del moved[at]
    elif verb == "up" and at > 0:
        moved[at - 1], moved[at] = moved[at], moved[at - 1]
    elif verb == "down" and at < len(moved) - 1:
        moved[at + 1], moved[at] = moved[at], moved[at + 1]
    return moved


def to_specs(drafts: list[Draft]) -> tuple[list[ItemSpec], list[Draft]]:
    """The specs to store, and the drafts with their errors (no specs if any error)."""
    specs, checked = [], []
    for draft in drafts:
        try:
            specs.append(_spec(draft))
            checked.append(draft)
        except ValueError as exc:
            checked.append(replace(draft, errors=tuple(str(exc).split("\n"))))
    failed = any(d.errors for d in checked)
    return ([] if failed else specs), checked


def _spec(draft: Draft) -> ItemSpec:
    problems: list[str] = []
    duration = _duration(draft, problems)
    windows = _windows(draft.windows, problems)
    valid_from = _date(draft.valid_from, problems)
    valid_until = _date(draft.valid_until, problems)
    if not draft.days:
        problems.append(_("Choose at least one day."))
    if draft.kind in ("video", "image") and not draft.media:
        problems.append(_("Choose a file from the library."))
    if draft.kind == "qr" and not draft.data.get("url", "").startswith(("https://", "http://")):
        problems.append(_("A QR slide needs a link starting with https://"))
    if draft.kind == "text" and not any(draft.data.values()):
        problems.append(_("A text slide needs a title or some lines."))
    if problems:
        raise ValueError("\n".join(problems))
    return ItemSpec(kind=draft.kind, media_sha256=draft.media or None, duration_s=duration,
                    days=draft.days, windows=windows, valid_from=valid_from,
                    valid_until=valid_until, data=_data(draft))


def _duration(draft: Draft, problems: list[str]) -> float | None:
    if not draft.duration:
        return None if draft.kind == "video" else 10.0
    try:
        seconds = float(draft.duration.replace(",", "."))
    except ValueError:
        seconds = -1
    if not 0 < seconds <= 24 * 3600:
        problems.append(_("Duration is a number of seconds, more than 0."))
        return None
    return seconds


def _windows(text: str, problems: list[str]) -> list[list[str]]:
    windows = []
    for part in filter(None, (p.strip() for p in re.split(r"[,;\n]", text))):
        match = WINDOW.match(part)
        if not match or not all(_clock(t) for t in match.groups()):
            problems.append(_("Time windows look like 08:00-12:00, 13:30-17:00."))
            return []
        windows.append([_clock(t) for t in match.groups()])
    return windows


def _clock(text: str) -> str:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        return ""
    return f"{hours:02d}:{minutes:02d}"


def _date(text: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(_("Dates look like 2026-12-31."))
        return None


def _data(draft: Draft) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in draft.data.items():
        if name in LINES:
            data[name] = [line.strip() for line in value.splitlines() if line.strip()]
        elif value:
            data[name] = value
    return data
