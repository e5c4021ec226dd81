"""Push over the real Mosquitto broker on 127.0.0.1:1883: a message wakes the sync side."""

from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as publish
import pytest
from fake_kiosk_api import FakeApi, manifest

from kiosk.cache import MediaCache
from kiosk.errors import ConfigError
from kiosk.heartbeat import Device
from kiosk.journal import Journal
from kiosk.mqtt import MqttWaker
from kiosk.sync import Sync, SyncSettings

BROKER = ("127.0.0.1", 1883)
URL = "mqtt://127.0.0.1:1883"


def broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(not broker_up(), reason="no MQTT broker on 127.0.0.1:1883")


@pytest.fixture
def prefix() -> str:
    """Topics of this test only, so parallel tests never hear each other."""
    return f"test-{uuid.uuid4().hex[:12]}"


def send(topic: str) -> None:
    publish.single(topic, '{"reason": "manifest_changed"}', qos=1, hostname=BROKER[0],
                   port=BROKER[1])


@pytest.fixture
def woken() -> threading.Event:
    return threading.Event()


@pytest.fixture
def waker(woken: threading.Event) -> Iterator[MqttWaker]:
    started = MqttWaker.from_url(URL, woken.set, kiosk_id=1)
    assert started is not None
    started.start()
    yield started
    started.stop()


def test_no_url_means_no_push() -> None:
    assert MqttWaker.from_url("", lambda: None, kiosk_id=1) is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:1883", "mqtt://", "127.0.0.1"])
def test_a_url_that_is_not_mqtt_is_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        MqttWaker.from_url(url, lambda: None, kiosk_id=1)


@pytest.mark.mqtt
@needs_broker
def test_a_message_on_a_followed_topic_wakes(waker: MqttWaker, woken: threading.Event,
                                             prefix: str) -> None:
    waker.set_topics([f"{prefix}/kiosk/1", f"{prefix}/venue/3"])
    assert waker.subscribed.wait(5)
    woken.clear()  # connecting wakes once too (a change may have been missed meanwhile)
    send(f"{prefix}/venue/3")
    assert woken.wait(5)


@pytest.mark.mqtt
@needs_broker
def test_other_topics_are_not_heard(waker: MqttWaker, woken: threading.Event,
                                    prefix: str) -> None:
    waker.set_topics([f"{prefix}/kiosk/1"])
    assert waker.subscribed.wait(5)
    woken.clear()
    send(f"{prefix}/kiosk/2")
    assert not woken.wait(0.5)


@pytest.mark.mqtt
@needs_broker
def test_a_dropped_topic_is_no_longer_heard(waker: MqttWaker, woken: threading.Event,
                                            prefix: str) -> None:
    waker.set_topics([f"{prefix}/a", f"{prefix}/b"])
    assert waker.subscribed.wait(5)
    waker.set_topics([f"{prefix}/b"])
    time.sleep(0.2)  # let the unsubscribe reach the broker
    woken.clear()
    send(f"{prefix}/a")
    assert not woken.wait(0.5)
    send(f"{prefix}/b")
    assert woken.wait(5)


@pytest.mark.mqtt
@needs_broker
def test_a_publish_makes_the_sync_thread_fetch_the_manifest_at_once(
        tmp_path: Path, prefix: str) -> None:
    polls: list[float] = []
    polled = threading.Event()

    class Counting(FakeApi):
        def manifest(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
            polls.append(time.monotonic())
            polled.set()
            return super().manifest(etag)

    api = Counting()
    api.publish(manifest("v1", poll_seconds=3600, topics=(f"{prefix}/kiosk/1",)))
    journal = Journal(tmp_path / "journal.sqlite")
    sync = Sync(api, journal, MediaCache(tmp_path / "media", 0, lambda _: 10**12),
                queue.Queue(), SyncSettings(heartbeat_seconds=3600),
                Device("0.1.0", tmp_path, lambda _: 1))
    waker = MqttWaker.from_url(URL, sync.wake, kiosk_id=1)
    assert waker is not None
    sync.on_topics(waker.set_topics)
    waker.start()
    sync.start()
    try:
        assert polled.wait(5)  # the first poll learns the topics
        assert waker.subscribed.wait(5)
        time.sleep(0.3)  # the connect-time catch-up poll has come and gone
        before = len(polls)
        sent_at = time.monotonic()
        send(f"{prefix}/kiosk/1")
        deadline = sent_at + 5
        while len(polls) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(polls) > before
        assert polls[before] - sent_at < 2.0  # not the hour-long poll interval
    finally:
        sync.stop()
        waker.stop()
        journal.close()
