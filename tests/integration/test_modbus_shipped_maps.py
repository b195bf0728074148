"""Every shipped register map read back from the simulator: with ``isu read`` over Modbus TCP,
and with the driver over a serial pseudo-terminal pair (RTU); every point the value the
simulated meter holds."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime

import pytest

from core.errors import ConfigError
from core.model import Stream
from drivers.base import MeterEndpoint, create_driver
from drivers.modbus.maps import load_map, shipped_maps
from drivers.modbus.values import to_model_unit
from drivers.transport.serial import open_serial
from isu.cli import build_parser
from isu.read import run_read
from simulators.mercury230.clock import ManualClock
from simulators.modbus.meter import ModbusMeter
from simulators.modbus.server import ModbusBus, ModbusUnit
from simulators.serial import PtyPort

START = datetime(2025, 1, 15, 8, 0, tzinfo=UTC)
MAPS = sorted(shipped_maps())


def test_the_product_ships_maps() -> None:
    assert {"eastron-sdm630", "abb-b23", "carlo-gavazzi-em24"} <= set(MAPS)


def _expected(meter: ModbusMeter) -> dict[str, str]:
    """Each point as ``isu read --json`` prints it: the model's unit, the value as text."""
    values: dict[str, str] = {}
    for point in meter.register_map.points:
        raw = meter.value_of(point.key)
        if point.stream == "info":
            values[point.key] = str(int(raw))
        else:
            values[point.key] = format(to_model_unit(raw, point.unit or "1")[0], "f")
    return values


def _printed(lines: list[dict[str, object]]) -> dict[str, str]:
    found = {}
    for line in lines:
        key = f"info:{line['field']}" if line["stream"] == "info" else str(line["obis"])
        found[key] = str(line["value"])
    return found


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["read", "--protocol", "modbus", *argv])


@pytest.mark.parametrize("name", MAPS)
async def test_isu_read_over_modbus_tcp(name: str) -> None:
    meter = ModbusMeter(load_map(name), 17, seed=2, clock=ManualClock(START))
    bus = ModbusBus([ModbusUnit(meter)], framing="tcp")
    await bus.start()
    try:
        out, err = io.StringIO(), io.StringIO()
        code = await run_read(_args("--tcp", f"127.0.0.1:{bus.port}", "--address", "17",
                                    "--map", name, "--what", "current,instant,info", "--json"),
                              out=out, err=err)
    finally:
        await bus.close()
    assert code == 0, err.getvalue()
    printed = _printed([json.loads(line) for line in out.getvalue().splitlines()])
    expected = _expected(meter)
    assert {key: printed[key] for key in expected} == expected
    assert printed["info:register_map"] == name
    # A total the map lacks would be the zones' sum; the shipped maps all have their totals.
    assert "1.0.1.8.0.255" in printed


@pytest.mark.parametrize("name", MAPS)
async def test_the_driver_over_a_serial_pty_with_rtu(name: str) -> None:
    meter = ModbusMeter(load_map(name), 3, seed=5, clock=ManualClock(START))
    bus = ModbusBus([ModbusUnit(meter)], framing="rtu", pty=PtyPort(19200))
    await bus.start()
    try:
        assert bus.pty is not None
        stream = await open_serial(bus.pty.device, 19200)
        try:
            endpoint = MeterEndpoint(f"pty-{name}", "modbus", 3, timeout_s=1.0,
                                     options={"map": name})  # framing auto: rtu on serial
            result = await create_driver(stream, endpoint).read(
                [Stream.CURRENT, Stream.INSTANT, Stream.INFO])
        finally:
            await stream.close()
    finally:
        await bus.close()
    assert result.errors == {}
    read = {item.obis: format(item.value, "f") for stream in (Stream.CURRENT, Stream.INSTANT)
            for item in result.readings[stream]}
    read |= {f"info:{item.field}": item.value for item in result.info}
    expected = _expected(meter)
    assert {key: read[key] for key in expected} == expected


async def test_isu_read_refuses_a_meter_without_a_map_before_any_io() -> None:
    with pytest.raises(ConfigError, match="needs its register map"):
        await run_read(_args("--tcp", "127.0.0.1:9", "--address", "1"))
    with pytest.raises(ConfigError, match=r"outside 1\.\.247"):
        await run_read(_args("--serial", "/dev/null", "--address", "0", "--map", "abb-b23"))


async def test_isu_read_of_a_silent_unit_exits_1() -> None:
    meter = ModbusMeter(load_map("eastron-sdm630"), 1, clock=ManualClock(START))
    bus = ModbusBus([ModbusUnit(meter)], framing="tcp")
    await bus.start()
    try:
        out, err = io.StringIO(), io.StringIO()
        code = await run_read(_args("--tcp", f"127.0.0.1:{bus.port}", "--address", "2", "--map",
                                    "eastron-sdm630", "--timeout", "0.3", "--json"),
                              out=out, err=err)
    finally:
        await bus.close()
    assert code == 1
    assert out.getvalue() == ""
    (line,) = [json.loads(text) for text in err.getvalue().splitlines()]
    assert line["error_class"] == "TransportTimeoutError"
    assert "no answer from unit 2" in line["error"]
