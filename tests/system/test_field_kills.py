"""Nothing read is ever lost, nothing is stored twice — with the real Mosquitto, the real gateway
and the real TimescaleDB, when the broker or the collector dies by SIGKILL (issue 5).

- A private broker (this test's own Mosquitto, persistence on disk) is SIGKILLed for minutes
  while the collector goes on polling simulated Mercury 230 meters, then restarted on the same
  port: every reading the collector stored (a recording subclass of the real collector is the
  oracle) is in the database once, with its value, and nothing else is.
- The collector runs as its own process (``isu collector --config``), first with its uplink
  down (a relay that refuses connections) so that a backlog builds up, and is SIGKILLed three
  times: twice while it drains the backlog (messages acknowledged, published and waiting for
  their acknowledgement, never published — all at once in its queue file), once while messages
  wait for their acknowledgement. It is restarted each time. In the end the profile and the
  journals in the database are what the meters hold, every message that was in the queue file
  at a kill is stored, no reading came in two messages (a witness subscriber sees everything
  published), and the queue is empty.

The meters' clock runs ten times as fast, 23 hours behind true time, with a one-minute load
profile, so that new intervals keep coming during the test and all of them lie in the
collector's past. ``ISU_TEST_BROKER_OUTAGE_S`` sets the broker's outage (default 120 s).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from collector.bus import LedgerMarks
from collector.config import CollectorConfig
from collector.queue import QueueEntry
from collector.service import Collector
from core.messages import ReadingsMessage, parse_message
from core.model import Stream
from gateway.config import GatewayConfig
from gateway.service import Gateway
from simulators.mercury230.clock import ScaledClock
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.fleet import SimulatorFleet, make_meters
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.server import BusServer
from tests.integration.test_collector_mqtt import forget_collector
from tests.integration.test_gateway import forget_session
from tests.system.field_support import (
    Child,
    PrivateBroker,
    QueueRow,
    Rows,
    UplinkGate,
    check_profile,
    database_rows,
    dead_letter_count,
    differences,
    duplicated_keys,
    eventually,
    first_start,
    interval_start,
    journal_keys,
    logged_errors,
    product_errors,
    queue_counts,
    read_ledger,
    read_queue,
    union_rows,
)

pytestmark = pytest.mark.services
log = logging.getLogger(__name__)

OUTAGE_S = float(os.environ.get("ISU_TEST_BROKER_OUTAGE_S", "120"))
#: The meters' clock: this much behind true time, this many times as fast.
BEHIND = timedelta(hours=23)
SPEED = 10.0
PERIOD = timedelta(minutes=1)
#: The driver's window of a first contact with a profile (``drivers/mercury/driver.py``).
FIRST_WINDOW = timedelta(days=1)
STREAMS = ["current", "instant", "clock", "interval", "events"]
#: Messages the killed collector gathers with its uplink down before the uplink comes up.
BACKLOG = 250
_DATA_LEAVES = {stream.value for stream in Stream}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def field_meters(count: int, seed: int) -> list[SimulatedMeter]:
    """Meters with a day of history (load profile and journals) on one fast clock."""
    clock = ScaledClock(start=datetime.now(UTC) - BEHIND, speed=SPEED)
    return make_meters(
        first_address=1,
        count=count,
        clock=clock,
        seed=seed,
        history_days=1,
        profile_period_min=int(PERIOD.total_seconds() // 60),
    )


def bus_port(fleet: SimulatorFleet) -> int:
    server = fleet.buses[0]
    assert isinstance(server, BusServer)
    return server.port


def collector_settings(
    collector_id: str,
    mqtt_port: int,
    bus_port: int,
    meters: Sequence[SimulatedMeter],
    queue: Path,
    *,
    period_s: float,
    ack_timeout_s: float,
    max_inflight: int,
) -> dict[str, Any]:
    return {
        "collector_id": collector_id,
        "mqtt": {
            "host": "127.0.0.1",
            "port": mqtt_port,
            "max_inflight": max_inflight,
            "keepalive_s": 10,
            "reconnect_initial_s": 0.2,
            "reconnect_max_s": 1.0,
        },
        "queue": {"path": str(queue), "ack_timeout_s": ack_timeout_s},
        "poll": {
            "period_s": period_s,
            "backoff_max_s": 2.0,
            "reconnect_initial_s": 0.5,
            "reconnect_max_s": 1.0,
        },
        "bus": [
            {
                "name": "line-1",
                "transport": "tcp",
                "host": "127.0.0.1",
                "port": bus_port,
                "timeout_s": 1.0,
                "meter": [
                    {
                        "id": meter.meter_id,
                        "protocol": "mercury230",
                        "address": meter.address,
                        "streams": STREAMS,
                    }
                    for meter in meters
                ],
            }
        ],
    }


def _toml_value(value: Any) -> str:
    return json.dumps(value)  # strings, numbers and lists of strings read the same in TOML


def toml_text(settings: Mapping[str, Any]) -> str:
    """The collector's settings as its TOML file (tables and arrays of tables as the reference
    in docs/collector.md writes them)."""
    lines = [
        f"{key} = {_toml_value(value)}"
        for key, value in settings.items()
        if not isinstance(value, dict | list)
    ]
    for name, table in settings.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]", *(f"{k} = {_toml_value(v)}" for k, v in table.items())]
    for bus in settings["bus"]:
        lines += ["", "[[bus]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in bus.items() if k != "meter"]
        for meter in bus["meter"]:
            lines += ["", "[[bus.meter]]", *(f"{k} = {_toml_value(v)}" for k, v in meter.items())]
    return "\n".join(lines) + "\n"


def gateway_config(collector_id: str, port: int, dsn: str) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "mqtt": {
                "host": "127.0.0.1",
                "port": port,
                "client_id": f"gw-{collector_id}",
                "collectors": [collector_id],
                "session_expiry_s": 600,
                "reconnect_min_s": 1,
                "reconnect_max_s": 2,
            },
            "database": {"dsn": dsn, "retry_min_s": 0.1, "retry_max_s": 1.0},
            "batch": {"max_messages": 200, "max_delay_ms": 200},
        }
    )


def profile_since(messages: Sequence[ReadingsMessage], meter_id: str) -> datetime:
    """The start of the catch-up: the driver's default window before the first profile read."""
    first = min(
        message.read_at
        for message in messages
        if message.meter == meter_id and message.stream is Stream.INTERVAL
    )
    return first_start(first - FIRST_WINDOW, PERIOD)


