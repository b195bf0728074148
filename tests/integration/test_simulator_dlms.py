"""The simulated SPODES meter read by the DLMS client session over TCP (HDLC and the
wrapper): identity, clock, registers with scaler-unit, a day of load profile by range, a
journal by range, capture objects, faults, and ``isu sim dlms`` as a process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.errors import (
    AccessError,
    AuthenticationError,
    SessionExpiredError,
    TransportTimeoutError,
)
from core.obis import EnergyKind
from drivers.dlms.access import (
    CLOCK,
    AttributeDescriptor,
    CaptureObject,
    MethodDescriptor,
    RangeDescriptor,
)
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import CosemDateTime
from drivers.dlms.hdlc import HdlcAddress
from drivers.dlms.link import HdlcLink, LinkTiming
from drivers.dlms.obis import Obis
from drivers.dlms.session import ClientSettings, DlmsClient
from drivers.dlms.wrapper_link import WrapperLink
from drivers.transport.serial import open_serial
from drivers.transport.tcp import open_tcp
from simulators.dlms import DEFAULT_SECRETS
from simulators.dlms.cli import DlmsSimulator
from simulators.dlms.meter import SpodesMeter, SpodesSettings
from simulators.dlms.protocol import LineFaults
from simulators.dlms.spodes import LOAD_PROFILE, journal_obis
from simulators.mercury230.clock import ManualClock
from simulators.serial import PtyPort

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
MOSCOW = ZoneInfo("Europe/Moscow")
TIMING = LinkTiming(timeout_s=1.0, retries=1, inter_octet_s=0.2)


def settings(sap: int) -> ClientSettings:
    return ClientSettings(sap, DEFAULT_SECRETS[sap])


@asynccontextmanager
async def simulated(transport: str, **options: Any) -> AsyncIterator[DlmsSimulator]:
    clock = ManualClock(START)
    meter = SpodesMeter(SpodesSettings(serial="50000016", history_days=3), clock=clock)
    async with DlmsSimulator(meter, transport=transport, **options) as simulator:
        yield simulator


@asynccontextmanager
async def connect(simulator: DlmsSimulator, sap: int = 32, *, max_info_rx: int = 128,
                  timing: LinkTiming = TIMING) -> AsyncIterator[DlmsClient]:
    assert simulator.tcp is not None
    stream = await open_tcp("127.0.0.1", simulator.tcp.port)
    link: HdlcLink | WrapperLink
    if simulator.transport == "hdlc":
        link = HdlcLink(stream, client_sap=sap, server=HdlcAddress.server(1, simulator.physical),
                        timing=timing, max_info_rx=max_info_rx)
    else:
        link = WrapperLink(stream, client_sap=sap, timing=timing)
    try:
        async with DlmsClient(link, settings(sap)) as client:
            yield client
    finally:
        await stream.close()


def ref(class_id: int, obis: str, attr: int) -> AttributeDescriptor:
    return AttributeDescriptor(class_id, Obis.parse(obis), attr)


TRANSPORTS = pytest.mark.parametrize("transport", ["hdlc", "wrapper"])


@TRANSPORTS
async def test_identity_clock_and_registers(transport: str) -> None:
    async with simulated(transport) as sim, connect(sim, 16) as client:
        assert await client.get(ref(1, "0.0.96.1.0.255", 2)) == \
            Data(DataType.VISIBLE_STRING, "50000016")
        model = (await client.get(ref(1, "0.0.96.1.1.255", 2))).as_bytes()
        assert model.decode("cp1251") == sim.meter.settings.model
        assert (await client.get(ref(1, "0.0.42.0.0.255", 2))).as_bytes() == b"ISU50000016"
        now = (await client.get(ref(8, "0.0.1.0.0.255", 2))).as_datetime()
        assert now.deviation == -180
        assert now.to_utc() == START
        assert await client.get(ref(8, "0.0.1.0.0.255", 3)) == Data(DataType.LONG, -180)
        energy = await client.get(ref(3, "1.0.1.8.0.255", 2))
        scaler_unit = await client.get(ref(3, "1.0.1.8.0.255", 3))
        assert energy.as_int() == sim.meter.register(EnergyKind.A_PLUS)
        assert [item.as_int() for item in scaler_unit.items] == [0, 30]
        voltage = await client.get(ref(3, "1.0.32.7.0.255", 2))
        scaler, unit = (item.as_int() for item in (await client.get(
            ref(3, "1.0.32.7.0.255", 3))).items)
        assert (scaler, unit) == (-2, 35)
        assert 220 <= voltage.as_int() * 10**scaler <= 240


@TRANSPORTS
async def test_a_day_of_load_profile_by_range_in_blocks(transport: str) -> None:
    async with simulated(transport, block_size=512) as sim, connect(sim) as client:
        columns = await client.get(AttributeDescriptor(7, LOAD_PROFILE, 3))
        objects = [CaptureObject.from_data(item) for item in columns.items]
        assert objects[0] == CaptureObject(8, CLOCK, 2)
        assert [o.instance for o in objects[1:]] == [Obis(1, 0, c, 29, 0, 255) for c in range(1, 5)]
        assert (await client.get(AttributeDescriptor(7, LOAD_PROFILE, 4))).as_int() == 1800
        day = datetime(2024, 3, 4, tzinfo=MOSCOW)
        bounds = RangeDescriptor(
            Data.datetime_octets(CosemDateTime.from_datetime(day + timedelta(minutes=30))),
            Data.datetime_octets(CosemDateTime.from_datetime(day + timedelta(days=1))))
        rows = (await client.get(AttributeDescriptor(7, LOAD_PROFILE, 2),
                                 bounds.to_selection())).items
        assert len(rows) == 48
        stamps = [row.items[0].as_datetime().to_datetime() for row in rows]
        assert stamps == [day + timedelta(minutes=30 * (i + 1)) for i in range(48)]
        daily = (await client.get(ref(7, "1.0.98.2.0.255", 2))).items
        first, second = (row.items[1].as_int() for row in daily[-2:])
        assert sum(row.items[1].as_int() for row in rows) == second - first


@TRANSPORTS
async def test_a_power_failure_silences_the_meter_and_ends_the_session(transport: str) -> None:
    async with simulated(transport) as sim:
        meter = sim.meter
        assert isinstance(meter.clock, ManualClock)
        async with connect(sim, timing=LinkTiming(0.2, 0, 0.1)) as client:
            await client.get(ref(3, "1.0.1.8.0.255", 2))
            meter.power_failure(600)
            with pytest.raises(TransportTimeoutError):
                await client.get(ref(3, "1.0.1.8.0.255", 2))
            meter.clock.advance(900)
            # back on, the meter has forgotten the link (HDLC: DM) or the association
            with pytest.raises(SessionExpiredError):
                await client.get(ref(3, "1.0.1.8.0.255", 2))
        async with connect(sim) as client:
            since = meter.meter_time() - timedelta(minutes=20)
            bounds = RangeDescriptor(
                Data.datetime_octets(CosemDateTime.from_datetime(since)),
                Data.datetime_octets(CosemDateTime.from_datetime(meter.meter_time())))
            rows = (await client.get(AttributeDescriptor(7, journal_obis(2), 2),
                                     bounds.to_selection())).items
            assert [row.items[1].as_int() for row in rows] == [1, 2]
            off, on = (row.items[0].as_datetime().to_utc() for row in rows)
            assert on - off == timedelta(minutes=10)


async def test_object_list_in_blocks_and_a_wrong_password_journalled() -> None:
    async with simulated("wrapper", block_size=256) as sim:
        async with connect(sim, 16) as client:
            listed = await client.get(ref(15, "0.0.40.0.0.255", 2))
            names = {Obis.from_bytes(item.items[2].as_bytes()) for item in listed.items}
            assert {LOAD_PROFILE, journal_obis(4), Obis(1, 0, 1, 8, 0, 255)} <= names
        assert sim.tcp is not None
        stream = await open_tcp("127.0.0.1", sim.tcp.port)
        try:
            link = WrapperLink(stream, client_sap=32, timing=TIMING)
            with pytest.raises(AuthenticationError):
                await DlmsClient(link, ClientSettings(32, b"00000000")).open()
        finally:
            await stream.close()
        async with connect(sim, 32) as client:
            assert await client.get(ref(1, "0.0.96.11.6.255", 2)) == \
                Data(DataType.LONG_UNSIGNED, 1)


async def test_clock_set_and_shift_over_hdlc_at_the_allowed_levels() -> None:
    async with simulated("hdlc") as sim:
        async with connect(sim, 32) as reader:
            await reader.action(MethodDescriptor(8, CLOCK, 6), Data(DataType.LONG, 60))
            with pytest.raises(AccessError):
                await reader.set(AttributeDescriptor(8, CLOCK, 2), Data.octets(bytes(12)))
        assert sim.meter.drift_s == 60
        target = datetime(2024, 3, 5, 12, 30, tzinfo=MOSCOW)
        async with connect(sim, 48) as configurator:
            await configurator.set(AttributeDescriptor(8, CLOCK, 2),
                                   Data.datetime_octets(CosemDateTime.from_datetime(target)))
        assert sim.meter.meter_time() == target


async def test_small_information_field_and_a_bad_fcs_are_survived() -> None:
    faults = LineFaults(corrupt_answers=1)
    async with simulated("hdlc", max_info=64, faults=lambda: faults) as sim, \
            connect(sim, max_info_rx=512, timing=LinkTiming(0.3, 1, 0.1)) as client:
        assert isinstance(client.link, HdlcLink)
        assert client.link.max_info_rx == 64
        rows = (await client.get(AttributeDescriptor(7, journal_obis(2), 2))).items
        assert len(rows) >= 3
        assert client.link.bad_frames == 1


async def test_a_slow_and_a_silent_meter() -> None:
    slow = LineFaults(delay_s=0.3)
    async with simulated("wrapper", faults=lambda: slow) as sim:
        started = asyncio.get_running_loop().time()
        async with connect(sim, 16) as client:
            await client.get(ref(3, "1.0.1.8.0.255", 2))
        assert asyncio.get_running_loop().time() - started >= 0.6  # AARQ and GET
    async with simulated("wrapper", faults=lambda: LineFaults(silent=True)) as sim:
        with pytest.raises(TransportTimeoutError):
            async with connect(sim, 16, timing=LinkTiming(0.2, 0, 0.1)):
                pass


async def test_hdlc_on_a_serial_pty_with_echo() -> None:
    """A two-wire RS-485 line at 38400 baud: the client skips its own echo."""
    async with simulated("hdlc", pty=PtyPort(38400, echo=True)) as sim:
        assert sim.pty is not None
        stream = await open_serial(sim.pty.device, 38400)
        try:
            link = HdlcLink(stream, client_sap=32, server=HdlcAddress.server(), timing=TIMING)
            async with DlmsClient(link, settings(32)) as client:
                assert await client.get(ref(1, "0.0.96.1.0.255", 2)) == \
                    Data(DataType.VISIBLE_STRING, "50000016")
                columns = await client.get(ref(7, "0.0.99.98.4.255", 3))
                assert len(columns.items) == 3
        finally:
            await stream.close()


async def test_three_meters_on_one_hdlc_line() -> None:
    clock = ManualClock(START)
    meters = [SpodesMeter(SpodesSettings(serial=f"5000{n:04d}", seed=n, history_days=0),
                          clock=clock) for n in (20, 21, 22)]
    async with DlmsSimulator(meters, physical=20) as simulator:
        assert simulator.tcp is not None
        stream = await open_tcp("127.0.0.1", simulator.tcp.port)
        try:
            for address in (22, 20, 21):
                link = HdlcLink(stream, client_sap=16, server=HdlcAddress.server(1, address),
                                timing=TIMING)
                async with DlmsClient(link, settings(16)) as client:
                    assert await client.get(ref(1, "0.0.96.1.0.255", 2)) == \
                        Data(DataType.VISIBLE_STRING, f"5000{address:04d}")
            meters_described = simulator.describe()["buses"][0]["meters"]
            assert [m["address"] for m in meters_described] == [20, 21, 22]
        finally:
            await stream.close()


async def test_a_four_byte_server_address() -> None:
    async with simulated("hdlc", physical=1000) as sim, connect(sim, 16) as client:
        assert isinstance(client.link, HdlcLink)
        assert await client.get(ref(1, "0.0.96.1.0.255", 2)) == \
            Data(DataType.VISIBLE_STRING, "50000016")


async def test_isu_sim_dlms_on_a_serial_pty() -> None:
    process = await _isu_sim("dlms", "--serial-pty", "--baud", "38400", "--history-days", "0")
    try:
        assert process.stdout is not None
        bus = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))["buses"][0]
        assert (bus["transport"], bus["baud"]) == ("hdlc", 38400)
        stream = await open_serial(bus["serial"], 38400)
        try:
            link = HdlcLink(stream, client_sap=16, server=HdlcAddress.server(), timing=TIMING)
            async with DlmsClient(link, settings(16)) as client:
                serial = await client.get(ref(1, "0.0.96.1.0.255", 2))
                assert serial.value == bus["meters"][0]["serial"]
        finally:
            await stream.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def _isu_sim(*args: str) -> asyncio.subprocess.Process:
    code = (
        "import argparse, asyncio, sys\n"
        "from simulators.cli import add_sim_arguments, run_sim\n"
        "parser = argparse.ArgumentParser(prog='isu sim')\n"
        "add_sim_arguments(parser)\n"
        "sys.exit(asyncio.run(run_sim(parser.parse_args(sys.argv[1:]))))\n"
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


async def test_isu_sim_dlms_prints_where_it_listens_and_serves() -> None:
    process = await _isu_sim(
        "dlms", "--listen", "127.0.0.1:0", "--transport", "wrapper", "--history-days", "1",
        "--seed", "4", "--control", "127.0.0.1:0",
    )  # fmt: skip
    try:
        assert process.stdout is not None
        where = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        assert where["protocol"] == "dlms"
        bus = where["buses"][0]
        assert bus["transport"] == "wrapper"
        port = int(bus["listen"].rsplit(":", 1)[1])
        stream = await open_tcp("127.0.0.1", port)
        try:
            link = WrapperLink(stream, client_sap=32, timing=TIMING)
            async with DlmsClient(link, settings(32)) as client:
                serial = await client.get(ref(1, "0.0.96.1.0.255", 2))
                assert serial.value == bus["meters"][0]["serial"]
                rows = (await client.get(ref(7, "1.0.99.1.0.255", 2))).items
                assert len(rows) >= 47
        finally:
            await stream.close()
        host, control_port = where["control"].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(control_port))
        address = bus["meters"][0]["address"]
        writer.write(b'{"cmd": "open_cover"}\n{"cmd": "state", "meter": %d}\n' % address)
        assert json.loads(await reader.readline()) == {"ok": True, "meters": [address]}
        state = json.loads(await reader.readline())["state"]
        assert state["journals"]["4"] >= 1
        writer.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
