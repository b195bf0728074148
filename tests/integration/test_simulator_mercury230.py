"""The Mercury 230 simulator over real TCP: a bus of meters on 127.0.0.1, raw request bytes,
fault modes, the JSON-lines control port, split delivery, and ``isu sim`` as a process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import load_toml
from core.errors import ConfigError
from core.model import Stream
from core.obis import EnergyKind, energy_obis
from drivers.base import MeterEndpoint
from drivers.mercury.answer import decode_answer
from drivers.mercury.crc import append_crc, crc16_modbus
from drivers.mercury.driver import Mercury230Driver
from drivers.mercury.frame import EnergyArray, Param
from drivers.mercury.request import (
    ChannelTestRequest,
    OpenChannelRequest,
    ReadEnergyRequest,
    ReadParamRequest,
)
from drivers.mercury.values import EnergyRegisters
from drivers.transport.tcp import open_tcp
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.config import FleetConfig
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.fleet import SimulatorFleet, make_meters

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FLEET = ROOT / "deploy" / "sim" / "fleet-sample.toml"
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

OPEN_1 = OpenChannelRequest.create(1, 1, "111111").to_bytes()
OK_1 = append_crc(b"\x01\x00")


class Client:
    """A collector-like TCP client that reads an answer until the line goes quiet."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, timeout_s: float = 1.0, quiet_s: float = 0.15) -> bytes:
        data = b""
        try:
            data = await asyncio.wait_for(self.reader.read(4096), timeout_s)
            while True:
                data += await asyncio.wait_for(self.reader.read(4096), quiet_s)
        except TimeoutError:
            return data

    async def ask(self, request: bytes, timeout_s: float = 1.0) -> bytes:
        await self.send(request)
        return await self.receive(timeout_s)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


class Control(Client):
    async def command(self, document: dict[str, Any]) -> dict[str, Any]:
        await self.send(json.dumps(document).encode() + b"\n")
        answer: dict[str, Any] = json.loads(await self.reader.readline())
        return answer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def fleet(clock: ManualClock) -> AsyncIterator[SimulatorFleet]:
    meters = make_meters(1, 3, clock=clock, seed=11, history_days=2)
    async with SimulatorFleet.single_bus(meters, control=("127.0.0.1", 0)) as running:
        yield running


@pytest.fixture
async def client(fleet: SimulatorFleet) -> AsyncIterator[Client]:
    connection = await Client.connect(fleet.buses[0].port)
    yield connection
    await connection.close()


@pytest.fixture
async def control(fleet: SimulatorFleet) -> AsyncIterator[Control]:
    assert fleet.control is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", fleet.control.port)
    connection = Control(reader, writer)
    yield connection
    await connection.close()


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= 3 and crc16_modbus(frame[:-2]) == int.from_bytes(frame[-2:], "little")


async def test_raw_requests_get_the_meters_answers(fleet: SimulatorFleet, client: Client) -> None:
    assert fleet.buses[0].port != 0
    assert await client.ask(ChannelTestRequest(2).to_bytes()) == ChannelTestRequest(2).to_bytes()
    assert await client.ask(ReadParamRequest(3, Param.FIRMWARE).to_bytes()) == append_crc(
        b"\x03\x05"
    )
    assert await client.ask(OPEN_1) == OK_1
    request = ReadEnergyRequest(1, EnergyArray.FROM_RESET, 0)
    reply = await client.ask(request.to_bytes())
    registers = decode_answer(request, reply[1:-2])
    assert isinstance(registers, EnergyRegisters)
    assert registers.wh(EnergyKind.A_PLUS) == fleet.meter(1).register(EnergyKind.A_PLUS)
    # Foreign address: silence.
    assert await client.ask(OpenChannelRequest.create(9, 1, "111111").to_bytes(), 0.3) == b""


async def test_split_delivery_one_byte_per_write(client: Client) -> None:
    for byte in OPEN_1:
        await client.send(bytes((byte,)))
        await asyncio.sleep(0.01)
    assert await client.receive() == OK_1
    serial = ReadParamRequest(1, Param.SERIAL_NUMBER).to_bytes()
    await client.send(b"\x55\xaa" + serial[:3])  # line noise, then a frame in two segments
    await asyncio.sleep(0.02)
    await client.send(serial[3:])
    reply = await client.receive()
    assert reply[:5] == bytes((1, 30, 0, 0, 1))
    assert crc_ok(reply)


async def test_a_gap_ends_a_broken_frame(fleet: SimulatorFleet, client: Client) -> None:
    await client.send(OPEN_1[:6])
    await asyncio.sleep(fleet.buses[0].gap_s * 3)
    await client.send(OPEN_1[6:])
    assert await client.receive(0.4) == b""
    assert await client.ask(OPEN_1) == OK_1


async def test_channel_lapses_on_the_injected_clock(client: Client, clock: ManualClock) -> None:
    firmware = ReadParamRequest(1, Param.FIRMWARE).to_bytes()
    assert await client.ask(firmware) == append_crc(b"\x01\x05")
    assert await client.ask(OPEN_1) == OK_1
    assert crc_ok(reply := await client.ask(firmware))
    assert len(reply) == 6
    clock.advance(240)
    assert await client.ask(firmware) == append_crc(b"\x01\x05")