def last_complete_start(meter: SimulatedMeter) -> datetime:
    """The start of the newest interval the meter has closed (its true time)."""
    return interval_start(meter.clock(), PERIOD) - PERIOD


def silence(meters: Sequence[SimulatedMeter]) -> None:
    """The meters stop answering, so that nothing more is read and the queue can drain.

    (Rather than closing their line: on Python 3.11 a serving task can swallow the cancellation
    that closing the server sends it, and go on serving.)
    """
    for meter in meters:
        meter.fault = Fault(FaultMode.SILENCE)


async def db_rows(dsn: str, meters: Sequence[SimulatedMeter]) -> Rows:
    return await asyncio.to_thread(database_rows, dsn, [meter.meter_id for meter in meters])


# --- 1. the broker is SIGKILLed for minutes -----------------------------------------------------


class RecordingCollector(Collector):
    """The real collector, remembering every message once its queue has committed it (read
    back from its payload, as the gateway reads it)."""

    def __init__(self, config: CollectorConfig) -> None:
        super().__init__(config)
        self.stored: list[ReadingsMessage] = []

    async def store(self, entries: list[QueueEntry], ledger: LedgerMarks) -> None:
        await super().store(entries, ledger)
        self.stored.extend(parse_message(entry.payload) for entry in entries)

    def reads(self) -> float:
        """Meter reads that gave data, over all meters (``isu_collector_polls_total``)."""
        total = 0.0
        for metric in self.metrics.polls.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["outcome"] != "failed":
                    total += sample.value
        return total


