"""HLS-GMAC (mechanism 5, security suite 0) end to end: our DlmsClient as the configurator
against the simulated SPODES meter (``--configurator hls-gmac``) over TCP, HDLC and the
wrapper; wrong keys on either side; and a foreign client, gurux_dlms 1.0.203 (GPLv2, a
test-only peer: GXDLMSSecureClient with Authentication.HIGH_GMAC and Security.NONE, its own
framing over a plain socket), associating with the simulator and reading the clock."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import AuthenticationError, RemoteProtocolError
from drivers.dlms.access import CLOCK, AttributeDescriptor
from drivers.dlms.acse import AareApdu, AarqApdu, AssociationResult, Mechanism, UserDiagnostic
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.hdlc import HdlcAddress
from drivers.dlms.initiate import InitiateRequest
from drivers.dlms.link import TRACE, HdlcLink, LinkTiming
from drivers.dlms.obis import Obis
from drivers.dlms.security import GmacSecurity
from drivers.dlms.session import DEFAULT_CONFORMANCE, ClientSettings, DlmsClient
from drivers.dlms.wrapper_link import WrapperLink
from drivers.transport.tcp import open_tcp
from simulators.cli import add_sim_arguments
from simulators.dlms import DEFAULT_SECRETS, Application, DlmsTcpServer, WrapperServer
from simulators.dlms.application import (
    TEST_AUTHENTICATION_KEY,
    TEST_BLOCK_CIPHER_KEY,
    Level,
    default_levels,
    gmac_server,
    system_title,
)
from simulators.dlms.cli import DlmsSimulator, build_simulator
from simulators.dlms.meter import SpodesMeter, SpodesSettings
from simulators.dlms.spodes import SpodesObjects
from simulators.mercury230.clock import ManualClock

START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
SERIAL = "50000016"
TIMING = LinkTiming(timeout_s=1.0, retries=1, inter_octet_s=0.2)
TIME = AttributeDescriptor(8, CLOCK, 2)
POINT_DATA = AttributeDescriptor(1, Obis(0, 0, 96, 1, 10, 255), 2)
#: The client's title in the Green Book's example.
CLIENT_TITLE = bytes.fromhex("4D4D4D0000000001")
TRANSPORTS = pytest.mark.parametrize("transport", ["hdlc", "wrapper"])


def our_gmac(*, ek: bytes = TEST_BLOCK_CIPHER_KEY,
             ak: bytes = TEST_AUTHENTICATION_KEY) -> GmacSecurity:
    return GmacSecurity(CLIENT_TITLE, ek, ak)


@asynccontextmanager
async def simulated(transport: str) -> AsyncIterator[DlmsSimulator]:
    meter = SpodesMeter(SpodesSettings(serial=SERIAL, history_days=0), clock=ManualClock(START))
    async with DlmsSimulator(meter, transport=transport, configurator="hls-gmac") as simulator:
        yield simulator


@asynccontextmanager
async def connect(port: int, transport: str, settings: ClientSettings
                  ) -> AsyncIterator[DlmsClient]:
    stream = await open_tcp("127.0.0.1", port)
    link: HdlcLink | WrapperLink
    if transport == "hdlc":
        link = HdlcLink(stream, client_sap=settings.client_sap,
                        server=HdlcAddress.server(1, 0x10), timing=TIMING)
    else:
        link = WrapperLink(stream, client_sap=settings.client_sap, timing=TIMING)
    try:
        async with DlmsClient(link, settings) as client:
            yield client
    finally:
        await stream.close()


def tcp_port(simulator: DlmsSimulator | DlmsTcpServer) -> int:
    server = simulator.tcp if isinstance(simulator, DlmsSimulator) else simulator
    assert server is not None
    return server.port


def unauthorised_accesses(simulator: DlmsSimulator) -> int:
    return len(simulator.meter.journals[6])


def meter_gmac(simulator: DlmsSimulator, index: int = 0) -> GmacSecurity | None:
    """The HLS-GMAC side of a meter's configurator, if it has one."""
    levels = simulator.levels[index]
    hls = None if levels is None else levels[48].hls
    return hls if isinstance(hls, GmacSecurity) else None


# --- our client --------------------------------------------------------------------------------


