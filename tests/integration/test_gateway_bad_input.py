"""Bad input on the real Mosquitto and TimescaleDB: 10,000 malformed payloads of every kind are
dead-lettered while valid traffic interleaved with them is stored and acknowledged; the
dead-letter counters and the ingest lag on /metrics."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from core.messages import AckMessage, ReadingsMessage, ack_topic, build_message, data_topic
from core.model import ReadingItem, Stream, utc_now
from gateway import Gateway, GatewayConfig
from tests.integration.test_gateway import forget_session

WAIT_S = 45.0
PER_KIND = 1250
VALID_EVERY = 20  # one valid message after every 20 malformed ones


def query(dsn: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def daily(collector: str, meter: str, value: str, ts: datetime,
          read_at: datetime | None = None) -> ReadingsMessage:
    item = ReadingItem(obis="1.0.1.8.0.255", ts=ts, value=Decimal(value), unit="kWh")
    return build_message(collector, meter, Stream.DAILY, [item], read_at or ts)


def document(message: ReadingsMessage, **changes: object) -> bytes:
    return json.dumps({**json.loads(message.to_json()), **changes}).encode()


Payload = tuple[str, bytes]


def malformed(collector: str, now: datetime) -> dict[str, list[Payload]]:
    """``PER_KIND`` distinct payloads of each kind, by the gateway's dead-letter kind."""
    ts = now - timedelta(hours=1)

    def topic(meter: str, stream: str = "daily") -> str:
        return f"isu/v1/{collector}/{meter}/{stream}"

    kinds: dict[str, list[Payload]] = {kind: [] for kind in (
        "not_json", "schema", "unknown_stream", "topic", "negative_energy", "future_time")}
    for n in range(PER_KIND):
        good = daily(collector, f"b{n}", f"{n}.5", ts)
        kinds["not_json"] += [(topic("b"), f"garbage {n}".encode()),
                              (topic("b"), f"[{n}]".encode())]
        items = [{**json.loads(good.to_json())["items"][0], "value": f"lots-{n}"}]
        kinds["schema"].append((topic(f"b{n}"), document(good, items=items)))
        kinds["unknown_stream"] += [(topic(f"b{n}", "weekly"), good.to_json()),
                                    (topic(f"b{n}"), document(good, stream="weekly"))]
        kinds["topic"].append((topic(f"x{n}"), good.to_json()))
        negative = daily(collector, f"b{n}", f"-{n}.5", ts)
        kinds["negative_energy"].append((topic(f"b{n}"), negative.to_json()))
        ahead = daily(collector, f"b{n}", "1", now + timedelta(hours=1, seconds=n), read_at=now)
        kinds["future_time"].append((topic(f"b{n}"), ahead.to_json()))
    return kinds


#: How each kind's reason begins in dead_letters (docs/gateway.md, the reasons table).
REASONS: dict[str, Callable[[str], bool]] = {
    "not_json": lambda r: r.startswith(("payload is not UTF-8 JSON: ",
                                        "payload is not a JSON object")),
    "schema": lambda r: r == "items.0.value: Input should be a valid decimal",
    "unknown_stream": lambda r: r in ("unknown stream 'weekly' in topic",
                                      "unknown stream 'weekly' in payload"),
    "topic": lambda r: r.startswith("topic says "),
    "negative_energy": lambda r: r.startswith("items.0.value: negative energy -"),
    "future_time": lambda r: r.startswith("items.0.ts ") and " is in the future: " in r,
}


def kind_of(reason: str) -> str:
    [kind] = [kind for kind, matches in REASONS.items() if matches(reason)]
    return kind


