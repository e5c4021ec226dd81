"""The built-in default content (``media/default``), offered by the server as its initial
media and playlist, so a new installation has something to show before anyone uploads."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from . import library, playlists
from .errors import BadRequest
from .extensions import db
from .models import Playlist

REPO_DEFAULT = Path(__file__).resolve().parents[1] / "media" / "default"


def folder() -> Path:
    configured = current_app.config.get("DEFAULT_CONTENT_DIR")
    return Path(configured) if configured else REPO_DEFAULT


def _spec(item: dict[str, Any], base: Path) -> playlists.ItemSpec:
    schedule = item.get("schedule") or {}
    sha = None
    duration = item.get("duration_s")
    if item["kind"] in {"video", "image"}:
        asset, _ = library.add_path(base / Path(item["file"]).name, item.get("title"))
        sha = asset.sha256
        if item["kind"] == "video":
            duration = None  # the clip's own length
    return playlists.ItemSpec(
        kind=item["kind"], media_sha256=sha, duration_s=duration,
        days=schedule.get("days") or (1, 2, 3, 4, 5, 6, 7),
        windows=schedule.get("windows") or (),
        valid_from=_date(schedule.get("valid_from")),
        valid_until=_date(schedule.get("valid_until")),
        data=item.get("data") or {})


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def install() -> Playlist:
    """Import the default files and playlist once; later calls return the same playlist."""
    base = folder()
    manifest = base / "playlist.json"
    if not manifest.is_file():
        raise BadRequest(f"no default content at {base}: build it with `make media`")
    spec = json.loads(manifest.read_text(encoding="utf-8"))
    existing = db.session.scalars(select(Playlist).where(Playlist.name == spec["name"])).first()
    if existing is not None:
        return existing
    playlist = playlists.create(spec["name"], [_spec(i, base) for i in spec["items"]])
    db.session.commit()
    return playlist
