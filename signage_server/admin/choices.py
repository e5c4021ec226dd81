"""Select-box options limited to what the signed-in user may see."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from wtforms import SelectChoice

from ..extensions import db
from ..models import Area, Venue
from ..security import Scope


def now() -> datetime:
    return datetime.now(UTC)


def options(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def areas(scope: Scope) -> list[Area]:
    """Visible areas, provinces first, each followed by its districts."""
    rows = db.session.scalars(select(Area).where(scope.areas(Area.id))).all()
    by_parent: dict[int | None, list[Area]] = {}
    ids = {a.id for a in rows}
    for area in sorted(rows, key=lambda a: a.name.casefold()):
        parent = area.parent_id if area.parent_id in ids else None
        by_parent.setdefault(parent, []).append(area)
    ordered: list[Area] = []

    def walk(parent: int | None) -> None:
        for area in by_parent.get(parent, []):
            ordered.append(area)
            walk(area.id)

    walk(None)
    return ordered


def area_label(area: Area) -> str:
    return f"— {area.name}" if area.parent_id else area.name


def area_choices(scope: Scope, none: str | None = None) -> list[SelectChoice]:
    first = [(0, none)] if none is not None else []
    return options(first + [(a.id, area_label(a)) for a in areas(scope)])


def venues(scope: Scope) -> list[Venue]:
    return list(db.session.scalars(select(Venue).where(scope.venues(Venue.id))
                                   .order_by(Venue.name)).all())


def venue_choices(scope: Scope, none: str | None = None) -> list[SelectChoice]:
    first = [(0, none)] if none is not None else []
    return options(first + [(v.id, v.name) for v in venues(scope)])


def target_choices(scope: Scope) -> list[SelectChoice]:
    """Where a playlist may be assigned: visible areas and venues."""
    return options(
        [(f"area:{a.id}", _("Area: %(name)s", name=a.name)) for a in areas(scope)]
        + [(f"venue:{v.id}", _("Venue: %(name)s", name=v.name)) for v in venues(scope)])