async def test_fault_modes_through_the_control_port(client: Client, control: Control) -> None:
    test_2 = ChannelTestRequest(2).to_bytes()
    answer = await control.command({"meter": 2, "fault": "silence"})
    assert answer == {
        "ok": True,
        "meters": ["m230-30000002"],
        "fault": {"fault": "silence", "probability": 1.0, "delay_s": 3.0, "drop_bytes": 2},
    }
    assert await client.ask(test_2, 0.3) == b""
    assert await client.ask(ChannelTestRequest(3).to_bytes()) == ChannelTestRequest(3).to_bytes()

    await control.command({"meter": 2, "fault": "corrupt_crc"})
    reply = await client.ask(test_2)
    assert len(reply) == 4
    assert not crc_ok(reply)

    await control.command({"meter": "m230-30000002", "fault": "truncate", "drop_bytes": 1})
    assert await client.ask(test_2) == test_2[:3]

    await control.command({"meter": "30000002", "fault": "garbage"})
    garbage = await client.ask(test_2)
    assert len(garbage) == 4
    assert garbage != test_2

    await control.command({"meter": 2, "fault": "slow", "delay_s": 0.4})
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await client.ask(test_2, timeout_s=2.0) == test_2
    assert loop.time() - began >= 0.4

    await control.command({"meter": 2, "fault": "internal_error"})
    assert await client.ask(test_2) == append_crc(b"\x02\x02")

    assert (await control.command({"meter": 2, "fault": None}))["fault"] is None
    assert await client.ask(test_2) == test_2


async def test_faults_set_in_python_before_start(clock: ManualClock) -> None:
    meters = make_meters(1, 2, clock=clock)
    meters[0].fault = Fault(FaultMode.CORRUPT_CRC)
    async with SimulatorFleet.single_bus(meters) as fleet:
        connection = await Client.connect(fleet.buses[0].port)
        try:
            assert not crc_ok(await connection.ask(ChannelTestRequest(1).to_bytes()))
            fleet.meter(1).fault = None
            assert crc_ok(await connection.ask(ChannelTestRequest(1).to_bytes()))
            assert crc_ok(await connection.ask(ChannelTestRequest(2).to_bytes()))
        finally:
            await connection.close()


async def test_control_state_and_clock(
    fleet: SimulatorFleet, control: Control, clock: ManualClock
) -> None:
    state = (await control.command({"cmd": "state", "meter": 1}))["state"]
    registers = fleet.meter(1).registers()
    assert state["registers"]["A+"]["sum"] == registers[EnergyKind.A_PLUS][0]
    assert state["registers"]["R+"]["T2"] == registers[EnergyKind.R_PLUS][2]
    assert state["true_time"] == "2024-03-01T09:00:00Z"
    answer = await control.command({"cmd": "advance", "seconds": 3600})
    assert answer == {"ok": True, "now": "2024-03-01T10:00:00Z"}
    assert clock() == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    later = (await control.command({"cmd": "state", "meter": 1}))["state"]
    assert later["registers"]["A+"]["sum"] > state["registers"]["A+"]["sum"]

    await control.command({"cmd": "freeze", "meter": "*"})
    pinned = await control.command(
        {"cmd": "set_register", "meter": 3, "kind": "A+", "zone": 1, "wh": 123456}
    )
    assert pinned["ok"]
    assert fleet.meter(3).register(EnergyKind.A_PLUS, 1) == 123456
    await control.command({"cmd": "pin", "meter": 3, "values": {"u1": "241.28"}})
    assert str(fleet.meter(3).instant().u1) == "241.28"
    everything = await control.command({"cmd": "state"})
    assert [s["address"] for s in everything["states"]] == [1, 2, 3]
    listing = await control.command({"cmd": "list"})
    assert listing["buses"][0]["listen"] == fleet.buses[0].listen

    for bad in ({"cmd": "state", "meter": 99}, {"cmd": "fly"}, {"meter": 1, "fault": "fire"}):
        answer = await control.command(bad)
        assert answer["ok"] is False
        assert answer["error"]


async def test_two_clients_share_the_line(fleet: SimulatorFleet) -> None:
    first = await Client.connect(fleet.buses[0].port)
    second = await Client.connect(fleet.buses[0].port)
    try:
        replies = await asyncio.gather(
            first.ask(ChannelTestRequest(1).to_bytes()),
            second.ask(ChannelTestRequest(2).to_bytes()),
        )
        assert list(replies) == [ChannelTestRequest(1).to_bytes(), ChannelTestRequest(2).to_bytes()]
    finally:
        await first.close()
        await second.close()


