"""The production broker configuration (``deploy/mosquitto/``) on the real Mosquitto.

Each test starts its own ``mosquitto`` with the shipped ``mosquitto.conf`` and ``acl``, only
paths, ports and the run-as user substituted, users made by ``isu mqtt-user create`` and
certificates by ``deploy/mosquitto/make-certs.sh`` (and a second CA the clients must not
trust). It needs no local services.

Mosquitto drops a publish it does not allow (an MQTT 5 client gets "not authorized" in its
PUBACK, and 2.0 then closes the connection), and grants any subscription but delivers only what
the subscriber may read: the tests assert on what arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import io
import queue
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import CollectorRegistry

from collector.service import Collector
from core.messages import parse_message
from gateway.batching import Delivery
from gateway.broker import BrokerLink
from gateway.config import MqttConfig
from gateway.metrics import GatewayMetrics
from isu.cli import main as isu_main
from tests.unit.collector.fake_driver import MemoryBuses, make_config, reset_bench, tcp_bus

TOP = Path(__file__).resolve().parents[2]
SHIPPED = TOP / "deploy" / "mosquitto"
MOSQUITTO = "/usr/sbin/mosquitto"
GATEWAY = "isu-gateway"
NOT_AUTHORIZED = 0x87
NO_SUBSCRIBERS = 0x10  # MQTT 5: accepted, and nobody subscribes to the topic


# ------------------------------------------------------------------------------ certificates


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA clients trust
    other_ca: Path  # a CA that did not sign the server's certificate


def make_pki(folder: Path) -> Pki:
    """The shipped make-certs.sh: ca.crt, server.crt, server.key (what mosquitto.conf names) in
    ``folder``, and another CA beside it."""
    script = SHIPPED / "make-certs.sh"
    for where in (folder, folder.parent / "other-ca"):
        subprocess.run(
            ["sh", str(script), str(where), "localhost", "127.0.0.1"],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return Pki(folder / "ca.crt", folder.parent / "other-ca" / "ca.crt")


# ------------------------------------------------------------------------------------ broker


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def _substitute(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"the shipped mosquitto.conf no longer has {old!r}"
    return text.replace(old, new)


@dataclass
class Broker:
    folder: Path
    tls_port: int
    plain_port: int
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def password_file(self) -> Path:
        return self.folder / "etc" / "passwd"

    @property
    def log(self) -> Path:
        return self.folder / "mosquitto.log"

    def render(self, drop: tuple[str, ...] = ()) -> Path:
        """The shipped configuration with this broker's paths and ports; ``drop`` removes the
        lines starting with these words (to show what they are for)."""
        text = (SHIPPED / "mosquitto.conf").read_text(encoding="utf-8")
        text = _substitute(text, "/etc/mosquitto/isu/", f"{self.folder}/etc/")
        text = _substitute(text, "/var/lib/mosquitto/", f"{self.folder}/data/")
        text = _substitute(text, "\nlistener 8883\n", f"\nlistener {self.tls_port} 127.0.0.1\n")
        text = _substitute(
            text, "\nlistener 1883 127.0.0.1\n", f"\nlistener {self.plain_port} 127.0.0.1\n"
        )
        text = _substitute(text, "\nuser mosquitto\n", f"\nuser {getpass.getuser()}\n")
        lines = [line for line in text.splitlines() if not line.startswith(drop or ("\0",))]
        conf = self.folder / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return conf

    def add_user(self, name: str, *options: str) -> str:
        """``isu mqtt-user create`` with a generated password; returns the password."""
        out = io.StringIO()
        argv = ["mqtt-user", "create", "--password-file", str(self.password_file), *options, name]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = isu_main(argv)
        assert code == 0
        self.passwords[name] = out.getvalue().strip()
        return self.passwords[name]

    def start(self) -> None:
        conf = self.folder / "mosquitto.conf"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        for port in (self.tls_port, self.plain_port):
            while True:
                assert self.process.poll() is None, self.log.read_text()
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                assert time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its database and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self.process = None

    def reload(self) -> None:
        """SIGHUP, as ``systemctl reload mosquitto``: the password file and ACL are read again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "broker" / "etc" / "certs")


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    folder = tmp_path / "broker"
    (folder / "data").mkdir(parents=True)
    (folder / "etc" / "acl").write_bytes((SHIPPED / "acl").read_bytes())
    tls_port, plain_port = _free_ports(2)
    server = Broker(folder, tls_port, plain_port)
    for name in (GATEWAY, "c1", "c2"):
        server.add_user(name)
    server.render()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------------ client


