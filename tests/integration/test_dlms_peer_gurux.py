"""Cross-check with someone else's client: ``gurux_dlms`` (PyPI, GPLv2, a test-only peer,
never shipped) reads the simulated SPODES meter over TCP, on the IEC 62056-47 wrapper and on
HDLC, as the reader (SAP 32, LLS): identity, the clock with its deviation and status,
registers with their scaler-unit, a day of the load profile by range, and journal 4 after a
terminal-cover event; then it releases the association and disconnects.

gurux_dlms is a pure codec: the blocking request/response loop below (``GuruxPeer``, the
shape of Gurux's own ``GXDLMSReader`` example) runs in a thread beside the simulator's event
loop. Every expected value comes from the simulated meter's own state.

Notes on gurux_dlms 1.0.203 met here (docs/dlms.md, "Peers"): range bounds go with the
deviation of the ``datetime`` given (an aware one: −180 for Moscow; a naive one gets the
machine's zone), so the bounds are aware; ``readRowsByEntry`` with a column subset asks for a
contiguous span and needs the same columns passed to ``updateValue``; ``readList`` builds all
its HDLC frames at once, so a GET-with-list answered in blocks upsets its sequence numbers
(not used here).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from core.obis import EnergyKind
from simulators.dlms import DEFAULT_SECRETS
from simulators.dlms.cli import DlmsSimulator
from simulators.dlms.meter import EXTERNAL, SpodesMeter, SpodesSettings
from simulators.mercury230.clock import ManualClock

gurux_dlms = pytest.importorskip("gurux_dlms")
gx_enums = pytest.importorskip("gurux_dlms.enums")
gx_objects = pytest.importorskip("gurux_dlms.objects")

START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
READER = 32
PERIOD_S = 900  # not the default 1800: the row count follows the meter's period


class GuruxPeer:
    """A ``GXDLMSClient`` on a blocking socket: frames out, bytes in until the client's
    ``getData`` says the answer is whole, GET-next or RR while it says there is more."""

    def __init__(self, port: int, transport: str, physical: int) -> None:
        enums = gx_enums
        if transport == "wrapper":
            interface, server = enums.InterfaceType.WRAPPER, 1
        else:
            interface = enums.InterfaceType.HDLC
            server = gurux_dlms.GXDLMSClient.getServerAddress(1, physical)
        secret = DEFAULT_SECRETS[READER]
        assert secret is not None
        self.client = gurux_dlms.GXDLMSClient(True, READER, server, enums.Authentication.LOW,
                                              secret.decode("ascii"), interface)
        self.interface = interface
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def packet(self, data: Any, reply: Any) -> None:
        if not data:
            return
        self.sock.sendall(bytes(data))
        received = gurux_dlms.GXByteBuffer()
        notify = gurux_dlms.GXReplyData()
        while not self.client.getData(received, reply, notify):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the simulator closed the connection")
            received.set(chunk)

    def exchange(self, data: Any) -> Any:
        """One request (or the frames gurux made for it) and its whole answer."""
        reply = gurux_dlms.GXReplyData()
        for frame in data if isinstance(data, list) else [data]:
            reply.clear()
            self.packet(frame, reply)
            while reply.isMoreData():
                more = None if reply.isStreaming() else self.client.receiverReady(reply)
                self.packet(more, reply)
        return reply

    def connect(self) -> None:
        if self.interface == gx_enums.InterfaceType.HDLC:
            reply = gurux_dlms.GXReplyData()
            self.packet(self.client.snrmRequest(), reply)
            self.client.parseUAResponse(reply.data)
        self.client.parseAareResponse(self.exchange(self.client.aarqRequest()).data)

    def read(self, item: Any, attribute: int) -> Any:
        reply = self.exchange(self.client.read(item, attribute))
        return self.client.updateValue(item, attribute, reply.value)

    def rows_by_range(self, profile: Any, start: datetime, end: datetime) -> list[Any]:
        reply = self.exchange(self.client.readRowsByRange(profile, start, end))
        self.client.updateValue(profile, 2, reply.value)
        return list(profile.buffer)

    def rows_by_entry(self, profile: Any, index: int, count: int) -> list[Any]:
        reply = self.exchange(self.client.readRowsByEntry(profile, index, count))
        self.client.updateValue(profile, 2, reply.value)
        return list(profile.buffer)

    def object_list(self) -> Any:
        reply = self.exchange(self.client.getObjectsRequest())
        return self.client.parseObjects(reply.data, True)

    def close(self) -> None:
        try:
            self.exchange(self.client.releaseRequest())
            reply = gurux_dlms.GXReplyData()
            self.packet(self.client.disconnectRequest(), reply)
        finally:
            self.sock.close()


def read_with_gurux(port: int, transport: str, physical: int, day: datetime) -> dict[str, Any]:
    """Everything the test compares, read by gurux in one association."""
    objects = gx_objects
    peer = GuruxPeer(port, transport, physical)
    seen: dict[str, Any] = {}
    try:
        peer.connect()
        seen["objects"] = {
            (int(item.objectType), item.logicalName): (
                item.version,
                {a.index: int(a.access) for a in item.attributes},
                {m.index: int(m.methodAccess) for m in item.methodAttributes})
            for item in peer.object_list()}
        seen["serial"] = peer.read(objects.GXDLMSData("0.0.96.1.0.255"), 2)
        seen["model"] = bytes(peer.read(objects.GXDLMSData("0.0.96.1.1.255"), 2))
        clock = objects.GXDLMSClock()
        seen["time"] = peer.read(clock, 2)
        seen["time_zone"] = peer.read(clock, 3)
        seen["clock_status"] = peer.read(clock, 4)
        registers = {}
        for obis in ("1.0.1.8.0.255", "1.0.1.8.2.255", "1.0.3.8.0.255", "1.0.32.7.0.255"):
            register = objects.GXDLMSRegister(obis)
            peer.read(register, 3)  # first: gurux scales attribute 2 by it
            registers[obis] = (peer.read(register, 2), register.scaler, register.unit)
        seen["registers"] = registers
        profile = objects.GXDLMSProfileGeneric("1.0.99.1.0.255")
        peer.read(profile, 3)
        seen["columns"] = [(int(column.objectType), str(column.logicalName), where.attributeIndex)
                           for column, where in profile.captureObjects]
        seen["period_s"] = peer.read(profile, 4)
        period = timedelta(seconds=seen["period_s"])
        seen["profile"] = peer.rows_by_range(profile, day + period, day + timedelta(days=1))
        journal = objects.GXDLMSProfileGeneric("0.0.99.98.4.255")
        peer.read(journal, 3)
        seen["journal"] = peer.rows_by_entry(journal, 1, 0)  # all entries, oldest first
    finally:
        peer.close()
    return seen


@asynccontextmanager
async def simulated(transport: str, physical: int) -> AsyncIterator[DlmsSimulator]:
    meter = SpodesMeter(SpodesSettings(serial="50000042", seed=3, history_days=2,
                                       profile_period_s=PERIOD_S), clock=ManualClock(START))
    async with DlmsSimulator(meter, transport=transport, physical=physical) as simulator:
        yield simulator


@pytest.mark.parametrize(("transport", "physical"), [
    ("wrapper", 0x10),
    ("hdlc", 0x10),
    ("hdlc", 1000),  # a 4-byte server address, as SPODES addresses from serials need
])
async def test_gurux_reads_the_simulator(transport: str, physical: int) -> None:
    async with simulated(transport, physical) as simulator:
        meter = simulator.meter
        meter.open_cover()  # journal 4, code 3, now
        now = meter.meter_time()
        day = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert simulator.tcp is not None
        seen = await asyncio.to_thread(read_with_gurux, simulator.tcp.port, transport,
                                       physical, day)
        # the peer released the association (RLRQ) and, on HDLC, the link (DISC)
        link: Any = simulator.tcp.last_link
        assert link.application.level is None
        assert transport == "wrapper" or not link.connected
        instant = meter.instant()
        energy = {obis: meter.register(kind, zone) for obis, kind, zone in (
            ("1.0.1.8.0.255", EnergyKind.A_PLUS, 0), ("1.0.1.8.2.255", EnergyKind.A_PLUS, 2),
            ("1.0.3.8.0.255", EnergyKind.R_PLUS, 0))}

    # the association's object list as gurux parses it: every object, with the rights the
    # model gives the reader (attribute access 1 read, 2 write; method access 1)
    model = simulator.objects[0]
    expected: dict[tuple[int, str], tuple[int, dict[int, int], dict[int, int]]] = {}
    for (class_id, obis, index), found in model.attributes.items():
        version = 1 if class_id in (7, 15) else 0  # Profile generic, Association LN: 1
        _, rights, _ = expected.setdefault((class_id, str(obis)), (version, {}, {}))
        rights[index] = (READER in found.read) | (READER in found.write) << 1
    for (class_id, obis, index), (levels, _) in model.methods.items():
        expected[(class_id, str(obis))][2][index] = int(READER in levels)
    assert seen["objects"] == expected

    assert seen["serial"] == meter.settings.serial
    assert seen["model"].decode("cp1251") == meter.settings.model

    # the clock: the meter's local time, deviation −180 (Blue Book sign: UTC = local + dev)
    time = seen["time"]
    assert time.value == now
    assert time.value.utcoffset() == now.utcoffset() == timedelta(hours=3)
    assert time.status == 0
    assert seen["time_zone"] == -180
    assert seen["clock_status"] == 0

    # value × 10^scaler (gurux keeps 10^scaler and applies it) against the meter's state
    for obis, wh in energy.items():
        value, scaler, unit = seen["registers"][obis]
        assert (scaler, unit) == (1.0, 32 if obis.startswith("1.0.3.") else 30)
        assert value == wh
    voltage, scaler, unit = seen["registers"]["1.0.32.7.0.255"]
    assert (scaler, unit) == (0.01, 35)
    assert Decimal(str(round(voltage, 2))) == instant.u1.quantize(Decimal("0.01"), ROUND_DOWN)

    # a day of load profile: one row per period, stamps on the boundaries, the values the
    # meter captured
    assert seen["columns"] == [(8, "0.0.1.0.0.255", 2), *[(3, f"1.0.{c}.29.0.255", 2)
                                                          for c in (1, 2, 3, 4)]]
    assert seen["period_s"] == PERIOD_S
    rows = seen["profile"]
    assert len(rows) == 86400 // PERIOD_S
    stamps = [row[0].value for row in rows]
    assert stamps == [day + timedelta(seconds=PERIOD_S * (n + 1)) for n in range(len(rows))]
    recorded = [(entry.stamp, entry.values) for entry in meter.load_profile
                if day < entry.stamp <= day + timedelta(days=1)]
    assert [(row[0].value, tuple(row[1:])) for row in rows] == recorded

    # journal 4, ending with the cover just opened
    journal = [(row[0].value, row[1], row[2]) for row in seen["journal"]]
    assert journal == [(e.stamp, e.code, e.operating_s) for e in meter.journals[EXTERNAL]]
    assert journal[-1][:2] == (now, 3)
