"""What server tests put into and read out of the database, through the server's own code.

``Database`` counts and reads rows; ``Library`` adds media the way an admin's import does
(``signage_server.library``) and, for videos a test does not want to encode, writes a file
and its row directly; ``Programme`` makes playlists and assigns them with
``signage_server.playlists``, which bumps the manifest generation as the admin pages will.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from PIL import Image
from sqlalchemy import func, select

from signage_server import library, playlists
from signage_server.extensions import db
from signage_server.media_files import path_of
from signage_server.models import Area, MediaAsset, Venue

T = TypeVar("T")


@dataclass
class Database:
    app: Flask

    def count(self, model: type[Any]) -> int:
        with self.app.app_context():
            return int(db.session.scalar(select(func.count()).select_from(model)) or 0)

    def rows(self, model: type[T], *where: Any) -> list[T]:
        """Every row of ``model`` (matching ``where``), detached and fully loaded."""
        with self.app.app_context():
            found = list(db.session.scalars(select(model).where(*where)
                                            .order_by(*model.__table__.primary_key)).all())
            db.session.expunge_all()
            return found

    def one(self, model: type[T], *where: Any) -> T:
        found = self.rows(model, *where)
        assert len(found) == 1, f"{len(found)} {model.__name__} rows"
        return found[0]

    def update(self, model: type[Any], key: int, **values: Any) -> None:
        with self.app.app_context():
            row = db.session.get(model, key)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            db.session.commit()


def png(size: tuple[int, int] = (64, 36), color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Library:
    app: Flask

    def image(self, size: tuple[int, int] = (64, 36), color: str = "teal") -> str:
        """Import a real PNG through the media library; returns its sha256."""
        with self.app.app_context():
            asset, _ = library.add(io.BytesIO(png(size, color)), f"{color}.png")
            db.session.commit()
            return asset.sha256

    def video(self, content: bytes, duration_ms: int = 15000) -> str:
        """A video row and its file, without decoding (tests never play it)."""
        sha = hashlib.sha256(content).hexdigest()
        with self.app.app_context():
            target = path_of(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            db.session.add(MediaAsset(sha256=sha, kind="video", mime="video/mp4",
                                      bytes=len(content), duration_ms=duration_ms,
                                      width=1280, height=720, title="clip.mp4"))
            db.session.commit()
        return sha


@dataclass
class Programme:
    """Playlists and where they play."""

    app: Flask

    def playlist(self, name: str, items: Sequence[playlists.ItemSpec]) -> int:
        with self.app.app_context():
            playlist = playlists.create(name, items)
            playlists.publish([])
            return int(playlist.id)

    def text_playlist(self, name: str) -> int:
        item = playlists.ItemSpec("text", data={"title_vi": name, "lines_vi": ["…"]})
        return self.playlist(name, [item])

    def assign(self, playlist_id: int, *, venue: int | None = None,
               area: int | None = None) -> None:
        with self.app.app_context():
            playlists.assign(playlist_id, venue_id=venue, area_id=area)
            playlists.publish(None)

    def replace_items(self, playlist_id: int, items: Sequence[playlists.ItemSpec]) -> None:
        with self.app.app_context():
            playlists.replace_items(playlist_id, items)
            playlists.publish(None)

    def change_venue(self, venue_id: int, **settings: Any) -> None:
        """Change a venue's settings and publish, as the admin venue page does."""
        with self.app.app_context():
            venue = db.session.get(Venue, venue_id)
            assert venue is not None
            for name, value in settings.items():
                setattr(venue, name, value)
            playlists.publish([venue_id])

    def area(self, name: str, parent: int | None = None) -> int:
        with self.app.app_context():
            area = Area(name=name, kind="province" if parent is None else "district",
                        parent_id=parent)
            db.session.add(area)
            db.session.commit()
            return int(area.id)
