"""The collector against the real local Mosquitto: status, data topics, the end-to-end ack.

The test plays the gateway: it subscribes to the collector's topics and publishes
:class:`~core.messages.AckMessage` on its ack topic. Meters are the ``fake-test`` protocol
double over in-memory streams (the Mercury driver against its simulator has its own test).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest

from collector.service import Collector
from core.messages import (
    AckMessage,
    MeterState,
    ReadingsMessage,
    ack_topic,
    data_topic,
    parse_message,
    state_topic,
    status_topic,
)
from core.model import Stream, utc_now
from tests.unit.collector.fake_driver import MemoryBuses, make_config, reset_bench, tcp_bus

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_bench() -> None:
    reset_bench()


async def forget_collector(address: tuple[str, int], collector_id: str) -> None:
    """Leave the shared broker as it was: drop the collector's persistent session and retained
    messages (status, meter states)."""
    async with aiomqtt.Client(*address, identifier=collector_id, clean_session=True):
        pass  # a clean session replaces, then discards, the stored one
    retained_topics: list[str] = []
    async with aiomqtt.Client(*address) as client:
        await client.subscribe(f"isu/v1/{collector_id}/#", qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for message in client.messages:
                    if message.retain:
                        retained_topics.append(str(message.topic))
        for topic in retained_topics:
            await client.publish(topic, b"", qos=1, retain=True)


@pytest.fixture(autouse=True)
async def _tidy_broker(mqtt_address: tuple[str, int], topic_prefix_id: str) -> AsyncIterator[None]:
    yield
    await forget_collector(mqtt_address, topic_prefix_id)


@dataclass
class Gateway:
    """Sees everything under ``isu/v1/{collector}/`` and acknowledges like the real gateway."""

    client: aiomqtt.Client
    collector_id: str
    received: list[tuple[str, bytes, bool]] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)

    def data(self) -> list[tuple[str, ReadingsMessage]]:
        return [
            (topic, parse_message(payload))
            for topic, payload, _ in self.received
            if topic.endswith(tuple(f"/{s.value}" for s in Stream))
        ]

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in self.received if t == topic]

    async def ack(self, ids: list[str]) -> None:
        ack = AckMessage(ids=ids, committed_at=utc_now())
        await self.client.publish(ack_topic(self.collector_id), ack.to_json(), qos=1)


@contextlib.asynccontextmanager
async def gateway(address: tuple[str, int], collector_id: str) -> AsyncIterator[Gateway]:
    async with aiomqtt.Client(address[0], address[1], identifier=f"gw-{collector_id}") as client:
        await client.subscribe(f"isu/v1/{collector_id}/#", qos=1)
        gw = Gateway(client, collector_id)

        async def listen() -> None:
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                gw.received.append((str(message.topic), payload, message.retain))
                gw.arrived_at.append(time.monotonic())

        task = asyncio.create_task(listen())
        try:
            yield gw
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(collector: Collector) -> AsyncIterator[Collector]:
    task = asyncio.create_task(collector.run())
    try:
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def retained(address: tuple[str, int], topic: str, timeout_s: float = 2.0) -> bytes | None:
    """The retained payload on ``topic``, or ``None`` when the broker keeps none."""
    async with aiomqtt.Client(*address) as client:
        await client.subscribe(topic, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    # A live publish racing our subscription is not what the broker keeps.
                    if message.retain and isinstance(message.payload, bytes):
                        return message.payload
    return None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_status_online_then_offline_and_meter_state_retained(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    host, port = mqtt_address
    config = make_config(
        tmp_path, [tcp_bus("bus-a", "m-1")], collector_id=cid, mqtt={"host": host, "port": port}
    )
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        async with running(collector):
            await asyncio.wait_for(collector.uplink.connected.wait(), 10)
            assert await retained(mqtt_address, status_topic(cid)) == b"online"
            payload = None
            for _ in range(20):
                payload = await retained(mqtt_address, state_topic(cid, "m-1"), timeout_s=0.5)
                if payload is not None and b"last_success_at" in payload:
                    break
            assert payload is not None
            state = MeterState.model_validate_json(payload)
            assert (state.meter, state.protocol, state.consecutive_failures) == (
                "m-1",
                "fake-test",
                0,
            )
            assert state.last_success_at is not None
        assert await retained(mqtt_address, status_topic(cid)) == b"offline"


async def test_messages_stay_on_disk_until_the_gateway_acknowledges_them(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    host, port = mqtt_address
    config = make_config(
        tmp_path,
        [tcp_bus("bus-a", "m-1", "m-2")],
        collector_id=cid,
        mqtt={"host": host, "port": port},
        queue={"ack_timeout_s": 30},
    )
    async with (
        gateway(mqtt_address, cid) as gw,
        Collector(config, open_stream=MemoryBuses()) as c,
        running(c),
    ):
        await eventually(lambda: len(gw.data()) == 4)
        for topic, message in gw.data():
            assert topic == data_topic(cid, message.meter, message.stream)
            assert message.collector == cid
            assert len(message.items) == 1
        await eventually(
            lambda: all(m.send_count == 1 for m in c.queue.sync.pending(time.time() + 60, 30))
        )
        await asyncio.sleep(0.5)
        assert c.queue.depth() == 4  # PUBACK'd, but not acknowledged: still on disk

        ids = [message.id for _, message in gw.data()]
        await gw.ack(ids[:1])
        await eventually(lambda: c.queue.depth() == 3)
        remaining = {m.id for m in c.queue.sync.pending(time.time() + 60, 30)}
        assert remaining == set(ids[1:])

        await gw.ack([*ids[1:], "not-an-id"])
        await eventually(lambda: c.queue.depth() == 0)
        # A malformed acknowledgement is ignored, and the collector carries on.
        await gw.client.publish(ack_topic(cid), b"{not json", qos=1)
        await asyncio.sleep(0.2)
        assert c.uplink.connected.is_set()
        sample = c.metrics.registry.get_sample_value
        assert sample("isu_collector_messages_acknowledged_total") == 4
        assert sample("isu_collector_ack_latency_seconds_count") == 4
    assert len(gw.data()) == 4  # acknowledged in time: never published twice


async def test_an_unacknowledged_message_is_published_again_after_the_ack_timeout(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    host, port = mqtt_address
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0]["streams"] = ["current"]
    config = make_config(
        tmp_path,
        [bus],
        collector_id=cid,
        mqtt={"host": host, "port": port},
        queue={"ack_timeout_s": 0.5},
    )
    async with (
        gateway(mqtt_address, cid) as gw,
        Collector(config, open_stream=MemoryBuses()) as c,
        running(c),
    ):
        await eventually(lambda: len(gw.data()) >= 3)
        copies = [message for _, message in gw.data()]
        assert {m.id for m in copies} == {copies[0].id}  # the same message, again and again
        times = [
            at
            for (topic, _, _), at in zip(gw.received, gw.arrived_at, strict=True)
            if topic.endswith("/current")
        ]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= 0.45, gaps  # not before the ack timeout (0.5 s) has passed
        assert max(gaps) < 2.0, gaps
        await gw.ack([copies[0].id])
        await eventually(lambda: c.queue.depth() == 0)
        seen = len(gw.data())
        await asyncio.sleep(1.2)
        assert len(gw.data()) <= seen + 1  # at most one was already on its way
        repeats = c.metrics.registry.get_sample_value(
            "isu_collector_messages_published_total", {"attempt": "repeat"}
        )
        assert repeats is not None
        assert repeats >= 2


async def test_messages_wait_on_disk_while_the_broker_is_unreachable(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    host, port = mqtt_address
    buses = [tcp_bus("bus-a", "m-1")]
    offline = make_config(
        tmp_path,
        buses,
        collector_id=cid,
        poll={"period_s": 0.1},
        mqtt={"host": "127.0.0.1", "port": _closed_port()},
    )
    async with Collector(offline, open_stream=MemoryBuses()) as collector:
        async with running(collector):
            await eventually(lambda: collector.queue.depth() >= 10)
            assert not collector.uplink.connected.is_set()
        waiting = collector.queue.sync.pending(time.time(), 60, limit=1000)
    assert all(m.send_count == 0 for m in waiting)
    stored = {m.id for m in waiting}
    assert len(stored) >= 10

    online = make_config(
        tmp_path,
        buses,
        collector_id=cid,
        poll={"period_s": 3600},
        mqtt={"host": host, "port": port},
    )
    async with (
        gateway(mqtt_address, cid) as gw,
        Collector(online, open_stream=MemoryBuses()) as c,
        running(c),
    ):
        await eventually(lambda: stored <= {m.id for _, m in gw.data()})
        # Oldest first: the backlog arrives in the order it was read.
        backlog = [m for _, m in gw.data() if m.id in stored]
        assert [m.read_at for m in backlog] == sorted(m.read_at for m in backlog)
        await gw.ack([m.id for _, m in gw.data()])
        await eventually(lambda: c.queue.depth() == 0)


async def test_acks_sent_while_the_collector_is_away_are_delivered_on_return(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    host, port = mqtt_address
    config = make_config(
        tmp_path,
        [tcp_bus("bus-a", "m-1")],
        collector_id=cid,
        mqtt={"host": host, "port": port},
        poll={"period_s": 3600},
    )
    async with gateway(mqtt_address, cid) as gw:
        async with Collector(config, open_stream=MemoryBuses()) as c, running(c):
            await eventually(lambda: len(gw.data()) == 2)
        ids = [m.id for _, m in gw.data()]
        await gw.ack(ids)  # the collector is offline; its persistent session keeps the ack
        await asyncio.sleep(0.2)
        # Back with no meters (nothing new is read): only the stored ack can empty the queue,
        # since the ack timeout (60 s) is far away.
        relay = config.model_copy(update={"buses": []})
        async with Collector(relay) as c:
            assert c.queue.depth() == 2
            async with running(c):
                await eventually(lambda: c.queue.depth() == 0)
        assert len(gw.data()) == 2


def start_collector_process(
    tmp_path: Path, mqtt_address: tuple[str, int], cid: str
) -> subprocess.Popen[bytes]:
    """``isu collector`` as a separate process, with a bus-less configuration."""
    host, port = mqtt_address
    config = tmp_path / "collector.toml"
    config.write_text(
        f'collector_id = "{cid}"\n[mqtt]\nhost = "{host}"\nport = {port}\n'
        f"[queue]\npath = {json.dumps(str(tmp_path / 'q.sqlite3'))}\n",
        encoding="utf-8",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "isu", "collector", "--config", str(config)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_for_status(mqtt_address: tuple[str, int], cid: str, status: bytes) -> None:
    deadline = time.monotonic() + 15
    while await retained(mqtt_address, status_topic(cid)) != status:
        assert time.monotonic() < deadline, f"the collector's status never became {status!r}"
        await asyncio.sleep(0.1)


def test_last_will_says_offline_when_the_process_dies(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    process = start_collector_process(tmp_path, mqtt_address, topic_prefix_id)
    try:
        asyncio.run(wait_for_status(mqtt_address, topic_prefix_id, b"online"))
        process.send_signal(signal.SIGKILL)
        process.wait(5)
        asyncio.run(wait_for_status(mqtt_address, topic_prefix_id, b"offline"))  # the Last Will
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def test_sigterm_stops_cleanly_with_offline(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    process = start_collector_process(tmp_path, mqtt_address, topic_prefix_id)
    try:
        asyncio.run(wait_for_status(mqtt_address, topic_prefix_id, b"online"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        status = asyncio.run(retained(mqtt_address, status_topic(topic_prefix_id)))
        assert status == b"offline"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
