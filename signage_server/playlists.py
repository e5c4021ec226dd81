"""Changing what kiosks show: playlists, their items, assignments, and publishing.

Every change goes through here so that it bumps the manifest generation in the same
transaction and, after the commit, pushes "manifest changed" to the kiosks it affects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, select

from . import push
from .errors import BadRequest, NotFound
from .extensions import db
from .manifests import bump_generation
from .models import Area, Assignment, MediaAsset, Playlist, PlaylistItem, Venue
from .models.content import ITEM_KINDS


@dataclass(frozen=True)
class ItemSpec:
    """One item as an editor describes it."""

    kind: str
    media_sha256: str | None = None
    duration_s: float | None = None
    days: Sequence[int] = (1, 2, 3, 4, 5, 6, 7)
    windows: Sequence[Sequence[str]] = ()
    valid_from: date | None = None
    valid_until: date | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _valid_window(window: Sequence[str]) -> bool:
    if len(window) != 2:
        return False
    for hhmm in window:
        hours, _, minutes = hhmm.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            return False
        if not (0 <= int(hours) <= 24 and 0 <= int(minutes) < 60):
            return False
    return True


def _item(spec: ItemSpec, position: int) -> PlaylistItem:
    if spec.kind not in ITEM_KINDS:
        raise BadRequest(f"item {position + 1}: unknown kind {spec.kind!r}")
    media = None
    if spec.kind in {"video", "image"}:
        media = db.session.scalars(
            select(MediaAsset).where(MediaAsset.sha256 == (spec.media_sha256 or ""))).first()
        if media is None or media.kind != spec.kind:
            raise BadRequest(f"item {position + 1}: no {spec.kind} with that hash in the library")
    if spec.duration_s is not None and not 0 < spec.duration_s <= 24 * 3600:
        raise BadRequest(f"item {position + 1}: duration must be between 0 and 24 hours")
    if not set(spec.days) <= set(range(1, 8)) or not spec.days:
        raise BadRequest(f"item {position + 1}: days are ISO weekdays 1 (Mon) to 7 (Sun)")
    if not all(_valid_window(w) for w in spec.windows):
        raise BadRequest(f"item {position + 1}: time windows are pairs of HH:MM")
    if spec.valid_from and spec.valid_until and spec.valid_until < spec.valid_from:
        raise BadRequest(f"item {position + 1}: valid until is before valid from")
    return PlaylistItem(position=position, kind=spec.kind, media=media,
                        duration_s=spec.duration_s, days=sorted(set(spec.days)),
                        windows=[list(w) for w in spec.windows], valid_from=spec.valid_from,
                        valid_until=spec.valid_until, data=dict(spec.data))


def create(name: str, items: Iterable[ItemSpec]) -> Playlist:
    playlist = Playlist(name=name[:200])
    playlist.items = [_item(spec, i) for i, spec in enumerate(items)]
    db.session.add(playlist)
    db.session.flush()
    return playlist


def replace_items(playlist_id: int, items: Iterable[ItemSpec]) -> Playlist:
    playlist = db.session.get(Playlist, playlist_id)
    if playlist is None:
        raise NotFound(f"no playlist with id {playlist_id}")
    playlist.items = [_item(spec, i) for i, spec in enumerate(items)]
    bump_generation()
    return playlist


def assign(playlist_id: int, *, area_id: int | None = None,
           venue_id: int | None = None) -> Assignment:
    """Show a playlist in an area or at a venue, replacing what was assigned there."""
    if (area_id is None) == (venue_id is None):
        raise BadRequest("assign to exactly one area or one venue")
    if db.session.get(Playlist, playlist_id) is None:
        raise NotFound(f"no playlist with id {playlist_id}")
    if area_id is not None and db.session.get(Area, area_id) is None:
        raise NotFound(f"no area with id {area_id}")
    if venue_id is not None and db.session.get(Venue, venue_id) is None:
        raise NotFound(f"no venue with id {venue_id}")
    target = Assignment.area_id == area_id if area_id is not None else \
        Assignment.venue_id == venue_id
    db.session.execute(delete(Assignment).where(target))
    assignment = Assignment(playlist_id=playlist_id, area_id=area_id, venue_id=venue_id)
    db.session.add(assignment)
    bump_generation()
    return assignment


def affected_venues(playlist_id: int) -> list[int] | None:
    """Venues whose kiosks may show this playlist; None when an area assignment makes the
    fleet-wide topic simpler than listing every venue."""
    rows = db.session.execute(select(Assignment.venue_id, Assignment.area_id)
                              .where(Assignment.playlist_id == playlist_id)).all()
    if any(area is not None for _, area in rows):
        return None
    return [venue for venue, _ in rows if venue is not None]


def publish(venue_ids: Iterable[int] | None) -> int:
    """Commit the change and tell the kiosks. Returns MQTT messages sent (0 without MQTT)."""
    bump_generation()
    db.session.commit()
    return push.notify(venue_ids)
