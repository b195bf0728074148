"""The Mercury 200 simulator over real TCP: every §3.5 request vector answered byte for byte,
and the ``mercury200`` driver's items compared with the simulator's state."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.errors import TransportTimeoutError
from core.model import Stream
from core.obis import EnergyKind
from core.tariffs import SINGLE_RATE
from drivers.base import MeterEndpoint
from drivers.mercury.crc import append_crc
from drivers.mercury.m200.driver import Mercury200Driver
from drivers.mercury.m200.frame import Command, MeterModel, Response
from drivers.transport.tcp import TcpStream, open_tcp
from simulators.mercury200 import Bus200, BusServer200, Meter200Settings, SimulatedMeter200
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.load import ConstantLoad
from tests.unit.mercury200 import vectors as v

START = datetime(2024, 3, 14, 9, 30, tzinfo=UTC)


def _documented_meters(clock: ManualClock) -> list[SimulatedMeter200]:
    """The meters behind §3.5's vectors, configured with the state they document."""
    ms = SimulatedMeter200(Meter200Settings(411486, MeterModel.M200_02, mask_unused_zones=False),
                           clock=clock, load=ConstantLoad())
    ms.set_units(EnergyKind.A_PLUS, (62142, 20834, 0, 0))
    ms.pin_instant(voltage_v="235.8", current_a="2.64", power_w=588)
    wb = SimulatedMeter200(Meter200Settings(12345678, address=v.WB_ADDRESS,
                                            mask_unused_zones=False, battery_v=Decimal("3.91")),
                           clock=clock, load=ConstantLoad())
    wb.set_units(EnergyKind.A_PLUS, (62142, 20834, 11111, 22222))
    wb.pin_instant(voltage_v="123.4", current_a="56.78", power_w=765432)  # WB's synthetic values
    asdx = SimulatedMeter200(Meter200Settings(10925856, MeterModel.M206, mask_unused_zones=False),
                             clock=clock, load=ConstantLoad())
    asdx.set_units(EnergyKind.A_PLUS, (265616, 137091, 0, 0))
    iob = SimulatedMeter200(Meter200Settings(925595, MeterModel.M206, schedule=SINGLE_RATE),
                            clock=clock, load=ConstantLoad())
    iob.set_units(EnergyKind.A_PLUS, (7006300, 0, 0, 0))
    return [ms, wb, asdx, iob]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def documented(clock: ManualClock) -> AsyncIterator[BusServer200]:
    async with BusServer200(Bus200(_documented_meters(clock))) as server:
        yield server


async def _ask(port: int, frame: bytes, answer_length: int, timeout_s: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(frame)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(answer_length), timeout_s)
    finally:
        writer.close()


@pytest.mark.parametrize(("request_frame", "answer"), [
    (v.MS_INSTANT_REQ, v.MS_INSTANT_RESP),
    (v.MS_ENERGY_REQ, v.MS_ENERGY_RESP),
    (v.WB_ENERGY_REQ, v.WB_ENERGY_RESP),
    (v.WB_INSTANT_REQ, v.WB_INSTANT_RESP),
    (v.WB_BATTERY_REQ, v.WB_BATTERY_RESP),
    (v.IOB_MONTH_REQ, v.IOB_MONTH_RESP),
])
async def test_vectors_byte_for_byte(
    documented: BusServer200, request_frame: bytes, answer: bytes
) -> None:
    assert await _ask(documented.port, request_frame, len(answer)) == answer


async def test_asdx_and_iob_requests_get_well_formed_answers(documented: BusServer200) -> None:
    energy = append_crc(v.ASDX_ENERGY_RESP[:5])  # ASDX: request rebuilt, CRC computed here
    assert await _ask(documented.port, energy, len(v.ASDX_ENERGY_RESP)) == v.ASDX_ENERGY_RESP
    battery = append_crc(v.IOB_BATTERY_RESP[:5])
    assert await _ask(documented.port, battery, len(v.IOB_BATTERY_RESP)) == v.IOB_BATTERY_RESP
    firmware = Response.from_bytes(await _ask(documented.port, v.ASDX_FIRMWARE_REQ, 13))
    assert (firmware.address, firmware.command) == (v.ASDX_ADDRESS, Command.FIRMWARE)
    off = Response.from_bytes(await _ask(documented.port, v.ASDX_LAST_OFF_REQ, 14))
    assert off.command == Command.LAST_POWER_OFF


