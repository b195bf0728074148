"""Ingest benchmark: how fast readings published over MQTT become committed rows.

Run from the top of the checkout, with the local services started::

    python -m bench.ingest                                 # 2000 meters x 25 polls, 1 M readings
    python -m bench.ingest --meters 5 --polls 2 --batch 4  # the tiny size CI runs

The messages are what a collector publishes: current registers of each meter (A+, A-, R+, R- ×
total and zones 1..4, 20 readings a message) once a poll, under a collector id of this run.
The meters are placed in an object tree (a contract, energy objects of 100 meters, a metering
point per meter) that ``isu registry import`` loads before anything is written.

Every figure is taken in the same run on the same machine, because the machines are shared and
noisy, and is given in readings (rows) per second:

- ``end_to_end``: the messages published at QoS 1 to the local Mosquitto, ingested by ``isu
  gateway`` running as its own process (as in production, and so that the publisher's CPU is not
  the gateway's) into a fresh database; from the first publish to the end-to-end
  acknowledgement of the last message on ``isu/v1/{collector}/ack``, which the gateway sends
  after the commit. The rows are counted afterwards.
- ``publish``: the publisher alone, from its first publish to the broker's last PUBACK (the
  publisher must not be what limits ``end_to_end``).
- ``store_write``: the same-SQL baseline — ``Store.write`` of the same messages, as the gateway
  hands them over after validation, in gateway-sized batches: staging ``COPY`` and ranked
  ``INSERT … ON CONFLICT`` in one transaction per batch, one batch after another.
- ``store_repeat``: the same batches again — redelivery, which must add no row.
- ``copy_baseline``: plain ``COPY`` of the same rows into a hypertable defined like
  ``register_readings`` (same columns, key and chunks) — the floor of what TimescaleDB takes,
  with no validation, no staging and no upsert.
- ``validate``: the gateway's checks of every delivery (``gateway.batching.classify``: every
  rule of ``core.validation``); ``validate_reference``: the reference path
  (``core.messages.parse_message``) on a sample.

The targets (issue 6): ``end_to_end`` at least 50,000 readings/s and at least 0.7 of
``store_write``. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from bench.processes import stop_process
from core.localenv import LocalServices, free_port, load_local_services
from core.messages import ack_topic, build_message, data_topic, parse_message
from core.model import ReadingItem, Stream
from core.obis import EnergyKind, energy_obis
from gateway.batching import Delivery, classify
from timeseries.migrate import apply_migrations
from timeseries.store import Store, prepare_batch

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TARGET_ROWS_PER_S = 50_000
TARGET_VS_STORE_WRITE = 0.7
METERS_PER_OBJECT = 100
REFERENCE_SAMPLE = 2000
_CHANNELS = [(energy_obis(kind, zone), kind.unit) for kind in EnergyKind for zone in range(5)]


@dataclass(frozen=True, slots=True)
class Workload:
    collector: str
    meters: int
    polls: int
    topics: list[str]
    payloads: list[bytes]

    @property
    def messages(self) -> int:
        return len(self.payloads)

    @property
    def rows(self) -> int:
        return len(self.payloads) * len(_CHANNELS)


def _meter_id(meter: int) -> str:
    return f"m{meter:05d}"


def _value(meter: int, poll: int, zone: int) -> Decimal:
    return Decimal(1000 * meter + 10 * poll + zone) / 1000


def _payload(collector: str, meter: str, poll: int, number: int) -> bytes:
    """What ``build_message(...).to_json()`` writes for this meter and poll, built as text (the
    reference path takes about a millisecond a message; a sample is compared with it)."""
    ts = (T0 + timedelta(minutes=poll)).isoformat().replace("+00:00", "Z")
    items = [
        (obis, format(_value(number, poll, index % 5), "f"), unit)
        for index, (obis, unit) in enumerate(_CHANNELS)
    ]
    canonical = ",".join(
        f'{{"obis":"{obis}","quality":"ok","ts":"{ts}","unit":"{unit}","value":"{value}"}}'
        for obis, value, unit in items
    )
    message_id = hashlib.sha256(
        f'{{"collector":"{collector}","items":[{canonical}],"meter":"{meter}",'
        f'"stream":"current"}}'.encode()
    ).hexdigest()
    wire = ",".join(
        f'{{"obis":"{obis}","ts":"{ts}","value":"{value}","unit":"{unit}","quality":"ok"}}'
        for obis, value, unit in items
    )
    return (
        f'{{"schema":1,"id":"{message_id}","collector":"{collector}","meter":"{meter}",'
        f'"stream":"current","read_at":"{ts}","items":[{wire}]}}'
    ).encode()


def _reference_payload(collector: str, meter: int, poll: int) -> bytes:
    ts = T0 + timedelta(minutes=poll)
    items = [
        ReadingItem(obis=obis, ts=ts, value=_value(meter, poll, index % 5), unit=unit)
        for index, (obis, unit) in enumerate(_CHANNELS)
    ]
    return build_message(collector, _meter_id(meter), Stream.CURRENT, items, ts).to_json()


def workload(meters: int, polls: int, collector: str) -> Workload:
    topics, payloads = [], []
    for poll in range(polls):
        for meter in range(meters):
            topics.append(data_topic(collector, _meter_id(meter), Stream.CURRENT))
            payloads.append(_payload(collector, _meter_id(meter), poll, meter))
    total = len(payloads)
    for index in sorted({0, total - 1, *range(0, total, 997)}):
        poll, meter = divmod(index, meters)
        if payloads[index] != _reference_payload(collector, meter, poll):
            raise SystemExit(f"message {index}: the bench writes it unlike build_message")
    return Workload(collector, meters, polls, topics, payloads)


def registry_document(meters: int, collector: str) -> dict[str, Any]:
    """The object tree of the bench: one contract, an energy object per 100 meters with one
    connection point, a metering point per meter (docs/registry.md)."""
    objects = []
    for first in range(0, meters, METERS_PER_OBJECT):
        number = first // METERS_PER_OBJECT + 1
        points = [
            {
                "number": str(meter + 1),
                "name": f"Квартира {meter + 1}",
                "ats_code": f"{9_900_000_000_000 + meter}",
                "meters": [
                    {
                        "meter_id": _meter_id(meter),
                        "model": "Меркурий 230 ART-03",
                        "serial_number": f"{40_000_000 + meter}",
                        "phases": 3,
                    }
                ],
            }
            for meter in range(first, min(first + METERS_PER_OBJECT, meters))
        ]
        objects.append(
            {
                "number": f"{number:04d}",
                "name": f"Дом {number} ({collector})",
                "time_zone": "Europe/Moscow",
                "connection_points": [
                    {"number": "1", "name": f"ТП-{number}, ввод 1", "metering_points": points}
                ],
            }
        )
    return {
        "schema": 1,
        "contracts": [
            {
                "number": "990000000001",
                "name": f"Стенд нагрузки {collector}",
                "zone_schedule": "two-zone",
                "energy_objects": objects,
            }
        ],
    }


@contextmanager
def _scratch_database(services: LocalServices) -> Iterator[str]:
    name = f"isu_bench_{secrets.token_hex(4)}"
    with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield services.postgres.dsn_for(name)
    finally:
        with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _gateway_toml(services: LocalServices, dsn: str, client_id: str, collector: str,
                  batch: int, writers: int, metrics_port: int) -> str:
    # The window holds the writers' batches, one prepared and one being gathered.
    window = max(1000, (writers + 2) * batch)
    return "\n".join([
        "[mqtt]",
        f'host = "{services.mqtt.host}"',
        f"port = {services.mqtt.port}",
        f'client_id = "{client_id}"',
        f'collectors = ["{collector}"]',
        f"receive_maximum = {window}",
        "",
        "[database]",
        f'dsn = "{dsn}"',
        f"pool_max_size = {max(4, writers)}",
        "",
        "[batch]",
        f"max_messages = {batch}",
        f"writers = {writers}",
        "",
        "[metrics]",
        f'listen = "127.0.0.1:{metrics_port}"',
        "",
    ])


def _isu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isu", *args], capture_output=True, text=True, check=False,
        timeout=600,
    )


def _import_registry(path: Path, config: Path) -> dict[str, Any]:
    done = _isu("registry", "import", str(path), "--config", str(config), "--json")
    if done.returncode != 0:
        raise SystemExit(f"isu registry import failed ({done.returncode}): {done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def _rows(dsn: str, table: str = "register_readings") -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # our constant
    return int(row[0]) if row else 0


def _copy_baseline(dsn: str, lines: list[str]) -> float:
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE baseline (LIKE register_readings INCLUDING ALL)")
        conn.execute("SELECT create_hypertable('baseline', by_range('ts', INTERVAL '1 day'))")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(
            "COPY baseline (meter_id, stream, obis, ts, value, unit, quality, read_at,"
            " message_id) FROM STDIN"
        ) as copy:
            for chunk in lines:
                copy.write(chunk)
        conn.commit()
        return time.perf_counter() - started


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _deliveries(load: Workload, batch: int) -> list[list[Delivery]]:
    now = datetime.now(UTC)
    deliveries = [
        Delivery(topic, payload, index, 1, 1, now, 0.0)
        for index, (topic, payload) in enumerate(zip(load.topics, load.payloads, strict=True))
    ]
    return _batches(deliveries, batch)


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    values = {pid: _cpu_s(pid) for pid in pids}
    return {pid: value for pid, value in values.items() if value is not None}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _mqtt_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


class _Publisher:
    """Publishes pre-encoded MQTT 3.1.1 PUBLISH packets at QoS 1 over one connection, keeping
    ``window`` of them unacknowledged, and checks every PUBACK.

    paho-mqtt costs about 0.1 ms of CPU a message here; at the target rate that is a third of a
    core, taken from the gateway and PostgreSQL on a 2-core machine. Collectors publish from
    their own machines, so the bench's publisher should cost next to nothing.
    """

    def __init__(self, host: str, port: int, window: int = 1000) -> None:
        self.window = min(window, 65535)
        self._sock = socket.create_connection((host, port), timeout=30)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = f"isu-bench-publisher-{secrets.token_hex(4)}"
        # CONNECT: protocol "MQTT" level 4, clean session, no keepalive.
        body = _mqtt_string("MQTT") + b"\x04\x02\x00\x00" + _mqtt_string(client_id)
        self._sock.sendall(b"\x10" + _varint(len(body)) + body)
        connack = self._read(4)
        if connack[:2] != b"\x20\x02" or connack[3] != 0:
            raise SystemExit(f"the broker refused the publisher: {connack!r}")
        self.first_publish = 0.0
        self.last_puback = 0.0

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise SystemExit("the broker closed the publisher's connection")
            data += chunk
        return data

    def publish(self, topics: list[str], payloads: list[bytes]) -> None:
        """Every message once; returns when the broker has acknowledged the last."""
        packets = []
        for index, (topic, payload) in enumerate(zip(topics, payloads, strict=True)):
            body = _mqtt_string(topic) + struct.pack("!H", index % self.window + 1) + payload
            packets.append(b"\x32" + _varint(len(body)) + body)
        sent = acked = 0
        pending = b""
        self.first_publish = time.perf_counter()
        while acked < len(packets):
            if sent < len(packets) and sent - acked < self.window:
                upto = min(len(packets), acked + self.window)
                self._sock.sendall(b"".join(packets[sent:upto]))
                sent = upto
            chunk = self._sock.recv(65536)
            if not chunk:
                raise SystemExit("the broker closed the publisher's connection")
            pending += chunk
            whole = len(pending) // 4 * 4
            for offset in range(0, whole, 4):
                # PUBACK of the packet id that is oldest in flight (the broker acknowledges
                # QoS 1 in order).
                expected = struct.pack("!BBH", 0x40, 2, acked % self.window + 1)
                if pending[offset : offset + 4] != expected:
                    raise SystemExit(f"unexpected answer from the broker: {pending[offset:]!r}")
                acked += 1
            pending = pending[whole:]
        self.last_puback = time.perf_counter()

    def close(self) -> None:
        try:
            self._sock.sendall(b"\xe0\x00")  # DISCONNECT
        finally:
            self._sock.close()


class _AckListener:
    """The collector's side of the end-to-end acknowledgement: ids on isu/v1/{collector}/ack."""

    def __init__(self, host: str, port: int, collector: str, expected: int) -> None:
        self.expected = expected
        self.acked_ids: set[str] = set()
        self.last_ack = 0.0
        self.all_acked = threading.Event()
        self._subscribed = threading.Event()
        self._topic = ack_topic(collector)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"isu-bench-acks-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.connect(host, port, keepalive=60, clean_start=True)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            self.stop()
            raise SystemExit("could not subscribe to the ack topic")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: Any, reason: Any,
                    properties: Any) -> None:
        client.subscribe(self._topic, qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reasons: Any,
                      properties: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        self.acked_ids.update(json.loads(message.payload)["ids"])
        if len(self.acked_ids) >= self.expected and not self.all_acked.is_set():
            self.last_ack = time.perf_counter()
            self.all_acked.set()


def _metrics_text(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=2) as response:
        return str(response.read().decode())


def _wait_connected(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"isu gateway exited with {process.returncode} before connecting")
        try:
            if "isu_gateway_mqtt_connected 1.0" in _metrics_text(port):
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"isu gateway did not subscribe within {timeout_s:.0f} s")