async def test_a_broker_killed_for_minutes_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, fresh_database: str, topic_prefix_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    cid = topic_prefix_id
    broker = PrivateBroker(tmp_path / "broker")
    meters = field_meters(3, seed=51)
    queue_path = tmp_path / "queue.sqlite3"
    gateway = Gateway(gateway_config(cid, broker.port, fresh_database))
    try:
        broker.start()
        async with SimulatorFleet.single_bus(meters) as fleet:
            settings = collector_settings(
                cid,
                broker.port,
                bus_port(fleet),
                meters,
                queue_path,
                period_s=2.0,
                ack_timeout_s=10.0,
                max_inflight=20,
            )
            gateway.start()
            assert await asyncio.to_thread(gateway.wait_connected, 30)
            collector = RecordingCollector(CollectorConfig.model_validate(settings))
            async with collector:
                task = asyncio.create_task(collector.run())
                try:
                    await _outage(broker, gateway, collector, meters, fresh_database)
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                stored = collector.stored
    except BaseException:
        print(broker.tail())
        raise
    finally:
        gateway.stop()
        broker.kill()

    assert read_queue(queue_path) == [], "messages left unacknowledged in the queue"
    assert await asyncio.to_thread(dead_letter_count, fresh_database) == 0
    assert product_errors(caplog.records) == []
    twice = duplicated_keys(stored)
    assert not twice, f"{len(twice)} reading(s) stored in two messages: {list(twice.items())[:3]}"
    expected = union_rows(stored)
    rows = await db_rows(fresh_database, meters)
    assert rows == expected, differences(expected, rows)
    marks = read_ledger(queue_path)
    for meter in meters:
        until = marks[(meter.meter_id, "interval")]
        check_profile(meter, rows, profile_since(stored, meter.meter_id), until)
    events = {key for key in rows if key[0] == "events"}
    assert events == set().union(*(journal_keys(meter) for meter in meters))


async def _outage(
    broker: PrivateBroker,
    gateway: Gateway,
    collector: RecordingCollector,
    meters: list[SimulatedMeter],
    dsn: str,
) -> None:
    queue_path = Path(collector.config.queue.path)

    async def flowing() -> bool:
        rows = await db_rows(dsn, meters)
        return collector.queue.depth() == 0 and all(
            any(key[0] == "interval_readings" and key[1] == meter.meter_id for key in rows)
            for meter in meters
        )

    await eventually(flowing, 90, "the first reads of every meter stored")
    # Long enough for the broker to have saved its state to disk at least twice; then kill it
    # while messages are on their way (stored, not yet acknowledged).
    await asyncio.sleep(max(0.0, broker.started_at + 2.5 * broker.autosave_s - time.monotonic()))
    await eventually(lambda: collector.queue.depth() > 0, 60, "messages on their way", 0.005)

    # The broker dies; the meters go on recording and the collector goes on reading them.
    reads_before = collector.reads()
    queued_before = len(read_queue(queue_path))
    stored_before = len(collector.stored)
    killed_at = time.monotonic()
    broker.kill()
    log.info("broker killed with %d message(s) on their way", queued_before)
    await eventually(lambda: not collector.uplink.connected.is_set(), 30, "the collector sees it")
    meters[0].open_cover(30)
    meters[1].magnetic_field(30)
    quiet_at = meters[0].clock() + timedelta(seconds=30)
    while time.monotonic() - killed_at < OUTAGE_S:
        assert not gateway.wait_connected(0), "the gateway still has a broker"
        await asyncio.sleep(1.0)
    meter_time_at_restart = meters[0].clock()

    queued = read_queue(queue_path)
    new = {message.id for message in collector.stored[stored_before:]}
    reads = collector.reads() - reads_before
    expected_reads = len(meters) * OUTAGE_S / collector.config.poll.period_s
    assert reads >= expected_reads / 2, f"{reads} reads in {OUTAGE_S:.0f} s of outage"
    # Each read stores at least its registers; one store may still be on its way to the disk.
    assert len(new) >= reads - 1, f"{len(new)} messages stored by {reads} reads"
    assert new <= {row.id for row in queued}, "a message left the queue without its broker"
    assert len(queued) > queued_before, "the queue did not grow"

    broker.start()  # on this thread: the child must not outlive a pool thread (PDEATHSIG)
    log.info(
        "broker restarted after %.0f s, %d messages queued meanwhile, %.0f reads",
        time.monotonic() - killed_at,
        len(queued),
        reads,
    )
    await eventually(collector.uplink.connected.is_set, 60, "reconnected")
    assert await asyncio.to_thread(gateway.wait_connected, 60)
    drain_s = 3 * collector.config.queue.ack_timeout_s + 120

    async def caught_up() -> bool:
        if meters[0].clock() < quiet_at or collector.queue.depth():
            return False
        rows = await db_rows(dsn, meters)
        for meter in meters:
            starts = [key[3] for key in rows if key[:2] == ("interval_readings", meter.meter_id)]
            # Up to the interval under way at the restart: all of the outage is in.
            if max(starts, default=EPOCH) < meter_time_at_restart - PERIOD:
                return False
        return all(journal_keys(meter) <= rows.keys() for meter in meters)

    await eventually(caught_up, drain_s, "the queue drained and the outage's profile stored")
    # No more readings: what was read drains, then all is compared.
    silence(meters)
    await eventually(lambda: collector.queue.depth() == 0, drain_s, "the last acknowledged")
    assert await asyncio.to_thread(gateway.wait_idle, 30)