class Peer:
    """A paho-mqtt 2 client that waits for each answer: CONNACK, SUBACK, PUBACK."""

    def __init__(
        self,
        broker: Broker,
        user: str | None,
        password: str | None = None,
        *,
        client_id: str = "",
        tls_ca: Path | None = None,
        v5: bool = True,
        session_expiry_s: int = 0,
        will_topic: str | None = None,
        inflight: int = 20,
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else session_expiry_s == 0,
            reconnect_on_failure=False,  # a refusal or a dropped connection is the answer
        )
        self.client.max_inflight_messages_set(inflight)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        if will_topic is not None:
            self.client.will_set(will_topic, b"offline", qos=1, retain=True)
        self.port = broker.tls_port if tls_ca is not None else broker.plain_port
        self.v5, self.session_expiry_s = v5, session_expiry_s
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.answers: queue.Queue[tuple[str, object]] = queue.Queue()
        self.client.on_connect = lambda c, u, flags, code, p: self.answers.put(
            ("connack", (code, flags.session_present))
        )
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.answers.put(("suback", codes))
        self.client.on_publish = lambda c, u, mid, code, p: self.answers.put(("puback", code))
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, bytes(m.payload), bool(m.retain))
        )

    def _answer(self, kind: str) -> object:
        got, value = self.answers.get(timeout=5)
        assert got == kind, (got, value)
        return value

    def connect(self) -> tuple[ReasonCode, bool]:
        """(CONNACK code, session present); TLS errors are raised from here."""
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.session_expiry_s
            self.client.connect(
                "127.0.0.1",
                self.port,
                clean_start=self.session_expiry_s == 0,
                properties=properties,
            )
        else:
            self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        answer = self._answer("connack")
        assert isinstance(answer, tuple)
        code, session_present = answer
        assert isinstance(code, ReasonCode)
        return code, bool(session_present)

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        codes = self._answer("suback")
        assert isinstance(codes, list)
        assert not codes[0].is_failure, codes

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Publish at QoS 1 and wait for the PUBACK; its reason code (always 0 in MQTT 3.1.1)."""
        self.client.publish(topic, payload, qos=1, retain=retain)
        code = self._answer("puback")
        assert isinstance(code, ReasonCode)
        return code.value

    def receive(self, until: bytes, timeout_s: float = 5) -> list[tuple[str, bytes]]:
        """Everything delivered up to and including the message whose payload is ``until``."""
        got: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while not got or got[-1][1] != until:
            topic, payload, _ = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            got.append((topic, payload))
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def peer(broker: Broker, user: str | None, **options: object) -> Iterator[Peer]:
    """A connected peer, logged in as ``user`` with its password."""
    client = Peer(broker, user, broker.passwords.get(user or ""), **options)  # type: ignore[arg-type]
    code, _ = client.connect()
    assert not code.is_failure, code
    try:
        yield client
    finally:
        client.close()


# ---------------------------------------------------------------------------- authentication


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5", "mqtt3.1.1"])
def test_an_anonymous_client_and_a_wrong_password_are_refused(broker: Broker, v5: bool) -> None:
    for user, password in (
        (None, None),
        ("c1", "not-the-password"),
        ("c1", broker.passwords["c2"]),
        ("nobody", "x"),
    ):
        client = Peer(broker, user, password, v5=v5)
        code, _ = client.connect()
        client.close()
        assert code.is_failure, (user, code)


def test_rotating_a_password_takes_effect_on_reload(broker: Broker) -> None:
    old = broker.passwords["c1"]
    with peer(broker, GATEWAY) as gateway, peer(broker, "c1") as before:
        broker.add_user("c1", "--update")
        broker.reload()
        # Mosquitto checks the connected clients again: c1's old password is dropped at once,
        # the gateway's, unchanged, stays connected.
        deadline = time.monotonic() + 5
        while before.client.is_connected():
            assert time.monotonic() < deadline, "the old password still works"
            time.sleep(0.02)
        assert gateway.client.is_connected()
    stale = Peer(broker, "c1", old)
    code, _ = stale.connect()
    stale.close()
    assert code.is_failure
    with peer(broker, "c1") as c1:
        assert c1.publish("isu/v1/c1/status", b"online") == NO_SUBSCRIBERS


def test_a_collector_cannot_take_over_the_gateways_session(broker: Broker) -> None:
    gateway = _gateway_session(broker)
    gateway.connect()
    gateway.subscribe("isu/v1/+/+/+")
    gateway.close()
    with peer(broker, "c1") as c1:
        c1.publish("isu/v1/c1/m1/current", b"queued for the gateway")
    # The client id is replaced by the username: this is c1's own session, not the gateway's.
    intruder = Peer(
        broker, "c1", broker.passwords["c1"], client_id="isu-gateway", session_expiry_s=3600
    )
    assert intruder.connect()[1] is False  # no session present
    gateway = _gateway_session(broker)
    _, session_present = gateway.connect()
    try:
        assert session_present
        assert gateway.receive(until=b"queued for the gateway")
        intruder.close()
        intruder = Peer(broker, "c1", broker.passwords["c1"], client_id="isu-gateway")
        intruder.connect()
        intruder.close()
        # Not knocked off by the same client id: the gateway's connection still answers.
        assert gateway.publish("isu/v1/c1/ack", b"still here") in {0, NO_SUBSCRIBERS}
    finally:
        gateway.close()


# ----------------------------------------------------------------------------------- the ACL


def test_a_collector_publishes_only_under_its_own_id_and_never_an_ack(broker: Broker) -> None:
    with peer(broker, GATEWAY) as gateway:
        gateway.subscribe("isu/v1/#")
        for topic in (
            "isu/v1/c2/m1/current",
            "isu/v1/c2/status",
            "isu/v1/c1/ack",
            "isu/v1/c2/ack",
            "isu/v1/c1/m1/current/extra",
            "other/topic",
        ):
            # Mosquitto 2.0 closes the connection after a refused publish: one client each.
            with peer(broker, "c1") as c1:
                assert c1.publish(topic, b"forged") == NOT_AUTHORIZED, topic
        with peer(broker, "c1") as c1:
            for topic in ("isu/v1/c1/m1/current", "isu/v1/c1/m1/state", "isu/v1/c1/status"):
                assert c1.publish(topic, topic.encode()) == 0, topic
        received = gateway.receive(until=b"isu/v1/c1/status")
    assert [topic for topic, _ in received] == [
        "isu/v1/c1/m1/current",
        "isu/v1/c1/m1/state",
        "isu/v1/c1/status",
    ]


def test_a_collector_reads_only_its_own_ack_and_the_gateway_writes_every_ack(
    broker: Broker,
) -> None:
    with peer(broker, "c2") as c2:
        c2.publish("isu/v1/c2/status", b"online", retain=True)
    with peer(broker, "c1") as c1:
        # Granted, as Mosquitto 2.0 grants every subscription; what arrives is checked.
        for topic in ("isu/v1/c2/ack", "isu/v1/#", "#", "$share/g/isu/v1/+/ack", "$SYS/#"):
            c1.subscribe(topic)
        c1.subscribe("isu/v1/c1/ack")
        with peer(broker, GATEWAY) as gateway:
            assert gateway.publish("isu/v1/c2/ack", b"for c2") == 0
            assert gateway.publish("isu/v1/c2/m1/current", b"forged by the gateway") == (
                NOT_AUTHORIZED
            )
        with peer(broker, GATEWAY) as gateway:
            assert gateway.publish("isu/v1/c1/ack", b"for c1") == 0
        received = c1.receive(until=b"for c1")
    # Each matching subscription gets its copy; none of c2's topics (its retained status
    # included) nor $SYS ever reaches c1.
    assert {topic for topic, _ in received} == {"isu/v1/c1/ack"}


def test_the_gateway_reads_everything_through_a_shared_subscription(broker: Broker) -> None:
    with peer(broker, GATEWAY) as gateway:
        gateway.subscribe("$share/isu-gateway/isu/v1/+/+/+")
        gateway.subscribe("isu/v1/+/status")
        for collector in ("c1", "c2"):
            with peer(broker, collector) as client:
                client.publish(f"isu/v1/{collector}/m1/current", collector.encode())
                client.publish(f"isu/v1/{collector}/status", b"online", retain=True)
        assert sorted(gateway.receive(until=b"online") + gateway.receive(until=b"online")) == [
            ("isu/v1/c1/m1/current", b"c1"),
            ("isu/v1/c1/status", b"online"),
            ("isu/v1/c2/m1/current", b"c2"),
            ("isu/v1/c2/status", b"online"),
        ]


def test_a_last_will_is_published_only_on_the_collectors_own_status(broker: Broker) -> None:
    with peer(broker, GATEWAY) as gateway:
        gateway.subscribe("isu/v1/+/status")
        for will in ("isu/v1/c2/status", "isu/v1/c1/status"):
            c1 = Peer(broker, "c1", broker.passwords["c1"], will_topic=will)
            assert not c1.connect()[0].is_failure
            # Gone without DISCONNECT: the broker sends the Will.
            sock = c1.client.socket()
            assert isinstance(sock, socket.socket)
            sock.shutdown(socket.SHUT_RDWR)
            c1.client.loop_stop()
        assert gateway.receive(until=b"offline") == [("isu/v1/c1/status", b"offline")]


# ----------------------------------------------------------------------------------------- TLS


def test_tls_with_the_generated_ca_and_not_with_another(broker: Broker, pki: Pki) -> None:
    with peer(broker, "c1", tls_ca=pki.ca) as c1:
        assert c1.publish("isu/v1/c1/status", b"online") == NO_SUBSCRIBERS
    # Also under the strict X.509 checks that newer Pythons make by default.
    strict = ssl.create_default_context(cafile=pki.ca)
    strict.verify_flags |= ssl.VERIFY_X509_STRICT
    with (
        socket.create_connection(("127.0.0.1", broker.tls_port), timeout=5) as raw,
        strict.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
    stranger = Peer(broker, "c1", broker.passwords["c1"], tls_ca=pki.other_ca)
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.connect()
    # Plain MQTT on the TLS port gets no CONNACK.
    with socket.create_connection(("127.0.0.1", broker.tls_port), timeout=5) as raw:
        raw.sendall(bytes.fromhex("101000044d5154540402003c000470726f6265"))
        with contextlib.suppress(ConnectionResetError):
            assert raw.recv(4) == b""


# -------------------------------------------------------------------------- persistence, limits


def _gateway_session(broker: Broker) -> Peer:
    return Peer(
        broker, GATEWAY, broker.passwords[GATEWAY], client_id="isu-gateway", session_expiry_s=3600
    )


def test_a_queued_message_and_retained_status_survive_a_restart(broker: Broker) -> None:
    gateway = _gateway_session(broker)
    gateway.connect()
    gateway.subscribe("isu/v1/+/+/+")
    gateway.close()
    with peer(broker, "c1") as c1:
        c1.publish("isu/v1/c1/m1/current", b"while the gateway was away")
        c1.publish("isu/v1/c1/status", b"online", retain=True)
    broker.restart()
    gateway = _gateway_session(broker)
    code, session_present = gateway.connect()
    try:
        assert not code.is_failure
        assert session_present
        assert gateway.receive(until=b"while the gateway was away") == [
            ("isu/v1/c1/m1/current", b"while the gateway was away")
        ]
    finally:
        gateway.close()
    with peer(broker, GATEWAY) as later:
        later.subscribe("isu/v1/c1/status")
        assert later.receive(until=b"online") == [("isu/v1/c1/status", b"online")]


def _burst(broker: Broker, count: int) -> set[bytes]:
    """``count`` messages published while the gateway's session is offline; what it gets."""
    gateway = _gateway_session(broker)
    gateway.connect()
    gateway.subscribe("isu/v1/+/+/+")
    gateway.close()
    with peer(broker, "c1", inflight=1000) as c1:  # the broker's Receive Maximum
        infos = [c1.client.publish("isu/v1/c1/m1/current", b"%d" % n, qos=1) for n in range(count)]
        for info in infos:
            info.wait_for_publish(10)
    gateway = _gateway_session(broker)
    gateway.connect()
    got: set[bytes] = set()
    with contextlib.suppress(queue.Empty):
        while len(got) < count:
            got.add(gateway.messages.get(timeout=1)[1])
    gateway.close()
    return got


