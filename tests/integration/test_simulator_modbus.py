"""The Modbus simulator on the wire: the ``modbus`` driver and pymodbus's own client read it over
Modbus TCP, RTU over TCP and a serial pty; the map's limits, faults, several units per bus, the
fleet's control port and ``isu sim modbus`` as a process."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerRTU, FramerType
from pymodbus.pdu import DecodePDU, ExceptionResponse
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest

from core.config import load_toml
from core.errors import MeterError, MeterInternalError, TransportTimeoutError
from core.model import Stream
from drivers.base import MeterEndpoint, ReadResult, create_driver
from drivers.modbus.maps import RegisterMap, load_map
from drivers.modbus.values import to_model_unit
from drivers.transport.serial import open_serial
from drivers.transport.stream import ByteStream
from drivers.transport.tcp import open_tcp
from simulators.mercury230.clock import ManualClock
from simulators.modbus.config import ModbusFleetConfig
from simulators.modbus.faults import ModbusFault
from simulators.modbus.fleet import ModbusFleet
from simulators.modbus.meter import ModbusMeter
from simulators.modbus.server import ModbusBus
from simulators.modbus.unit import ModbusUnit
from tests.unit.modbus.support import write_map

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "sim" / "modbus.sample.toml"
START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
_IDS = itertools.count()

#: (type, unit, scale or resolution) of an energy point of each type: values that fit.
_ENERGY = {"u16": ("kWh", 'scale = "1"'), "s16": ("kWh", 'scale = "1"'),
           "u32": ("Wh", 'scale = "0.1"'), "s32": ("Wh", 'scale = "0.1"'),
           "u64": ("Wh", 'scale = "0.001"'), "s64": ("Wh", 'scale = "0.001"'),
           "float32": ("kWh", 'resolution = "0.01"'), "float64": ("Wh", 'resolution = "0.001"')}
#: Signed instantaneous values (reactive power is negative in capacitive minutes).
_INSTANT = [("1.0.21.7.0.255", "s16", "W", 'scale = "1"', "big", "little"),
            ("1.0.23.7.0.255", "s32", "var", 'scale = "0.01"', "little", "big"),
            ("1.0.43.7.0.255", "float32", "var", 'resolution = "0.01"', "little", "little"),
            ("1.0.63.7.0.255", "s64", "var", 'scale = "0.001"', "big", "little"),
            ("1.0.32.7.0.255", "float64", "V", 'resolution = "0.01"', "little", "big")]


def every_kind_map(directory: Path) -> RegisterMap:
    """A point of each data type in each word and byte order (four registers apart)."""
    points = []
    combos = itertools.product(_ENERGY, ("big", "little"), ("big", "little"))
    for index, (kind, word, byte) in enumerate(combos):
        unit, size = _ENERGY[kind]
        c = index // 9 + 1
        unit = unit.replace("Wh", "varh") if c > 2 else unit
        points.append(f'[[point]]\nobis = "1.0.{c}.8.{index % 9}.255"\naddress = {4 * index}\n'
                      f'type = "{kind}"\nunit = "{unit}"\n{size}\nstream = "current"\n'
                      f'word_order = "{word}"\nbyte_order = "{byte}"\n')
    for index, (obis, kind, unit, size, word, byte) in enumerate(_INSTANT, start=40):
        points.append(f'[[point]]\nobis = "{obis}"\naddress = {4 * index}\ntype = "{kind}"\n'
                      f'unit = "{unit}"\n{size}\nstream = "instant"\nword_order = "{word}"\n'
                      f'byte_order = "{byte}"\n')
    points.append('[[point]]\nfield = "serial_number"\naddress = 300\ntype = "u32"\n'
                  'stream = "info"\nbyte_order = "little"\n')
    return load_map(write_map(directory, "every-kind", "\n".join(points), max_gap=3))


SMALL = """
[[point]]
obis = "1.0.1.8.0.255"
address = 0
type = "u32"
unit = "Wh"
stream = "current"
[[point]]
obis = "1.0.3.8.0.255"
address = 2
type = "u32"
unit = "varh"
stream = "current"
[[point]]
obis = "1.0.32.7.0.255"
address = 10
type = "float32"
unit = "V"
resolution = "0.1"
stream = "instant"
[[point]]
field = "serial_number"
address = 30
type = "u32"
stream = "info"
"""


def endpoint(register_map: Path | str, unit: int, framing: str, **extra: Any) -> MeterEndpoint:
    return MeterEndpoint(f"modbus-test-{next(_IDS)}", "modbus", address=unit,
                         options={"map": str(register_map), "framing": framing},
                         **extra)


async def read_all(stream: ByteStream, point: MeterEndpoint) -> ReadResult:
    return await create_driver(stream, point).read([Stream.CURRENT, Stream.INSTANT, Stream.INFO])


def expected(meter: ModbusMeter) -> dict[str, Decimal]:
    out = {}
    for point in meter.register_map.points:
        if point.stream != "info":
            assert point.unit is not None
            out[point.key] = to_model_unit(meter.value_of(point.key), point.unit)[0]
    return out


def readings(result: ReadResult) -> dict[str, Decimal]:
    assert not result.errors, result.errors
    return {item.obis: item.value for items in result.readings.values() for item in items}


@pytest.mark.parametrize("framing", ["tcp", "rtu"])
async def test_every_type_and_order_reads_back_exactly(tmp_path: Path, framing: str) -> None:
    register_map = every_kind_map(tmp_path)
    clock = ManualClock(START)
    meter = ModbusMeter(register_map, 17, seed=4, clock=clock, mean_power_kw=3.0)
    async with ModbusBus([ModbusUnit(meter)], framing=framing) as bus:
        stream = await open_tcp("127.0.0.1", bus.port)
        try:
            path = tmp_path / "every-kind.toml"
            for _ in range(3):
                result = await read_all(stream, endpoint(path, 17, framing))
                assert readings(result) == expected(meter)
                serial = result.info[0]
                assert (serial.field, serial.value) == ("serial_number", "70000017")
                clock.advance(4 * 3600)
        finally:
            await stream.close()
    assert bus.units[0].answered == bus.units[0].requests > 0


async def test_a_map_s_limits_hold_the_client_to_the_device(tmp_path: Path) -> None:
    register_map = load_map(write_map(tmp_path, "limits", SMALL, max_registers=12, max_gap=6))
    unit = ModbusUnit(ModbusMeter(register_map, 1, clock=ManualClock(START)))
    async with ModbusBus([unit]) as bus:
        client = AsyncModbusTcpClient("127.0.0.1", port=bus.port, timeout=1, retries=0)
        await client.connect()
        try:
            answer = await client.read_holding_registers(0, count=12, device_id=1)
            assert not answer.isError()
            assert answer.registers[4:10] == [0] * 6  # a gap of 6 reads as zeros
            assert answer.registers[10:12] == unit.meter.registers_of("1.0.32.7.0.255")
            codes = []
            for address, count, function in [(0, 13, 3), (10, 21, 3), (28, 4, 3), (12, 2, 3),
                                             (1000, 2, 3), (0, 2, 4)]:
                read = (client.read_holding_registers if function == 3
                        else client.read_input_registers)
                refused = await read(address, count=count, device_id=1)
                assert isinstance(refused, ExceptionResponse)
                codes.append(refused.exception_code)
            assert codes == [3, 3, 2, 2, 2, 2]
        finally:
            client.close()


async def test_units_share_a_bus_and_absent_ones_are_silent(tmp_path: Path) -> None:
    path = write_map(tmp_path, "small", SMALL)
    register_map = load_map(path)
    clock = ManualClock(START)
    units = [ModbusUnit(ModbusMeter(register_map, unit, seed=unit, clock=clock))
             for unit in (1, 2, 5)]
    async with ModbusBus(units, framing="rtu") as bus:
        stream = await open_tcp("127.0.0.1", bus.port)
        try:
            for unit in units:
                result = await read_all(stream, endpoint(path, unit.unit, "rtu"))
                assert readings(result) == expected(unit.meter)
                assert result.info[0].value == unit.meter.serial
            with pytest.raises(TransportTimeoutError, match="no answer from unit 3"):
                await read_all(stream, endpoint(path, 3, "rtu", timeout_s=0.3))
        finally:
            await stream.close()
    assert [unit.counters()["answered"] for unit in units] == [3, 3, 3]


async def test_faults_silence_exception_and_slow(tmp_path: Path) -> None:
    path = write_map(tmp_path, "small", SMALL)
    register_map = load_map(path)
    clock = ManualClock(START)
    silent, busy, slow = (ModbusUnit(ModbusMeter(register_map, unit, clock=clock), fault=fault)
                          for unit, fault in [
                              (1, ModbusFault("silence")),
                              (2, ModbusFault("exception", code=6, registers=(10, 11))),
                              (3, ModbusFault("slow", delay_s=0.4))])
    async with ModbusBus([silent, busy, slow]) as bus:
        client = AsyncModbusTcpClient("127.0.0.1", port=bus.port, timeout=0.3, retries=0)
        await client.connect()
        try:
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=4, device_id=1)
            assert not (await client.read_holding_registers(0, count=4, device_id=2)).isError()
            refused = await client.read_holding_registers(10, count=2, device_id=2)
            assert isinstance(refused, ExceptionResponse)
            assert refused.exception_code == 6
        finally:
            client.close()
        stream = await open_tcp("127.0.0.1", bus.port)
        try:
            result = await read_all(stream, endpoint(path, 2, "tcp"))
            assert isinstance(result.errors[Stream.INSTANT], MeterError)
            assert Stream.CURRENT not in result.errors
            began = time.monotonic()
            result = await read_all(stream, endpoint(path, 3, "tcp", timeout_s=2.0))
            assert readings(result) == expected(slow.meter)
            assert time.monotonic() - began >= 3 * 0.4  # three requests, each late
            bus.units[0].fault = None  # cleared at run time
            assert readings(await read_all(stream, endpoint(path, 1, "tcp"))) == \
                expected(silent.meter)
        finally:
            await stream.close()
    assert silent.silenced == 1


async def test_a_slow_unit_s_late_answer_carries_its_own_unit_id(tmp_path: Path) -> None:
    # pymodbus 3.16's own handler would stamp it with the id of the request that came in
    # meanwhile: on an RTU line another unit's answer, with the slow unit's registers.
    register_map = load_map(write_map(tmp_path, "small", SMALL))
    clock = ManualClock(START)
    slow = ModbusUnit(ModbusMeter(register_map, 3, clock=clock),
                      fault=ModbusFault("slow", delay_s=0.4))
    quick = ModbusUnit(ModbusMeter(register_map, 4, clock=clock))
    framer = FramerRTU(DecodePDU(is_server=False))
    async with ModbusBus([slow, quick], framing="rtu") as bus:
        reader, writer = await asyncio.open_connection("127.0.0.1", bus.port)
        try:
            for unit, address in ((3, 0), (4, 30)):  # the second before the first's answer
                request = ReadHoldingRegistersRequest(address=address, count=2, dev_id=unit)
                writer.write(framer.buildFrame(request))
                await asyncio.sleep(0.1)
            frames = [framer.decode(await asyncio.wait_for(reader.read(256), 2))[1:]
                      for _ in range(2)]
        finally:
            writer.close()
    serial = [int(quick.meter.serial) >> 16, int(quick.meter.serial) & 0xFFFF]
    assert frames[0][0] == 4  # the quick unit's answer came first…
    assert frames[0][2][2:] == b"".join(r.to_bytes(2, "big") for r in serial)
    energy = slow.meter.registers_of("1.0.1.8.0.255")
    assert frames[1][0] == 3  # …then the slow one's, under its own id
    assert frames[1][2][2:] == b"".join(r.to_bytes(2, "big") for r in energy)


@pytest.mark.parametrize("echo", [False, True])
async def test_rtu_on_a_serial_pty(tmp_path: Path, echo: bool) -> None:
    path = write_map(tmp_path, "small", SMALL)
    fleet_file = tmp_path / "fleet.toml"
    fleet_file.write_text(f'protocol = "modbus"\n[[bus]]\nserial_pty = true\nbaud = 19200\n'
                          f'echo = {str(echo).lower()}\nmap = "{path}"\nunits = 2\n',
                          encoding="utf-8")
    clock = ManualClock(START)
    config = load_toml(fleet_file, ModbusFleetConfig)
    async with ModbusFleet.from_config(config, clock=clock) as fleet:
        line = fleet.describe()["buses"][0]
        assert (line["framing"], line["baud"], line["echo"]) == ("rtu", 19200, echo)
        stream = await open_serial(line["serial"], 19200, echo=echo)
        try:
            for unit in (1, 2):
                result = await read_all(stream, endpoint(path, unit, "rtu"))
                assert readings(result) == expected(fleet.unit(unit).meter)
        finally:
            await stream.close()


class Control:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def __call__(self, **command: Any) -> dict[str, Any]:
        self.writer.write(json.dumps(command).encode() + b"\n")
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(self.reader.readline(), 10))
        return answer


async def test_the_control_port_sets_faults_and_values(tmp_path: Path) -> None:
    path = write_map(tmp_path, "small", SMALL)
    fleet_file = tmp_path / "fleet.toml"
    fleet_file.write_text(f'protocol = "modbus"\n[control]\nlisten = "127.0.0.1:0"\n[[bus]]\n'
                          f'listen = "127.0.0.1:0"\nmap = "{path}"\nunits = 3\n', encoding="utf-8")
    async with ModbusFleet.from_config(load_toml(fleet_file, ModbusFleetConfig),
                                       clock=ManualClock(START)) as fleet:
        where = fleet.describe()
        host, port = where["control"].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        control = Control(reader, writer)
        stream = await open_tcp("127.0.0.1", fleet.buses[0].port)
        try:
            assert (await control(meter=2, fault="exception", code=4))["units"] == [2]
            with pytest.raises(MeterInternalError, match="exception 04"):
                await read_all(stream, endpoint(path, 2, "tcp"))
            await control(meter=2, fault=None)
            answer = await control(cmd="set", meter=2, point="1.0.1.8.0.255", value=12345678)
            assert answer["values"] == {"2": "12345678"}
            result = await read_all(stream, endpoint(path, 2, "tcp"))
            assert readings(result)["1.0.1.8.0.255"] == Decimal("12345.678")
            state = (await control(cmd="state", meter=2))["state"]
            assert (state["requests"], state["refused"], state["answered"]) == (6, 3, 3)
            assert (await control(cmd="advance", seconds=60))["now"] == "2024-03-05T09:01:00Z"
        finally:
            writer.close()
            await stream.close()


async def isu_sim(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "isu", "sim", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


async def test_isu_sim_modbus_prints_where_it_listens_and_serves(tmp_path: Path) -> None:
    path = write_map(tmp_path, "small", SMALL)
    process = await isu_sim("modbus", "--listen", "127.0.0.1:0", "--map", str(path),
                            "--address", "7", "--meters", "2", "--framing", "rtu",
                            "--control", "127.0.0.1:0", "--start", "2024-03-05T12:00:00+03:00",
                            "--speed", "0")
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, (await process.communicate())[1].decode()
        where = json.loads(line)
        assert where["protocol"] == "modbus"
        assert where["control"] is not None
        (bus,) = where["buses"]
        assert (bus["name"], bus["framing"]) == ("bus-1", "rtu")
        assert bus["units"] == [
            {"unit": 7, "map": "small", "serial": "70000007", "meter_id": "modbus-70000007"},
            {"unit": 8, "map": "small", "serial": "70000008", "meter_id": "modbus-70000008"}]
        port = int(bus["listen"].rsplit(":", 1)[1])
        client = AsyncModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU, timeout=2)
        await client.connect()
        try:
            answer = await client.read_holding_registers(30, count=2, device_id=8)
            assert answer.registers == [70000008 >> 16, 70000008 & 0xFFFF]
        finally:
            client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_isu_sim_runs_the_sample_and_refuses_bad_input(tmp_path: Path) -> None:
    process = await isu_sim("--config", str(SAMPLE), "--control", "127.0.0.1:0")
    assert process.stdout is not None
    where = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
    assert [len(bus["units"]) for bus in where["buses"]] == [101, 3, 1]
    assert where["buses"][2]["serial"].startswith("/dev/")
    # (simulators/lifecycle.py installs its signal handlers just after the first line: a
    # command first makes sure they are in place.)
    host, port = where["control"].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        listed = await Control(reader, writer)(cmd="list")
        assert listed["buses"] == where["buses"]
    finally:
        writer.close()
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    bad = tmp_path / "fleet.toml"
    bad.write_text('protocol = "modbus"\n[[bus]]\nlisten = "127.0.0.1:0"\nmap = "abb-b23"\n'
                   '[[bus.unit]]\nunit = 3\n[[bus.unit]]\nunit = 3\n', encoding="utf-8")
    for args in (("--config", str(bad)), ("modbus", "--map", "no-such-map")):
        process = await isu_sim(*args)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 1
        assert stdout == b""
        assert ("unit.1.unit: 3 is unit.0's already" in stderr.decode()
                or "--map: register map 'no-such-map'" in stderr.decode())
