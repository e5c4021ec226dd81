"""Optional instant push: tell kiosks on MQTT that their manifest may have changed.

Does nothing unless ``MQTT_URL`` is set. Messages are tiny (``{"generation": n}``) and carry
nothing secret; a kiosk that hears one simply polls its manifest at once, so a lost message
costs at most one poll interval. Publishing happens after the database commit, from the
process that made the change; no broker state is relied on (QoS 1, not retained).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import current_app

log = logging.getLogger(__name__)


def topics_for(prefix: str, venue_ids: Iterable[int] | None) -> list[str]:
    """Venue topics, or the fleet-wide topic when every venue may be affected."""
    if venue_ids is None:
        return [f"{prefix}/all"]
    return [f"{prefix}/venue/{v}" for v in sorted(set(venue_ids))]


def notify(venue_ids: Iterable[int] | None) -> int:
    """Publish "manifest changed" for these venues (None: all). Returns messages sent."""
    cfg = current_app.config
    url = cfg.get("MQTT_URL") or ""
    if not url:
        return 0
    topics = topics_for(cfg["MQTT_TOPIC_PREFIX"], venue_ids)
    try:
        _publish(url, topics, json.dumps({"reason": "manifest_changed"}))
    except OSError as exc:  # the broker is optional: kiosks still poll
        log.warning("MQTT push to %s failed (%s); kiosks will pick the change up by polling",
                    urlsplit(url).hostname, exc)
        return 0
    return len(topics)


def _publish(url: str, topics: list[str], payload: str) -> None:
    from paho.mqtt import publish  # imported here: the server runs without a broker too

    parts = urlsplit(url)
    auth = {"username": parts.username, "password": parts.password} if parts.username else None
    publish.multiple([{"topic": t, "payload": payload, "qos": 1} for t in topics],
                     hostname=parts.hostname or "127.0.0.1", port=parts.port or 1883,
                     auth=auth, client_id="", keepalive=10)  # type: ignore[arg-type]
