"""The production mercury230 driver against the simulator over TCP: journals, snapshots,
profile and clock correction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.errors import ConfigError
from core.model import ReadingItem, Stream
from core.obis import EnergyKind, energy_obis
from drivers.base import MeterEndpoint
from drivers.mercury.driver import Mercury230Driver
from drivers.mercury.errors import ClockCorrectedTodayError
from drivers.transport.tcp import open_tcp
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.fleet import SimulatorFleet, make_meters
from simulators.mercury230.meter import SimulatedMeter

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
MOSCOW = ZoneInfo("Europe/Moscow")


@asynccontextmanager
async def driver_for(
    meter: SimulatedMeter, clock: ManualClock, **options: object
) -> AsyncIterator[Mercury230Driver]:
    async with SimulatorFleet.single_bus([meter]) as fleet:
        stream = await open_tcp("127.0.0.1", fleet.buses[0].port)
        endpoint = MeterEndpoint(meter_id="m", protocol="mercury230", address=meter.address,
                                 timeout_s=2.0, options=dict(options))
        try:
            yield Mercury230Driver(stream, endpoint, now=clock)
        finally:
            await stream.close()


async def test_events_from_history_and_on_demand() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=4, history_days=7)
    meter.open_cover(120)
    meter.magnetic_field(60)
    clock.advance(600)
    async with driver_for(meter, clock) as driver:
        result = await driver.read([Stream.EVENTS])
    assert result.errors == {}
    events = result.events
    assert events == sorted(events, key=lambda item: item.ts)
    texts = [item.text for item in events]
    assert texts.count("Выключение ПУ") == 3
    assert texts.count("Включение ПУ") == 4
    assert "Вскрытие крышки клеммной колодки" in texts
    assert "Закрытие крышки клеммной колодки" in texts
    assert "Воздействие магнитного поля — начало" in texts
    cover = next(item for item in events if item.journal == "mercury230:12" and item.code == 1)
    assert cover.ts == START
    assert cover.critical
    assert cover.kind == "Внешние воздействия"
    phases = {item.phase for item in events if item.journal in ("mercury230:03", "mercury230:05")}
    assert phases == {1, 3}
    assert all(item.ts >= START - timedelta(days=7) for item in events)


async def test_events_since_only_new_ones() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=4, history_days=7)
    clock.advance(60)
    meter.power_failure(120)
    clock.advance(600)
    async with driver_for(meter, clock) as driver:
        result = await driver.read([Stream.EVENTS], since=START)
    assert [(item.journal, item.code, item.ts) for item in result.events if
            item.journal == "mercury230:01"] == [
        ("mercury230:01", 2, START + timedelta(seconds=60)),
        ("mercury230:01", 1, START + timedelta(seconds=180)),
    ]
    assert {item.journal for item in result.events} == {
        "mercury230:01", "mercury230:03", "mercury230:04", "mercury230:05"
    }


def _by_ts(items: list[ReadingItem]) -> dict[datetime, dict[str, Decimal]]:
    table: dict[datetime, dict[str, Decimal]] = {}
    for item in items:
        table.setdefault(item.ts, {})[item.obis] = item.value
    return table


def _expected(registers: dict[EnergyKind, dict[int, int]]) -> dict[str, Decimal]:
    return {energy_obis(kind, zone): Decimal(wh).scaleb(-3)
            for kind, zones in registers.items() for zone, wh in zones.items()}


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=MOSCOW).astimezone(UTC)


async def test_daily_and_monthly_snapshots_with_archives() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=9, history_days=40, extended_archives=True)
    async with driver_for(meter, clock) as driver:
        latest = await driver.read([Stream.DAILY, Stream.MONTHLY])
        ten = await driver.read([Stream.DAILY], since=START - timedelta(days=10))
        months = await driver.read([Stream.MONTHLY], since=START - timedelta(days=40))
    assert latest.errors == {}
    daily = meter.archive.daily
    assert _by_ts(latest.readings[Stream.DAILY]) == {
        _utc_midnight(date(2024, 3, 1)): _expected(daily[date(2024, 3, 1)])
    }
    assert _by_ts(latest.readings[Stream.MONTHLY]) == {
        _utc_midnight(date(2024, 3, 1)): _expected(meter.archive.monthly[date(2024, 3, 1)])
    }
    table = _by_ts(ten.readings[Stream.DAILY])
    assert len(table) == 10
    for ts, values in table.items():
        assert values == _expected(daily[ts.astimezone(MOSCOW).date()])
    assert sorted(_by_ts(months.readings[Stream.MONTHLY])) == [
        _utc_midnight(date(2024, 2, 1)), _utc_midnight(date(2024, 3, 1))
    ]


async def test_daily_without_archives_is_today_and_yesterday() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=9, history_days=10)
    async with driver_for(meter, clock, zones=[]) as driver:
        result = await driver.read([Stream.DAILY], since=START - timedelta(days=5))
        info = await driver.read([Stream.INFO])
    assert sorted(_by_ts(result.readings[Stream.DAILY])) == [
        _utc_midnight(date(2024, 2, 29)), _utc_midnight(date(2024, 3, 1))
    ]
    fields = {item.field: item.value for item in info.info}
    assert fields["extended_archives"] == "false"
    assert fields["meter_constant"] == "500"


async def test_no_snapshot_since_the_last_one_read_is_an_empty_answer_not_an_error() -> None:
    # Polled again before the next midnight (the next 1st): nothing new, and nothing to warn of.
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=9, history_days=10)
    last_day = _utc_midnight(date(2024, 3, 1))
    async with driver_for(meter, clock) as driver:
        result = await driver.read([Stream.DAILY, Stream.MONTHLY],
                                   since=last_day + timedelta(microseconds=1))
    assert result.errors == {}
    assert result.readings.get(Stream.DAILY, []) == []
    assert result.readings.get(Stream.MONTHLY, []) == []


async def test_a_day_of_profile_adds_up_to_the_snapshot_delta() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=2, history_days=3)
    day = date(2024, 2, 28)
    async with driver_for(meter, clock) as driver:
        result = await driver.read([Stream.INTERVAL], since=_utc_midnight(day),
                                   until=_utc_midnight(day + timedelta(days=1)))
    assert result.errors == {}
    items = result.readings[Stream.INTERVAL]
    a_plus = [item for item in items if item.obis == "1.0.1.29.0.255"]
    assert len(a_plus) == 48
    assert a_plus[0].ts == _utc_midnight(day)
    assert all(item.period_s == 1800 for item in a_plus)
    delta = (meter.archive.daily[day + timedelta(days=1)][EnergyKind.A_PLUS][0]
             - meter.archive.daily[day][EnergyKind.A_PLUS][0])
    total_wh = sum(item.value for item in a_plus) * 1000  # A = 500: one count is 1 Wh
    assert abs(total_wh - delta) <= 48


async def test_a_power_failure_leaves_a_hole_and_incomplete_slices() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=2, history_days=1)
    clock.advance(600)
    meter.power_failure(5400)  # 12:10 to 13:40 Moscow time
    clock.advance(4 * 3600)
    async with driver_for(meter, clock) as driver:
        result = await driver.read([Stream.INTERVAL], since=START - timedelta(hours=1),
                                   until=START + timedelta(hours=3))
    a_plus = {item.ts: item for item in result.readings[Stream.INTERVAL]
              if item.obis == "1.0.1.29.0.255"}
    half = timedelta(minutes=30)
    assert a_plus[START - half].quality == "ok"
    assert a_plus[START].quality == "incomplete"  # the power failed at 12:10
    assert START + half not in a_plus  # wholly without supply: never written, skipped
    assert START + 2 * half not in a_plus
    assert a_plus[START + 3 * half].quality == "incomplete"  # back at 13:40
    assert a_plus[START + 4 * half].quality == "ok"
    assert a_plus[START + 4 * half].value > 0


async def test_profile_of_an_old_firmware_meter_wraps_its_byte_addresses() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=2, history_days=3, firmware=(8, 0, 0),
                          profile_period_min=1)
    assert meter.profile is not None
    assert meter.profile.records == 4096
    assert meter.profile.wrapped  # 3 days of minutes > 4096 records
    async with driver_for(meter, clock) as driver:
        result = await driver.read([Stream.INTERVAL], since=START - timedelta(minutes=90))
    starts = sorted({item.ts for item in result.readings[Stream.INTERVAL]})
    assert len(starts) == 90
    assert starts[-1] == START - timedelta(minutes=1)


async def test_clock_correction_once_a_day_and_journalled() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=2, history_days=0, drift_s=90)
    async with driver_for(meter, clock) as driver:
        await driver.correct_clock(-90)
        assert meter.drift_s == 0
        with pytest.raises(ClockCorrectedTodayError, match="meter m"):
            await driver.correct_clock(10)
        with pytest.raises(ConfigError, match="240"):
            await driver.correct_clock(300)
        clock.advance(86400)
        await driver.correct_clock(5)
        result = await driver.read([Stream.EVENTS, Stream.CLOCK], since=START)
    assert meter.drift_s == 5
    corrections = [item for item in result.events if item.journal == "mercury230:02"]
    # Stamps are the meter's own times: "before" the first one ran 90 s fast.
    assert [(item.code, item.ts) for item in corrections] == [
        (2, START), (1, START + timedelta(seconds=90)),
        (1, START + timedelta(days=1)), (2, START + timedelta(days=1, seconds=5)),
    ]
    assert result.clock[0].drift_s == 5


async def test_event_commands_through_the_control_port() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=2, history_days=0, drift_s=30)
    async with SimulatorFleet.single_bus([meter], control=("127.0.0.1", 0)) as fleet:
        assert fleet.control is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", fleet.control.port)

        async def command(document: dict[str, object]) -> dict[str, object]:
            writer.write(json.dumps(document).encode() + b"\n")
            await writer.drain()
            answer: dict[str, object] = json.loads(await reader.readline())
            return answer

        try:
            assert (await command({"cmd": "open_cover", "meter": 1, "seconds": 30}))["ok"]
            assert (await command({"cmd": "magnetic_field", "meter": "*"}))["ok"]
            assert (await command({"cmd": "power_failure", "meter": 1, "seconds": 120}))["ok"]
            assert not meter.powered()
            answer = await command({"cmd": "correct_clock", "meter": 1, "delta_s": -30})
            assert answer == {"ok": True, "corrected": {meter.meter_id: True}}
            again = await command({"cmd": "correct_clock", "meter": 1, "delta_s": 5})
            assert again == {"ok": True, "corrected": {meter.meter_id: False}}
            too_far = await command({"cmd": "correct_clock", "meter": 1, "delta_s": 500})
            assert too_far["ok"] is False
        finally:
            writer.close()
    assert meter.journals.rings[0x12].last == 0
    assert meter.journals.rings[0x1A].last == 0
    assert meter.journals.rings[0x02].last == 0
    assert meter.outages == [(START, START + timedelta(seconds=120))]


async def test_profile_addresses_beyond_64_kb_use_a16() -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=2, history_days=4, profile_period_min=1)
    assert meter.profile is not None
    assert meter.profile.pointer().pointer * 16 > 0xFFFF  # 4 days of minutes, index mode
    async with driver_for(meter, clock, zones=[]) as driver:
        result = await driver.read([Stream.INTERVAL], since=START - timedelta(minutes=30))
    items = [item for item in result.readings[Stream.INTERVAL] if item.obis == "1.0.1.29.0.255"]
    assert len(items) == 30
    assert all(item.period_s == 60 for item in items)
