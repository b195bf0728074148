"""The ``dlms`` driver against the simulated SPODES meter over TCP (HDLC and the wrapper): every
stream compared with the simulator's own model, catch-up by range without gaps or repeats,
missing objects, clock correction with shift_time, refusals and a silent meter."""

from __future__ import annotations

import io
import itertools
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.errors import AuthenticationError, ConfigError, IsuError, TransportTimeoutError
from core.events import SPODES, describe, journal_name
from core.model import Stream
from core.obis import EnergyKind, energy_obis, interval_obis, parse_energy_obis
from drivers.base import MeterEndpoint, create_driver
from drivers.dlms.driver import DlmsDriver
from drivers.transport.tcp import open_tcp
from isu.cli import build_parser
from isu.read import run_read
from simulators.dlms.application import TEST_AUTHENTICATION_KEY, TEST_BLOCK_CIPHER_KEY
from simulators.dlms.cli import DlmsSimulator
from simulators.dlms.meter import SpodesMeter, SpodesSettings
from simulators.dlms.protocol import LineFaults
from simulators.mercury230.clock import ManualClock

START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
TRANSPORTS = pytest.mark.parametrize("transport", ["hdlc", "wrapper"])
BILLING = [energy_obis(EnergyKind.A_PLUS, zone) for zone in range(5)] + [
    energy_obis(kind, 0) for kind in (EnergyKind.A_MINUS, EnergyKind.R_PLUS, EnergyKind.R_MINUS)
]


@asynccontextmanager
async def simulated(transport: str, *, settings: SpodesSettings | None = None,
                    **options: Any) -> AsyncIterator[tuple[DlmsSimulator, ManualClock]]:
    clock = ManualClock(START)
    meter = SpodesMeter(settings or SpodesSettings(serial="50000016", history_days=40),
                        clock=clock)
    async with DlmsSimulator(meter, transport=transport, **options) as simulator:
        yield simulator, clock


@asynccontextmanager
async def driven(simulator: DlmsSimulator, clock: ManualClock, *, password: str | None = None,
                 timeout_s: float = 1.0, **options: Any) -> AsyncIterator[DlmsDriver]:
    assert simulator.tcp is not None
    stream = await open_tcp("127.0.0.1", simulator.tcp.port)
    address = 1 if simulator.transport == "wrapper" else simulator.physical
    endpoint = MeterEndpoint("flat-7", "dlms", address, password=password, timeout_s=timeout_s,
                             options={"transport": simulator.transport, **options})
    try:
        yield DlmsDriver(stream, endpoint, now=clock)
    finally:
        await stream.close()


def sent(value: Decimal, scaler: int) -> Decimal:
    """What the simulator puts on the wire for ``value`` with ``scaler``, read back."""
    return Decimal(int(value.scaleb(-scaler))).scaleb(scaler)


def wh(value: int) -> Decimal:
    return Decimal(value) / 1000


@TRANSPORTS
async def test_current_instant_clock_and_info_are_the_meters_own(transport: str) -> None:
    async with simulated(transport) as (sim, clock), driven(sim, clock) as driver:
        result = await driver.read([Stream.CURRENT, Stream.INSTANT, Stream.CLOCK, Stream.INFO])
    meter = sim.meter
    assert result.errors == {}
    current = {item.obis: item for item in result.readings[Stream.CURRENT]}
    assert set(current) == {energy_obis(kind, zone) for kind in EnergyKind for zone in range(5)}
    for kind in EnergyKind:
        for zone in range(5):
            item = current[energy_obis(kind, zone)]
            assert item.value == wh(meter.register(kind, zone))
            assert item.unit == kind.unit
            assert item.ts == START
    instant = {item.obis: item for item in result.readings[Stream.INSTANT]}
    values = meter.instant()
    assert instant["1.0.32.7.0.255"].value == sent(values.u1, -2)
    assert instant["1.0.32.7.0.255"].unit == "V"
    assert instant["1.0.1.7.0.255"].value == sent(values.p_sum, -2) / 1000  # W → kW
    assert instant["1.0.1.7.0.255"].unit == "kW"
    assert instant["1.0.13.7.0.255"].unit == "1"
    assert "1.0.12.7.0.255" not in instant  # single-phase codes this meter lacks are left out
    (reading,) = result.clock
    assert reading.meter_time == datetime(2024, 3, 5, 12, 0)  # Moscow wall time
    assert reading.drift_s == 0
    assert reading.season == "winter"
    info = {item.field: item.value for item in result.info}
    assert info["serial_number"] == "50000016"
    assert info["model"] == meter.settings.model  # cp1251 on the wire
    assert info["firmware"] == meter.settings.firmware
    assert info["manufactured"].startswith(meter.settings.manufactured.isoformat())
    assert info["logical_device_name"] == "ISU50000016"
    assert "ct_ratio" not in info  # the simulator has none: left out, not an error


