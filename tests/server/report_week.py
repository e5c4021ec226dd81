"""A small week of campaign data whose report figures are counted by hand below.

Week 2026-W47 runs Monday 16 to Sunday 22 November 2026 in each venue's local time; for the
Asia/Ho_Chi_Minh venues (UTC+7) that is 2026-11-15 17:00 UTC to 2026-11-22 17:00 UTC.

    province Hà Nội (P)                      province Hồ Chí Minh (Q)
    ├── venue A  Bệnh viện A  (UTC+7)          └── venue C (outside P's report)
    └── district Ba Đình (D)
        ├── venue B  Bến xe B  (UTC+7)
        └── venue T  Tokyo office (UTC+9)

Hand count for P, week 47 (``EXPECTED``); ``NOW`` is Monday 23 November, 03:00 UTC.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from scratch_databases import new_database

from signage_server import create_app
from signage_server.extensions import db
from signage_server.migrate import upgrade
from signage_server.models import (
    Area,
    CheckIn,
    Kiosk,
    KioskHour,
    MediaAsset,
    PlayEvent,
    Playlist,
    PlaylistItem,
    QrScan,
    Venue,
)

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội, week 47
LAST_TUESDAY = TUESDAY - timedelta(weeks=1)  # week 46
TWO_WEEKS_AGO = TUESDAY - timedelta(weeks=2)  # week 45: in no report below
MONDAY_0030 = datetime(2026, 11, 15, 17, 30, tzinfo=UTC)  # Mon 00:30 +07: week 47
SUNDAY_2330 = datetime(2026, 11, 15, 16, 30, tzinfo=UTC)  # Sun 23:30 +07, Mon 01:30 +09
SHA8, SHA15, SHA30 = "8" * 64, "f" * 64, "3" * 64


@dataclass(frozen=True)
class Week:
    province: int
    district: int
    other_province: int
    venue_a: int
    venue_b: int
    venue_t: int
    venue_c: int
    kiosk_a1: int
    kiosk_a2: int
    kiosk_b1: int
    item_v8: int
    item_v15: int
    item_qr: int


EXPECTED: dict[str, Any] = {
    # arrivals: A 12, B 5, T 1; answered: A 10, B 5, T 1; with the app: A 4, B 1, T 1
    "arrivals": 18, "departures": 3, "answered": 16, "with_app": 6, "installed_now": 2,
    "self_static": 1, "share": 6 / 16,
    # last week: A only, 4 arrivals, 1 with the app
    "last_arrivals": 4, "last_share": 1 / 4,
    # plays: A 100 x V8 (8 s), 50 x V15 (15 s), 10 x QR slide (10 s), 5 x built-in (10 s),
    # 4 x V30 (30 s, from a playlist item deleted since); B 20 x V8
    "plays": 189, "duration_ms": 100 * 8000 + 50 * 15000 + 10 * 10000 + 5 * 10000 + 4 * 30000
    + 20 * 8000,
    # scans: A 3 (V8) + 1 (V15) + 1 (QR slide) + 2 (poster); B 1 (no item)
    "scans": 8,
    # heartbeats: A1 10 h x 60, B1 60 (the 17:00 UTC hour); 60 s each -> 11 h
    "beats": 660, "screen_hours": 11.0, "footfall": 50, "kiosks_online": 2,
    "kiosks": 3, "last_kiosks_online": 1, "last_beats": 60, "last_footfall": 3,
    "uptime": 11 / (3 * 168),
}


def _checkins(venue: int, kiosk: int | None, at: datetime, count: int, *, direction: str = "in",
              has_app: str = "yes", method: str = "button") -> list[CheckIn]:
    return [CheckIn(client_uuid=uuid.uuid4(), venue_id=venue, kiosk_id=kiosk, occurred_at=at,
                    direction=direction, method=method, has_app=has_app)
            for _ in range(count)]


def _plays(kiosk: Kiosk, at: datetime, count: int, *, item: int | None, sha: str | None,
           kind: str, ms: int) -> list[PlayEvent]:
    return [PlayEvent(client_uuid=uuid.uuid4(), kiosk_id=kiosk.id, venue_id=kiosk.venue_id,
                      item_id=item, media_sha256=sha, kind=kind,
                      started_at=at + timedelta(seconds=i), duration_ms=ms)
            for i in range(count)]


def _scans(venue: int, kiosk: int | None, item: int | None, at: datetime,
           count: int) -> list[QrScan]:
    return [QrScan(at=at, kiosk_id=kiosk, venue_id=venue, item_id=item, platform="android")
            for _ in range(count)]


def _kiosk(venue: int, name: str, last: datetime | None, **extra: Any) -> Kiosk:
    return Kiosk(venue_id=venue, name=name, presence_secret=b"k" * 32,
                 enrolled_at=datetime(2026, 11, 1, tzinfo=UTC), last_heartbeat_at=last, **extra)


def build(app: Flask) -> Week:
    with app.app_context():
        s = db.session
        p = Area(name="Hà Nội", kind="province")
        q = Area(name="Hồ Chí Minh", kind="province")
        s.add_all([p, q])
        s.flush()
        d = Area(name="Ba Đình", kind="district", parent_id=p.id)
        s.add(d)
        s.flush()
        a = Venue(name="Bệnh viện A", kind="hospital", area_id=p.id)
        b = Venue(name="Bến xe B", kind="bus_station", area_id=d.id)
        t = Venue(name="Tokyo office", kind="office", area_id=d.id, timezone="Asia/Tokyo")
        c = Venue(name="Khách sạn C", kind="hotel", area_id=q.id)
        s.add_all([a, b, t, c])
        s.flush()
        a1 = _kiosk(a.id, "Sảnh chính", NOW - timedelta(hours=1))
        a2 = _kiosk(a.id, "Cổng sau", None)  # enrolled, never heard from
        b1 = _kiosk(b.id, "Cửa vào", NOW - timedelta(hours=25))
        c1 = _kiosk(c.id, "Lễ tân", NOW - timedelta(days=5))
        revoked = _kiosk(a.id, "Cũ", None, revoked_at=NOW - timedelta(days=9))
        s.add_all([a1, a2, b1, c1, revoked])
        v8 = MediaAsset(sha256=SHA8, kind="video", mime="video/mp4", bytes=1, title="Video 8 giây")
        v15 = MediaAsset(sha256=SHA15, kind="video", mime="video/mp4", bytes=1, title="")
        v30 = MediaAsset(sha256=SHA30, kind="video", mime="video/mp4", bytes=1,
                         title="Video 30 giây")
        s.add_all([v8, v15, v30])
        s.flush()
        playlist = Playlist(name="Chiến dịch")
        s.add(playlist)
        s.flush()
        i8 = PlaylistItem(playlist_id=playlist.id, position=0, kind="video", media_id=v8.id)
        i15 = PlaylistItem(playlist_id=playlist.id, position=1, kind="video", media_id=v15.id)
        iq = PlaylistItem(playlist_id=playlist.id, position=2, kind="qr", duration_s=10,
                          data={"caption_vi": "Quét để cài đặt"})
        i30 = PlaylistItem(playlist_id=playlist.id, position=3, kind="video", media_id=v30.id)
        s.add_all([i8, i15, iq, i30])
        s.flush()
        _add_checkins(s, a.id, b.id, t.id, c.id, a1.id, b1.id)
        _add_plays(s, a1, b1, c1, i8.id, i15.id, iq.id)
        s.add_all(_plays(a1, TUESDAY, 4, item=i30.id, sha=SHA30, kind="video", ms=30000))
        s.flush()
        s.delete(i30)  # the playlist was edited since: the plays still name the video
        s.add_all([
            *_scans(a.id, a1.id, i8.id, TUESDAY, 3), *_scans(a.id, a1.id, i15.id, TUESDAY, 1),
            *_scans(a.id, a1.id, iq.id, TUESDAY, 1), *_scans(a.id, None, None, TUESDAY, 2),
            *_scans(b.id, b1.id, None, TUESDAY, 1), *_scans(a.id, a1.id, i8.id, LAST_TUESDAY, 1),
            *_scans(c.id, c1.id, i8.id, TUESDAY, 4),
        ])
        hour = datetime(2026, 11, 17, 1, tzinfo=UTC)
        s.add_all([KioskHour(kiosk_id=a1.id, venue_id=a.id, hour=hour + timedelta(hours=h),
                             beats=60, footfall=5) for h in range(10)])
        s.add_all([
            KioskHour(kiosk_id=b1.id, venue_id=b.id, hour=datetime(2026, 11, 15, 17, tzinfo=UTC),
                      beats=60, footfall=0),
            KioskHour(kiosk_id=b1.id, venue_id=b.id, hour=datetime(2026, 11, 15, 16, tzinfo=UTC),
                      beats=60, footfall=3),
            KioskHour(kiosk_id=c1.id, venue_id=c.id, hour=hour, beats=60, footfall=9),
        ])
        s.commit()
        return Week(p.id, d.id, q.id, a.id, b.id, t.id, c.id, a1.id, a2.id, b1.id, i8.id,
                    i15.id, iq.id)


def _add_checkins(s: Any, a: int, b: int, t: int, c: int, a1: int, b1: int) -> None:
    s.add_all([
        # venue A, week 47: 12 arrivals (4 with the app of 10 who answered), 3 departures
        *_checkins(a, a1, TUESDAY, 2, has_app="yes"),
        *_checkins(a, a1, MONDAY_0030, 1, has_app="yes"),
        *_checkins(a, a1, TUESDAY, 1, has_app="installed_now"),
        *_checkins(a, a1, TUESDAY, 5, has_app="no"),
        *_checkins(a, a1, TUESDAY, 2, has_app="unknown"),
        *_checkins(a, None, TUESDAY, 1, has_app="no", method="self_static"),
        *_checkins(a, a1, TUESDAY, 3, direction="out", has_app="unknown"),
        # venue B, week 47: 5 arrivals, 1 with the app: below the 30 % target
        *_checkins(b, b1, TUESDAY, 4, has_app="no"),
        *_checkins(b, b1, TUESDAY, 1, has_app="yes"),
        # venue T (UTC+9): Sunday 23:30 in Hà Nội is Monday 01:30 in Tokyo: week 47
        *_checkins(t, None, SUNDAY_2330, 1, has_app="installed_now", method="self"),
        # venue A, week 46: Sunday 23:30 local, and three more
        *_checkins(a, a1, SUNDAY_2330, 1, has_app="yes"),
        *_checkins(a, a1, LAST_TUESDAY, 3, has_app="no"),
        # week 45 and another province: in no figure of P's week 47 report
        *_checkins(a, a1, TWO_WEEKS_AGO, 2, has_app="yes"),
        *_checkins(c, None, TUESDAY, 7, has_app="yes"),
    ])


def _add_plays(s: Any, a1: Kiosk, b1: Kiosk, c1: Kiosk, i8: int, i15: int, iq: int) -> None:
    s.add_all([
        *_plays(a1, TUESDAY, 100, item=i8, sha=SHA8, kind="video", ms=8000),
        *_plays(a1, TUESDAY, 50, item=i15, sha=SHA15, kind="video", ms=15000),
        *_plays(a1, TUESDAY, 10, item=iq, sha=None, kind="qr", ms=10000),
        *_plays(a1, TUESDAY, 5, item=None, sha=None, kind="default", ms=10000),
        *_plays(b1, TUESDAY, 20, item=i8, sha=SHA8, kind="video", ms=8000),
        *_plays(a1, LAST_TUESDAY, 10, item=i8, sha=SHA8, kind="video", ms=8000),
        *_plays(c1, TUESDAY, 30, item=i8, sha=SHA8, kind="video", ms=8000),
    ])


PG_URL = os.environ.get("SIGNAGE_TEST_DATABASE_URL", "")
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])


@contextlib.contextmanager
def week_app(kind: str, folder: Path, sqlite_template: Path | None) -> Iterator[Flask]:
    """An app on its own database (SQLite copy or scratch PostgreSQL) holding the week, for
    a whole module of tests that only read it."""
    config: dict[str, Any] = {"TESTING": True, "PUBLIC_URL": "http://127.0.0.1:5000",
                              "MQTT_URL": ""}
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            assert sqlite_template is not None
            shutil.copyfile(sqlite_template, folder / "signage.sqlite")
            config["DATABASE_URL"] = f"sqlite:///{folder / 'signage.sqlite'}"
        else:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            config["DATABASE_URL"] = stack.enter_context(
                new_database(PG_URL, f"signage_week_{worker}"))
        app = create_app(config, instance_path=folder)
        if kind != "sqlite":
            upgrade(app)
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
