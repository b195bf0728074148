"""The whole path with real parts: simulated Mercury 230 meters over TCP → mercury230 driver →
collector → the real Mosquitto → gateway → the real TimescaleDB → API.

The API's values must equal what the simulated meters hold (their loads are frozen, so the
registers stand still); meters whose answers are corrupt, truncated, garbage or missing give
typed errors in the collector's meter state and never keep the others' readings out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.config import CollectorConfig
from collector.service import Collector
from core.obis import EnergyKind
from gateway.config import GatewayConfig
from gateway.service import Gateway
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.fleet import SimulatorFleet, make_meters
from simulators.mercury230.meter import SimulatedMeter
from tests.integration.api_support import api_client
from tests.integration.test_collector_mqtt import forget_collector
from tests.integration.test_gateway import forget_session

pytestmark = pytest.mark.services

GOOD = 5
FAULTS = {
    6: (FaultMode.CORRUPT_CRC, "ChecksumError"),
    7: (FaultMode.TRUNCATE, "TruncatedError"),
    8: (FaultMode.GARBAGE, None),  # any ProtocolError subclass, depending on the random bytes
    9: (FaultMode.SILENCE, "TransportTimeoutError"),
}
_KIND = {kind.label: kind for kind in EnergyKind}


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


def _expected_block(meter: SimulatedMeter, ratio: Decimal) -> dict[str, dict[str, str | None]]:
    """What the current block must show: the meter's registers in kWh × ratio, 3 decimals."""
    registers = meter.registers()
    expected: dict[str, dict[str, str | None]] = {}
    for label, kind in _KIND.items():
        zones = registers.get(kind)
        if zones is None:
            expected[label] = {"sum": None}
            continue
        values: dict[str, str | None] = {"sum": f"{Decimal(zones[0]) / 1000 * ratio:.3f}"}
        for zone in (1, 2, 3, 4):
            values[f"T{zone}"] = f"{Decimal(zones[zone]) / 1000 * ratio:.3f}"
        expected[label] = values
    return expected


async def test_api_serves_what_the_simulated_meters_hold(
    tmp_path: Path, fresh_database: str, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    host, port = mqtt_address
    meters = make_meters(first_address=1, count=GOOD + len(FAULTS), seed=5, frozen=True)
    for address, (mode, _) in FAULTS.items():
        meters[address - 1].fault = Fault(mode)
    gateway_config = GatewayConfig.model_validate(
        {
            "mqtt": {"host": host, "port": port, "client_id": f"gw-{cid}", "collectors": [cid]},
            "database": {"dsn": fresh_database},
            "batch": {"max_messages": 100, "max_delay_ms": 100},
        }
    )
    try:
        async with SimulatorFleet.single_bus(meters) as fleet:
            bus: dict[str, Any] = {
                "name": "line-1",
                "transport": "tcp",
                "host": "127.0.0.1",
                "port": fleet.buses[0].port,
                "timeout_s": 0.5,
                "meter": [
                    {
                        "id": meter.meter_id,
                        "protocol": "mercury230",
                        "address": meter.address,
                        "streams": ["current", "instant", "clock", "info"],
                    }
                    for meter in meters
                ],
            }
            collector_config = CollectorConfig.model_validate(
                {
                    "collector_id": cid,
                    "mqtt": {"host": host, "port": port},
                    "queue": {"path": str(tmp_path / "queue.sqlite3"), "ack_timeout_s": 30},
                    "poll": {"period_s": 2.0, "backoff_max_s": 4.0},
                    "bus": [bus],
                }
            )
            with Gateway(gateway_config) as gateway:
                assert gateway.wait_connected(10)
                async with Collector(collector_config) as collector:
                    task = asyncio.create_task(collector.run())
                    try:
                        await _check_pipeline(collector, meters, fresh_database)
                    finally:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
    finally:
        await forget_collector(mqtt_address, cid)
        forget_session(host, port, f"gw-{cid}")


async def _check_pipeline(collector: Collector, meters: list[SimulatedMeter], dsn: str) -> None:
    good = meters[:GOOD]
    async with api_client(dsn, now=datetime.now(UTC)) as client:

        async def all_good_meters_served() -> bool:
            for meter in good:
                response = await client.get(f"/api/v1/meters/{meter.meter_id}/readings")
                if response.status_code != 200:
                    return False
                current = response.json()["blocks"][3]
                if current["as_of"] is None:
                    return False
            return True

        await eventually(all_good_meters_served)

        # The registry's CT ratio of one meter multiplies its billing values.
        with psycopg.connect(dsn) as conn:
            conn.execute("UPDATE meters SET ct_ratio = 40 WHERE meter_id = %s", (good[0].meter_id,))
        for meter in good:
            ratio = Decimal(40) if meter is good[0] else Decimal(1)
            body = (await client.get(f"/api/v1/meters/{meter.meter_id}/readings")).json()
            assert body["ratio"] == str(ratio)
            current = body["blocks"][3]
            assert current["type"] == "current"
            shown = {row["kind"]: row["values"] for row in current["rows"]}
            expected = _expected_block(meter, ratio)
            for kind, values in expected.items():
                for zone, value in values.items():
                    if value is not None:
                        assert shown[kind][zone] == value, (meter.meter_id, kind, zone)

        listed = {row["meter_id"] for row in (await client.get("/api/v1/meters")).json()}
        assert {meter.meter_id for meter in good} <= listed
        for address in FAULTS:
            assert meters[address - 1].meter_id not in listed  # nothing was ever read from them

    # Meters are polled one after another on their line; wait until the faulty ones had a turn.
    faulty = [meters[address - 1].meter_id for address in FAULTS]

    async def faulty_meters_polled() -> bool:
        states = collector.meter_states()
        return all(states[meter_id].consecutive_failures >= 1 for meter_id in faulty)

    await eventually(faulty_meters_polled)
    states = collector.meter_states()
    for address, (_, error_class) in FAULTS.items():
        state = states[meters[address - 1].meter_id]
        assert state.consecutive_failures >= 1
        assert state.last_success_at is None
        if error_class is not None:
            assert state.last_error_class == error_class
        else:
            assert state.last_error_class in {
                "ChecksumError",
                "TruncatedError",
                "FrameError",
                "UnexpectedResponseError",
                "TransportTimeoutError",
            }
    for meter in good:
        assert states[meter.meter_id].consecutive_failures == 0

    # ... and the good meters keep being read after the faulty ones failed.
    before = {meter.meter_id: states[meter.meter_id].last_success_at for meter in good}

    async def good_meters_read_again() -> bool:
        now = collector.meter_states()
        return all(now[meter_id].last_success_at != seen for meter_id, seen in before.items())

    await eventually(good_meters_read_again)
