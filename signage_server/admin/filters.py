"""Small Jinja filters for the console's tables."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_decimal


def filesize(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{format_decimal(round(size, 1))} {unit}"
        size /= 1024
    return ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def label(value: str | None, group: str) -> str:
    """The translated label of a stored code (``office`` → "Văn phòng")."""
    from . import fleet, forms

    groups = {"venue_kind": forms.VENUE_KINDS, "area_kind": forms.AREA_KINDS,
              "privacy": forms.PRIVACY_MODES, "role": forms.ROLES, "method": forms.METHODS,
              "direction": forms.DIRECTIONS, "has_app": forms.HAS_APP, "state": fleet.STATES}
    return str(dict(groups[group]).get(value or "", value or ""))


def register(app: Flask) -> None:
    app.add_template_filter(filesize, "filesize")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(label, "label")