@TRANSPORTS
async def test_history_streams_by_range_equal_the_meters_buffers(transport: str) -> None:
    since = datetime(2024, 2, 1, tzinfo=UTC)
    async with simulated(transport, block_size=512) as (sim, clock), \
            driven(sim, clock) as driver:
        result = await driver.read([Stream.DAILY, Stream.MONTHLY, Stream.INTERVAL,
                                    Stream.EVENTS], since=since)
    meter = sim.meter
    assert result.errors == {}
    period = meter.settings.profile_period_s
    expected_interval = {
        (interval_obis(kind), (entry.stamp - timedelta(seconds=period)).astimezone(UTC)):
            wh(entry.values[index])
        for entry in meter.load_profile for index, kind in enumerate(EnergyKind)
        if entry.stamp - timedelta(seconds=period) >= since
    }
    got = {(item.obis, item.ts): item.value for item in result.readings[Stream.INTERVAL]}
    assert got == expected_interval
    assert {item.period_s for item in result.readings[Stream.INTERVAL]} == {period}
    for stream, entries in ((Stream.DAILY, meter.daily), (Stream.MONTHLY, meter.monthly)):
        expected = {(name, entry.stamp.astimezone(UTC)): wh(value)
                    for entry in entries if entry.stamp >= since
                    for name, value in zip(BILLING, entry.values, strict=True)}
        assert expected, stream
        assert {(item.obis, item.ts): item.value for item in result.readings[stream]} == expected
    events = {(item.journal, item.code, item.ts) for item in result.events}
    expected_events = {
        (journal_name(SPODES, number), entry.code, entry.stamp.astimezone(UTC))
        for number, journal in meter.journals.items() for entry in journal
        if entry.stamp >= since
    }
    assert expected_events
    assert events == expected_events
    for item in result.events:
        known = describe(SPODES, int(item.journal.split(":")[1]), item.code)
        assert (item.kind, item.text, item.critical) == (known.kind.name, known.text,
                                                         known.critical)
    assert [item.ts for item in result.events] == sorted(item.ts for item in result.events)


async def test_defaults_read_the_last_snapshot_and_the_last_day_of_profile() -> None:
    async with simulated("wrapper") as (sim, clock), driven(sim, clock) as driver:
        result = await driver.read([Stream.DAILY, Stream.MONTHLY, Stream.INTERVAL])
    meter = sim.meter
    daily = {item.ts for item in result.readings[Stream.DAILY]}
    assert daily == {meter.daily[-1].stamp.astimezone(UTC)}
    monthly = {item.ts for item in result.readings[Stream.MONTHLY]}
    assert monthly == {meter.monthly[-1].stamp.astimezone(UTC)}
    starts = {item.ts for item in result.readings[Stream.INTERVAL]}
    assert min(starts) >= START - timedelta(days=1)
    assert len(starts) == 48  # 30-minute profile, the day before the read


async def test_catch_up_from_the_newest_item_leaves_no_gap_and_no_repeat() -> None:
    async with simulated("hdlc") as (sim, clock):
        seen: list[tuple[str, datetime]] = []
        since = START - timedelta(hours=6)
        for _ in range(4):
            async with driven(sim, clock) as driver:
                result = await driver.read([Stream.INTERVAL], since=since)
            items = result.readings[Stream.INTERVAL]
            seen += [(item.obis, item.ts) for item in items]
            if items:
                since = max(item.ts for item in items) + timedelta(microseconds=1)
            clock.advance(5 * 3600 + 17)
    assert len(seen) == len(set(seen))
    starts = sorted({ts for _, ts in seen})
    steps = {later - earlier for earlier, later in itertools.pairwise(starts)}
    assert steps == {timedelta(minutes=30)}
    assert starts[0] == START - timedelta(hours=6)
    assert starts[-1] >= START + timedelta(hours=14)


