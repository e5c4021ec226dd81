"""Nouns for the admin console tests: a small world of areas, venues, staff and kiosks.

``Town`` builds, through the ORM, what the console works on:

    Tỉnh Bắc (province) ▸ Huyện Đông (district) ▸ Bến xe Đông (venue, privacy "contact")
    Tỉnh Nam (province)                         ▸ Khách sạn Nam (venue)

with one user per role (the manager manages the province, so the district's venue is
theirs), an enrolled kiosk at each venue, an image in the library, a playlist per province
and a few check-ins. ``sign_in`` puts a user in a test client's session the way Flask-Login
would after a correct password, without paying for argon2 on every test.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from signage_server import fleet, library, playlists
from signage_server.extensions import db
from signage_server.models import Area, CheckIn, Kiosk, KioskScreenshot, User, Venue
from signage_server.security import fingerprint

PASSWORD = "correct horse battery staple"
_HASHES: dict[str, str] = {}
ROLES = ("admin", "manager", "reception")


def password_hash() -> str:
    """One argon2id hash for every test user, with light parameters: the production cost is
    slow on purpose, and verification reads the parameters from the hash itself."""
    if PASSWORD not in _HASHES:
        _HASHES[PASSWORD] = PasswordHasher(time_cost=1, memory_cost=1024,
                                           parallelism=1).hash(PASSWORD)
    return _HASHES[PASSWORD]


def mp4_bytes(size: tuple[int, int] = (320, 180), fps: int = 30, frames: int = 30,
              codec: str = "libx264", faststart: bool = True) -> bytes:
    """A small MP4 made with PyAV: moving colour bars, ``frames`` frames at ``fps``."""
    import av
    import numpy as np

    options = {"movflags": "+faststart"} if faststart else {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"  # +faststart rewrites the file by name
        _encode(av, np, path, size, fps, frames, codec, options)
        return path.read_bytes()


def _encode(av: Any, np: Any, path: Path, size: tuple[int, int], fps: int, frames: int,
            codec: str, options: dict[str, str]) -> None:
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for number in range(frames):
            pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
            pixels[:, : (number * 7) % size[0] + 1] = (0, 92, 173)
            pixels[size[1] // 2:, :, 1] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def png_bytes(size: tuple[int, int] = (64, 36), colour: str = "navy") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@dataclass
class Town:
    province: int = 0
    district: int = 0
    other_province: int = 0
    venue: int = 0
    other_venue: int = 0
    users: dict[str, int] = field(default_factory=dict)
    kiosk: int = 0
    other_kiosk: int = 0
    media: int = 0
    media_sha: str = ""
    playlist: int = 0
    other_playlist: int = 0
    assignment: int = 0
    checkins: list[int] = field(default_factory=list)

    def user(self, role: str) -> User:
        found = db.session.get(User, self.users[role])
        assert found is not None
        return found


def _area(name: str, kind: str, parent: int | None = None) -> int:
    area = Area(name=name, kind=kind, parent_id=parent)
    db.session.add(area)
    db.session.flush()
    return area.id


VENUE_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _venue(name: str, area: int, privacy: str = "contact") -> int:
    venue = Venue(name=name, kind="bus_station", area_id=area, privacy_mode=privacy,
                  retention_days=21, timezone=VENUE_ZONE.key)
    db.session.add(venue)
    db.session.flush()
    return venue.id


def add_user(email: str, role: str, area: int | None = None, venue: int | None = None) -> int:
    user = User(email=email, password_hash=password_hash(), role=role, area_id=area,
                venue_id=venue, active=True)
    db.session.add(user)
    db.session.flush()
    return user.id


def add_kiosk(venue: int, name: str = "Lobby TV", status: dict[str, Any] | None = None,
              seen: datetime | None = None) -> int:
    """An enrolled kiosk (token set) that sent a heartbeat ``seen`` and a screenshot."""
    now = datetime.now(UTC)
    new = fleet.add_kiosk(venue, name, now, 24)
    kiosk = db.session.get(Kiosk, new.kiosk_id)
    assert kiosk is not None
    kiosk.token_hash = fleet.digest(uuid.uuid4().hex)
    kiosk.enrollment_code_hash = None
    kiosk.enrolled_at = now
    kiosk.last_heartbeat_at = seen or now
    kiosk.status = status or {"version": "0.1.0", "uptime_s": 10, "temperature_c": 51.5,
                              "disk_free_bytes": 3 * 1024 ** 3, "clock_offset_s": -0.4,
                              "unsynced": {"checkins": 2, "plays": 7},
                              "current_item": {"id": 1, "kind": "image"},
                              "last_error": None, "manifest_version": None}
    db.session.add(KioskScreenshot(kiosk_id=kiosk.id, png=png_bytes((160, 90), "teal"),
                                   taken_at=now))
    db.session.flush()
    return kiosk.id


def add_checkin(venue: int, when: datetime, **values: Any) -> int:
    row = CheckIn(client_uuid=uuid.uuid4(), venue_id=venue, occurred_at=when,
                  direction=values.pop("direction", "in"), method=values.pop("method", "staff"),
                  has_app=values.pop("has_app", "yes"), **values)
    db.session.add(row)
    db.session.flush()
    return row.id


def local_midnight(now: datetime) -> datetime:
    """The start of ``now``'s day at the town's venues."""
    return datetime.combine(now.astimezone(VENUE_ZONE).date(), time(), VENUE_ZONE)


def minutes_ago_today(now: datetime, minutes: float) -> timedelta:
    """``minutes`` back from ``now``, or less where that would reach into yesterday at the
    venues (run just after midnight in Vietnam, 17:00 UTC, "today's visitors" were empty)."""
    return min(timedelta(minutes=minutes), (now - local_midnight(now)) / 2)


def build_town(app: Flask) -> Town:
    town = Town()
    with app.app_context():
        town.province = _area("Tỉnh Bắc", "province")
        town.district = _area("Huyện Đông", "district", town.province)
        town.other_province = _area("Tỉnh Nam", "province")
        town.venue = _venue("Bến xe Đông", town.district)
        town.other_venue = _venue("Khách sạn Nam", town.other_province)
        town.users = {
            "admin": add_user("admin@example.vn", "admin"),
            "manager": add_user("manager@example.vn", "manager", area=town.province),
            "reception": add_user("reception@example.vn", "reception", venue=town.venue),
        }
        town.kiosk = add_kiosk(town.venue)
        town.other_kiosk = add_kiosk(town.other_venue, "Quầy lễ tân")
        asset, _ = library.add(io.BytesIO(png_bytes()), "Áp phích")
        town.media, town.media_sha = asset.id, asset.sha256
        spec = playlists.ItemSpec(kind="image", media_sha256=asset.sha256, duration_s=10)
        mine = playlists.create("Tuần 47", [spec])
        mine.area_id = town.province
        other = playlists.create("Tỉnh Nam", [spec])
        other.area_id = town.other_province
        db.session.flush()
        town.playlist, town.other_playlist = mine.id, other.id
        town.assignment = playlists.assign(mine.id, venue_id=town.venue).id
        playlists.assign(other.id, venue_id=town.other_venue)
        now = datetime.now(UTC)
        ago = minutes_ago_today(now, 5)
        town.checkins = [
            add_checkin(town.venue, now - ago, name="Nguyễn Văn An", phone="0901234567"),
            add_checkin(town.venue, now - ago * 3 / 5, direction="out", method="button",
                        has_app="no"),
            add_checkin(town.other_venue, now - ago / 5, name="Trần Thị Bình",
                        phone="0912345678"),
        ]
        db.session.commit()
    return town


def sign_in(app: Flask, client: FlaskClient, user_id: int) -> FlaskClient:
    """Put ``user_id`` in the client's session as a successful sign-in would."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        mark = fingerprint(user.password_hash)
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:{mark}"
        session["_fresh"] = True
    return client


def client_for(app: Flask, town: Town, role: str) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        sign_in(app, client, town.users[role])
    return client