async def test_split_delivery_and_garbage(documented: BusServer200) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", documented.port)
    try:
        for byte in b"\x13\x37" + v.MS_ENERGY_REQ:
            writer.write(bytes([byte]))
            await writer.drain()
        answer = await asyncio.wait_for(reader.readexactly(len(v.MS_ENERGY_RESP)), 2)
        assert answer == v.MS_ENERGY_RESP
    finally:
        writer.close()


def _endpoint(address: int, **options: Any) -> MeterEndpoint:
    return MeterEndpoint("m1", "mercury200", address, timeout_s=0.5, options=options)


@pytest.fixture
async def live(clock: ManualClock) -> AsyncIterator[tuple[BusServer200, SimulatedMeter200]]:
    meter = SimulatedMeter200(
        Meter200Settings(38030255, MeterModel.M206, seed=5, drift_s=-42.0, history_days=60),
        clock=clock,
    )
    meter.record_event("cover_open", START - timedelta(hours=3))
    async with BusServer200(Bus200([meter])) as server:
        yield server, meter


async def _driver(port: int, endpoint: MeterEndpoint, clock: ManualClock) -> Mercury200Driver:
    stream = await open_tcp("127.0.0.1", port)
    return Mercury200Driver(stream, endpoint, now=clock)


async def test_driver_reads_every_stream_as_the_simulator_holds_it(
    live: tuple[BusServer200, SimulatedMeter200], clock: ManualClock
) -> None:
    server, meter = live
    clock.advance(3600)
    driver = await _driver(server.port, _endpoint(meter.address), clock)
    result = await driver.read(list(Mercury200Driver.supported_streams))
    assert result.errors == {}

    current = {item.obis: item.value for item in result.readings[Stream.CURRENT]}
    a_plus = meter.units(EnergyKind.A_PLUS)
    r_plus = meter.units(EnergyKind.R_PLUS)
    assert current["1.0.1.8.1.255"] == Decimal(a_plus[0]).scaleb(-2)
    assert current["1.0.1.8.2.255"] == Decimal(a_plus[1]).scaleb(-2)
    assert "1.0.1.8.3.255" not in current  # two-zone schedule: T3, T4 are FF…FF
    assert current["1.0.1.8.0.255"] == Decimal(sum(a_plus)).scaleb(-2)
    assert current["1.0.3.8.0.255"] == Decimal(sum(r_plus)).scaleb(-2)

    monthly = result.readings[Stream.MONTHLY]
    feb = [item for item in monthly if item.ts == datetime(2024, 2, 29, 21, 0, tzinfo=UTC)]
    assert {item.obis: item.value for item in feb}["1.0.1.8.1.255"] == Decimal(
        meter.snapshots[2][0]
    ).scaleb(-2)
    assert len({item.ts for item in monthly}) == 12

    instant = {item.obis: item for item in result.readings[Stream.INSTANT]}
    expected = meter.instant()
    assert instant["1.0.12.7.0.255"].value == expected["voltage_v"]
    assert instant["1.0.11.7.0.255"].value == expected["current_a"]
    assert instant["1.0.1.7.0.255"].value == expected["power_w"].scaleb(-3)
    assert instant["1.0.1.7.0.255"].unit == "kW"
    assert instant["1.0.14.7.0.255"].value == expected["frequency_hz"]

    assert result.clock[0].drift_s == Decimal("-42.0")
    info = {item.field: item.value for item in result.info}
    assert info == {"serial_number": "38030255", "manufactured": "2021-06-15",
                    "battery_v": "3.05"}
    texts = {item.text: item for item in result.events}
    assert texts["Вскрытие крышки"].critical
    assert texts["Вскрытие крышки"].kind == "Внешние воздействия"
    assert texts["Вскрытие крышки"].journal == "mercury200:61"
    assert texts["Выключение ПУ"].kind == "События питания"
    assert not texts["Выключение ПУ"].critical
    assert texts["Вскрытие крышки"].ts == START - timedelta(hours=3, seconds=42)
    assert {"Выключение ПУ", "Включение ПУ"} <= set(texts)
    assert "Закрытие крышки" not in texts  # never happened: all zeros


