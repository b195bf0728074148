"""The gateway end to end against the real Mosquitto and TimescaleDB: storage, acknowledgement
after commit, idempotent repeats, dead letters, persistent sessions, retry while the database
fails, metrics."""

from __future__ import annotations

import json
import queue
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.errors import ConfigError
from core.messages import AckMessage, ReadingsMessage, ack_topic, build_message, data_topic
from core.model import EventItem, ReadingItem, Stream
from gateway import Gateway, GatewayConfig

T0 = datetime(2024, 3, 1, tzinfo=UTC)
WAIT_S = 10.0


def daily(collector: str, meter: str, value: str, day: int = 0) -> ReadingsMessage:
    item = ReadingItem(obis="1.0.1.8.0.255", ts=T0 + timedelta(days=day), value=Decimal(value),
                       unit="kWh")
    return build_message(collector, meter, Stream.DAILY, [item], T0 + timedelta(days=day))


def rows(dsn: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def eventually(check: Callable[[], object], timeout_s: float = WAIT_S) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


class Bench:
    """A collector's side of the broker: publishes at QoS 1 and listens to its ack topic."""

    def __init__(self, host: str, port: int, collector: str) -> None:
        self.collector = collector
        self.acks: queue.Queue[AckMessage] = queue.Queue()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"bench-{collector}", protocol=mqtt.MQTTv5)
        self.client.on_message = lambda client, userdata, message: self.acks.put(
            AckMessage.model_validate_json(message.payload))
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(ack_topic(collector), qos=1)
        time.sleep(0.2)  # the SUBACK, before anything can be acknowledged

    def publish(self, message: ReadingsMessage) -> None:
        self.publish_raw(data_topic(message.collector, message.meter, message.stream),
                         message.to_json())

    def publish_raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)

    def acked_ids(self, expected: set[str], timeout_s: float = WAIT_S) -> set[str]:
        """Ids acknowledged until all of ``expected`` came (or the time ran out)."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while not expected <= seen and time.monotonic() < deadline:
            try:
                seen.update(self.acks.get(timeout=max(0.01, deadline - time.monotonic())).ids)
            except queue.Empty:
                break
        return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def forget_session(host: str, port: int, client_id: str) -> None:
    """End a test gateway's persistent session, so the broker stops keeping messages for it."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0
    client.connect(host, port, clean_start=True, properties=properties)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def config(
    fresh_database: str, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> Iterator[GatewayConfig]:
    host, port = mqtt_address
    client_id = f"gw-{topic_prefix_id}"
    yield GatewayConfig.model_validate({
        "mqtt": {"host": host, "port": port, "client_id": client_id,
                 "collectors": [topic_prefix_id], "session_expiry_s": 600},
        "database": {"dsn": fresh_database, "retry_min_s": 0.1, "retry_max_s": 0.5},
        "batch": {"max_messages": 100, "max_delay_ms": 50},
        "metrics": {"listen": "127.0.0.1:0"},
    })
    forget_session(host, port, client_id)


@pytest.fixture
def gateway(config: GatewayConfig) -> Iterator[Gateway]:
    with Gateway(config) as running:
        assert running.wait_connected(WAIT_S)
        yield running


@pytest.fixture
def bench(mqtt_address: tuple[str, int], topic_prefix_id: str) -> Iterator[Bench]:
    opened = Bench(*mqtt_address, topic_prefix_id)
    yield opened
    opened.close()


def test_messages_are_stored_and_acknowledged_with_exactly_their_ids(
    gateway: Gateway, bench: Bench, fresh_database: str, topic_prefix_id: str
) -> None:
    messages = [daily(topic_prefix_id, f"m{n}", f"{n}.5") for n in range(3)]
    for message in messages:
        bench.publish(message)

    ids = {message.id for message in messages}
    assert bench.acked_ids(ids) == ids
    assert rows(fresh_database, "SELECT meter_id, value FROM register_readings ORDER BY 1") == [
        ("m0", Decimal("0.5")), ("m1", Decimal("1.5")), ("m2", Decimal("2.5")),
    ]
    assert rows(fresh_database, "SELECT count(*) FROM meters WHERE NOT registered") == [(3,)]


def test_a_repeat_adds_no_row_and_is_acknowledged_again(
    gateway: Gateway, bench: Bench, fresh_database: str, topic_prefix_id: str
) -> None:
    message = daily(topic_prefix_id, "m1", "42")
    bench.publish(message)
    assert bench.acked_ids({message.id}) == {message.id}
    bench.publish(message)

    assert bench.acked_ids({message.id}) == {message.id}
    assert rows(fresh_database, "SELECT count(*) FROM register_readings") == [(1,)]


def test_bad_deliveries_are_dead_lettered_and_do_not_block_good_ones(
    gateway: Gateway, bench: Bench, fresh_database: str, topic_prefix_id: str
) -> None:
    collector = topic_prefix_id
    good = daily(collector, "m1", "1")
    forged = json.loads(daily(collector, "m1", "2").to_json())
    forged["id"] = "0" * 64
    too_big = build_message(collector, "m1", Stream.EVENTS, [
        EventItem(ts=T0, journal="j", code=2**31, kind="k", text="t", critical=False)], T0)
    topic = data_topic(collector, "m1", Stream.DAILY)
    bench.publish_raw(topic, b"not json")
    bench.publish_raw(topic, json.dumps({**forged, "schema": 2}).encode())
    bench.publish_raw(topic, json.dumps(forged).encode())
    bench.publish_raw(data_topic(collector, "other", Stream.DAILY), good.to_json())
    bench.publish(too_big)  # valid JSON that the database refuses (integer out of range)
    later = daily(collector, "m1", "3", day=1)
    bench.publish(good)
    bench.publish(later)

    # Dead letters are committed too: those that carry an id are acknowledged, so that their
    # collector stops publishing them again.
    acked = {good.id, later.id, forged["id"], too_big.id}
    assert bench.acked_ids(acked) == acked
    assert rows(fresh_database, "SELECT value FROM register_readings ORDER BY ts") == [
        (Decimal("1"),), (Decimal("3"),),
    ]
    letters = rows(fresh_database, "SELECT topic, reason FROM dead_letters ORDER BY id")
    other = data_topic(collector, "other", Stream.DAILY)
    expected = [
        (topic, "payload is not UTF-8 JSON"),
        (topic, "unsupported schema 2"),
        (topic, "payload: Value error, id is not the SHA-256"),
        (other, f"topic says {collector}/other/daily, payload says {collector}/m1/daily"),
        (data_topic(collector, "m1", Stream.EVENTS), "refused by the database: "
         'NumericValueOutOfRange: value "2147483648" is out of range for type integer'),
    ]
    assert len(letters) == len(expected), letters
    for (topic_, reason), (want_topic, want_start) in zip(letters, expected, strict=True):
        assert topic_ == want_topic
        assert str(reason).startswith(want_start), reason
    assert gateway.metrics.registry.get_sample_value(
        "isu_gateway_messages_dead_lettered_total", {"kind": "database"}) == 1


def test_a_message_published_while_the_gateway_is_down_is_stored_after_restart(
    config: GatewayConfig, bench: Bench, fresh_database: str, topic_prefix_id: str
) -> None:
    with Gateway(config) as first:
        assert first.wait_connected(WAIT_S)  # the persistent session and its subscription exist
    message = daily(topic_prefix_id, "m1", "7")
    bench.publish(message)
    time.sleep(0.3)
    assert rows(fresh_database, "SELECT count(*) FROM register_readings") == [(0,)]

    with Gateway(config) as second:
        assert second.wait_connected(WAIT_S)
        assert bench.acked_ids({message.id}) == {message.id}
    assert rows(fresh_database, "SELECT value FROM register_readings") == [(Decimal("7"),)]


def test_mqtt_3_1_1_sessions_also_persist(
    config: GatewayConfig, bench: Bench, fresh_database: str, topic_prefix_id: str
) -> None:
    config = config.model_copy(
        update={"mqtt": config.mqtt.model_copy(update={"protocol": "3.1.1"})})
    with Gateway(config) as first:
        assert first.wait_connected(WAIT_S)
    message = daily(topic_prefix_id, "m1", "8")
    bench.publish(message)
    with Gateway(config) as second:
        assert second.wait_connected(WAIT_S)
        assert bench.acked_ids({message.id}) == {message.id}
    assert rows(fresh_database, "SELECT value FROM register_readings") == [(Decimal("8"),)]


def test_nothing_is_acknowledged_before_the_commit_and_a_failed_write_is_retried(
    gateway: Gateway, bench: Bench, fresh_database: str, topic_prefix_id: str
) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE register_readings RENAME TO register_readings_away")
    message = daily(topic_prefix_id, "m1", "9")
    bench.publish(message)

    assert eventually(lambda: gateway.metrics.registry.get_sample_value(
        "isu_gateway_store_errors_total"))
    assert bench.acked_ids({message.id}, timeout_s=0.5) == set()
    assert rows(fresh_database, "SELECT count(*) FROM meters") == [(0,)]  # rolled back
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE register_readings_away RENAME TO register_readings")

    assert bench.acked_ids({message.id}) == {message.id}
    assert rows(fresh_database, "SELECT value FROM register_readings") == [(Decimal("9"),)]


def test_messages_are_batched_and_counted_in_the_metrics(
    gateway: Gateway, bench: Bench, topic_prefix_id: str
) -> None:
    messages = [daily(topic_prefix_id, "m1", str(n), day=n) for n in range(60)]
    for message in messages:
        bench.client.publish(data_topic(message.collector, message.meter, message.stream),
                             message.to_json(), qos=1)
    ids = {message.id for message in messages}
    assert bench.acked_ids(ids) == ids

    registry = gateway.metrics.registry
    assert registry.get_sample_value("isu_gateway_messages_ingested_total") == 60
    assert registry.get_sample_value("isu_gateway_rows_written_total",
                                     {"table": "register_readings"}) == 60
    batches = registry.get_sample_value("isu_gateway_batch_messages_count")
    assert batches is not None
    assert batches < 60
    heard = registry.get_sample_value("isu_gateway_collector_last_stored_timestamp_seconds",
                                      {"collector": messages[0].collector})
    assert heard is not None
    assert abs(heard - time.time()) < 60
    assert gateway.metrics_address is not None
    host, port = gateway.metrics_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "isu_gateway_messages_ingested_total 60.0" in text


def test_a_batch_abandoned_at_stop_is_redelivered_to_the_next_session(
    config: GatewayConfig, bench: Bench, fresh_database: str, topic_prefix_id: str
) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE register_readings RENAME TO register_readings_away")
    first = Gateway(config)
    first.start()
    assert first.wait_connected(WAIT_S)
    message = daily(topic_prefix_id, "m1", "10")
    bench.publish(message)
    assert eventually(lambda: first.metrics.registry.get_sample_value(
        "isu_gateway_store_errors_total"))
    first.stop(grace_s=0.3)  # the database is still failing: no PUBACK was sent
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE register_readings_away RENAME TO register_readings")

    with Gateway(config) as second:
        assert second.wait_connected(WAIT_S)
        assert bench.acked_ids({message.id}) == {message.id}
    assert rows(fresh_database, "SELECT value FROM register_readings") == [(Decimal("10"),)]


def test_a_metrics_port_in_use_is_a_config_error(config: GatewayConfig) -> None:
    with Gateway(config) as running:
        assert running.metrics_address is not None
        taken = f"{running.metrics_address[0]}:{running.metrics_address[1]}"
        clash = config.model_copy(update={"metrics": config.metrics.model_copy(
            update={"listen": taken})})
        with pytest.raises(ConfigError, match="cannot listen"):
            Gateway(clash).start()
