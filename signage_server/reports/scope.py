"""What a report or dashboard covers: the whole country, an area, a venue or one kiosk.

An area is a province or a district (DESIGN.md section 6: province ▸ district); a province's
report covers the venues placed directly in it and those in its districts. The scope turns into
one SQL condition on an event table's ``venue_id`` / ``kiosk_id`` columns, so the database
filters and groups; nothing is fetched row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, or_, select, true
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.elements import ColumnElement

from ..errors import NotFound
from ..models import Area, Kiosk, Venue

Kind = Literal["all", "area", "venue", "kiosk"]


#: A session, or Flask-SQLAlchemy's scoped ``db.session``.
DbSession = Session | scoped_session[Any]


class ScopeNotFound(NotFound):
    code = "unknown_scope"


@dataclass(frozen=True)
class Scope:
    kind: Kind
    id: int | None = None
    name: str = ""
    #: For a venue or kiosk: its venue; for a kiosk also its venue's name.
    venue_id: int | None = None

    @property
    def key(self) -> str:
        return self.kind if self.id is None else f"{self.kind}-{self.id}"

    def area_ids(self) -> Select[Any]:
        """The area and its districts."""
        return select(Area.id).where(or_(Area.id == self.id, Area.parent_id == self.id))

    def venue_ids(self) -> Select[Any] | None:
        """The venues covered, as a subquery (None: every venue)."""
        if self.kind == "all":
            return None
        if self.kind == "area":
            return select(Venue.id).where(Venue.area_id.in_(self.area_ids()))
        return select(Venue.id).where(Venue.id == self.venue_id)

    def condition(self, venue_id: Any, kiosk_id: Any = None) -> ColumnElement[bool]:
        """Rows of an event table that belong to this scope."""
        if self.kind == "all":
            return true()
        if self.kind == "area":
            return venue_id.in_(select(Venue.id).where(Venue.area_id.in_(self.area_ids())))
        if self.kind == "venue":
            return venue_id == self.venue_id
        if kiosk_id is None:
            raise ValueError("a kiosk scope needs the table's kiosk_id column")
        return kiosk_id == self.id


def resolve(session: DbSession, kind: Kind, ident: int | None) -> Scope:
    """Check the scope exists and name it; ``ScopeNotFound`` otherwise."""
    if kind == "all":
        return Scope("all")
    if ident is None:
        raise ScopeNotFound(f"a {kind} report needs an id")
    if kind == "area":
        area = session.get(Area, ident)
        if area is None:
            raise ScopeNotFound(f"no area with id {ident}")
        return Scope("area", ident, area.name)
    if kind == "venue":
        venue = session.get(Venue, ident)
        if venue is None:
            raise ScopeNotFound(f"no venue with id {ident}")
        return Scope("venue", ident, venue.name, venue_id=ident)
    kiosk = session.get(Kiosk, ident)
    if kiosk is None:
        raise ScopeNotFound(f"no kiosk with id {ident}")
    label = kiosk.name or f"#{ident}"
    return Scope("kiosk", ident, f"{kiosk.venue.name} · {label}", venue_id=kiosk.venue_id)


def timezones(session: DbSession, scope: Scope) -> list[str]:
    """The distinct time zones of the venues in scope (each venue's periods use its own)."""
    query = select(Venue.timezone).distinct()
    ids = scope.venue_ids()
    if ids is not None:
        query = query.where(Venue.id.in_(ids))
    return sorted(session.scalars(query))