# --- 2. the collector is SIGKILLed mid-publish --------------------------------------------------


class Witness:
    """Every data message the broker delivers under the collector's topics, as published."""

    def __init__(self, address: tuple[str, int], collector_id: str) -> None:
        self._client = aiomqtt.Client(*address, identifier=f"{collector_id}-witness")
        self._filter = f"isu/v1/{collector_id}/+/+"
        self._messages: dict[str, ReadingsMessage] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._client.__aenter__()
        await self._client.subscribe(self._filter, qos=1)
        self._task = asyncio.create_task(self._receive())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            await self._client.__aexit__(None, None, None)
            self._task = None

    async def _receive(self) -> None:
        async for message in self._client.messages:
            leaf = str(message.topic).rsplit("/", 1)[-1]
            if leaf in _DATA_LEAVES and isinstance(message.payload, bytes):
                parsed = parse_message(message.payload)
                self._messages.setdefault(parsed.id, parsed)

    def messages(self) -> list[ReadingsMessage]:
        """Each distinct message once (a message published again arrives again)."""
        return list(self._messages.values())


async def test_a_collector_killed_mid_publish_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path,
    fresh_database: str,
    mqtt_address: tuple[str, int],
    topic_prefix_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cid = topic_prefix_id
    host, port = mqtt_address
    meters = field_meters(8, seed=61)
    queue_path = tmp_path / "queue.sqlite3"
    config_path = tmp_path / "collector.toml"
    command = [sys.executable, "-m", "isu", "collector", "--config", str(config_path)]
    collector = Child(command, tmp_path / "collector.log")
    gate = UplinkGate(mqtt_address)
    witness = Witness(mqtt_address, cid)
    gateway = Gateway(gateway_config(cid, port, fresh_database))
    try:
        await witness.start()
        async with SimulatorFleet.single_bus(meters) as fleet:
            settings = collector_settings(
                cid,
                gate.port,
                bus_port(fleet),
                meters,
                queue_path,
                period_s=0.5,
                ack_timeout_s=5.0,
                max_inflight=2,
            )
            config_path.write_text(toml_text(settings))
            gateway.start()
            assert await asyncio.to_thread(gateway.wait_connected, 30)
            try:
                collector.start()
                kills, quiet_at = await _kill_and_restart(collector, gate, meters, queue_path)
                await _final_drain(collector, meters, queue_path, fresh_database, quiet_at)
                assert collector.signal(signal.SIGTERM) == 0, collector.tail()
            finally:
                collector.kill()  # before the meters' line closes
        assert await asyncio.to_thread(gateway.wait_idle, 30)
        rows = await db_rows(fresh_database, meters)

        async def witnessed() -> bool:
            return union_rows(witness.messages()).keys() >= rows.keys()

        await eventually(witnessed, 30, "the witness saw every message stored")
    except BaseException:
        print(collector.tail(80))
        raise
    finally:
        collector.kill()
        gateway.stop()
        await witness.stop()
        await gate.close()
        await forget_collector(mqtt_address, cid)
        forget_session(host, port, f"gw-{cid}")

    assert read_queue(queue_path) == [], "messages left unacknowledged in the queue"
    assert await asyncio.to_thread(dead_letter_count, fresh_database) == 0
    assert product_errors(caplog.records) + logged_errors(collector.log) == []
    published = witness.messages()
    log.info("comparing %d rows with %d messages", len(rows), len(published))
    twice = duplicated_keys(published)
    assert not twice, f"{len(twice)} reading(s) read into two messages: {list(twice.items())[:3]}"
    expected = union_rows(published)
    assert rows == expected, differences(expected, rows)
    for number, snapshot in enumerate(kills, start=1):
        held = union_rows(parse_message(row.payload) for row in snapshot)
        kept = {key: value for key, value in rows.items() if key in held}
        assert kept == held, f"kill {number}: {differences(held, kept)}"
    marks = read_ledger(queue_path)
    for meter in meters:
        check_profile(
            meter,
            rows,
            profile_since(published, meter.meter_id),
            marks[(meter.meter_id, "interval")],
        )
    events = {key for key in rows if key[0] == "events"}
    assert events == set().union(*(journal_keys(meter) for meter in meters))


