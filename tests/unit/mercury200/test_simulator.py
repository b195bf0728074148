"""Properties of the simulated Mercury 200 meter: registers never decrease, energy goes to the
zone of the meter's own clock, month snapshots are taken at the month change, answers are the
codec's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ChecksumError, ConfigError
from core.obis import EnergyKind
from core.tariffs import SINGLE_RATE, TWO_ZONE
from drivers.mercury.m200.answer import decode_answer
from drivers.mercury.m200.frame import Command, MeterModel, Request, Response
from drivers.mercury.m200.values import EnergyTariffs, MeterClock
from simulators.mercury200 import Bus200, Meter200Settings, SimulatedMeter200, answer_data
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.load import ConstantLoad

# 2024-03-14 09:30 UTC is 12:30 in Moscow (UTC+3): day zone T1 of the two-zone schedule.
START = datetime(2024, 3, 14, 9, 30, tzinfo=UTC)


def _meter(clock: ManualClock, **overrides: object) -> SimulatedMeter200:
    options: dict[str, object] = {"serial": 38030255, "seed": 1, "history_days": 3}
    options.update(overrides)
    return SimulatedMeter200(Meter200Settings(**options), clock=clock)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=15))
def test_registers_never_decrease(steps: list[int]) -> None:
    clock = ManualClock(START)
    meter = _meter(clock)
    before = meter.units(EnergyKind.A_PLUS)
    for step in steps:
        clock.advance(step)
        after = meter.units(EnergyKind.A_PLUS)
        assert all(b >= a for a, b in zip(before, after, strict=True))
        before = after


def test_energy_goes_to_the_zone_of_the_meter_clock() -> None:
    clock = ManualClock(START)
    meter = SimulatedMeter200(Meter200Settings(1, history_days=0), clock=clock,
                              load=ConstantLoad(p_w=1000.0))
    day = meter.units()
    clock.advance(3600)  # 12:30 → 13:30 local: day zone T1
    after_day = meter.units()
    assert after_day[0] - day[0] == 100  # 1 kWh = 100 units of 10 Wh
    assert after_day[1:] == day[1:]
    clock.set(datetime(2024, 3, 14, 20, 30, tzinfo=UTC))  # 23:30 local: night zone T2
    night = meter.units()
    clock.advance(1800)
    assert meter.units()[1] - night[1] == 50
    assert meter.units()[0] == night[0]


def test_drift_moves_the_zone_switch() -> None:
    clock = ManualClock(datetime(2024, 3, 14, 19, 59, tzinfo=UTC))  # 22:59 true local
    meter = SimulatedMeter200(Meter200Settings(1, history_days=0, drift_s=120.0), clock=clock,
                              load=ConstantLoad(p_w=3600.0))
    assert meter.zone_at(clock()) == TWO_ZONE.zone_at(datetime(2024, 3, 14, 23, 1).time())


def test_month_snapshot_is_taken_at_the_month_change() -> None:
    clock = ManualClock(datetime(2024, 3, 31, 20, 0, tzinfo=UTC))  # 23:00 local, 31 March
    meter = SimulatedMeter200(Meter200Settings(1, history_days=0), clock=clock,
                              load=ConstantLoad(p_w=1000.0))
    clock.set(datetime(2024, 3, 31, 21, 0, tzinfo=UTC))  # 00:00 local, 1 April
    at_month_end = meter.units()
    clock.advance(7200)
    assert meter.snapshots[3] == at_month_end
    answer = answer_data(meter, Request.monthly(meter.address, 3))
    assert answer is not None
    assert EnergyTariffs.from_bytes(answer).units[:2] == at_month_end[:2]


def test_earlier_snapshots_never_exceed_later_ones() -> None:
    clock = ManualClock(START)
    meter = _meter(clock, history_days=40)
    order = [(START.month - back - 1) % 12 + 1 for back in range(12, 0, -1)]
    series = [sum(meter.snapshots[month]) for month in order]
    assert series == sorted(series)
    assert series[-1] <= sum(meter.units())


def test_unused_zones_answer_ff_and_unknown_requests_silence() -> None:
    clock = ManualClock(START)
    meter = _meter(clock, schedule=SINGLE_RATE)
    data = answer_data(meter, Request(meter.address, Command.ENERGY))
    assert data is not None
    assert data[4:] == b"\xff" * 12
    assert answer_data(meter, Request(meter.address, 0x37)) is None
    assert answer_data(meter, Request(meter.address, Command.MONTHLY_ENERGY, b"\x0c")) is None
    m200 = _meter(clock, serial=411486, model=MeterModel.M200_02)
    assert m200.address == 411486
    assert answer_data(m200, Request(m200.address, Command.REACTIVE_ENERGY)) is None


def test_clock_answer_carries_the_drift() -> None:
    clock = ManualClock(START)
    meter = _meter(clock, drift_s=-75.0)
    data = answer_data(meter, Request(meter.address, Command.CLOCK))
    assert data is not None
    shown = decode_answer(Request(meter.address, Command.CLOCK), data)
    assert isinstance(shown, MeterClock)
    assert shown.local == datetime(2024, 3, 14, 12, 28, 45)


def test_bus_faults_and_addressing() -> None:
    clock = ManualClock(START)
    first, second = _meter(clock), _meter(clock, serial=38030256)
    bus = Bus200([first, second])
    assert bus.respond(Request(12345, Command.ENERGY)) is None
    first.fault = Fault(FaultMode.CORRUPT_CRC)
    outcome = bus.respond(Request(first.address, Command.BATTERY))
    assert outcome is not None
    assert outcome.reply is not None
    with pytest.raises(ChecksumError):  # corrupted, still sent
        Response.from_bytes(outcome.reply)
    with pytest.raises(ConfigError, match="two meters"):
        Bus200([first, _meter(clock)])
    with pytest.raises(ConfigError):
        Meter200Settings(1, fault=Fault(FaultMode.INTERNAL_ERROR))
    assert first.instant()["voltage_v"] > Decimal(200)
    assert first.snapshot()["registers_10wh"]["A+"] == list(first.units())
    first.record_event("cover_close", START - timedelta(minutes=5))
    assert first.snapshot()["events"]["cover_close"] == "2024-03-14T12:25:00"


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=365 * 24 * 60), st.integers(min_value=1, max_value=240),
       st.floats(min_value=-600, max_value=600))
def test_each_stretch_goes_to_the_zone_in_force(start_min: int, span_min: int,
                                                drift_s: float) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=start_min)
    clock = ManualClock(start)
    meter = SimulatedMeter200(Meter200Settings(1, history_days=0, drift_s=drift_s), clock=clock,
                              load=ConstantLoad(p_w=6000.0))
    before = meter.units()
    grown = [0, 0, 0, 0]
    for _ in range(span_min):
        zone = meter.zone_at(clock())
        edge = meter.zone_at(clock() + timedelta(minutes=1))
        clock.advance(60)
        after = meter.units()
        changed = {z for z in range(1, 5) if after[z - 1] != before[z - 1]}
        assert changed <= {zone, edge}  # a minute that straddles a switch feeds both
        for z in range(4):
            grown[z] += after[z] - before[z]
        before = after
    assert set(TWO_ZONE.zones) >= {z + 1 for z in range(4) if grown[z]}
