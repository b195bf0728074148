"""A mixed RS-485 line: Mercury 230 and Modbus meters behind one transparent converter, read by
one collector bus, one request in flight at a time. Every meter's values reach the disk queue
exactly as the simulated meters hold them; a Modbus unit on the configuration that never
answers costs its own timeout and nothing else.

No broker is needed: MQTT points at a closed port, so every message stays in the disk queue,
which is what the test inspects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig
from collector.service import Collector
from core.messages import parse_message
from core.model import ReadingItem
from drivers.modbus.maps import load_map
from drivers.modbus.values import to_model_unit
from simulators.line import SharedLine
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.fleet import make_meters
from simulators.mercury230.protocol import Bus
from simulators.mercury230.server import BusServer
from simulators.modbus.meter import ModbusMeter
from simulators.modbus.server import ModbusBus, ModbusUnit

START = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


def _config(tmp_path: Path, port: int) -> CollectorConfig:
    def modbus(meter_id: str, unit: int, register_map: str, **extra: Any) -> dict[str, Any]:
        return {"id": meter_id, "protocol": "modbus", "address": unit,
                "streams": ["current", "instant", "info"],
                "options": {"map": register_map, "framing": "rtu", **extra}}

    return CollectorConfig.model_validate({
        "collector_id": "site-mixed",
        "mqtt": {"host": "127.0.0.1", "port": 9, "reconnect_initial_s": 5},
        "queue": {"path": str(tmp_path / "queue.sqlite3")},
        "bus": [{
            "name": "mixed-line", "transport": "tcp", "host": "127.0.0.1", "port": port,
            "timeout_s": 0.5,
            "meter": [
                {"id": "m230-1", "protocol": "mercury230", "address": 1,
                 "streams": ["current", "instant"]},
                modbus("sdm-10", 10, "eastron-sdm630"),
                {"id": "m230-2", "protocol": "mercury230", "address": 2,
                 "streams": ["current", "instant"]},
                modbus("ghost-12", 12, "abb-b23", retries=0),  # listed, never answers
                modbus("abb-11", 11, "abb-b23"),
            ],
        }],
    })


def _queued(collector: Collector) -> dict[tuple[str, str], list[Any]]:
    found: dict[tuple[str, str], list[Any]] = {}
    for queued in collector.queue.sync.pending(0.0, 0.0, limit=100_000):
        message = parse_message(queued.payload)
        found.setdefault((message.meter, message.stream.value), []).extend(message.items)
    return found


@asynccontextmanager
async def _line(clock: ManualClock) -> AsyncIterator[tuple[int, dict[str, ModbusMeter]]]:
    meters = {
        "sdm-10": ModbusMeter(load_map("eastron-sdm630"), 10, seed=3, clock=clock),
        "abb-11": ModbusMeter(load_map("abb-b23"), 11, seed=4, clock=clock),
    }
    mercury = BusServer(Bus(make_meters(first_address=1, count=2, clock=clock, seed=5,
                                        history_days=0), name="mercury"), gap_s=0.02)
    modbus = ModbusBus([ModbusUnit(meter) for meter in meters.values()], framing="rtu")
    await mercury.start()
    await modbus.start()
    try:
        async with SharedLine([("127.0.0.1", mercury.port), ("127.0.0.1", modbus.port)]) as line:
            yield line.port, meters
    finally:
        await modbus.close()
        await mercury.close()


def _expected(meter: ModbusMeter, stream: str) -> dict[str, Decimal]:
    return {point.key: to_model_unit(meter.value_of(point.key), point.unit or "1")[0]
            for point in meter.register_map.points if point.stream == stream}


async def test_mercury_and_modbus_meters_share_one_line(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with _line(clock) as (port, meters), Collector(_config(tmp_path, port)) as collector:
        await collector.poll_once()
        queued = _queued(collector)
        states = {meter_id: collector.queue.sync.ledger(meter_id)
                  for meter_id in ("m230-1", "m230-2", "sdm-10", "abb-11", "ghost-12")}

    for mercury in ("m230-1", "m230-2"):
        obis = {item.obis for item in queued[(mercury, "current")]}
        assert "1.0.1.8.0.255" in obis, mercury
        assert queued[(mercury, "instant")], mercury
    for meter_id, meter in meters.items():
        for stream in ("current", "instant"):
            items: list[ReadingItem] = queued[(meter_id, stream)]
            read = {item.obis: item.value for item in items}
            expected = _expected(meter, stream)
            # The register map's own points, each the simulated meter's value.
            assert {key: read[key] for key in expected} == expected, (meter_id, stream)
        info = {item.field: item.value for item in queued[(meter_id, "info")]}
        assert info["serial_number"] == meter.serial
        assert info["register_map"] == meter.register_map.model.name
    assert not [key for key in queued if key[0] == "ghost-12"]
    assert states["ghost-12"] == {}