async def test_events_on_demand_are_read_after_the_mark() -> None:
    async with simulated("wrapper") as (sim, clock):
        async with driven(sim, clock) as driver:
            before = await driver.read([Stream.EVENTS], since=START)
        assert before.events == []
        clock.advance(60)
        sim.meter.open_cover()
        sim.meter.power_failure(120)
        clock.advance(600)
        async with driven(sim, clock) as driver:
            after = await driver.read([Stream.EVENTS], since=START)
    texts = [(item.journal, item.code) for item in after.events]
    assert ("spodes:4", 3) in texts
    assert ("spodes:2", 1) in texts
    assert ("spodes:2", 2) in texts
    cover = next(item for item in after.events if item.journal == "spodes:4")
    assert cover.critical
    assert cover.text == "Вскрытие пломбы крышки клеммной колодки"


async def test_missing_objects_are_left_out_not_failed() -> None:
    async with simulated("hdlc") as (sim, clock), \
            driven(sim, clock, zones=[1, 2, 3, 4, 5, 6], journals=[4, 9, 11, 40]) as driver:
        result = await driver.read([Stream.CURRENT, Stream.EVENTS],
                                   since=START - timedelta(days=3))
    assert result.errors == {}
    obis = {item.obis for item in result.readings[Stream.CURRENT]}
    assert energy_obis(EnergyKind.A_PLUS, 4) in obis
    assert energy_obis(EnergyKind.A_PLUS, 5) not in obis
    assert {item.journal for item in result.events} <= {"spodes:4"}


async def test_clock_shift_within_the_window() -> None:
    settings = SpodesSettings(serial="50000017", history_days=1, drift_s=-200.0)
    async with simulated("hdlc", settings=settings) as (sim, clock):
        async with driven(sim, clock) as driver:
            before = await driver.read([Stream.CLOCK])
            await driver.correct_clock(200)
            after = await driver.read([Stream.CLOCK, Stream.EVENTS], since=START)
        async with driven(sim, clock) as driver:
            with pytest.raises(ConfigError, match="900"):
                await driver.correct_clock(901)
    assert before.clock[0].drift_s == -200
    assert after.clock[0].drift_s == 0
    assert (journal_name(SPODES, 3), 68) in {(item.journal, item.code) for item in after.events}


@TRANSPORTS
async def test_a_wrong_password_is_refused_and_never_shown(transport: str) -> None:
    async with simulated(transport) as (sim, clock), \
            driven(sim, clock, password="wrong-secret") as driver:
        with pytest.raises(AuthenticationError) as refused:
            await driver.read([Stream.CURRENT])
    assert "wrong-secret" not in str(refused.value)
    assert str(refused.value).startswith("meter flat-7: ")


async def test_the_public_client_reads_registers_without_a_password() -> None:
    async with simulated("wrapper") as (sim, clock), driven(sim, clock, client=16) as driver:
        result = await driver.read([Stream.CURRENT, Stream.INTERVAL])
    assert {item.obis for item in result.readings[Stream.CURRENT]} >= {"1.0.1.8.0.255"}
    assert Stream.INTERVAL in result.errors  # profiles are for the reader and above (GOST Б.2)


async def test_a_silent_meter_fails_every_stream_with_a_timeout() -> None:
    def silent() -> LineFaults:
        return LineFaults(silent=True)

    async with simulated("hdlc", faults=silent) as (sim, clock), \
            driven(sim, clock, timeout_s=0.2, retries=0) as driver:
        with pytest.raises(TransportTimeoutError, match="flat-7"):
            await driver.read([Stream.CURRENT, Stream.CLOCK])


def test_options_are_checked_when_the_driver_is_built() -> None:
    class Unopened:
        description = "unopened"

    def build(address: int = 16, password: str | None = None, **options: Any) -> None:
        endpoint = MeterEndpoint(f"m-{len(options)}-{address}", "dlms", address,
                                 password=password, options=options)
        create_driver(Unopened(), endpoint)  # type: ignore[arg-type]

    build()
    build(1, transport="wrapper")
    with pytest.raises(ConfigError, match="unknown dlms option"):
        build(level=1)
    with pytest.raises(ConfigError, match="transport must be one of hdlc, wrapper"):
        build(transport="tcp")
    with pytest.raises(ConfigError, match="physical address"):
        build(5)
    with pytest.raises(ConfigError, match="needs system_title"):
        build(authentication="high_gmac", client=48)
    with pytest.raises(ConfigError, match="zones"):
        build(zones=[0])
    with pytest.raises(ConfigError, match="client 48 needs a password"):
        build(client=48)
    with pytest.raises(ConfigError, match="authentication is none"):
        build(client=16, password="x")


