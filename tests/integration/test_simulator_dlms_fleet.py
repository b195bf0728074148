"""``isu sim --config FILE`` with a DLMS fleet, as a process: a wrapper meter and an HDLC line of
two meters read with our client (clock, A+), a cover opening through the control port read back
from journal 0.0.99.98.4.255, a fault set and cleared at run time, and a clean stop."""

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

import pytest

from core.errors import TransportTimeoutError
from drivers.dlms.access import AttributeDescriptor
from drivers.dlms.hdlc import HdlcAddress
from drivers.dlms.link import HdlcLink, LinkTiming
from drivers.dlms.obis import Obis
from drivers.dlms.session import ClientSettings, DlmsClient
from drivers.dlms.wrapper_link import WrapperLink
from drivers.transport.serial import open_serial
from drivers.transport.tcp import open_tcp
from simulators.dlms.config import DlmsFleetConfig
from simulators.dlms.fleet import DlmsFleet
from simulators.mercury230.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "sim" / "dlms.sample.toml"
START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
TIMING = LinkTiming(timeout_s=2.0, retries=1, inter_octet_s=0.2)
CLOCK = AttributeDescriptor(8, Obis(0, 0, 1, 0, 0, 255), 2)
A_PLUS = AttributeDescriptor(3, Obis(1, 0, 1, 8, 0, 255), 2)
COVER_JOURNAL = AttributeDescriptor(7, Obis(0, 0, 99, 98, 4, 255), 2)

FLEET = """
protocol = "dlms"
seed = 5

[control]
listen = "127.0.0.1:0"

[[bus]]
name = "modem"
listen = "127.0.0.1:0"
transport = "wrapper"
[[bus.meter]]
serial = "50000016"
history_days = 1

[[bus]]
name = "riser"
listen = "127.0.0.1:0"
max_info = 64
[[bus.meter]]
address = 17
history_days = 1
drift_s = 95
[[bus.meter]]
history_days = 1
reader_password = "riser-18"
"""


async def isu_sim(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "isu", "sim", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


@asynccontextmanager
async def running(path: Path, *args: str) -> AsyncIterator[dict[str, Any]]:
    """The fleet of ``path`` as a process: yields its start-up JSON; stops it with SIGTERM
    and checks that it exits 0."""
    process = await isu_sim("--config", str(path), *args)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, (await process.communicate())[1].decode()
        yield json.loads(line)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


@asynccontextmanager
async def session(bus: dict[str, Any], address: int, password: bytes = b"12345678",
                  timing: LinkTiming = TIMING) -> AsyncIterator[DlmsClient]:
    """The reader (SAP 32, LLS) on one meter of ``bus``."""
    stream = await open_tcp("127.0.0.1", port_of(bus["listen"]))
    link: HdlcLink | WrapperLink
    if bus["transport"] == "hdlc":
        link = HdlcLink(stream, client_sap=32, server=HdlcAddress.server(1, address),
                        timing=timing)
    else:
        link = WrapperLink(stream, client_sap=32, logical_device=bus["logical_device"],
                           timing=timing)
    try:
        async with DlmsClient(link, ClientSettings(32, password)) as client:
            yield client
    finally:
        await stream.close()


class Control:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def __call__(self, **command: Any) -> dict[str, Any]:
        self.writer.write(json.dumps(command).encode() + b"\n")
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(self.reader.readline(), 10))
        return answer


@asynccontextmanager
async def control_port(where: dict[str, Any]) -> AsyncIterator[Control]:
    host, port = where["control"].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield Control(reader, writer)
    finally:
        writer.close()


