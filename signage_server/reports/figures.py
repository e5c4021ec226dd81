"""The figures a report shows, as values, and how the grouped rows of ``queries`` become them.

Python never sees an event row here: it receives what the database grouped (at most venues x
periods x promos rows) and files each grouped row under its venue, period and promo.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from flask import Config

from . import queries
from .periods import Periods
from .scope import DbSession

CHECKIN_FIELDS = ("arrivals", "departures", "app_yes", "app_no", "installed_now", "self_static")
HOUR_FIELDS = ("kiosks_online", "beats", "footfall")


@dataclass(frozen=True)
class Settings:
    """What the figures depend on besides the data (from the app's configuration)."""

    target: float = 0.30
    heartbeat_seconds: int = 60
    offline_hours: int = 24
    default_timezone: str = "Asia/Ho_Chi_Minh"

    @classmethod
    def from_config(cls, cfg: Config | Mapping[str, Any]) -> Settings:
        return cls(target=float(cfg["ADOPTION_TARGET_PERCENT"]) / 100,
                   heartbeat_seconds=int(cfg["HEARTBEAT_SECONDS"]),
                   offline_hours=int(cfg["OFFLINE_ALERT_HOURS"]),
                   default_timezone=str(cfg["DEFAULT_TIMEZONE"]))


@dataclass
class Counts:
    """One venue, kiosk or whole scope over one period."""

    arrivals: int = 0
    departures: int = 0
    app_yes: int = 0
    app_no: int = 0
    installed_now: int = 0
    self_static: int = 0
    scans: int = 0
    plays: int = 0
    duration_ms: int = 0
    kiosks_online: int = 0
    beats: int = 0
    footfall: int = 0

    @property
    def answered(self) -> int:
        return self.app_yes + self.app_no + self.installed_now

    @property
    def with_app(self) -> int:
        return self.app_yes + self.installed_now

    @property
    def share(self) -> float | None:
        """App share among arrivals who answered; None when nobody answered."""
        return self.with_app / self.answered if self.answered else None

    @property
    def promo_hours(self) -> float:
        return self.duration_ms / 3_600_000

    def screen_hours(self, heartbeat_seconds: int) -> float:
        return self.beats * heartbeat_seconds / 3600

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def total(counts: Iterable[Counts]) -> Counts:
    result = Counts()
    for c in counts:
        result.add(c)
    return result


@dataclass
class Promo:
    """What was played (a video, an image, a slide, built-in content) or, for scans only,
    the printed poster. ``title`` is the media or slide title, possibly empty."""

    key: str
    kind: str
    title: str = ""
    plays: int = 0
    duration_ms: int = 0
    scans: int = 0

    @property
    def scans_per_1000(self) -> float | None:
        return self.scans * 1000 / self.plays if self.plays else None


@dataclass
class Grouped:
    """The grouped rows of one scope, filed by (venue or None, period)."""

    counts: dict[tuple[int | None, int], Counts] = field(
        default_factory=lambda: defaultdict(Counts))
    #: plays and scans by (venue or None, period), then promo key
    promos: dict[tuple[int | None, int], dict[str, Promo]] = field(
        default_factory=lambda: defaultdict(dict))
    catalogue: dict[str, Promo] = field(default_factory=dict)

    def counts_of(self, venue: int | None, period: int) -> Counts:
        return self.counts.get((venue, period)) or Counts()

    def promos_of(self, period: int, venue: int | None = None) -> dict[str, Promo]:
        return self.promos.get((venue, period)) or {}


def collect(session: DbSession, scope: Any, periods: Periods, zones: Sequence[str], *,
            per_venue: bool) -> Grouped:
    """Run the four grouped queries and file their rows."""
    grouped = Grouped()
    queries.tune(session)
    args = (scope, periods, zones)
    for row in session.execute(queries.checkins(*args, per_venue=per_venue)).mappings():
        counts = grouped.counts[(row.get("venue_id"), row["bucket"])]
        for name in CHECKIN_FIELDS:
            setattr(counts, name, int(row[name]))
    for row in session.execute(queries.kiosk_hours(*args, per_venue=per_venue)).mappings():
        counts = grouped.counts[(row.get("venue_id"), row["bucket"])]
        for name in HOUR_FIELDS:
            setattr(counts, name, int(row[name]))
    play_rows = list(session.execute(queries.plays(*args, per_venue=per_venue)).mappings())
    scan_rows = list(session.execute(queries.scans(*args, per_venue=per_venue)).mappings())
    grouped.catalogue = _catalogue(session, play_rows, scan_rows, periods, zones)
    for row in play_rows:
        key = _item_key(grouped.catalogue, row["item_id"], f"kind:{row['kind']}")
        promo = _promo_at(grouped, row.get("venue_id"), row["bucket"], key)
        promo.plays += int(row["plays"])
        promo.duration_ms += int(row["duration_ms"])
        counts = grouped.counts[(row.get("venue_id"), row["bucket"])]
        counts.plays += int(row["plays"])
        counts.duration_ms += int(row["duration_ms"])
    for row in scan_rows:
        key = _item_key(grouped.catalogue, row["item_id"],
                        "poster" if row["from_poster"] else "kind:other")
        _promo_at(grouped, row.get("venue_id"), row["bucket"], key).scans += int(row["scans"])
        grouped.counts[(row.get("venue_id"), row["bucket"])].scans += int(row["scans"])
    return grouped


def _promo_at(grouped: Grouped, venue: int | None, period: int, key: str) -> Promo:
    promos = grouped.promos[(venue, period)]
    found = promos.get(key)
    if found is None:
        known = grouped.catalogue.get(key) or Promo(key, key.split(":", 1)[-1])
        found = promos[key] = Promo(key, known.kind, known.title)
    return found


def _item_key(catalogue: Mapping[str, Promo], item_id: int | None, without: str) -> str:
    """The promo a play or scan of ``item_id`` counts for (``without``: no item)."""
    if item_id is None:
        return without
    item = catalogue.get(f"item:{item_id}")
    return item.key if item is not None else f"item:{item_id}"


def _catalogue(session: DbSession, play_rows: Sequence[Any], scan_rows: Sequence[Any],
               periods: Periods, zones: Sequence[str]) -> dict[str, Promo]:
    """What each promo key is called. Under ``item:<id>`` an item that shows media points
    at the media's key, so its plays and scans are credited to the video or image. An item
    deleted since (its playlist edited) is found again through one of its plays."""
    catalogue: dict[str, Promo] = {"poster": Promo("poster", "poster")}
    kinds = {r["item_id"]: r["kind"] for r in play_rows if r["item_id"] is not None}
    item_ids = set(kinds) | {r["item_id"] for r in scan_rows if r["item_id"] is not None}
    shas: dict[str, str] = {}
    for item in session.execute(queries.items(sorted(item_ids))).mappings() if item_ids else ():
        item_ids.discard(item["id"])
        if item["sha256"]:
            shas[f"item:{item['id']}"] = item["sha256"]
        else:
            data = item["data"] or {}
            title = data.get("title_vi") or data.get("caption_vi") or ""
            catalogue[f"item:{item['id']}"] = Promo(f"item:{item['id']}", item["kind"], title)
    since, until = _span(periods, zones)
    for item_id in sorted(i for i in item_ids if i in kinds):
        sha = session.scalar(queries.played_media(item_id, since, until))
        if sha:
            shas[f"item:{item_id}"] = sha
    for media in (session.execute(queries.media_titles(sorted(set(shas.values())))).mappings()
                  if shas else ()):
        key = f"media:{media['sha256']}"
        catalogue[key] = Promo(key, media["kind"], media["title"] or "")
    for item_key, sha in shas.items():
        catalogue[item_key] = catalogue.get(f"media:{sha}") or Promo(
            f"media:{sha}", kinds.get(int(item_key[5:]), "video"))
    return catalogue


def _span(periods: Periods, zones: Sequence[str]) -> tuple[datetime, datetime]:
    bounds = [periods.utc_bounds(z) for z in zones]
    return min(b[0] for b in bounds), max(b[-1] for b in bounds)


def ranked(promos: Iterable[Promo]) -> list[Promo]:
    """Most played first; the poster (no plays) last."""
    return sorted(promos, key=lambda p: (-p.plays, -p.scans, p.key))


def merged(promo_maps: Iterable[Mapping[str, Promo]]) -> dict[str, Promo]:
    """Add up promos of several venues or periods by key."""
    result: dict[str, Promo] = {}
    for promos in promo_maps:
        for key, p in promos.items():
            into = result.setdefault(key, Promo(key, p.kind, p.title))
            into.plays += p.plays
            into.duration_ms += p.duration_ms
            into.scans += p.scans
    return result
