"""A real Mosquitto on a loopback port, configured by deploy/server/mosquitto/signage.conf
with the files ``signage_server.mqtt_acl`` renders: kiosks read only their own topics and
nobody but the server publishes.

The fleet here: kiosk 1 in venue 10, kiosk 2 in venue 20, and the server account.
"""

from __future__ import annotations

import base64
import getpass
import queue
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from signage_server import mqtt_acl

pytestmark = pytest.mark.xdist_group("deploy")

PREFIX = "signage"
SERVER = ("signage-server", "server-secret")
KIOSKS = [
    mqtt_acl.KioskAccount(1, 10, "kiosk-1", "one-password"),
    mqtt_acl.KioskAccount(2, 20, "kiosk-2", "two-password"),
]
#: how long to wait for a message that must not come
QUIET_S = 0.3


def broker_config(snippet: str, folder: Path, port: int) -> str:
    """The deploy snippet with its file paths moved into ``folder`` and one plain loopback
    listener instead of the production ones (TLS certificates are nginx's test's business)."""
    lines = []
    for line in snippet.splitlines():
        if line.split()[:1] in (["listener"], ["certfile"], ["keyfile"]):
            continue
        lines.append(line.replace("/etc/mosquitto/signage/", f"{folder}/"))
    lines += [f"listener {port} 127.0.0.1", "log_dest stderr", "persistence false",
              # as root Mosquitto would switch to user `mosquitto`, who cannot read tmp_path
              f"user {getpass.getuser()}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def broker(installed: Callable[[str], str], deploy_dir: Path, free_port: Callable[[], int],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Mosquitto running the deploy configuration; yields its port."""
    binary = installed("mosquitto")
    folder = tmp_path_factory.mktemp("mosquitto")
    mqtt_acl.export(folder, SERVER, KIOSKS, PREFIX, salt_key=None)
    snippet = (deploy_dir / "server" / "mosquitto" / "signage.conf").read_text()
    for _attempt in range(3):  # the port may be taken between picking and binding
        port = free_port()
        (folder / "mosquitto.conf").write_text(broker_config(snippet, folder, port))
        log = (folder / "broker.log").open("w")
        process = subprocess.Popen([binary, "-c", str(folder / "mosquitto.conf")],
                                   stdout=log, stderr=subprocess.STDOUT)
        if _wait_for_port(port, process):
            break
        log.close()
    else:
        pytest.fail(f"mosquitto did not start:\n{(folder / 'broker.log').read_text()}")
    yield port
    process.terminate()
    process.wait(timeout=10)
    log.close()


class Client:
    """A paho client that connects, subscribes and publishes synchronously, and keeps what it
    receives in a queue."""

    def __init__(self, port: int, username: str | None, password: str | None,
                 protocol: int = mqtt.MQTTv5) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected: queue.Queue[str] = queue.Queue()
        self.published: queue.Queue[tuple[int, str]] = queue.Queue()
        self.subscribed: queue.Queue[int] = queue.Queue()
        self._paho = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                 protocol=protocol)
        if username is not None:
            self._paho.username_pw_set(username, password)
        # a refused client retries in the background; keep its retry short so close() is quick
        self._paho.reconnect_delay_set(min_delay=0.1, max_delay=0.1)  # type: ignore[arg-type]
        self._paho.on_connect = lambda c, u, f, rc, p: self.connected.put(str(rc))
        self._paho.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self._paho.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.put(mid)
        self._paho.on_publish = lambda c, u, mid, rc, p: self.published.put((mid, str(rc)))
        self._paho.connect("127.0.0.1", port, keepalive=30)
        self._paho.loop_start()
        self.connect_result = self.connected.get(timeout=5)

    def subscribe(self, *topics: str) -> None:
        _result, mid = self._paho.subscribe([(topic, 1) for topic in topics])
        assert self.subscribed.get(timeout=5) == mid

    def publish(self, topic: str, payload: bytes) -> str:
        """Publish with QoS 1 and return the broker's PUBACK reason."""
        info = self._paho.publish(topic, payload, qos=1)
        mid, reason = self.published.get(timeout=5)
        assert mid == info.mid
        return reason

    def received(self, timeout: float = QUIET_S) -> set[tuple[str, bytes]]:
        """Everything that arrives until ``timeout`` passes with nothing new."""
        got = set()
        try:
            while True:
                got.add(self.messages.get(timeout=timeout))
        except queue.Empty:
            return got

    def close(self) -> None:
        self._paho.disconnect()
        self._paho.loop_stop()


