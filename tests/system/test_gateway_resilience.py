"""The ingest under failure, on the real Mosquitto and TimescaleDB (issue 6): a gateway killed
mid-batch and restarted, two gateways sharing one subscription, the database restarted under a
steady stream. Each time every published reading must be stored exactly once and every message
acknowledged to its collector.

A stand-in collector publishes interval messages (4 readings each) at a steady pace at QoS 1 and
listens on its ack topic, as ``collector/`` does; it never republishes, so an acknowledgement or
a row missing at the end is a real loss, not one hidden by the collector's retry.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from core.messages import AckMessage, ReadingsMessage, ack_topic, build_message, data_topic
from core.model import ReadingItem, Stream
from gateway import Gateway, GatewayConfig
from tests.integration.test_gateway import forget_session
from tests.system.pg_private import PrivatePostgres
from timeseries.migrate import apply_migrations

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 3, 1, tzinfo=UTC)
SLOT = timedelta(minutes=30)
OBIS = ("1.0.1.29.0.255", "1.0.2.29.0.255", "1.0.3.29.0.255", "1.0.4.29.0.255")
METERS = 20
WAIT_S = 60.0

T = TypeVar("T")
Key = tuple[str, str, datetime]
Rows = dict[Key, tuple[Decimal, str]]


def interval_messages(collector: str, count: int) -> list[ReadingsMessage]:
    """``count`` messages of 4 interval readings each, every (meter, obis, ts) distinct."""
    messages = []
    for n in range(count):
        ts = T0 + (n // METERS) * SLOT
        items = [
            ReadingItem(obis=obis, ts=ts, value=Decimal(n) + Decimal(c) / 10, unit="kWh",
                        period_s=int(SLOT.total_seconds()))
            for c, obis in enumerate(OBIS, 1)
        ]
        messages.append(build_message(collector, f"m{n % METERS}", Stream.INTERVAL, items,
                                      ts + SLOT))
    return messages


def expected_rows(messages: list[ReadingsMessage]) -> Rows:
    rows: Rows = {}
    for message in messages:
        for item in message.items:
            assert isinstance(item, ReadingItem)
            rows[(message.meter, item.obis, item.ts)] = (item.value, message.id)
    return rows


def stored_rows(dsn: str) -> tuple[int, Rows]:
    """How many rows ``interval_readings`` holds, and their keys with value and message id."""
    with psycopg.connect(dsn) as conn:
        fetched = conn.execute(
            "SELECT meter_id, obis, ts, value, message_id FROM interval_readings").fetchall()
    return len(fetched), {(m, o, ts): (value, mid) for m, o, ts, value, mid in fetched}


def count_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM interval_readings").fetchone()
    assert row is not None
    return int(row[0])


def wait_for(check: Callable[[], T], what: str, timeout_s: float = WAIT_S,
             poll_s: float = 0.05) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def scrape(url: str, name: str, **labels: str) -> float | None:
    """One sample of a Prometheus ``/metrics`` page; ``None`` when absent or unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:  # urllib's errors included
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