@TRANSPORTS
async def test_isu_read_protocol_dlms(transport: str) -> None:
    async with simulated(transport) as (sim, _clock):
        assert sim.tcp is not None
        address = "1" if transport == "wrapper" else str(sim.physical)
        argv = ["read", "--protocol", "dlms", "--transport", transport, "--tcp",
                f"127.0.0.1:{sim.tcp.port}", "--address", address, "--client", "32",
                "--password", "12345678", "--what", "current,info,events", "--from",
                "2024-01-01", "--json", "--meter-id", "flat-7"]
        out, err = io.StringIO(), io.StringIO()
        code = await run_read(build_parser().parse_args(argv), out=out, err=err)
    assert code == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    current = {line["obis"]: line for line in lines if line["stream"] == "current"}
    assert Decimal(current["1.0.1.8.0.255"]["value"]) == wh(
        sim.meter.register(EnergyKind.A_PLUS, 0))
    assert current["1.0.1.8.0.255"]["unit"] == "kWh"
    info = {line["field"]: line["value"] for line in lines if line["stream"] == "info"}
    assert info["serial_number"] == "50000016"
    events = [line for line in lines if line["stream"] == "events"]
    assert events
    assert {"journal", "code", "kind", "text", "critical"} <= set(events[0])


async def test_isu_read_refuses_dlms_options_for_another_protocol() -> None:
    argv = ["read", "--protocol", "mercury230", "--transport", "wrapper", "--tcp",
            "127.0.0.1:9", "--address", "1"]
    with pytest.raises(ConfigError, match="unknown mercury230 option"):
        await run_read(build_parser().parse_args(argv), out=io.StringIO(), err=io.StringIO())


async def test_broken_frames_give_the_right_values_or_typed_errors_only() -> None:
    def noisy() -> LineFaults:
        return LineFaults(corrupt_share=0.15, rng=random.Random(7))

    outcomes: list[str] = []
    async with simulated("hdlc", faults=noisy) as (sim, clock):
        for _ in range(6):
            async with driven(sim, clock, timeout_s=0.3) as driver:
                try:
                    result = await driver.read([Stream.CURRENT, Stream.INTERVAL])
                except IsuError as exc:
                    outcomes.append(exc.error_class)
                    continue
            for item in result.readings.get(Stream.CURRENT, []):
                kind, zone = parse_energy_obis(item.obis) or (None, 0)
                assert kind is not None
                assert item.value == wh(sim.meter.register(kind, zone))
            outcomes.append("ok" if not result.errors else "partial")
    assert "ok" in outcomes  # the link's polls recover most damaged answers


@TRANSPORTS
async def test_the_configurator_with_hls_gmac(transport: str) -> None:
    keys = f"{TEST_BLOCK_CIPHER_KEY.hex()}:{TEST_AUTHENTICATION_KEY.hex()}"
    wrong = f"{TEST_BLOCK_CIPHER_KEY.hex()}:{'11' * 16}"
    gmac = {"client": 48, "authentication": "high_gmac", "system_title": "4953554300000001"}
    async with simulated(transport, configurator="hls-gmac") as (sim, clock):
        for _ in range(2):  # the invocation counter goes on from read to read
            async with driven(sim, clock, password=keys, **gmac) as driver:
                result = await driver.read([Stream.CLOCK, Stream.CURRENT])
            assert result.errors == {}
            assert result.clock[0].drift_s == 0
        async with driven(sim, clock, password=wrong, **gmac) as driver:
            with pytest.raises(AuthenticationError) as refused:
                await driver.read([Stream.CLOCK])
    assert "11" * 16 not in str(refused.value)
    async with simulated(transport) as (sim, clock):
        with pytest.raises(ConfigError, match="block cipher key"):  # when the driver is built
            async with driven(sim, clock, password="00:11", **gmac):
                pass
