"""Cross-check with a second client: ``dlms-cosem`` (PyPI, Business Source License, a
test-only peer, never shipped) reads the simulated SPODES meter over TCP with its blocking IO
(``BlockingTcpIO`` under the wrapper transport, or under ``HdlcTransport`` for HDLC), as the
reader (SAP 32, LLS): identity, the clock with its deviation and status, registers with their
scaler-unit, a day of the load profile by range, and journal 4 after a terminal-cover event;
``session()`` then releases (RLRQ with its InitiateRequest) and disconnects (HDLC: DISC).

dlms-cosem 25.1.0 limits met here, worked around and noted in docs/dlms.md ("Peers"):

- a server physical address above 127 comes out in an illegal 3-byte form unless
  ``extended_addressing=True`` (notes §5.4): set when the address needs 4 bytes;
- no SNRM parameters: it proposes nothing and sends 128-byte frames (the simulator's
  defaults), and it answers each segment with RR;
- ``EntryDescriptor.to_bytes()`` is not implemented: the journal is read by range too;
- the wrapper transport is ``TcpTransport`` in 25.1 (``IPTransport`` from 2026.1);
- it logs every frame through structlog at debug level: quietened here;
- a deviation of 0 decodes as a naive datetime, like "not specified" (notes §5.7): the
  simulated Moscow meter sends −180, so it does not bite; its writes of clock status 00
  (PR #85) are not used (reads only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
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

dlms_cosem = pytest.importorskip("dlms_cosem")
dc_client = pytest.importorskip("dlms_cosem.client")
dc_io = pytest.importorskip("dlms_cosem.io")
dc_security = pytest.importorskip("dlms_cosem.security")
dc_cosem = pytest.importorskip("dlms_cosem.cosem")
dc_capture = pytest.importorskip("dlms_cosem.cosem.capture_object")
dc_selective = pytest.importorskip("dlms_cosem.cosem.selective_access")
dc_enums = pytest.importorskip("dlms_cosem.enumerations")
dc_time = pytest.importorskip("dlms_cosem.time")
dc_utils = pytest.importorskip("dlms_cosem.utils")
structlog = pytest.importorskip("structlog")

START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
READER = 32


@pytest.fixture(autouse=True)
def quiet_dlms_cosem() -> Iterator[None]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    yield
    structlog.reset_defaults()


def attribute(class_id: int, obis: str, index: int) -> Any:
    a, b, c, d, e, f = (int(part) for part in obis.split("."))
    return dc_cosem.CosemAttribute(dc_enums.CosemInterface(class_id),
                                   dc_cosem.Obis(a, b, c, d, e, f), index)


def by_range(start: datetime, end: datetime) -> Any:
    clock = dc_capture.CaptureObject(attribute(8, "0.0.1.0.0.255", 2))
    return dc_selective.RangeDescriptor(restricting_object=clock, from_value=start, to_value=end)


def stamp(raw: bytes) -> datetime:
    moment, _ = dc_time.datetime_from_bytes(bytes(raw))
    assert isinstance(moment, datetime)
    return moment


def read_with_dlms_cosem(port: int, transport: str, physical: int, day: datetime,
                         now: datetime) -> dict[str, Any]:
    """Everything the test compares, read by dlms-cosem in one association."""
    io = dc_io.BlockingTcpIO("127.0.0.1", port, timeout=5)
    link: Any
    if transport == "wrapper":
        wrapper = getattr(dc_io, "IPTransport", None) or dc_io.TcpTransport
        link = wrapper(client_logical_address=READER, server_logical_address=1, io=io,
                       timeout=5)
    else:
        link = dc_io.HdlcTransport(client_logical_address=READER, server_logical_address=1,
                                   server_physical_address=physical, io=io, timeout=5,
                                   extended_addressing=physical > 0x7F)
        assert len(link.server_hdlc_address.to_bytes()) in (2, 4)
    secret = DEFAULT_SECRETS[READER]
    client = dc_client.DlmsClient(
        transport=link, authentication=dc_security.LowLevelSecurityAuthentication(secret),
        timeout=5)

    def get(ref: Any, access: Any = None) -> Any:
        return dc_utils.parse_as_dlms_data(client.get(ref, access_descriptor=access))

    seen: dict[str, Any] = {}
    try:
        with client.session():
            seen["serial"] = get(attribute(1, "0.0.96.1.0.255", 2))
            seen["model"] = bytes(get(attribute(1, "0.0.96.1.1.255", 2)))
            seen["time"] = dc_time.datetime_from_bytes(bytes(get(attribute(8, "0.0.1.0.0.255",
                                                                           2))))
            seen["time_zone"] = get(attribute(8, "0.0.1.0.0.255", 3))
            seen["registers"] = {
                obis: (get(attribute(3, obis, 2)), get(attribute(3, obis, 3)))
                for obis in ("1.0.1.8.0.255", "1.0.1.8.1.255", "1.0.4.8.0.255", "1.0.32.7.0.255")
            }
            profile = "1.0.99.1.0.255"
            seen["columns"] = [(c, bytes(o), a, i)
                               for c, o, a, i in get(attribute(7, profile, 3))]
            seen["period_s"] = get(attribute(7, profile, 4))
            period = timedelta(seconds=seen["period_s"])
            seen["profile"] = get(attribute(7, profile, 2),
                                  by_range(day + period, day + timedelta(days=1)))
            seen["journal"] = get(attribute(7, "0.0.99.98.4.255", 2),
                                  by_range(now - timedelta(days=1), now))
    finally:
        io.disconnect()  # no-op after session(); closes the socket if it failed midway
    return seen


@asynccontextmanager
async def simulated(transport: str, physical: int) -> AsyncIterator[DlmsSimulator]:
    meter = SpodesMeter(SpodesSettings(serial="50000043", seed=4, history_days=2),
                        clock=ManualClock(START))
    async with DlmsSimulator(meter, transport=transport, physical=physical) as simulator:
        yield simulator


@pytest.mark.parametrize(("transport", "physical"), [
    ("wrapper", 0x10),
    ("hdlc", 0x10),
    ("hdlc", 1000),  # the 4-byte server address, with extended_addressing (notes §5.4)
])
async def test_dlms_cosem_reads_the_simulator(transport: str, physical: int) -> None:
    async with simulated(transport, physical) as simulator:
        meter = simulator.meter
        meter.open_cover()  # journal 4, code 3, now
        now = meter.meter_time()
        day = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert simulator.tcp is not None
        seen = await asyncio.to_thread(read_with_dlms_cosem, simulator.tcp.port, transport,
                                       physical, day, now)
        # the peer released the association (RLRQ) and, on HDLC, the link (DISC)
        link: Any = simulator.tcp.last_link
        assert link.application.level is None
        assert transport == "wrapper" or not link.connected
        instant = meter.instant()
        energy = {obis: meter.register(kind, zone) for obis, kind, zone in (
            ("1.0.1.8.0.255", EnergyKind.A_PLUS, 0), ("1.0.1.8.1.255", EnergyKind.A_PLUS, 1),
            ("1.0.4.8.0.255", EnergyKind.R_MINUS, 0))}
        profile = meter.entries_of(meter.load_profile)
        journal = meter.entries_of(meter.journals[EXTERNAL])

    assert seen["serial"] == meter.settings.serial
    assert seen["model"].decode("cp1251") == meter.settings.model

    # the clock: local time with deviation −180 (dlms-cosem negates it into UTC+3), status 00
    time, status = seen["time"]
    assert time == now
    assert time.utcoffset() == now.utcoffset() == timedelta(hours=3)
    assert status.to_bytes() == b"\x00"
    assert seen["time_zone"] == -180

    # value × 10^scaler against the meter's own state
    for obis, wh in energy.items():
        value, (scaler, unit) = seen["registers"][obis]
        assert (scaler, unit) == (0, 32 if obis.startswith("1.0.4.") else 30)
        assert Decimal(value).scaleb(scaler) == wh
    value, (scaler, unit) = seen["registers"]["1.0.32.7.0.255"]
    assert (scaler, unit) == (-2, 35)
    assert Decimal(value).scaleb(scaler) == instant.u1.quantize(Decimal("0.01"), ROUND_DOWN)

    # a day of load profile: one row per capture period, on the boundaries, as captured
    period_s = meter.settings.profile_period_s
    assert seen["period_s"] == period_s
    assert seen["columns"] == [(8, bytes((0, 0, 1, 0, 0, 255)), 2, 0),
                               *[(3, bytes((1, 0, c, 29, 0, 255)), 2, 0) for c in (1, 2, 3, 4)]]
    rows = seen["profile"]
    assert len(rows) == 86400 // period_s
    stamps = [stamp(row[0]) for row in rows]
    assert stamps == [day + timedelta(seconds=period_s * (n + 1)) for n in range(len(rows))]
    recorded = [(entry.stamp, entry.values) for entry in profile
                if day < entry.stamp <= day + timedelta(days=1)]
    assert [(stamp(row[0]), tuple(row[1:])) for row in rows] == recorded

    # journal 4 over the last day, ending with the cover just opened
    since = now - timedelta(days=1)
    assert [(stamp(row[0]), row[1], row[2]) for row in seen["journal"]] == [
        (e.stamp, e.code, e.operating_s) for e in journal if since <= e.stamp <= now]
    assert (stamp(seen["journal"][-1][0]), seen["journal"][-1][1]) == (now, 3)