class CollectorStandIn:
    """A collector's side of the broker: publishes at QoS 1 at a steady pace from a thread and
    gathers the ids acknowledged on ``isu/v1/{collector}/ack``."""

    def __init__(self, host: str, port: int, collector: str) -> None:
        self._acked: set[str] = set()
        self._lock = threading.Lock()
        self._infos: list[mqtt.MQTTMessageInfo] = []
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"pub-{collector}", protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(100)
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_message = self._on_ack
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(ack_topic(collector), qos=1)
        assert subscribed.wait(WAIT_S), "no SUBACK for the ack topic"

    def _on_ack(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        ids = AckMessage.model_validate_json(message.payload).ids
        with self._lock:
            self._acked.update(ids)

    def stream(self, messages: list[ReadingsMessage], rate_per_s: float) -> None:
        def publish_all() -> None:
            started = time.monotonic()
            for n, message in enumerate(messages):
                if self._halt.wait(max(0.0, started + n / rate_per_s - time.monotonic())):
                    return
                topic = data_topic(message.collector, message.meter, message.stream)
                self._infos.append(self.client.publish(topic, message.to_json(), qos=1))
                self.sent = n + 1

        self._thread = threading.Thread(target=publish_all, name="stand-in-collector")
        self._thread.start()

    def wait_sent(self, timeout_s: float = WAIT_S) -> None:
        """Until the stream is over and the broker has taken every message (its PUBACK)."""
        deadline = time.monotonic() + timeout_s
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"only {self.sent} messages published in time"
        for info in self._infos:
            info.wait_for_publish(max(0.01, deadline - time.monotonic()))

    def missing_acks(self, ids: set[str], timeout_s: float = WAIT_S) -> set[str]:
        """The ids of ``ids`` still unacknowledged when all came or the time ran out."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                missing = ids - self._acked
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(WAIT_S)
        self.client.disconnect()
        self.client.loop_stop()


class GatewayProcess:
    """``isu gateway --config FILE`` as a process group of its own, its log in a file."""

    _METRICS = re.compile(r"metrics on (http://[\d.]+:\d+/metrics)")

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.log_path = log_path
        command = [sys.executable, "-m", "isu", "--log-level", "INFO", "gateway",
                   "--config", str(config_path)]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.metrics_url = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = WAIT_S) -> None:
        """Until its metrics listen and it is subscribed to the broker."""
        def ready() -> bool:
            code = self.process.poll()
            assert code is None, f"the gateway exited with {code}:\n{self.log()}"
            if not self.metrics_url:
                found = self._METRICS.search(self.log())
                self.metrics_url = found[1] if found else ""
            return bool(self.metrics_url) and self.metric("isu_gateway_mqtt_connected") == 1

        wait_for(ready, f"the gateway to connect (log {self.log_path.name})", timeout_s, 0.1)

    def metric(self, name: str, **labels: str) -> float | None:
        return scrape(self.metrics_url, name, **labels) if self.metrics_url else None

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(WAIT_S)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; the exit status."""
        os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(WAIT_S)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()


@contextmanager
def gateway_processes(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], GatewayProcess]]:
    """``launch(settings)`` starts a gateway with that configuration; every one is killed at
    the end, and the logs of a failing test are printed (pytest shows them)."""
    launched: list[GatewayProcess] = []

    def launch(settings: dict[str, Any]) -> GatewayProcess:
        config = tmp_path / "gateway.toml"
        config.write_text(toml(settings))
        gateway = GatewayProcess(config, tmp_path / f"gateway-{len(launched)}.log")
        launched.append(gateway)
        gateway.wait_ready()
        return gateway

    try:
        yield launch
    finally:
        for gateway in launched:
            gateway.close()
            print(f"--- {gateway.log_path.name}\n{gateway.log()[-4000:]}")


def toml(settings: dict[str, Any]) -> str:
    """Tables of strings, numbers and string lists (JSON strings are valid TOML strings)."""
    lines = []
    for section, values in settings.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def settings(host: str, port: int, client_id: str, collector: str, dsn: str,
             **batch: int) -> dict[str, Any]:
    return {
        "mqtt": {"host": host, "port": port, "client_id": client_id, "collectors": [collector],
                 "session_expiry_s": 600},
        "database": {"dsn": dsn, "timeout_s": 2.0, "retry_min_s": 0.2, "retry_max_s": 2.0},
        "batch": batch,
        "metrics": {"listen": "127.0.0.1:0"},
    }


def check_everything_stored_once(dsn: str, messages: list[ReadingsMessage]) -> None:
    expected = expected_rows(messages)
    count, stored = stored_rows(dsn)
    assert count == len(expected)
    assert stored.keys() == expected.keys()
    assert stored == expected  # the value and the message id of each reading


class WriteProbe:
    """Watches the database for the gateway's batch transaction: open, and writing the stage
    tables or upserting from them."""

    _WRITING = (
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'isu-gateway' AND xact_start IS NOT NULL"
        " AND (query ILIKE 'copy%' OR query ILIKE 'insert%') LIMIT 1"
    )

    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True)

    def rows_while_writing(self) -> int | None:
        """The committed rows, if a batch transaction is open now; else ``None``."""
        writing = self._conn.execute(self._WRITING).fetchone()
        if writing is None:
            return None
        counted = self._conn.execute("SELECT count(*) FROM interval_readings").fetchone()
        assert counted is not None
        return int(counted[0])

    def close(self) -> None:
        self._conn.close()


