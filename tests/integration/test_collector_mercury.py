"""The whole edge path with real parts: the mercury230 driver, the Mercury 230 simulator over TCP,
the collector and the local Mosquitto; the test plays the gateway and acknowledges.

One simulated bus carries two good meters, one with line noise on every answer (corrupt CRC) and
one address where nothing answers; the good meters' data must arrive every period regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import aiomqtt
import pytest

from collector.config import CollectorConfig
from collector.service import Collector
from core.messages import AckMessage, ReadingsMessage, ack_topic, data_topic, parse_message
from core.model import Stream, utc_now
from core.obis import EnergyKind
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.fleet import SimulatorFleet, make_meters
from tests.integration.test_collector_mqtt import forget_collector

pytestmark = pytest.mark.services


@pytest.fixture(autouse=True)
async def _tidy_broker(mqtt_address: tuple[str, int], topic_prefix_id: str) -> AsyncIterator[None]:
    yield
    await forget_collector(mqtt_address, topic_prefix_id)


async def eventually(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_mercury_meters_through_the_collector_to_mqtt(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    meters = make_meters(first_address=1, count=3, seed=11, frozen=True)
    meters[1].fault = Fault(FaultMode.CORRUPT_CRC)
    async with SimulatorFleet.single_bus(meters) as fleet:
        config = CollectorConfig.model_validate(
            {
                "collector_id": cid,
                "mqtt": {"host": mqtt_address[0], "port": mqtt_address[1]},
                "queue": {"path": str(tmp_path / "queue.sqlite3"), "ack_timeout_s": 30},
                "poll": {"period_s": 1.0, "backoff_max_s": 4.0},
                "bus": [
                    {
                        "name": "sim",
                        "transport": "tcp",
                        "host": "127.0.0.1",
                        "port": fleet.buses[0].port,
                        "timeout_s": 0.3,
                        "meter": [
                            {"id": "m-1", "protocol": "mercury230", "address": 1},
                            {"id": "m-noisy", "protocol": "mercury230", "address": 2},
                            {"id": "m-absent", "protocol": "mercury230", "address": 99},
                            {"id": "m-3", "protocol": "mercury230", "address": 3},
                        ],
                    }
                ],
            }
        )
        received: list[tuple[str, ReadingsMessage]] = []
        async with aiomqtt.Client(*mqtt_address, identifier=f"gw-{cid}") as gateway:
            await gateway.subscribe(f"isu/v1/{cid}/+/+", qos=1)

            async def listen() -> None:
                async for message in gateway.messages:
                    topic = str(message.topic)
                    if topic.endswith(("/current", "/instant")):
                        assert isinstance(message.payload, bytes)
                        received.append((topic, parse_message(message.payload)))

            listener = asyncio.create_task(listen())

            def count(meter: str, stream: Stream) -> int:
                return sum(1 for _, m in received if m.meter == meter and m.stream is stream)

            async with Collector(config) as collector:
                run = asyncio.create_task(collector.run())
                try:
                    # Three periods' worth for the good meters, whatever the others do.
                    await eventually(
                        lambda: min(count("m-1", Stream.CURRENT), count("m-3", Stream.CURRENT)) >= 3
                    )
                    states = collector.meter_states()
                    assert count("m-noisy", Stream.CURRENT) == 0
                    assert count("m-absent", Stream.CURRENT) == 0
                    assert states["m-noisy"].last_error_class == "ChecksumError"
                    assert states["m-absent"].last_error_class == "TransportTimeoutError"
                    assert states["m-1"].consecutive_failures == 0

                    for topic, message in received:
                        assert topic == data_topic(cid, message.meter, message.stream)
                    # Frozen meters: the same registers every period (stamped with the read time).
                    currents = [
                        m for _, m in received if m.meter == "m-1" and m.stream is Stream.CURRENT
                    ]
                    values = {
                        item.value
                        for m in currents
                        for item in m.items
                        if item.obis == "1.0.1.8.0.255"
                    }
                    assert len(values) == 1
                    a_plus = {item.obis: item for item in currents[0].items}["1.0.1.8.0.255"]
                    expected_wh = meters[0].register(EnergyKind.A_PLUS, 0)
                    assert expected_wh is not None
                    assert a_plus.unit == "kWh"
                    assert a_plus.value == Decimal(expected_wh) / 1000
                    instant = next(
                        m for _, m in received if m.meter == "m-3" and m.stream is Stream.INSTANT
                    )
                    assert "1.0.32.7.0.255" in {item.obis for item in instant.items}

                    ids = list({m.id for _, m in received})
                    ack = AckMessage(ids=ids, committed_at=utc_now())
                    await gateway.publish(ack_topic(cid), ack.to_json(), qos=1)
                    await eventually(
                        lambda: (
                            collector.queue.depth() == 0
                            or not set(ids)
                            & {
                                m.id
                                for m in collector.queue.sync.pending(time.time() + 60, 30, 1000)
                            }
                        )
                    )
                finally:
                    for task in (run, listener):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                            await task