def test_a_burst_to_the_offline_gateway_is_delivered_whole(broker: Broker) -> None:
    assert len(_burst(broker, 5000)) == 5000


def test_without_the_queue_limits_of_the_config_the_same_burst_loses_messages(
    broker: Broker,
) -> None:
    # Mosquitto's defaults (max_queued_messages 1000) instead of the shipped lines.
    broker.stop()
    broker.render(drop=("max_queued_messages", "max_queued_bytes"))
    broker.start()
    assert len(_burst(broker, 5000)) < 5000


# ------------------------------------------------------------------ the real collector and gateway


async def _eventually(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_the_collector_and_gateway_configs_connect_over_tls_with_passwords(
    broker: Broker, pki: Pki, tmp_path: Path
) -> None:
    """The collector's ``[mqtt]`` (tls, ca_file, password_file; username = its id) and the
    gateway's (username, password_file, tls_ca_file, shared_group) against this broker: data
    reaches the gateway, its acknowledgement reaches the collector, which empties its queue."""
    reset_bench()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    cid = "site-01"
    broker.add_user(cid)
    for name in (cid, GATEWAY):
        (secrets / name).write_text(broker.passwords[name] + "\n", encoding="utf-8")
    broker.stop()  # users added after the start: a restart (or SIGHUP) loads them
    broker.start()
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0]["streams"] = ["current"]
    collector_config = make_config(
        tmp_path,
        [bus],
        collector_id=cid,
        queue={"ack_timeout_s": 30},
        mqtt={
            "host": "127.0.0.1",
            "port": broker.tls_port,
            "tls": True,
            "ca_file": str(pki.ca),
            "password_file": str(secrets / cid),
        },
    )
    gateway_config = MqttConfig(
        host="127.0.0.1",
        port=broker.tls_port,
        username=GATEWAY,
        password_file=secrets / GATEWAY,
        tls_ca_file=pki.ca,
        shared_group="isu-gateway",
        reconnect_max_s=1,
    )
    deliveries: list[Delivery] = []
    link = BrokerLink(
        gateway_config,
        gateway_config.read_password(),
        deliveries.append,
        GatewayMetrics(CollectorRegistry()),
    )
    link.start()
    try:
        assert await asyncio.to_thread(link.connected.wait, 10)
        async with Collector(collector_config, open_stream=MemoryBuses()) as collector:
            task = asyncio.create_task(collector.run())
            try:
                await _eventually(
                    lambda: any(d.topic == f"isu/v1/{cid}/m-1/current" for d in deliveries)
                )
                data = [d for d in deliveries if d.topic.endswith("/current")]
                link.ack(data)
                link.publish_ack(cid, [parse_message(d.payload).id for d in data])
                await _eventually(lambda: collector.queue.depth() == 0)
                assert collector.uplink.connected.is_set()
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        link.stop()