async def _kill_and_restart(
    collector: Child, gate: UplinkGate, meters: list[SimulatedMeter], queue_path: Path
) -> tuple[list[list[QueueRow]], datetime]:
    """Build a backlog with the uplink down, then SIGKILL the collector twice while it drains
    the backlog and once while a message waits for its acknowledgement; restart it each time,
    after a meter has recorded something while nobody read it.

    Returns the queue file as each kill left it, and the meters' time when the last thing they
    were made to record has ended.
    """

    async def backlog() -> bool:
        marks = read_ledger(queue_path)
        history = [(meter.meter_id, name) for meter in meters for name in ("interval", "events")]
        return sum(queue_counts(queue_path)) >= BACKLOG and all(key in marks for key in history)

    await eventually(backlog, 120, f"{BACKLOG} messages queued, every meter's history read")
    full, published = queue_counts(queue_path)
    assert published == 0, "published with the uplink down"
    await gate.open()
    log.info("uplink up with %d messages queued", full)

    # When to kill, from (never published, awaiting the ack) in the queue file.
    moments: list[tuple[str, Callable[[int, int], bool]]] = [
        ("draining, 30 % acknowledged", lambda n, s: n > 0 and s > 0 and n + s <= 0.7 * full),
        ("draining, 65 % acknowledged", lambda n, s: n > 0 and s > 0 and n + s <= 0.35 * full),
        ("steady, messages await their ack", lambda n, s: n == 0 and 0 < s < 50),
    ]
    injections: list[tuple[Callable[[], object], float]] = [
        (lambda: meters[0].open_cover(30), 30),
        (lambda: meters[1].magnetic_field(30), 30),
        (lambda: meters[2].power_failure(45), 45),  # silent for a while: its reads fail
    ]
    snapshots: list[list[QueueRow]] = []
    quiet_at = meters[0].clock()
    for (what, moment), (inject, duration_s) in zip(moments, injections, strict=True):
        deadline = time.monotonic() + 120
        while not moment(*queue_counts(queue_path)):
            assert collector.running, collector.tail()
            assert time.monotonic() < deadline, f"never {what}: {queue_counts(queue_path)}"
            await asyncio.sleep(0.01)
        collector.signal(signal.SIGKILL)
        snapshot = read_queue(queue_path)
        assert snapshot, f"{what}: the queue file lost its messages"
        never = sum(1 for row in snapshot if row.send_count == 0)
        log.info(
            "killed (%s): %d never published, %d awaiting their ack",
            what,
            never,
            len(snapshot) - never,
        )
        snapshots.append(snapshot)
        inject()
        quiet_at = meters[0].clock() + timedelta(seconds=duration_s)
        collector.start()
    return snapshots, quiet_at


async def _final_drain(
    collector: Child,
    meters: list[SimulatedMeter],
    queue_path: Path,
    dsn: str,
    quiet_at: datetime,
) -> None:
    """Wait until the collector has read and delivered all the meters hold (after ``quiet_at``,
    when their journals have nothing more to write), silence them, wait until its queue is
    empty."""

    async def caught_up() -> bool:
        assert collector.running, collector.tail()
        if meters[0].clock() < quiet_at:
            return False
        marks = read_ledger(queue_path)
        if not all(
            marks.get((meter.meter_id, "interval"), EPOCH) >= last_complete_start(meter)
            for meter in meters
        ):
            return False
        rows = await db_rows(dsn, meters)
        return all(journal_keys(meter) <= rows.keys() for meter in meters)

    await eventually(caught_up, 120, "every interval and journal entry read and stored")
    log.info("caught up; the meters fall silent")
    silence(meters)

    async def drained() -> bool:
        assert collector.running, collector.tail()
        return not read_queue(queue_path)

    await eventually(drained, 120, "the queue drained")
    log.info("drained")
