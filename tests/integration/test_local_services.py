"""The local services started by ``deploy/local/services.sh start`` are there and do their job.

These tests fail (never skip) when ``.local/services.json`` is missing: CI always starts the
services first, so a missing file means the set-up is broken.
"""

from __future__ import annotations

import queue
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import sql

from core.errors import ConfigError
from core.localenv import LocalServices, load_local_services

pytestmark = pytest.mark.services

TIMEOUT = 10.0


def _services() -> LocalServices:
    try:
        return load_local_services()
    except ConfigError as exc:
        pytest.fail(str(exc))  # "... no local services file; run deploy/local/services.sh start"


# ----------------------------------------------------------------------------------- postgresql


def test_timescaledb_extension_is_installed_in_isu() -> None:
    services = _services()
    with psycopg.connect(services.postgres.dsn, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
    assert row is not None, "timescaledb is not installed in database isu"
    assert row[0].startswith("2."), f"unexpected TimescaleDB version {row[0]}"
    assert preload is not None
    assert "timescaledb" in preload[0]


@contextmanager
def _scratch_database(services: LocalServices) -> Iterator[str]:
    """A new database created from template1 (which carries timescaledb); dropped afterwards."""
    name = f"isu_svc_test_{secrets.token_hex(6)}"
    with psycopg.connect(services.postgres.dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield services.postgres.dsn_for(name)
    finally:
        with psycopg.connect(services.postgres.dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_fresh_database_can_create_a_hypertable() -> None:
    services = _services()
    with (
        _scratch_database(services) as dsn,
        psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn,
    ):
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute("CREATE TABLE t (ts timestamptz NOT NULL, value double precision)")
        conn.execute("SELECT create_hypertable('t', by_range('ts'))")
        conn.execute(
            "INSERT INTO t VALUES ('2024-01-01 00:00+03', 1.5), ('2024-01-01 00:30+03', 2.5)"
        )
        hypertables = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
        ).fetchall()
        buckets = conn.execute(
            "SELECT time_bucket('1 hour', ts) AS b, sum(value) FROM t GROUP BY b"
        ).fetchall()
    assert ("t",) in hypertables
    assert len(buckets) == 1
    assert buckets[0][1] == pytest.approx(4.0)


# ------------------------------------------------------------------------------------- mosquitto


def _client(client_id: str, *, clean: bool = True) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
    )
    client.max_queued_messages_set(0)
    return client


def _connect(client: mqtt.Client, services: LocalServices) -> None:
    connected: queue.Queue[object] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.put(reason)
    client.connect(services.mqtt.host, services.mqtt.port, keepalive=30)
    client.loop_start()
    reason = connected.get(timeout=TIMEOUT)
    assert not getattr(reason, "is_failure", False), f"connect refused: {reason}"


def _subscribe(client: mqtt.Client, topic: str) -> None:
    granted: queue.Queue[list[Any]] = queue.Queue()
    client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
    client.subscribe(topic, qos=1)
    codes = granted.get(timeout=TIMEOUT)
    assert [getattr(code, "value", code) for code in codes] == [1]


def _publish_all(client: mqtt.Client, topic: str, payloads: list[bytes]) -> None:
    infos = [client.publish(topic, payload, qos=1) for payload in payloads]
    for info in infos:
        info.wait_for_publish(timeout=TIMEOUT)
        assert info.is_published()


def _stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_mosquitto_delivers_a_qos1_message() -> None:
    services = _services()
    topic = f"isu-test/{secrets.token_hex(6)}/ping"
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscriber = _client(f"svc-sub-{secrets.token_hex(4)}")
    subscriber.on_message = lambda _c, _u, message: received.put(message)
    publisher = _client(f"svc-pub-{secrets.token_hex(4)}")
    try:
        _connect(subscriber, services)
        _subscribe(subscriber, topic)
        _connect(publisher, services)
        _publish_all(publisher, topic, [b"hello"])
        message = received.get(timeout=TIMEOUT)
    finally:
        _stop(publisher)
        _stop(subscriber)
    assert message.topic == topic
    assert message.payload == b"hello"
    assert message.qos == 1


def test_mosquitto_keeps_every_message_for_an_offline_persistent_subscriber() -> None:
    """The broker must not cap the queue of a persistent session (Mosquitto's default is 1000)."""
    services = _services()
    topic = f"isu-test/{secrets.token_hex(6)}/queued"
    client_id = f"svc-persist-{secrets.token_hex(4)}"
    count = 1500
    subscriber = _client(client_id, clean=False)
    _connect(subscriber, services)
    _subscribe(subscriber, topic)
    _stop(subscriber)

    publisher = _client(f"svc-pub-{secrets.token_hex(4)}")
    try:
        _connect(publisher, services)
        _publish_all(publisher, topic, [str(i).encode() for i in range(count)])
    finally:
        _stop(publisher)

    received: queue.Queue[bytes] = queue.Queue()
    subscriber = _client(client_id, clean=False)
    subscriber.on_message = lambda _c, _u, message: received.put(bytes(message.payload))
    payloads: set[bytes] = set()  # QoS 1 may redeliver: count distinct payloads
    try:
        _connect(subscriber, services)
        while len(payloads) < count:
            payloads.add(received.get(timeout=TIMEOUT))
    finally:
        _stop(subscriber)
        # Leave no persistent session behind: reconnect once with a clean session.
        cleaner = _client(client_id, clean=True)
        _connect(cleaner, services)
        _stop(cleaner)
    assert sorted(int(p) for p in payloads) == list(range(count))