def _forget_session(services: LocalServices, client_id: str) -> None:
    """Remove the gateway's persistent session from the broker (clean start, no expiry)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    try:
        client.connect(services.mqtt.host, services.mqtt.port, clean_start=True)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass


def _gateway_backends(dsn: str) -> list[int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'isu-gateway'"
        ).fetchall()
    return [int(row[0]) for row in rows]


def _end_to_end(services: LocalServices, dsn: str, load: Workload, batch: int, writers: int,
                work: Path, registry: Path) -> dict[str, Any]:
    client_id = f"isu-bench-gateway-{secrets.token_hex(4)}"
    metrics_port = free_port()
    config = work / "gateway-e2e.toml"
    config.write_text(
        _gateway_toml(services, dsn, client_id, load.collector, batch, writers, metrics_port),
        encoding="utf-8",
    )
    _import_registry(registry, config)
    log_path = work / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "isu", "gateway", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    listener: _AckListener | None = None
    try:
        _wait_connected(process, metrics_port, timeout_s=60)
        backends = _gateway_backends(dsn)
        listener = _AckListener(services.mqtt.host, services.mqtt.port, load.collector,
                                load.messages)
        publisher = _Publisher(services.mqtt.host, services.mqtt.port)
        gateway_cpu, database_cpu = _cpu_s(process.pid), _cpu_by_pid(backends)
        own_cpu = time.process_time()
        try:
            publisher.publish(load.topics, load.payloads)
        finally:
            publisher.close()
        timeout_s = 120 + load.rows / 5000
        deadline = time.monotonic() + timeout_s
        while not listener.all_acked.wait(1.0):
            exited = process.poll() is not None
            if exited or time.monotonic() > deadline:
                state = "exited" if exited else f"still running after {timeout_s:.0f} s"
                raise SystemExit(
                    f"end to end: {len(listener.acked_ids)} of {load.messages} messages"
                    f" acknowledged, the gateway {state}; its log:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
        own_cpu = time.process_time() - own_cpu
        # Connections opened meanwhile (one per writer) count from zero.
        gateway_after = _cpu_s(process.pid)
        database_after = _cpu_by_pid(_gateway_backends(dsn))
    finally:
        if listener is not None:
            listener.stop()
        stop_process(process)
        _forget_session(services, client_id)
    if process.returncode != 0:
        raise SystemExit(f"isu gateway exited with {process.returncode}:\n"
                         + log_path.read_text(errors="replace")[-3000:])
    stored = _rows(dsn)
    if stored != load.rows:
        raise SystemExit(f"end to end: expected {load.rows} rows, the table holds {stored}")
    seconds = listener.last_ack - publisher.first_publish
    cpu: dict[str, float | None] = {"publisher_process": round(own_cpu, 2)}
    if gateway_cpu is not None and gateway_after is not None:
        cpu["gateway_process"] = round(gateway_after - gateway_cpu, 2)
    if database_after:
        cpu["database_backends"] = round(
            sum(value - database_cpu.get(pid, 0.0) for pid, value in database_after.items()), 2
        )
    return {
        "seconds": seconds,
        "publish_seconds": publisher.last_puback - publisher.first_publish,
        "cpu_s": cpu,
    }


def _figure(rows: int, messages: int, seconds: float) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 4),
        "rows_per_s": round(rows / seconds),
        "messages_per_s": round(messages / seconds),
    }


def run(meters: int, polls: int, batch: int, writers: int) -> dict[str, Any]:
    services = load_local_services()
    collector = f"bench-{secrets.token_hex(4)}"
    load = workload(meters, polls, collector)
    rows, messages = load.rows, load.messages
    figures: dict[str, Any] = {
        "meters": meters, "polls": polls, "messages": messages, "rows": rows,
        "batch_messages": batch, "writers": writers, "cpus": os.cpu_count(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    seconds: dict[str, float] = {}

    delivery_batches = _deliveries(load, batch)
    started = time.perf_counter()
    plans = [classify(part) for part in delivery_batches]
    seconds["validate"] = time.perf_counter() - started
    accepted = [plan.to_store for plan in plans]
    if sum(len(part) for part in accepted) != messages:
        raise SystemExit("the gateway's checks refused some of the bench's messages")
    del plans, delivery_batches
    sample = load.payloads[:REFERENCE_SAMPLE]
    started = time.perf_counter()
    for payload in sample:
        parse_message(payload)
    reference_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="isu-bench-") as folder:
        work = Path(folder)
        registry = work / "registry.json"
        registry.write_text(
            json.dumps(registry_document(meters, collector), ensure_ascii=False), encoding="utf-8"
        )
        with _scratch_database(services) as dsn:
            apply_migrations(dsn)
            config = work / "gateway-sql.toml"
            config.write_text(
                _gateway_toml(services, dsn, "unused", collector, batch, writers, 0),
                encoding="utf-8",
            )
            started = time.perf_counter()
            report = _import_registry(registry, config)
            figures["registry_import_s"] = round(time.perf_counter() - started, 2)
            figures["registry"] = {
                level: counts["created"] for level, counts in report.items()
                if isinstance(counts, dict)
            }
            lines = [
                text for part in accepted
                for text in prepare_batch(part).copy_text.values()
            ]
            seconds["copy_baseline"] = _copy_baseline(dsn, lines)
            del lines
            with Store(dsn) as store:
                started = time.perf_counter()
                written = sum(store.write(part).rows_written for part in accepted)
                seconds["store_write"] = time.perf_counter() - started
                started = time.perf_counter()
                repeated = sum(store.write(part).rows_written for part in accepted)
                seconds["store_repeat"] = time.perf_counter() - started
            stored = _rows(dsn)
        if stored != rows or written != rows:
            raise SystemExit(f"expected {rows} rows, wrote {written}, table holds {stored}")
        if repeated != 0:
            raise SystemExit(f"a repeat wrote {repeated} rows; writes are not idempotent")
        del accepted

        with _scratch_database(services) as dsn:
            apply_migrations(dsn)
            e2e = _end_to_end(services, dsn, load, batch, writers, work, registry)
    seconds["end_to_end"] = e2e["seconds"]
    seconds["publish"] = e2e["publish_seconds"]

    for name, value in seconds.items():
        figures[name] = _figure(rows, messages, value)
    sample_rows = len(sample) * len(_CHANNELS)
    figures["validate_reference"] = _figure(sample_rows, len(sample), reference_s)
    figures["end_to_end"]["cpu_s"] = e2e["cpu_s"]
    figures["end_to_end"]["cpu_us_per_reading"] = {
        name: round(value * 1e6 / rows, 1) for name, value in e2e["cpu_s"].items()
        if value is not None
    }
    end_to_end = rows / seconds["end_to_end"]
    figures["ratios"] = {
        "end_to_end_vs_store_write": round(end_to_end / (rows / seconds["store_write"]), 2),
        "end_to_end_vs_copy_baseline": round(end_to_end / (rows / seconds["copy_baseline"]), 2),
        "store_write_vs_copy_baseline": round(seconds["copy_baseline"] / seconds["store_write"], 2),
        "publish_vs_end_to_end": round(seconds["end_to_end"] / seconds["publish"], 2),
    }
    figures["targets"] = {
        "end_to_end_rows_per_s": TARGET_ROWS_PER_S,
        "end_to_end_vs_store_write": TARGET_VS_STORE_WRITE,
        "met": end_to_end >= TARGET_ROWS_PER_S
        and figures["ratios"]["end_to_end_vs_store_write"] >= TARGET_VS_STORE_WRITE,
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--polls", type=int, default=25)
    parser.add_argument("--batch", type=int, default=500, help="messages per transaction")
    parser.add_argument(
        "--writers", type=int, default=2, help="the gateway's [batch] writers (default 2)"
    )
    args = parser.parse_args()
    if min(args.meters, args.polls, args.batch, args.writers) < 1:
        parser.error("--meters, --polls, --batch and --writers must be at least 1")
    started = time.monotonic()
    figures = run(args.meters, args.polls, args.batch, args.writers)
    figures["run_s"] = round(time.monotonic() - started, 1)
    print(
        f"{figures['messages']} messages, {figures['rows']} readings, batches of {args.batch}, "
        f"{args.writers} writers, {figures['cpus']} CPUs, {figures['run_s']} s in all"
    )
    for name in ("end_to_end", "publish", "store_write", "store_repeat", "copy_baseline",
                 "validate", "validate_reference"):
        figure = figures[name]
        print(
            f"  {name:18} {figure['seconds']:9.3f} s {figure['rows_per_s']:>10} readings/s "
            f"{figure['messages_per_s']:>8} msg/s"
        )
    ratios, targets = figures["ratios"], figures["targets"]
    print(
        f"  end to end = {ratios['end_to_end_vs_store_write']} x store_write, "
        f"{ratios['end_to_end_vs_copy_baseline']} x copy_baseline; CPU µs per reading: "
        f"{figures['end_to_end']['cpu_us_per_reading']}"
    )
    print(
        f"  targets: >= {targets['end_to_end_rows_per_s']} readings/s and >= "
        f"{targets['end_to_end_vs_store_write']} x store_write: "
        f"{'met' if targets['met'] else 'NOT met'}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