async def test_a_two_bus_fleet_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET, encoding="utf-8")
    async with running(path, "--start", START.isoformat(), "--speed", "0") as where, \
            control_port(where) as control:
        assert where["protocol"] == "dlms"
        modem, riser = where["buses"]
        assert (modem["name"], modem["transport"], modem["logical_device"]) == (
            "modem", "wrapper", 1)
        assert (riser["name"], riser["transport"]) == ("riser", "hdlc")
        assert modem["meters"] == [
            {"address": 16, "serial": "50000016", "meter_id": "dlms-50000016"}]
        assert [(m["address"], m["serial"]) for m in riser["meters"]] == [
            (17, "50100017"), (18, "50100018")]
        meters = [(modem, 16, b"12345678", 0), (riser, 17, b"12345678", 95),
                  (riser, 18, b"riser-18", 0)]

        # Each meter's clock (true time + drift) and A+, as the control port sees them.
        for bus, address, password, drift_s in meters:
            bus_index = where["buses"].index(bus)
            state = (await control(cmd="state", meter=address, bus=bus_index))["state"]
            async with session(bus, address, password) as client:
                clock = (await client.get(CLOCK)).as_datetime()
                assert clock.to_utc() == START + timedelta(seconds=drift_s)
                assert (await client.get(A_PLUS)).as_int() == state["registers"]["A+"]["sum"]
                assert state["registers"]["A+"]["sum"] > 0
                assert (await client.get(COVER_JOURNAL)).items == ()  # nothing in a day

        # A cover opening on demand, read back from the journal of external influences.
        answer = await control(cmd="open_cover", meter="dlms-50100018")
        assert answer == {"ok": True, "meters": [18]}
        assert (await control(cmd="open_cover", meter=16, bus=0))["meters"] == [16]
        for bus, address, password, _ in (meters[0], meters[2]):
            async with session(bus, address, password) as client:
                (row,) = (await client.get(COVER_JOURNAL)).items
                stamp, code = row.items[0].as_datetime(), row.items[1].as_int()
                assert code == 3  # terminal cover seal
                assert stamp.to_utc() == START

        # A fault set at run time silences one meter of the line, not its neighbour.
        assert (await control(meter=17, bus=1, fault="silence"))["ok"]
        with pytest.raises(TransportTimeoutError):
            async with session(riser, 17, timing=LinkTiming(0.3, 0, 0.1)):
                pass
        async with session(riser, 18, b"riser-18") as client:
            assert (await client.get(A_PLUS)).as_int() > 0
        assert (await control(meter=17, bus=1, fault=None))["fault"] is None
        async with session(riser, 17) as client:
            assert (await client.get(A_PLUS)).as_int() > 0


async def test_an_hdlc_line_on_a_serial_pty_in_process() -> None:
    config = DlmsFleetConfig.model_validate({"protocol": "dlms", "bus": [{
        "serial_pty": True, "baud": 38400, "echo": True,
        "meter": [{"address": 40, "history_days": 0}, {"history_days": 0}]}]})
    async with DlmsFleet.from_config(config, clock=ManualClock(START)) as fleet:
        (bus,) = fleet.describe()["buses"]
        assert (bus["baud"], bus["parity"], bus["echo"], bus["transport"]) == (
            38400, "N", True, "hdlc")
        assert "listen" not in bus
        stream = await open_serial(bus["serial"], 38400)
        try:
            for meter in bus["meters"]:
                link = HdlcLink(stream, client_sap=16,
                                server=HdlcAddress.server(1, meter["address"]), timing=TIMING)
                async with DlmsClient(link, ClientSettings(16)) as client:
                    serial = await client.get(AttributeDescriptor(1, Obis(0, 0, 96, 1, 0, 255), 2))
                    assert serial.value == meter["serial"]
        finally:
            await stream.close()
    assert [m["address"] for m in bus["meters"]] == [40, 41]


async def test_the_sample_runs_and_stops_on_sigint() -> None:
    process = await isu_sim("--config", str(SAMPLE), "--control", "127.0.0.1:0")
    assert process.stdout is not None
    where = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
    assert [len(bus["meters"]) for bus in where["buses"]] == [1, 3]
    assert where["control"] is not None
    async with control_port(where) as control:
        assert (await control(cmd="list"))["buses"] == where["buses"]
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_a_bad_fleet_file_names_the_key_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET.replace("max_info = 64", "max_info = 8"), encoding="utf-8")
    process = await isu_sim("--config", str(path))
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert stdout == b""
    assert "bus.1.max_info" in stderr.decode()