@pytest.fixture
def connect(broker: int) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(username: str | None, password: str | None,
             protocol: int = mqtt.MQTTv5) -> Client:
        client = Client(broker, username, password, protocol)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def server(connect: Callable[..., Client]) -> Client:
    client = connect(*SERVER)
    assert client.connect_result == "Success"
    client.subscribe(f"{PREFIX}/#")
    return client


@pytest.fixture
def kiosk1(connect: Callable[..., Client]) -> Client:
    client = connect("kiosk-1", "one-password")
    assert client.connect_result == "Success"
    return client


def test_a_kiosk_reads_its_own_its_venues_and_the_fleet_topic(server: Client,
                                                               kiosk1: Client) -> None:
    kiosk1.subscribe("signage/kiosk/1", "signage/venue/10", "signage/all")

    for topic in ("signage/kiosk/1", "signage/venue/10", "signage/all"):
        assert server.publish(topic, b"manifest_changed") == "Success"

    assert kiosk1.received() == {("signage/kiosk/1", b"manifest_changed"),
                                 ("signage/venue/10", b"manifest_changed"),
                                 ("signage/all", b"manifest_changed")}


def test_a_kiosk_never_receives_another_kiosks_or_venues_messages(server: Client,
                                                                   kiosk1: Client) -> None:
    # Mosquitto 2.0 grants the subscription, then filters every delivery through the ACL.
    kiosk1.subscribe("signage/kiosk/2", "signage/venue/20", "signage/#", "#")

    server.publish("signage/kiosk/2", b"for kiosk 2")
    server.publish("signage/venue/20", b"for venue 20")
    server.publish("signage/all", b"for everybody")

    assert kiosk1.received() == {("signage/all", b"for everybody")}


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311], ids=["mqtt5", "mqtt311"])
@pytest.mark.parametrize("topic", ["signage/kiosk/1", "signage/venue/10", "signage/all",
                                   "signage/kiosk/2", "elsewhere"])
def test_a_kiosk_cannot_publish_anywhere(connect: Callable[..., Client], server: Client,
                                         topic: str, protocol: int) -> None:
    kiosk = connect("kiosk-1", "one-password", protocol)

    reason = kiosk.publish(topic, b"spoofed")

    # MQTT 5 says so in the PUBACK; MQTT 3.1.1 has no way to and drops the message silently.
    assert reason == ("Not authorized" if protocol == mqtt.MQTTv5 else "Success")
    assert server.received() == set()


def test_the_server_publishes_and_reads_everywhere_under_the_prefix(
        connect: Callable[..., Client], server: Client) -> None:
    other = connect(*SERVER)

    assert other.publish("signage/venue/20", b"hello") == "Success"

    assert server.received() == {("signage/venue/20", b"hello")}


@pytest.mark.parametrize(("username", "password"), [
    ("kiosk-1", "wrong password"),
    ("kiosk-3", "one-password"),  # not enrolled, or revoked: not in the files
    (None, None),  # anonymous
])
def test_the_broker_refuses_unknown_accounts(connect: Callable[..., Client],
                                             username: str | None,
                                             password: str | None) -> None:
    assert connect(username, password).connect_result == "Not authorized"


def test_mosquitto_passwd_and_mqtt_acl_hash_alike(installed: Callable[[str], str],
                                                   tmp_path: Path) -> None:
    tool = installed("mosquitto_passwd")
    file = tmp_path / "passwd"
    subprocess.run([tool, "-b", "-c", str(file), "kiosk-7", "s3cret pass"], check=True,
                   capture_output=True)
    line = file.read_text().strip()
    username, encoded = line.split(":", 1)
    _, kind, iterations, salt, _digest = encoded.split("$")

    assert (kind, int(iterations)) == ("7", mqtt_acl.ITERATIONS)
    assert mqtt_acl.password_line(username, "s3cret pass", base64.b64decode(salt)) == line
    assert mqtt_acl.verify_password("s3cret pass", encoded)
    assert not mqtt_acl.verify_password("s3cret pasS", encoded)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    return False