class Publisher:
    """A collector's side of the broker, publishing fast at QoS 1 and collecting its acks."""

    def __init__(self, host: str, port: int, collector: str) -> None:
        self.acked: set[str] = set()
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"flood-{collector}", protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        self.client.on_message = self._on_ack
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(ack_topic(collector), qos=1)
        assert subscribed.wait(10)

    def _on_ack(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        ids = AckMessage.model_validate_json(message.payload).ids
        with self._lock:
            self.acked.update(ids)

    def publish_all(self, payloads: list[Payload]) -> None:
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in payloads]
        for info in infos:
            info.wait_for_publish(WAIT_S)

    def wait_acked(self, ids: set[str], timeout_s: float = WAIT_S) -> set[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if ids <= self.acked:
                    break
            time.sleep(0.05)
        with self._lock:
            return ids & self.acked

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def gateway(
    fresh_database: str, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> Iterator[Gateway]:
    host, port = mqtt_address
    client_id = f"gw-{topic_prefix_id}"
    config = GatewayConfig.model_validate({
        "mqtt": {"host": host, "port": port, "client_id": client_id,
                 "collectors": [topic_prefix_id], "session_expiry_s": 600},
        "database": {"dsn": fresh_database},
        "batch": {"max_messages": 500, "max_delay_ms": 100},
        "metrics": {"listen": "127.0.0.1:0"},
    })
    with Gateway(config) as running:
        assert running.wait_connected(10)
        yield running
    forget_session(host, port, client_id)


@pytest.fixture
def publisher(mqtt_address: tuple[str, int], topic_prefix_id: str) -> Iterator[Publisher]:
    opened = Publisher(*mqtt_address, topic_prefix_id)
    yield opened
    opened.close()


def scrape(gateway: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on the gateway's real /metrics endpoint, by name and labels."""
    assert gateway.metrics_address is not None
    host, port = gateway.metrics_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_ten_thousand_malformed_payloads_are_dead_lettered_while_valid_traffic_is_stored(
    gateway: Gateway, publisher: Publisher, fresh_database: str, topic_prefix_id: str
) -> None:
    collector = topic_prefix_id
    now = utc_now()
    kinds = malformed(collector, now)
    bad = [payload for payloads in kinds.values() for payload in payloads]
    assert len(bad) == 10_000
    random.Random(7).shuffle(bad)  # the kinds mixed, as on a real broker
    valid = [daily(collector, f"v{n % 50}", f"{n}.125", now - timedelta(days=n // 50 + 1))
             for n in range(len(bad) // VALID_EVERY)]
    traffic: list[Payload] = []
    for n, message in enumerate(valid):
        traffic += bad[n * VALID_EVERY:(n + 1) * VALID_EVERY]
        traffic.append((data_topic(collector, message.meter, message.stream), message.to_json()))

    publisher.publish_all(traffic)
    ids = {message.id for message in valid}
    assert publisher.wait_acked(ids) == ids
    assert gateway.wait_idle(WAIT_S)

    # Every malformed payload is a dead letter, with the reason of its kind.
    with psycopg.connect(fresh_database) as conn:
        letters: list[tuple[str, bytes, str, int]] = conn.execute(
            "SELECT topic, payload, reason, deliveries FROM dead_letters").fetchall()
    assert {(topic, bytes(payload)) for topic, payload, _, _ in letters} == set(bad)
    by_kind: Counter[str] = Counter()
    for _, _, reason, deliveries in letters:
        by_kind[kind_of(reason)] += deliveries
    expected = {kind: len(payloads) for kind, payloads in kinds.items()}
    assert by_kind == expected

    # Every valid message is stored, its meter kept as unassigned.
    assert query(fresh_database, "SELECT count(*), count(DISTINCT message_id)"
                 " FROM register_readings") == [(len(valid), len(valid))]
    assert query(fresh_database, "SELECT count(*) FROM meters WHERE NOT registered") == [(50,)]

    # The counters on /metrics agree with the table.
    samples = scrape(gateway)
    for kind, count in expected.items():
        assert samples[("isu_gateway_messages_dead_lettered_total", (("kind", kind),))] == count
    assert samples[("isu_gateway_messages_received_total", ())] == len(traffic)
    assert samples[("isu_gateway_messages_ingested_total", ())] == len(valid)
    assert samples[("isu_gateway_rows_written_total", (("table", "register_readings"),))] == len(
        valid)
    assert samples[("isu_gateway_ingest_lag_seconds_count", ())] == len(valid)
    assert samples[("isu_gateway_store_errors_total", ())] == 0

    # The gateway is still up and ingesting.
    last = daily(collector, "v0", "99", now - timedelta(minutes=5))
    publisher.publish_all([(data_topic(collector, "v0", Stream.DAILY), last.to_json())])
    assert publisher.wait_acked({last.id}) == {last.id}
    assert scrape(gateway)[("isu_gateway_mqtt_connected", ())] == 1


def test_the_ingest_lag_runs_from_read_at_to_the_commit(
    gateway: Gateway, publisher: Publisher, topic_prefix_id: str
) -> None:
    now = utc_now()
    late = daily(topic_prefix_id, "m1", "1", now - timedelta(days=1), now - timedelta(hours=2))
    fresh = daily(topic_prefix_id, "m2", "2", now - timedelta(days=1), now - timedelta(seconds=5))
    skewed = daily(topic_prefix_id, "m3", "3", now - timedelta(days=1), now + timedelta(minutes=1))
    messages = [late, fresh, skewed]
    publisher.publish_all([(data_topic(m.collector, m.meter, m.stream), m.to_json())
                           for m in messages])
    assert publisher.wait_acked({m.id for m in messages}) == {m.id for m in messages}
    assert gateway.wait_idle(10)
    waited_s = (utc_now() - now).total_seconds()

    samples = scrape(gateway)

    def bucket(le: str) -> float:
        return samples[("isu_gateway_ingest_lag_seconds_bucket", (("le", le),))]

    assert samples[("isu_gateway_ingest_lag_seconds_count", ())] == 3
    assert bucket("0.5") == 1  # read_at a minute ahead (within the limit) counts as 0
    assert bucket("60.0") == 2
    assert bucket("3600.0") == 2
    assert bucket("21600.0") == 3
    total = samples[("isu_gateway_ingest_lag_seconds_sum", ())]
    assert 2 * 3600 + 5 <= total <= 2 * 3600 + 5 + 2 * waited_s
