"""Server settings, declared as data and read once, in layers.

defaults (below) → ``<instance>/config.toml`` → ``SIGNAGE_*`` environment → ``test_config``.
Every setting has a name, a default and a help line; ``docs/configuration.md`` lists them all
and a test keeps that page in step with this table.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "SIGNAGE_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", None,
            "Signs session cookies. Generated into <instance>/secret_key on first start if unset."),
    Setting("DATABASE_URL", None,
            "SQLAlchemy URL. Default: SQLite (WAL) at <instance>/signage.sqlite (beside it the "
            "server keeps `signage.sqlite-writer.lock`, on which check-in and play batches "
            "take turns to write). PostgreSQL: postgresql+psycopg://user@host/db."),
    Setting("PUBLIC_URL", "http://127.0.0.1:5000",
            "Base URL kiosks and phones use to reach this server (QR links, media URLs)."),
    Setting("MEDIA_DIR", None, "Where media files live. Default: <instance>/media."),
    Setting("MEDIA_ACCEL_REDIRECT", "",
            "If set (e.g. /_protected_media/), media downloads are handed to nginx with "
            "X-Accel-Redirect to this internal prefix."),
    Setting("DEFAULT_CONTENT_DIR", None,
            "Folder of the built-in default content (playlist.json and its files). "
            "Default: media/default of this checkout."),
    Setting("MAX_UPLOAD_BYTES", 512 * 1024 * 1024, "Largest media file an admin may upload."),
    Setting("MAX_BATCH_RECORDS", 1000, "Most records accepted in one check-in or play batch."),
    Setting("MAX_JSON_BYTES", 2 * 1024 * 1024, "Largest JSON body on the kiosk API (else 413)."),
    Setting("MAX_SCREENSHOT_BYTES", 512 * 1024, "Largest heartbeat screenshot (PNG) kept."),
    Setting("FUTURE_TOLERANCE_SECONDS", 300,
            "Records stamped further than this in the future are flagged, not trusted."),
    Setting("ENROLLMENT_CODE_HOURS", 24, "How long a kiosk enrollment code stays valid."),
    Setting("DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh", "Timezone of new venues."),
    Setting("DEFAULT_RETENTION_DAYS", 21, "Days personal check-in data is kept (at most 30)."),
    Setting("APP_NAME", "Bluezone", "Name of the app the campaign promotes."),
    Setting("ANDROID_STORE_URL",
            "https://play.google.com/store/apps/details?id=com.mic.bluezone",
            "Google Play (CH Play) link to the app."),
    Setting("IOS_STORE_URL", "https://apps.apple.com/vn/app/bluezone/id1508062685",
            "App Store link to the app."),
    Setting("MQTT_URL", "",
            "mqtt://user:pass@host:port of the broker for instant push. Empty: kiosks poll only."),
    Setting("MQTT_KIOSK_URL", "",
            "mqtt[s]://host:port at which kiosks reach the broker. Empty: MQTT_URL's host "
            "and port. Each kiosk gets its own account in it at enrollment."),
    Setting("MQTT_TOPIC_PREFIX", "signage", "Prefix of every MQTT topic."),
    Setting("MANIFEST_POLL_SECONDS", 30, "How often kiosks poll the manifest (told in it)."),
    Setting("HEARTBEAT_SECONDS", 60, "How often kiosks send a heartbeat (told in the manifest)."),
    Setting("POLL_CACHE", True,
            "PostgreSQL only: each server process keeps what a manifest poll answered 304 "
            "needs and drops it when PostgreSQL notifies a change (LISTEN/NOTIFY), so such a "
            "poll needs no query. Off: every poll reads the database."),
    Setting("POLL_CACHE_ENTRIES", 100_000,
            "Most kiosks' poll states one server process keeps (the oldest go first)."),
    Setting("LOG_LEVEL", "INFO", "Logging level of the server's own loggers."),
    Setting("SESSION_HOURS", 12, "How long a staff sign-in to the admin console lasts."),
    Setting("LOGIN_WINDOW_MINUTES", 15,
            "Window over which failed sign-ins are counted (and how long a lock lasts)."),
    Setting("LOGIN_MAX_FAILURES", 5,
            "Failed sign-ins to one account within the window before it is locked."),
    Setting("LOGIN_MAX_FAILURES_PER_CLIENT", 20,
            "Failed sign-ins from one client address within the window before it is locked."),
    Setting("TRUSTED_PROXY_HOPS", 0,
            "Reverse proxies in front of the server (nginx: 1) whose X-Forwarded-For and "
            "X-Forwarded-Proto are trusted, so per-client limits see the real address."),
    Setting("VISIT_RATE_WINDOW_MINUTES", 10,
            "Window over which requests to the self check-in pages are counted per client."),
    Setting("VISIT_RATE_MAX", 200,
            "Requests to the self check-in pages from one client address within the window "
            "before it gets 429 (a check-in takes two; phones on a venue's Wi-Fi or behind "
            "one carrier NAT share an address, so keep it generous)."),
    Setting("VISIT_FORM_MINUTES", 15,
            "How long a self check-in form, opened from a valid code, may still be sent."),
    Setting("PURGE_INTERVAL_HOURS", 24,
            "How often a running server purges personal data past each venue's retention "
            "(one process does it; 0: only `signage-server purge`, e.g. the systemd timer)."),
    Setting("ADOPTION_TARGET_PERCENT", 30,
            "App share (has the app or installed it now, over all who answered) a venue must "
            "reach; reports mark venues below it."),
    Setting("OFFLINE_ALERT_HOURS", 24,
            "Reports list kiosks without a heartbeat for longer than this."),
    Setting("FONT_DIR", None,
            "Folder with DejaVuSans.ttf and DejaVuSans-Bold.ttf for posters. Default: "
            "kiosk/fonts of this checkout, else /usr/share/fonts/truetype/dejavu."),
)

DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


def _coerce(raw: str, default: Any) -> Any:
    """Environment values are strings; give them the type of the default (JSON for the rest)."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, str) or default is None:
        return raw
    return json.loads(raw)


def load(instance_path: Path, environ: dict[str, str] | None = None,
         overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve every setting through the four layers and return a plain dict."""
    env = os.environ if environ is None else environ
    values = dict(DEFAULTS)
    file = instance_path / "config.toml"
    if file.exists():
        with file.open("rb") as fh:
            from_file = tomllib.load(fh)
        unknown = set(from_file) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"{file}: unknown settings {sorted(unknown)}")
        values.update(from_file)
    for name, default in DEFAULTS.items():
        raw = env.get(ENV_PREFIX + name)
        if raw is not None:
            try:
                values[name] = _coerce(raw, default)
            except ValueError as exc:
                kind = type(default).__name__
                raise ValueError(f"{ENV_PREFIX}{name}={raw!r}: expected {kind}") from exc
    values.update(overrides or {})
    values["DEFAULT_RETENTION_DAYS"] = max(1, min(30, int(values["DEFAULT_RETENTION_DAYS"])))
    return values