async def test_the_production_driver_reads_the_simulator(clock: ManualClock) -> None:
    meters = make_meters(
        48, 2, clock=clock, seed=5, frozen=True, drift_s=-42, password_encoding="ascii"
    )
    meters[0].pin_instant(p_sum="-1234.56", q_sum="-10")
    async with SimulatorFleet.single_bus(meters) as fleet:
        stream = await open_tcp("127.0.0.1", fleet.buses[0].port)
        endpoint = MeterEndpoint(
            meter_id="m-48", protocol="mercury230", address=48,
            options={"password_encoding": "ascii"},
        )  # fmt: skip
        try:
            driver = Mercury230Driver(stream, endpoint, now=clock)
            result = await driver.read([Stream.CURRENT, Stream.INSTANT, Stream.CLOCK, Stream.INFO])
        finally:
            await stream.close()
    assert result.errors == {}
    meter = fleet.meter(48)
    current = {item.obis: item.value for item in result.readings[Stream.CURRENT]}
    for kind, zones in meter.registers().items():
        for zone, wh in zones.items():
            assert current[energy_obis(kind, zone)] == Decimal(wh).scaleb(-3)
    instant = {item.obis: item.value for item in result.readings[Stream.INSTANT]}
    assert instant["1.0.1.7.0.255"] == Decimal("-1.23456")
    assert instant["1.0.32.7.0.255"] == meter.instant().u1
    assert instant["1.0.14.7.0.255"] == meter.instant().frequency
    assert result.clock[0].drift_s == Decimal("-42.0")
    info = {item.field: item.value for item in result.info}
    assert info["serial_number"] == meter.serial


def test_the_sample_fleet_file_is_valid() -> None:
    config = load_toml(SAMPLE_FLEET, FleetConfig)
    fleet = SimulatorFleet.from_config(config, clock=ManualClock(START))
    assert len(fleet.buses) >= 2
    assert len({meter.meter_id for meter in fleet.meters}) == len(fleet.meters)


def test_a_fleet_file_with_unknown_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('[[bus]]\nlisten = "127.0.0.1:0"\n[[bus.meter]]\nadress = 5\n')
    with pytest.raises(ConfigError, match="adress"):
        load_toml(path, FleetConfig)


async def run_isu_sim(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    code = (
        "import argparse, asyncio, sys\n"
        "from simulators.cli import add_sim_arguments, run_sim\n"
        "parser = argparse.ArgumentParser(prog='isu sim')\n"
        "add_sim_arguments(parser)\n"
        "sys.exit(asyncio.run(run_sim(parser.parse_args(sys.argv[1:]))))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    first_line = await asyncio.wait_for(process.stdout.readline(), 30)
    return process, json.loads(first_line)


async def test_isu_sim_prints_where_it_listens_and_stops_on_sigint() -> None:
    process, where = await run_isu_sim(
        "mercury230", "--listen", "127.0.0.1:0", "--address", "7", "--meters", "2",
        "--seed", "3", "--history-days", "1", "--control", "127.0.0.1:0", "--one-direction",
    )  # fmt: skip
    try:
        assert where["protocol"] == "mercury230"
        bus = where["buses"][0]
        assert [m["address"] for m in bus["meters"]] == [7, 8]
        port = int(bus["listen"].rsplit(":", 1)[1])
        assert port != 0
        connection = await Client.connect(port)
        assert await connection.ask(OpenChannelRequest.create(8, 1, "111111").to_bytes()) == (
            append_crc(b"\x08\x00")
        )
        request = ReadEnergyRequest(8, EnergyArray.FROM_RESET, 0)
        registers = decode_answer(request, (await connection.ask(request.to_bytes()))[1:-2])
        assert isinstance(registers, EnergyRegisters)
        assert registers.wh(EnergyKind.A_MINUS) is None
        await connection.close()
        host, control_port = where["control"].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(control_port))
        state = await Control(reader, writer).command({"cmd": "state", "meter": 8})
        assert state["state"]["registers"]["A-"] is None
        assert state["state"]["registers"]["A+"]["sum"] >= (registers.wh(EnergyKind.A_PLUS) or 0)
        writer.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_isu_sim_runs_the_sample_fleet_file(tmp_path: Path) -> None:
    # The sample's fixed ports may be taken on a test machine: the same fleet on free ports.
    fleet_file = tmp_path / "fleet.toml"
    fleet_file.write_text(re.sub(r":400\d\d\"", ':0"', SAMPLE_FLEET.read_text()))
    process, where = await run_isu_sim("--config", str(fleet_file), "--control", "127.0.0.1:0")
    try:
        assert len(where["buses"]) >= 2
        assert where["control"] is not None
        port = int(where["buses"][0]["listen"].rsplit(":", 1)[1])
        address = where["buses"][0]["meters"][0]["address"]
        connection = await Client.connect(port)
        test = ChannelTestRequest(address).to_bytes()
        assert await connection.ask(test) == test
        await connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_isu_sim_refuses_a_bad_setup() -> None:
    code = (
        "import argparse, asyncio, sys\n"
        "from simulators.cli import add_sim_arguments, run_sim\n"
        "parser = argparse.ArgumentParser(prog='isu sim')\n"
        "add_sim_arguments(parser)\n"
        "sys.exit(asyncio.run(run_sim(parser.parse_args(sys.argv[1:]))))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, "mercury230", "--time-zone", "Mars/Base",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert stdout == b""
    assert b"Mars/Base" in stderr