async def test_monthly_since_until_and_partial_result(
    live: tuple[BusServer200, SimulatedMeter200], clock: ManualClock
) -> None:
    server, meter = live
    driver = await _driver(server.port, _endpoint(meter.address), clock)
    since = datetime(2024, 1, 1, tzinfo=UTC)
    result = await driver.read([Stream.MONTHLY], since=since)
    assert {item.ts.month for item in result.readings[Stream.MONTHLY]} == {1, 2}



class _LossyLine:
    """A line that loses every request with one command (the meter never hears it)."""

    def __init__(self, inner: TcpStream, lost_command: int) -> None:
        self._inner = inner
        self._lost = lost_command
        self.description = inner.description

    async def write(self, data: bytes) -> None:
        if data[4] != self._lost:
            await self._inner.write(data)

    async def read_some(self, timeout_s: float) -> bytes:
        return await self._inner.read_some(timeout_s)

    async def discard_input(self) -> None:
        await self._inner.discard_input()

    async def close(self) -> None:
        await self._inner.close()


async def test_partial_result_names_the_failed_stream(
    live: tuple[BusServer200, SimulatedMeter200], clock: ManualClock
) -> None:
    server, meter = live
    line = _LossyLine(await open_tcp("127.0.0.1", server.port), Command.BATTERY)
    driver = Mercury200Driver(line, _endpoint(meter.address), now=clock)
    result = await driver.read([Stream.CURRENT, Stream.INFO, Stream.CLOCK])
    assert set(result.errors) == {Stream.INFO}
    assert isinstance(result.errors[Stream.INFO], TransportTimeoutError)
    assert result.readings[Stream.CURRENT]
    assert result.clock
    await line.close()


async def test_200_02_without_reactive_and_a_dead_meter(clock: ManualClock) -> None:
    meter = SimulatedMeter200(Meter200Settings(411486, MeterModel.M200_02), clock=clock)
    async with BusServer200(Bus200([meter])) as server:
        driver = await _driver(server.port, _endpoint(411486), clock)
        result = await driver.read([Stream.CURRENT, Stream.DAILY])
        obis = {item.obis for item in result.readings[Stream.CURRENT]}
        assert "1.0.1.8.0.255" in obis
        assert not any(code.startswith("1.0.3.") for code in obis)
        assert Stream.DAILY in result.errors
        meter.fault = Fault(FaultMode.SILENCE)
        with pytest.raises(TransportTimeoutError, match="meter m1"):
            await driver.read([Stream.INFO])


async def test_isu_sim_mercury200_process_prints_where_it_listens() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.mercury200.cli", "--address", "10925856",
        "--meters", "2", "--seed", "3", stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        described = json.loads(line)
        assert described["protocol"] == "mercury200"
        bus = described["buses"][0]
        assert [m["address"] for m in bus["meters"]] == [10925856, 10925857]
        host, _, port = bus["listen"].rpartition(":")
        stream = await open_tcp(host, int(port))
        driver = Mercury200Driver(stream, _endpoint(10925857))
        result = await driver.read([Stream.INFO])
        assert result.info[0].value == "10925857"
        await stream.close()
    finally:
        process.terminate()
        await process.wait()


class _EchoingLine(_LossyLine):
    """An RS-485 adapter that returns every request before the meter's answer (pitfall §6.1)."""

    def __init__(self, inner: TcpStream) -> None:
        super().__init__(inner, -1)
        self._echo = b""

    async def write(self, data: bytes) -> None:
        self._echo = data
        await self._inner.write(data)

    async def read_some(self, timeout_s: float) -> bytes:
        if self._echo:
            echo, self._echo = self._echo, b""
            return echo
        return await self._inner.read_some(timeout_s)


async def test_echo_of_every_request_is_skipped(
    live: tuple[BusServer200, SimulatedMeter200], clock: ManualClock
) -> None:
    server, meter = live
    line = _EchoingLine(await open_tcp("127.0.0.1", server.port))
    driver = Mercury200Driver(line, _endpoint(meter.address), now=clock)
    result = await driver.read([Stream.INFO, Stream.MONTHLY])
    assert result.errors == {}
    assert result.info[0].value == "38030255"
    await line.close()