def test_a_gateway_killed_mid_batch_and_restarted_loses_nothing(
    tmp_path: Path, fresh_database: str, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    host, port = mqtt_address
    cid = topic_prefix_id
    # Large, slow batches: most of the time a write transaction is open, so a kill lands in one.
    config = settings(host, port, f"gw-{cid}", cid, fresh_database,
                      max_messages=1000, max_delay_ms=1000)
    messages = interval_messages(cid, 3000)
    total_rows = 4 * len(messages)
    probe = WriteProbe(fresh_database)
    collector: CollectorStandIn | None = None
    try:
        with gateway_processes(tmp_path) as launch:
            gateway = launch(config)
            collector = CollectorStandIn(host, port, cid)
            collector.stream(messages, rate_per_s=400)
            committed = 0
            for _ in range(2):
                # Killed while writing a batch, once it has committed one of its own (the
                # second one while it catches up with what its session kept).
                def mid_batch(after: int = committed) -> bool:
                    rows = probe.rows_while_writing()
                    return rows is not None and after < rows < total_rows

                wait_for(mid_batch, "a batch being written", poll_s=0.01)
                gateway.kill()
                committed = count_rows(fresh_database)
                gateway = launch(config)  # the same client id: the persistent session resumes
                assert "session resumed" in gateway.log()
            collector.wait_sent()
            wait_for(lambda: count_rows(fresh_database) >= total_rows, "every row")
            check_everything_stored_once(fresh_database, messages)
            assert collector.missing_acks({m.id for m in messages}) == set()
            assert gateway.stop() == 0
    finally:
        probe.close()
        if collector is not None:
            collector.close()
        forget_session(host, port, f"gw-{cid}")


def test_two_gateways_on_one_shared_subscription_store_each_reading_once(
    fresh_database: str, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    host, port = mqtt_address
    cid = topic_prefix_id
    client_ids = [f"gw{n}-{cid}" for n in (1, 2)]
    configs = [
        GatewayConfig.model_validate({
            **settings(host, port, client_id, cid, fresh_database,
                       max_messages=100, max_delay_ms=100),
            "mqtt": {"host": host, "port": port, "client_id": client_id, "collectors": [cid],
                     "session_expiry_s": 600, "shared_group": f"g{cid}"},
        })
        for client_id in client_ids
    ]
    count = 1200
    messages = interval_messages(cid, count)
    collector: CollectorStandIn | None = None
    try:
        with Gateway(configs[0]) as first, Gateway(configs[1]) as second:
            gateways = (first, second)
            assert all(gateway.wait_connected(WAIT_S) for gateway in gateways)
            collector = CollectorStandIn(host, port, cid)
            collector.stream(messages, rate_per_s=400)
            collector.wait_sent()
            wait_for(lambda: count_rows(fresh_database) >= 4 * count, "every row")
            assert collector.missing_acks({m.id for m in messages}) == set()
            assert all(gateway.wait_idle(WAIT_S) for gateway in gateways)

            def metric(gateway: Gateway, name: str, **labels: str) -> float:
                assert gateway.metrics_address is not None
                value = scrape("http://{}:{}/metrics".format(*gateway.metrics_address),
                               name, **labels)
                return value or 0.0

            received = [metric(g, "isu_gateway_messages_received_total") for g in gateways]
            ingested = [metric(g, "isu_gateway_messages_ingested_total") for g in gateways]
            rows = [metric(g, "isu_gateway_rows_written_total", table="interval_readings")
                    for g in gateways]
        check_everything_stored_once(fresh_database, messages)
        # Each message went to exactly one gateway, and both gateways took part.
        assert sum(received) == count, received
        assert sum(ingested) == count, ingested
        assert min(ingested) > 0, ingested
        assert sum(rows) == 4 * count, rows
    finally:
        if collector is not None:
            collector.close()
        for client_id in client_ids:
            forget_session(host, port, client_id)


def test_the_database_restarted_mid_stream_loses_nothing(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    host, port = mqtt_address
    cid = topic_prefix_id
    messages = interval_messages(cid, 3000)
    total_rows = 4 * len(messages)
    rate_per_s = 300
    collector: CollectorStandIn | None = None
    with PrivatePostgres() as postgres:
        try:
            dsn = postgres.create_database("isu")
            apply_migrations(dsn)
            with gateway_processes(tmp_path) as launch:
                gateway = launch(settings(host, port, f"gw-{cid}", cid, dsn,
                                          max_messages=200, max_delay_ms=200))
                collector = CollectorStandIn(host, port, cid)
                collector.stream(messages, rate_per_s=rate_per_s)
                wait_for(lambda: count_rows(dsn) >= total_rows // 6, "the first rows")
                assert gateway.metric("isu_gateway_store_errors_total") == 0

                postgres.stop()  # fast: the gateway's sessions are terminated mid-stream
                sent_at_stop = collector.sent
                wait_for(lambda: (gateway.metric("isu_gateway_store_errors_total") or 0) >= 1
                         and collector.sent >= sent_at_stop + 2 * rate_per_s,
                         "failed writes while publishing goes on")
                postgres.start()
                rows_at_start = count_rows(dsn)

                collector.wait_sent()
                wait_for(lambda: count_rows(dsn) >= total_rows, "every row")
                assert rows_at_start < total_rows
                check_everything_stored_once(dsn, messages)
                assert collector.missing_acks({m.id for m in messages}) == set()
                # The same process throughout: it found the database again by itself.
                assert gateway.process.poll() is None
                assert (gateway.metric("isu_gateway_store_errors_total") or 0) >= 1
                assert "not written, retrying" in gateway.log()
                assert gateway.stop() == 0
        finally:
            if collector is not None:
                collector.close()
            forget_session(host, port, f"gw-{cid}")
            print(f"--- postgresql.log\n{postgres.log_tail()}")
