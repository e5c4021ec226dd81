"""Optional instant push: an MQTT message on one of the kiosk's topics wakes the sync thread.

The server publishes a small "manifest changed" message on the kiosk's and its venue's topics
(the manifest lists them in ``sync.mqtt_topics``); on any message the kiosk polls at once
instead of waiting for its next poll. The message itself is not trusted for content: the
manifest still comes from the API, so a spoofed message costs one cheap 304 at most.

When ``mqtt_url`` is empty, ``MqttWaker.from_url`` returns None and nothing runs. paho-mqtt's
network thread reconnects by itself (backing off up to two minutes) and the topics are
subscribed again on each connection; polling stays the fallback whenever the broker is away.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.errors import ConfigError

log = logging.getLogger(__name__)

KEEPALIVE_S = 60
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 120


class MqttWaker:
    """Subscribes to the manifest's topics and calls ``on_push`` for every message."""

    def __init__(self, url: str, on_push: Callable[[], None], client_id: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(f"mqtt_url must look like mqtt://host:port, not {url!r}")
        self._host = parts.hostname
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._on_push = on_push
        self._topics: set[str] = set()
        self._lock = threading.Lock()
        self._connected = False
        self._closing = False
        self.subscribed = threading.Event()
        self._client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                   client_id=client_id, clean_session=True)
        if parts.username:
            self._client.username_pw_set(unquote(parts.username),
                                         unquote(parts.password or "") or None)
        if parts.scheme == "mqtts":
            self._client.tls_set()
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.on_connect = self._connected_cb
        self._client.on_disconnect = self._disconnected_cb
        self._client.on_subscribe = self._subscribed_cb
        self._client.on_message = self._message_cb

    @classmethod
    def from_url(cls, url: str, on_push: Callable[[], None],
                 kiosk_id: int | None) -> MqttWaker | None:
        """A waker for ``url``, or None when push is not configured (empty URL)."""
        if not url:
            return None
        client_id = f"signage-kiosk-{kiosk_id if kiosk_id is not None else 'x'}-" \
                    f"{secrets.token_hex(4)}"
        return cls(url, on_push, client_id)

    def start(self) -> None:
        """Connect in the background; paho keeps retrying while the broker is away."""
        self._client.connect_async(self._host, self._port, keepalive=KEEPALIVE_S)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect and end paho's network thread."""
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()

    def set_topics(self, topics: list[str]) -> None:
        """Follow exactly ``topics`` from now on (called when a manifest takes effect)."""
        wanted = set(topics)
        with self._lock:
            added, removed = wanted - self._topics, self._topics - wanted
            self._topics = wanted
            connected = self._connected
        if not (added or removed):
            return
        log.info("mqtt topics now %s", sorted(wanted))
        if connected:
            if removed:
                self._client.unsubscribe(sorted(removed))
            if added:
                self.subscribed.clear()
                self._client.subscribe([(topic, 1) for topic in sorted(added)])

    def _connected_cb(self, client: paho.Client, userdata: Any, flags: Any,
                      reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("mqtt connection refused: %s", reason_code)
            return
        with self._lock:
            self._connected = True
            topics = sorted(self._topics)
        log.info("mqtt connected to %s:%d", self._host, self._port)
        if topics:
            self.subscribed.clear()
            client.subscribe([(topic, 1) for topic in topics])
        # A change published while we were away went unheard: poll once to catch up.
        self._on_push()

    def _disconnected_cb(self, client: paho.Client, userdata: Any, flags: Any,
                         reason_code: Any, properties: Any) -> None:
        with self._lock:
            self._connected = False
        self.subscribed.clear()
        if self._closing:
            log.info("mqtt connection closed")
        else:
            log.warning("mqtt disconnected (%s); polling until it reconnects", reason_code)

    def _subscribed_cb(self, client: paho.Client, userdata: Any, mid: int,
                       reason_codes: list[Any], properties: Any) -> None:
        self.subscribed.set()

    def _message_cb(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        log.debug("mqtt push on %s", message.topic)
        self._on_push()
