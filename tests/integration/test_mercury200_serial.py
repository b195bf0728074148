"""Simulated Mercury 200-family meters on a serial pseudo-terminal: the ``mercury200`` driver
over ``open_serial`` at 9600 baud, with and without an echoing RS-485 adapter; the fleet file
(``protocol = "mercury200"``) over TCP and pty; ``isu sim mercury200 --serial-pty`` and
``isu sim --config`` with ``isu read --serial`` as processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import load_toml
from core.model import Stream
from core.obis import EnergyKind
from drivers.base import MeterEndpoint, ReadResult, create_driver
from drivers.mercury.m200.frame import MeterModel
from drivers.transport.serial import open_serial
from drivers.transport.stream import ByteStream
from drivers.transport.tcp import open_tcp
from drivers.transport.timing import wire_time_s
from simulators.mercury200 import Bus200, Meter200Settings, SimulatedMeter200
from simulators.mercury200.config import Fleet200Config
from simulators.mercury200.fleet import Fleet200
from simulators.mercury200.server import BusServer200, PtyBusServer200
from simulators.mercury230.load import ConstantLoad

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "sim" / "fleet-mercury200.toml"
BAUD = 9600
STREAMS = [Stream.CURRENT, Stream.INSTANT, Stream.CLOCK, Stream.INFO]


def _meters() -> list[SimulatedMeter200]:
    # The system clock, since the driver measures drift against it; no load keeps them still.
    first = SimulatedMeter200(
        Meter200Settings(38030255, MeterModel.M206, seed=5, drift_s=-42.0, history_days=0),
        load=ConstantLoad(),
    )
    first.pin_instant(voltage_v="229.8", current_a="5.43", power_w=1234, frequency_hz="49.98")
    second = SimulatedMeter200(
        Meter200Settings(411486, MeterModel.M200_02, seed=6, drift_s=-42.0, history_days=0),
        load=ConstantLoad(),
    )
    return [first, second]


async def _pty_bus(*, echo: bool) -> PtyBusServer200:
    server = PtyBusServer200(Bus200(_meters(), name="riser"), baud=BAUD, echo=echo)
    await server.start()
    return server


@pytest.fixture
async def bus() -> AsyncIterator[PtyBusServer200]:
    server = await _pty_bus(echo=False)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def echoing_bus() -> AsyncIterator[PtyBusServer200]:
    server = await _pty_bus(echo=True)
    try:
        yield server
    finally:
        await server.close()


def _endpoint(meter: SimulatedMeter200, **options: object) -> MeterEndpoint:
    return MeterEndpoint(
        meter.meter_id, "mercury200", meter.address, timeout_s=2.0, options=dict(options)
    )


async def _read(stream: ByteStream, meter: SimulatedMeter200, **options: object) -> ReadResult:
    return await create_driver(stream, _endpoint(meter, **options)).read(STREAMS)


def _assert_matches(result: ReadResult, meter: SimulatedMeter200, drift_s: float = -42) -> None:
    assert result.errors == {}
    current = {item.obis: item.value for item in result.readings[Stream.CURRENT]}
    a_plus = meter.units(EnergyKind.A_PLUS)
    zones = meter.settings.zones_in_use
    for zone in zones:
        assert current[f"1.0.1.8.{zone}.255"] == Decimal(a_plus[zone - 1]).scaleb(-2)
    assert current["1.0.1.8.0.255"] == Decimal(sum(a_plus[z - 1] for z in zones)).scaleb(-2)
    if meter.settings.answers_reactive:
        r_plus = meter.units(EnergyKind.R_PLUS)
        assert current["1.0.3.8.0.255"] == Decimal(sum(r_plus[z - 1] for z in zones)).scaleb(-2)
    else:
        assert not any(code.startswith("1.0.3.") for code in current)
    instant = {item.obis: item.value for item in result.readings[Stream.INSTANT]}
    values = meter.instant()
    assert instant["1.0.12.7.0.255"] == values["voltage_v"]
    assert instant["1.0.11.7.0.255"] == values["current_a"]
    assert instant["1.0.1.7.0.255"] == values["power_w"].scaleb(-3)
    assert instant["1.0.14.7.0.255"] == values["frequency_hz"]
    # The meter's clock has whole seconds: the drift read is the drift give or take one.
    assert abs(result.clock[0].drift_s - Decimal(drift_s)) <= Decimal("1.5")
    info = {item.field: item.value for item in result.info}
    assert info["serial_number"] == str(meter.serial)
    assert info["manufactured"] == meter.settings.manufactured.isoformat()
    assert info["battery_v"] == str(meter.settings.battery_v)


async def test_the_driver_reads_meters_on_a_pty_at_9600_baud(bus: PtyBusServer200) -> None:
    first, second = bus.bus.meters
    stream = await open_serial(bus.device, BAUD)
    try:
        started = time.monotonic()
        result = await _read(stream, first)
        elapsed = time.monotonic() - started
        other = await _read(stream, second, reactive=False)
    finally:
        await stream.close()
    _assert_matches(result, first)
    assert (result.readings[Stream.INSTANT][0].value, first.instant()["voltage_v"]) == (
        Decimal("229.8"),
        Decimal("229.8"),
    )
    _assert_matches(other, second)
    # 9 requests of 7 bytes at least, 8 answers of 10+ bytes: paced at the baud, not instant.
    assert elapsed >= wire_time_s(9 * 7 + 8 * 10, BAUD)


async def test_echo_on_the_line_and_on_the_transport(echoing_bus: PtyBusServer200) -> None:
    first, second = echoing_bus.bus.meters
    stream = await open_serial(echoing_bus.device, BAUD, echo=True)
    try:
        result = await _read(stream, first)
        other = await _read(stream, second, reactive=False)
    finally:
        await stream.close()
    _assert_matches(result, first)
    _assert_matches(other, second)


async def test_the_echo_is_skipped_even_when_the_transport_keeps_it(
    echoing_bus: PtyBusServer200,
) -> None:
    """A request is never as long as its answer, so the session passes over the echo."""
    first = echoing_bus.bus.meters[0]
    stream = await open_serial(echoing_bus.device, BAUD)
    try:
        result = await _read(stream, first)
    finally:
        await stream.close()
    _assert_matches(result, first)


# -- the fleet file ------------------------------------------------------------------------------


def test_the_sample_fleet_file_validates() -> None:
    config = load_toml(SAMPLE, Fleet200Config)
    assert config.protocol == "mercury200"
    tcp, pty = config.bus
    assert not tcp.serial_pty
    assert (pty.serial_pty, pty.baud, pty.parity, pty.echo) == (True, 9600, "N", True)
    fleet = Fleet200.from_config(config)
    assert isinstance(fleet.buses[0], BusServer200)
    assert isinstance(fleet.buses[1], PtyBusServer200)
    assert [m.address for m in fleet.meters()] == [10925856, 411486, 38030255, 0xFE123456]


async def test_a_fleet_file_over_tcp_and_pty() -> None:
    config = Fleet200Config.model_validate(
        {
            "protocol": "mercury200",
            "seed": 3,
            "bus": [
                {
                    "name": "tcp",
                    "listen": "127.0.0.1:0",
                    "meter": [
                        {"serial": 10925856, "frozen": True, "history_days": 0, "drift_s": -42}
                    ],
                },
                {
                    "name": "pty",
                    "serial_pty": True,
                    "echo": True,
                    "meter": [
                        {
                            "serial": 40411486,
                            "model": "200.02",
                            "frozen": True,
                            "history_days": 0,
                            "drift_s": -42,
                            "schedule": "single",
                        }
                    ],
                },
            ],
        }
    )
    fleet = Fleet200.from_config(config)
    await fleet.start()
    try:
        tcp, pty = fleet.describe()["buses"]
        assert set(tcp) == {"name", "listen", "meters"}
        assert (pty["name"], pty["baud"], pty["parity"], pty["echo"]) == ("pty", 9600, "N", True)
        assert pty["serial"].startswith("/dev/")
        assert pty["meters"] == [
            {"address": 411486, "serial": 40411486, "meter_id": "m200-40411486"}
        ]
        host, _, port = tcp["listen"].rpartition(":")
        tcp_meter, pty_meter = fleet.meters()
        assert tcp_meter.settings.seed == 3
        assert pty_meter.settings.seed == 4
        stream: ByteStream = await open_tcp(host, int(port))
        try:
            _assert_matches(await _read(stream, tcp_meter), tcp_meter)
        finally:
            await stream.close()
        stream = await open_serial(pty["serial"], BAUD, echo=True)
        try:
            _assert_matches(await _read(stream, pty_meter, reactive=False), pty_meter)
        finally:
            await stream.close()
    finally:
        await fleet.close()


# -- processes -----------------------------------------------------------------------------------


async def _isu(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "isu",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def _isu_read(device: str, address: int, *extra: str) -> dict[str, dict[str, object]]:
    read = await _isu(
        "read",
        "--protocol",
        "mercury200",
        "--serial",
        device,
        "--baud",
        "9600",
        "--address",
        str(address),
        "--what",
        "current,info",
        "--json",
        *extra,
    )
    out, err = await asyncio.wait_for(read.communicate(), 60)
    assert read.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    return {str(line.get("obis") or line.get("field")): line for line in lines}


async def _stop(sim: asyncio.subprocess.Process) -> None:
    sim.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(sim.wait(), 30) == 0


@pytest.mark.parametrize("echo", [False, True])
async def test_isu_read_over_the_pty_of_isu_sim_mercury200(echo: bool) -> None:
    flag = ["--echo"] if echo else []
    sim = await _isu(
        "sim",
        "mercury200",
        "--serial-pty",
        "--baud",
        "9600",
        "--address",
        "10925856",
        "--seed",
        "4",
        "--frozen",
        "--history-days",
        "1",
        *flag,
    )
    assert sim.stdout is not None
    try:
        where = json.loads(await asyncio.wait_for(sim.stdout.readline(), 30))
        assert where["protocol"] == "mercury200"
        (bus,) = where["buses"]
        assert "listen" not in bus
        assert (bus["baud"], bus["parity"], bus["echo"]) == (9600, "N", echo)
        assert bus["serial"].startswith("/dev/")
        assert bus["meters"][0]["address"] == 10925856
        items = await _isu_read(bus["serial"], 10925856, *flag)
        assert items["1.0.1.8.0.255"]["unit"] == "kWh"
        assert Decimal(str(items["1.0.1.8.0.255"]["value"])) > 0
        assert "10925856" in json.dumps(items)
    finally:
        await _stop(sim)


async def test_isu_sim_runs_the_sample_fleet_file() -> None:
    sim = await _isu("sim", "--config", str(SAMPLE), "--control", "127.0.0.1:0")
    assert sim.stdout is not None
    try:
        where = json.loads(await asyncio.wait_for(sim.stdout.readline(), 30))
        assert where["protocol"] == "mercury200"
        tcp, pty = where["buses"]
        assert "listen" in tcp
        assert (pty["name"], pty["echo"]) == ("riser-pty", True)
        assert where["control"] is not None
        items = await _isu_read(pty["serial"], 0xFE123456, "--echo")
        assert items["1.0.1.8.0.255"]["unit"] == "kWh"
    finally:
        await _stop(sim)


async def test_isu_sim_mercury200_refuses_serial_options_without_serial_pty() -> None:
    sim = await _isu("sim", "mercury200", "--echo")
    out, err = await asyncio.wait_for(sim.communicate(), 30)
    assert sim.returncode == 1
    assert out == b""
    assert "--serial-pty" in err.decode()