@TRANSPORTS
async def test_the_configurator_associates_with_hls_gmac_and_reads_the_clock(
    transport: str,
) -> None:
    gmac = our_gmac()
    async with simulated(transport) as sim:
        meter = meter_gmac(sim)
        assert meter is not None
        assert meter.system_title == system_title(SERIAL)
        for round_ in (1, 2):  # one settings object: its counter goes on
            async with connect(tcp_port(sim), transport, ClientSettings(48, hls=gmac)) as c:
                assert c.association is not None
                assert c.association.mechanism is Mechanism.HLS_GMAC
                now = (await c.get(TIME)).as_datetime()
                assert now.to_utc() == START
                await c.set(POINT_DATA, Data(DataType.VISIBLE_STRING, f"TP-{round_}"))
            assert gmac.counter.next_value == 1 + round_
            assert meter.counter.next_value == 1 + round_  # the meter's, per meter
        assert unauthorised_accesses(sim) == 0


@TRANSPORTS
@pytest.mark.parametrize("wrong", ["ek", "ak"])
async def test_a_wrong_key_is_refused_and_journalled(transport: str, wrong: str) -> None:
    gmac = our_gmac(**{wrong: bytes(16)})
    async with simulated(transport) as sim:
        with pytest.raises(AuthenticationError, match=r"refused our f\(StoC\)") as caught:
            async with connect(tcp_port(sim), transport, ClientSettings(48, hls=gmac)):
                pass
        assert bytes(16).hex() not in str(caught.value)
        assert unauthorised_accesses(sim) == 1  # journal 6, as for a wrong LLS password
        async with connect(tcp_port(sim), transport, ClientSettings(48, hls=our_gmac())) as c:
            await c.get(TIME)  # the right key still works


@TRANSPORTS
async def test_lls_at_an_hls_configurator_is_refused_the_reader_keeps_lls(
    transport: str,
) -> None:
    async with simulated(transport) as sim:
        with pytest.raises(AuthenticationError, match="diagnostic 11"):
            async with connect(tcp_port(sim), transport,
                               ClientSettings(48, DEFAULT_SECRETS[48])):
                pass
        async with connect(tcp_port(sim), transport,
                           ClientSettings(32, DEFAULT_SECRETS[32])) as reader:
            await reader.get(TIME)


@dataclass
class TitleSwapper:
    """A meter hook that names one title in its AARE and computes f(CtoS) under another:
    what a client sees from a meter with another key or title."""

    inner: GmacSecurity
    system_title: bytes = field(default=b"ISU\x00\x00\x00\x00\x09")

    @property
    def mechanism(self) -> Mechanism:
        return self.inner.mechanism

    def challenge(self) -> bytes:
        return self.inner.challenge()

    def verify(self, stoc: bytes, reply: bytes, client_title: bytes) -> bool:
        return self.inner.verify(stoc, reply, client_title)

    def reply(self, ctos: bytes) -> bytes:
        return self.inner.reply(ctos)


@asynccontextmanager
async def wrapper_meter(levels: dict[int, Level]) -> AsyncIterator[DlmsTcpServer]:
    meter = SpodesMeter(SpodesSettings(serial=SERIAL, history_days=0), clock=ManualClock(START))
    objects = SpodesObjects(meter)
    server = DlmsTcpServer(lambda: WrapperServer(Application(objects, levels)), kind="wrapper")
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def test_a_meter_f_ctos_that_does_not_check_out() -> None:
    levels = default_levels(TitleSwapper(gmac_server(SERIAL)))
    async with wrapper_meter(levels) as server:
        with pytest.raises(AuthenticationError, match=r"f\(CtoS\) does not check out"):
            async with connect(tcp_port(server), "wrapper", ClientSettings(48, hls=our_gmac())):
                pass


def test_an_hls_gmac_aarq_without_the_client_title_is_rejected() -> None:
    meter = SpodesMeter(SpodesSettings(serial=SERIAL, history_days=0), clock=ManualClock(START))
    application = Application(SpodesObjects(meter), default_levels(gmac_server(SERIAL)))
    aarq = AarqApdu(InitiateRequest(DEFAULT_CONFORMANCE, 0xFFFF), mechanism=Mechanism.HLS_GMAC,
                    calling_authentication_value=b"K56iVagY")
    answer = application.handle(48, aarq.to_bytes())
    assert answer is not None
    aare = AareApdu.from_bytes(answer)
    assert aare.result is AssociationResult.REJECTED_PERMANENT
    assert aare.diagnostic == UserDiagnostic.NO_REASON
    assert isinstance(aare.error(), RemoteProtocolError)


