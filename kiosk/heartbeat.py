"""What a heartbeat says: the status fields of ``POST /api/v1/heartbeat``, gathered from the
device, the player and the sync side.

The player may report its status as a dict or a dataclass; whatever it gives is read
defensively (a missing or odd field becomes None), because a heartbeat must never fail over
a detail. The screenshot is shrunk until it fits the API's 512 KB.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Protocol

MAX_SCREENSHOT_BYTES = 512 * 1024
SCREENSHOT_WIDTHS = (480, 320, 200)
MAX_FOOTFALL = 10**6  # the API's bound; more waits for the next beat
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class PlayerView(Protocol):
    """What the heartbeat reads from the player (``kiosk.player.Player`` provides it)."""

    def status(self) -> Any: ...

    def latest_png(self, max_width: int = 480) -> bytes | None: ...


@dataclass
class Device:
    """Facts about the machine for the heartbeat; each is a probe so tests can pin it."""

    version: str
    data_dir: Path
    disk_free: Callable[[Path], int]
    thermal_zone: Path = THERMAL_ZONE

    def temperature_c(self) -> float | None:
        """The SoC temperature when the kernel exposes one (a Pi does; most laptops too)."""
        try:
            return int(self.thermal_zone.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            return None

    def free_bytes(self) -> int | None:
        """Free space on the data dir's filesystem, None when it cannot be read."""
        try:
            return self.disk_free(self.data_dir)
        except OSError:
            return None


@dataclass(frozen=True)
class SyncFacts:
    """What the sync side knows for the heartbeat."""

    uptime_s: float
    manifest_version: str | None
    unsynced_plays: int
    unsynced_checkins: int
    clock_offset_s: float | None
    error: str | None
    footfall: int | None = None  # motion counts not yet acknowledged; None: no sensor


def body(device: Device, player: PlayerView | None, facts: SyncFacts,
         with_screenshot: bool) -> dict[str, Any]:
    """The heartbeat's JSON body."""
    status = _as_mapping(player.status()) if player is not None else {}
    result: dict[str, Any] = {
        "version": device.version,
        "uptime_s": round(max(0.0, facts.uptime_s), 1),
        "manifest_version": facts.manifest_version,
        "current_item": _current_item(status.get("current_item")),
        "disk_free_bytes": device.free_bytes(),
        "temperature_c": device.temperature_c(),
        "unsynced": {"checkins": facts.unsynced_checkins, "plays": facts.unsynced_plays},
        "clock_offset_s": facts.clock_offset_s,
        "late_frames": _count(status.get("late_frames")),
        "last_error": _short(facts.error or status.get("last_error")),
    }
    if facts.footfall is not None:
        result["footfall"] = min(max(facts.footfall, 0), MAX_FOOTFALL)
    png = screenshot(player) if with_screenshot and player is not None else None
    if png is not None:
        result["screenshot_png"] = base64.b64encode(png).decode("ascii")
    return result


def screenshot(player: PlayerView) -> bytes | None:
    """The latest frame as a PNG of at most 512 KB, shrinking it until it fits."""
    for width in SCREENSHOT_WIDTHS:
        png = player.latest_png(max_width=width)
        if png is None or len(png) <= MAX_SCREENSHOT_BYTES:
            return png
    return None


def _as_mapping(status: Any) -> Mapping[str, Any]:
    """The player's status as a mapping, whether it reports a dict or a dataclass."""
    if isinstance(status, Mapping):
        return status
    if is_dataclass(status) and not isinstance(status, type):
        return asdict(status)
    return getattr(status, "__dict__", {}) or {}


def _current_item(item: Any) -> dict[str, Any] | None:
    """The heartbeat's ``current_item`` from whatever the player reports."""
    fields = _as_mapping(item) if item is not None else None
    if not fields or fields.get("kind") is None:
        return None
    item_id = fields.get("id", fields.get("item_id"))
    return {"id": item_id if isinstance(item_id, int) and item_id >= 0 else None,
            "kind": fields["kind"], "sha256": fields.get("sha256")}


def _short(error: Any) -> str | None:
    """An error text within the heartbeat's 1,000 characters, None when there is none."""
    return str(error)[:1000] if error else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None
