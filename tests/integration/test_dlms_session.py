"""The DLMS client session (drivers/dlms/session.py, link.py) against the simulated meter's
protocol side (simulators/dlms/) over in-memory streams and TCP on loopback: association at
each level, GET (normal, with block, segmented), GET with list, SET, ACTION, lost and damaged
frames, a silent meter, DM, release and DISC; byte for byte against the GOST traces."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from core.errors import (
    AccessError,
    AuthenticationError,
    ConnectionLostError,
    ObjectUnavailableError,
    RemoteProtocolError,
    SessionExpiredError,
    TransportTimeoutError,
    UnexpectedResponseError,
)
from drivers.dlms.access import AttributeDescriptor, EntryDescriptor, MethodDescriptor
from drivers.dlms.acse import Mechanism
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.hdlc import NEED_DATA, Control, FrameKind, HdlcAddress, HdlcFrame, HdlcReader
from drivers.dlms.initiate import Conformance
from drivers.dlms.link import TRACE, HdlcLink, LinkTiming
from drivers.dlms.obis import Obis
from drivers.dlms.session import ClientSettings, DlmsClient
from drivers.dlms.wrapper import WrapperFrame
from drivers.dlms.wrapper_link import WrapperLink
from drivers.transport.memory import MemoryStream, memory_pair
from drivers.transport.stream import ByteStream
from drivers.transport.tcp import open_tcp
from simulators.dlms import (
    DEFAULT_SECRETS,
    Application,
    DlmsTcpServer,
    HdlcServer,
    Level,
    WrapperServer,
    default_table,
    serve_stream,
)
from simulators.dlms.objects import LOAD_PROFILE, ObjectTable
from simulators.dlms.protocol import LineFaults
from tests.unit.dlms import vectors as v

TIMING = LinkTiming(timeout_s=0.2, retries=2, inter_octet_s=0.05)
ENERGY = AttributeDescriptor(3, Obis(1, 0, 1, 8, 0, 255), 2)
SCALER = AttributeDescriptor(3, Obis(1, 0, 1, 8, 0, 255), 3)
PROFILE = AttributeDescriptor(7, LOAD_PROFILE, 2)
POINT_DATA = AttributeDescriptor(1, Obis(0, 0, 96, 1, 10, 255), 2)
MISSING = AttributeDescriptor(3, Obis(1, 0, 99, 99, 0, 255), 2)
SHIFT_TIME = MethodDescriptor(8, Obis(0, 0, 1, 0, 0, 255), 6)

LEVELS = {
    16: ClientSettings(16),
    32: ClientSettings(32, DEFAULT_SECRETS[32]),
    48: ClientSettings(48, DEFAULT_SECRETS[48]),
}


class Tap:
    """A byte stream that keeps what the client wrote (and, optionally, echoes it back or
    puts bytes before the first answer) — a stand-in for the line, not for our classes."""

    def __init__(self, inner: MemoryStream, *, echo: bool = False, garbage: bytes = b"") -> None:
        self.inner = inner
        self.written: list[bytes] = []
        self.echo = echo
        self._extra = bytearray(garbage)

    @property
    def description(self) -> str:
        return self.inner.description

    async def write(self, data: bytes) -> None:
        self.written.append(data)
        if self.echo:
            self._extra += data
        await self.inner.write(data)

    async def read_some(self, timeout_s: float) -> bytes:
        if self._extra:
            data = bytes(self._extra)
            self._extra.clear()
            return data
        return await self.inner.read_some(timeout_s)

    async def discard_input(self) -> None:
        await self.inner.discard_input()

    async def close(self) -> None:
        await self.inner.close()

    def frames(self) -> list[HdlcFrame]:
        reader = HdlcReader()
        reader.feed(b"".join(self.written))
        found = []
        while (frame := reader.next_frame()) is not NEED_DATA:
            found.append(frame)
        return found


@dataclass
class Meter:
    table: ObjectTable
    application: Application
    server: HdlcServer | WrapperServer
    tap: Tap
    task: asyncio.Task[None] = field(repr=False)

    @property
    def faults(self) -> LineFaults:
        return self.server.faults


@asynccontextmanager
async def meter(
    kind: str = "hdlc",
    *,
    max_info: int = 128,
    block_size: int | None = None,
    levels: dict[int, Level] | None = None,
    echo: bool = False,
    garbage: bytes = b"",
    answer_release: bool = True,
) -> AsyncIterator[Meter]:
    client_end, meter_end = memory_pair("dlms")
    table = default_table()
    application = Application(table, block_size=block_size, answer_release=answer_release)
    if levels is not None:
        application.levels = levels
    server: HdlcServer | WrapperServer = (
        HdlcServer(application, max_info=max_info) if kind == "hdlc" else WrapperServer(application)
    )
    task = asyncio.create_task(serve_stream(meter_end, server, inter_octet_s=0.05))
    tap = Tap(client_end, echo=echo, garbage=garbage)
    try:
        yield Meter(table, application, server, tap, task)
    finally:
        await client_end.close()
        await asyncio.wait_for(task, 2)


def client(stream: ByteStream, settings: ClientSettings, kind: str = "hdlc", *,
           max_info_rx: int = 128, timing: LinkTiming = TIMING) -> DlmsClient:
    link: HdlcLink | WrapperLink
    if kind == "hdlc":
        link = HdlcLink(stream, client_sap=settings.client_sap, server=HdlcAddress.server(),
                        timing=timing, max_info_rx=max_info_rx)
    else:
        link = WrapperLink(stream, client_sap=settings.client_sap, timing=timing)
    return DlmsClient(link, settings)


# --- byte for byte against GOST tables 12.1 and 12.2 --------------------------------------


async def test_public_client_frames_are_gost_12_1() -> None:
    settings = ClientSettings(16, conformance=Conformance(0x001010))
    levels = {16: Level(None, Conformance(0x001010))}
    async with meter(levels=levels) as m:
        async with client(m.tap, settings) as c:
            assert await c.get(AttributeDescriptor(15, Obis(0, 0, 40, 0, 0, 255), 1)) == \
                Data.octets(bytes.fromhex("0000280000FF"))
        written = m.tap.written
        assert written[0] == v.GOST_12_1_SNRM
        assert written[1] == v.GOST_12_1_AARQ
        # the GET's APDU is the GOST one (the trace's N(S) comes from a longer exchange)
        assert HdlcFrame.from_bytes(written[2]).info == HdlcFrame.from_bytes(v.GOST_12_1_GET).info
        assert written[-1] == v.GOST_12_1_DISC


async def test_lls_reader_frames_are_gost_12_2_both_ways() -> None:
    settings = ClientSettings(32, b"Reader", conformance=Conformance(0x00101C))
    levels = {32: Level(b"Reader", Conformance(0x00101C))}
    async with meter(levels=levels) as m:
        c = client(m.tap, settings)
        # the meter's answers, as the client reads them
        seen: list[bytes] = []
        inner_read = m.tap.read_some

        async def recording(timeout_s: float) -> bytes:
            data = await inner_read(timeout_s)
            seen.append(data)
            return data

        m.tap.read_some = recording  # type: ignore[method-assign]
        association = await c.open()
        assert m.tap.written[:2] == [v.GOST_12_2_SNRM, v.GOST_12_2_AARQ]
        assert b"".join(seen) == v.GOST_12_2_UA + v.GOST_12_2_AARE
        assert association.conformance == Conformance(0x00101C)
        assert association.server_max_pdu == 0x0400
        await c.close()


# --- association at each level -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
@pytest.mark.parametrize("sap", [16, 32, 48])
async def test_association_at_each_level(kind: str, sap: int) -> None:
    async with meter(kind) as m, client(m.tap, LEVELS[sap], kind) as c:
        assert await c.get(ENERGY) == Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)
        assert m.application.level == sap
        granted = c.association.conformance if c.association else Conformance(0)
        assert bool(granted & Conformance.SET) == (sap == 48)


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_wrong_lls_password_is_an_authentication_error(kind: str) -> None:
    async with meter(kind) as m:
        c = client(m.tap, ClientSettings(32, b"87654321"), kind)
        with pytest.raises(AuthenticationError):
            await c.open()
        assert m.application.level is None
        if kind == "hdlc":
            assert isinstance(m.server, HdlcServer)
            assert not m.server.connected  # DISC after the refusal


async def test_reader_without_password_is_refused() -> None:
    async with meter() as m:
        with pytest.raises(AuthenticationError):
            await client(m.tap, ClientSettings(32)).open()


async def test_the_password_never_reaches_a_trace_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRACE, logger="drivers.dlms.link")
    async with meter() as m, client(m.tap, LEVELS[32]):
        pass
    traces = " ".join(record.getMessage() for record in caplog.records)
    assert DEFAULT_SECRETS[32] is not None
    assert " 8a 02 07 80 " in traces  # the AARQ is there…
    assert DEFAULT_SECRETS[32].hex(" ") not in traces  # …without its password


# --- services ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_get_normal_and_refusals(kind: str) -> None:
    async with meter(kind) as m, client(m.tap, LEVELS[16], kind) as c:
        assert await c.get(SCALER) == Data.structure(Data(DataType.INTEGER, 0),
                                                     Data(DataType.ENUM, 30))
        with pytest.raises(ObjectUnavailableError):
            await c.get(MISSING)
        with pytest.raises(AccessError):
            await c.get(PROFILE)  # the public client may not read profiles
        with pytest.raises(AccessError):
            await c.set(POINT_DATA, Data(DataType.VISIBLE_STRING, "x"))  # not granted


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_long_get_in_blocks_and_segments(kind: str) -> None:
    async with meter(kind, max_info=128, block_size=300) as m:
        c = client(m.tap, LEVELS[32], kind, max_info_rx=512)
        async with c:
            if isinstance(c.link, HdlcLink):
                assert (c.link.max_info_rx, c.link.max_info_tx) == (128, 128)
            value = await c.get(PROFILE)
            assert value == m.table.value(7, LOAD_PROFILE, 2)
            assert len(value.items) == 48
            rows = await c.get(PROFILE, EntryDescriptor(3, 5).to_selection())
            assert rows.items == value.items[2:5]
        if kind == "hdlc":
            frames = m.tap.frames()
            rr = [f for f in frames if f.control.kind is FrameKind.RR]
            next_requests = [f for f in frames if f.info[3:5] == b"\xc0\x02"]
            assert len(next_requests) >= 5  # 1.6 kB in blocks of at most 300
            assert len(rr) >= 10  # one RR per 128-byte segment of each block


async def test_long_request_is_segmented() -> None:
    """A GET with list of 20 attributes (some 230 bytes) goes out in two I-frames."""
    async with meter("hdlc", max_info=128) as m, client(m.tap, LEVELS[32]) as c:
        values = await c.get_with_list([(ENERGY, None)] * 20)
        assert values == [Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)] * 20
        assert sum(1 for f in m.tap.frames() if f.segmented) == 1


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_get_with_list(kind: str) -> None:
    async with meter(kind) as m, client(m.tap, LEVELS[32], kind) as c:
        results = await c.get_with_list([(ENERGY, None), (MISSING, None), (SCALER, None)])
        assert results[0] == Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)
        assert isinstance(results[1], ObjectUnavailableError)
        assert results[2] == m.table.value(3, ENERGY.instance, 3)


async def test_get_with_list_without_multiple_references_falls_back() -> None:
    async with meter() as m, client(m.tap, LEVELS[16]) as c:  # public: no with-list
        results = await c.get_with_list([(ENERGY, None), (PROFILE, None)])
        assert results[0] == Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)
        assert isinstance(results[1], AccessError)
        assert not any(f.info[3:5] == b"\xc0\x03" for f in m.tap.frames())


async def test_get_with_list_in_blocks_over_the_wrapper() -> None:
    async with meter("wrapper", block_size=200) as m, client(m.tap, LEVELS[32], "wrapper") as c:
        results = await c.get_with_list([(PROFILE, None), (ENERGY, None)])
        assert results == [m.table.value(7, LOAD_PROFILE, 2),
                           Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)]


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_set_and_action(kind: str) -> None:
    async with meter(kind) as m, client(m.tap, LEVELS[48], kind) as c:
        await c.set(POINT_DATA, Data(DataType.VISIBLE_STRING, "TP-1"))
        assert await c.get(POINT_DATA) == Data(DataType.VISIBLE_STRING, "TP-1")
        with pytest.raises(AccessError):
            await c.set(ENERGY, Data(DataType.DOUBLE_LONG_UNSIGNED, 0))  # read-only
        assert await c.action(SHIFT_TIME, Data(DataType.LONG, -30)) is None
        assert m.table.clock_shift_s == -30


# --- lost, damaged and missing frames ---------------------------------------------------


@pytest.mark.parametrize("fault", ["lose_requests", "lose_answers"])
@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_a_lost_get_frame_is_recovered(kind: str, fault: str) -> None:
    async with meter(kind) as m, client(m.tap, LEVELS[32], kind) as c:
        setattr(m.faults, fault, 1)
        assert await c.get(ENERGY) == Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)


@pytest.mark.parametrize("fault", ["lose_requests", "lose_answers"])
async def test_a_lost_action_frame_is_recovered_without_a_duplicate(fault: str) -> None:
    """HDLC: the poll tells a lost request (resent) from a lost answer (repeated by the
    meter), so the clock is shifted exactly once."""
    async with meter() as m, client(m.tap, LEVELS[32]) as c:
        setattr(m.faults, fault, 1)
        await c.action(SHIFT_TIME, Data(DataType.LONG, -30))
        assert m.table.clock_shift_s == -30
        actions = [f for f in m.tap.frames() if f.info[3:5] == b"\xc3\x01"]
        assert len(actions) == (2 if fault == "lose_requests" else 1)


async def test_the_wrapper_never_resends_an_action() -> None:
    async with meter("wrapper") as m, client(m.tap, LEVELS[32], "wrapper") as c:
        m.faults.lose_answers = 1
        with pytest.raises(TransportTimeoutError):
            await c.action(SHIFT_TIME, Data(DataType.LONG, 10))
        assert m.table.clock_shift_s == 10
        assert sum(1 for raw in m.tap.written if raw[8:10] == b"\xc3\x01") == 1


async def test_a_lost_segment_of_a_long_answer_is_recovered() -> None:
    async with meter(block_size=600) as m, client(m.tap, LEVELS[32]) as c:
        m.faults.lose_answers = 2  # a segment and its first repetition: within 2 retries
        assert await c.get(PROFILE) == m.table.value(7, LOAD_PROFILE, 2)


async def test_a_corrupt_fcs_is_ignored_and_the_frame_fetched_again() -> None:
    async with meter() as m, client(m.tap, LEVELS[32]) as c:
        m.faults.corrupt_answers = 1
        assert await c.get(ENERGY) == Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)
        assert isinstance(c.link, HdlcLink)
        assert c.link.bad_frames == 1


async def test_a_partial_frame_is_dropped_after_the_inter_octet_time() -> None:
    # A false start announcing a 0x50-byte frame swallows the UA; the gap drops it, the
    # SNRM is sent again.
    async with meter(garbage=bytes.fromhex("7E A0 50 02")) as m, client(m.tap, LEVELS[16]) as c:
        assert await c.get(ENERGY) == Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)
        assert isinstance(c.link, HdlcLink)
        assert c.link.bad_frames == 1


async def test_our_own_echo_is_skipped() -> None:
    async with meter(echo=True) as m, client(m.tap, LEVELS[32]) as c:
        assert await c.get(PROFILE) == m.table.value(7, LOAD_PROFILE, 2)


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_a_silent_meter_times_out_within_the_budget(kind: str) -> None:
    async with meter(kind) as m:
        m.faults.silent = True
        c = client(m.tap, LEVELS[16], kind)
        started = time.monotonic()
        with pytest.raises(TransportTimeoutError):
            await c.open()
        elapsed = time.monotonic() - started
        budget = TIMING.timeout_s * (TIMING.retries + 1)
        assert budget * 0.9 <= elapsed <= budget + 0.5


async def test_silence_mid_session_times_out_within_the_budget() -> None:
    async with meter() as m:
        c = client(m.tap, LEVELS[32])
        await c.open()
        m.faults.silent = True
        started = time.monotonic()
        with pytest.raises(TransportTimeoutError):
            await c.get(ENERGY)
        assert time.monotonic() - started <= TIMING.timeout_s * (TIMING.retries + 1) + 0.5


async def test_dm_after_the_link_dropped_is_session_expired() -> None:
    async with meter() as m:
        c = client(m.tap, LEVELS[32])
        await c.open()
        m.faults.disconnected = True
        with pytest.raises(SessionExpiredError):
            await c.get(ENERGY)
        assert not c.link.connected
        await c.close()  # no RLRQ on a dropped link; the DISC gets UA or DM, both fine


@pytest.mark.parametrize(("after", "kind", "error"), [
    ("SNRM", FrameKind.DM, RemoteProtocolError),
    ("AARQ", FrameKind.FRMR, RemoteProtocolError),
    ("AARQ", FrameKind.DM, SessionExpiredError),
])
async def test_dm_and_frmr_are_typed_errors(after: str, kind: FrameKind,
                                             error: type[Exception]) -> None:
    """A line-level peer that answers with DM or FRMR where UA or an I-frame was due."""
    client_end, meter_end = memory_pair("hdlc")
    server, us = HdlcAddress.server(), HdlcAddress.client(16)

    async def peer() -> None:
        reader = HdlcReader()
        while True:
            try:
                reader.feed(await meter_end.read_some(5))
            except ConnectionLostError:
                return
            while (frame := reader.next_frame()) is not NEED_DATA:
                name = "SNRM" if frame.control.kind is FrameKind.SNRM else "AARQ"
                answer = kind if name == after else FrameKind.UA
                await meter_end.write(HdlcFrame(us, server, Control(answer)).to_bytes())

    task = asyncio.create_task(peer())
    with pytest.raises(error, match=kind.name):
        await client(client_end, LEVELS[16]).open()
    await client_end.close()
    await task


async def test_an_answer_from_another_wport_is_refused() -> None:
    client_end, meter_end = memory_pair("wrapper")
    c = client(client_end, LEVELS[16], "wrapper")
    await c.link.open()
    await meter_end.write(WrapperFrame(7, 16, b"\x61\x00").to_bytes())
    with pytest.raises(UnexpectedResponseError, match="wPort 7"):
        await c.link.request(b"\x60\x00")


async def test_a_late_answer_to_an_abandoned_request_is_skipped() -> None:
    """The wrapper cannot number frames: the invoke id tells a late answer from ours."""
    client_end, meter_end = memory_pair("wrapper")
    server = WrapperServer(Application(default_table()))
    held: list[bytes] = []

    async def peer() -> None:
        requests = 0
        while True:
            try:
                data = await meter_end.read_some(5)
            except ConnectionLostError:
                return
            for answer in server.receive_data(data):
                requests += 1
                if requests == 2:  # the answer to the first GET comes late
                    held.append(answer)
                    continue
                for late in held:
                    await meter_end.write(late)
                held.clear()
                await meter_end.write(answer)

    task = asyncio.create_task(peer())
    c = client(client_end, LEVELS[16], "wrapper", timing=LinkTiming(0.15, 0, 0.05))
    await c.open()
    with pytest.raises(TransportTimeoutError):
        await c.get(ENERGY)
    assert await c.get(SCALER) == server.application.table.value(3, ENERGY.instance, 3)
    await c.close()
    await client_end.close()
    await task


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_a_meter_that_forgot_the_association_is_session_expired(kind: str) -> None:
    async with meter(kind) as m:
        c = client(m.tap, LEVELS[16], kind)
        await c.open()
        m.application.release()  # a restart, say: the meter answers exception-response
        with pytest.raises(SessionExpiredError, match="exception-response"):
            await c.get(ENERGY)


# --- HLS: the hook, with a manufacturer-specific mechanism 2 made up for the test ----------


@dataclass
class ToyHls:
    """HLS mechanism 2 leaves f() to the manufacturer: here HMAC-SHA256 with a shared key."""

    key: bytes
    mechanism: Mechanism = Mechanism.HLS
    sent: bytes = b""

    def challenge(self) -> bytes:
        self.sent = secrets.token_bytes(16)
        return self.sent

    def reply(self, challenge: bytes) -> bytes:
        return hmac.new(self.key, challenge, hashlib.sha256).digest()

    def verify(self, challenge: bytes, answer: bytes) -> bool:
        return hmac.compare_digest(self.reply(challenge), answer)


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_hls_four_pass_through_the_hook(kind: str) -> None:
    levels = {48: Level(None, Conformance(0xFFFFFF), hls=ToyHls(b"K" * 16))}
    async with meter(kind, levels=levels) as m:
        settings = ClientSettings(48, hls=ToyHls(b"K" * 16))
        async with client(m.tap, settings, kind) as c:
            assert c.association is not None
            assert c.association.mechanism is Mechanism.HLS
            await c.set(POINT_DATA, Data(DataType.VISIBLE_STRING, "TP-2"))
        assert m.table.value(1, POINT_DATA.instance, 2).value == "TP-2"


async def test_hls_with_the_wrong_key_is_an_authentication_error() -> None:
    levels = {48: Level(None, Conformance(0xFFFFFF), hls=ToyHls(b"K" * 16))}
    async with meter(levels=levels) as m:
        with pytest.raises(AuthenticationError, match="f\\(StoC\\)"):
            await client(m.tap, ClientSettings(48, hls=ToyHls(b"X" * 16))).open()
        assert m.application.level is None


# --- release and close -------------------------------------------------------------------


async def test_close_releases_then_disconnects() -> None:
    async with meter() as m:
        async with client(m.tap, LEVELS[32]) as c:
            await c.get(ENERGY)
        kinds = [f.control.kind for f in m.tap.frames()]
        assert kinds[-1] is FrameKind.DISC
        assert m.tap.frames()[-2].info[3:4] == b"\x62"  # RLRQ
        assert isinstance(m.server, HdlcServer)
        assert not m.server.connected
        assert m.application.level is None


async def test_a_meter_without_release_is_tolerated() -> None:
    async with meter(answer_release=False) as m:
        async with client(m.tap, LEVELS[32]) as c:
            await c.get(ENERGY)
        assert m.tap.frames()[-1].control.kind is FrameKind.DISC
        assert isinstance(m.server, HdlcServer)
        assert not m.server.connected


async def test_close_without_release() -> None:
    async with meter() as m:
        async with client(m.tap, ClientSettings(16, release=False)) as c:
            await c.get(ENERGY)
        assert not any(f.info[3:4] == b"\x62" for f in m.tap.frames())


# --- over TCP on loopback ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["hdlc", "wrapper"])
async def test_over_tcp_loopback(kind: str) -> None:
    table = default_table()

    def make() -> HdlcServer | WrapperServer:
        application = Application(table, block_size=256)
        return HdlcServer(application) if kind == "hdlc" else WrapperServer(application)

    async with DlmsTcpServer(make, kind="hdlc" if kind == "hdlc" else "wrapper") as server:
        stream = await open_tcp("127.0.0.1", server.port)
        try:
            async with client(stream, LEVELS[48], kind, timing=LinkTiming(0.3, 1, 0.1)) as c:
                assert await c.get(ENERGY) == Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567)
                assert await c.get(PROFILE) == table.value(7, LOAD_PROFILE, 2)
                await c.action(SHIFT_TIME, Data(DataType.LONG, 5))
                assert server.last_link is not None
                server.last_link.faults.lose_requests = 1
                assert await c.get(SCALER) == table.value(3, ENERGY.instance, 3)
            assert table.clock_shift_s == 5
        finally:
            await stream.close()