async def test_the_titles_stay_out_of_the_trace_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRACE, logger="drivers.dlms.link")
    async with simulated("hdlc") as sim, connect(tcp_port(sim), "hdlc",
                                                 ClientSettings(48, hls=our_gmac())):
        pass
    traces = " ".join(record.getMessage() for record in caplog.records)
    assert " 8b 07 60 85 74 05 08 02 05 " in traces  # the HLS-GMAC AARQ is there…
    assert CLIENT_TITLE.hex(" ") not in traces  # …without our title


def test_isu_sim_dlms_configurator_option() -> None:
    parser = argparse.ArgumentParser(prog="isu sim")
    add_sim_arguments(parser)
    clock = ManualClock(START)
    default = build_simulator(parser.parse_args(["dlms"]), clock)
    assert meter_gmac(default) is None
    gmac = build_simulator(parser.parse_args(["dlms", "--configurator", "hls-gmac",
                                              "--meters", "2"]), clock)
    titles = [meter_gmac(gmac, index) for index in (0, 1)]
    assert [None if each is None else each.system_title for each in titles] == [
        system_title("50000016"), system_title("50000017")]
    with pytest.raises(SystemExit):
        parser.parse_args(["dlms", "--configurator", "hls"])


# --- the peer: gurux_dlms as the configurator (test only, GPLv2) ------------------------------

gurux = pytest.importorskip("gurux_dlms")


def _gurux_reads_the_clock(port: int, transport: str, authentication_key: bytes) -> Any:
    """gurux's own frames over a plain socket: (SNRM/UA,) AARQ/AARE, the HLS ACTION, GET
    clock.time, RLRQ (, DISC). Returns the clock's GXDateTime."""
    from gurux_dlms import GXByteBuffer, GXReplyData
    from gurux_dlms.enums import Authentication, InterfaceType, Security
    from gurux_dlms.objects import GXDLMSClock
    from gurux_dlms.secure import GXDLMSSecureClient

    hdlc = transport == "hdlc"
    # HDLC server address: logical device 1, physical 0x10 (gurux's (logical << 7) | physical)
    client = GXDLMSSecureClient(True, 48, (1 << 7) | 0x10 if hdlc else 1,
                                Authentication.HIGH_GMAC, None,
                                InterfaceType.HDLC if hdlc else InterfaceType.WRAPPER)
    assert client.ciphering.security == Security.NONE  # authentication only: plain xDLMS
    client.ciphering.systemTitle = CLIENT_TITLE
    client.ciphering.blockCipherKey = TEST_BLOCK_CIPHER_KEY
    client.ciphering.authenticationKey = authentication_key
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:

        def exchange(frames: Any) -> Any:
            reply = GXReplyData()
            for frame in frames if isinstance(frames, list) else [frames]:
                sock.sendall(bytes(frame))
                received = GXByteBuffer()
                while not client.getData(received, reply, GXReplyData()):
                    chunk = sock.recv(4096)
                    assert chunk, "the simulator closed the connection"
                    received.set(chunk)
            return reply

        if hdlc:
            client.parseUAResponse(exchange(client.snrmRequest()).data)
        client.parseAareResponse(exchange(client.aarqRequest()).data)
        assert client.isAuthenticationRequired
        assert bytes(client.sourceSystemTitle) == system_title(SERIAL)
        client.parseApplicationAssociationResponse(
            exchange(client.getApplicationAssociationRequest()).data)
        clock = GXDLMSClock("0.0.1.0.0.255")
        client.updateValue(clock, 2, exchange(client.read(clock, 2)).value)
        exchange(client.releaseRequest())
        if hdlc:
            exchange(client.disconnectRequest())
    return clock.time


@TRANSPORTS
async def test_gurux_associates_with_hls_gmac_and_reads_the_clock(transport: str) -> None:
    async with simulated(transport) as sim:
        time = await asyncio.to_thread(_gurux_reads_the_clock, tcp_port(sim), transport,
                                       TEST_AUTHENTICATION_KEY)
        assert time.value == START
        assert unauthorised_accesses(sim) == 0


async def test_gurux_with_a_wrong_key_is_refused() -> None:
    async with simulated("wrapper") as sim:
        # the meter answers read-write-denied to the ACTION; gurux raises a bare Exception
        with pytest.raises(Exception, match="parseApplicationAssociationResponse failed"):
            await asyncio.to_thread(_gurux_reads_the_clock, tcp_port(sim), "wrapper", bytes(16))
        assert unauthorised_accesses(sim) == 1
