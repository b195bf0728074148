"""Properties of the simulated Mercury 230's registers over arbitrary clock advances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.obis import EnergyKind
from core.tariffs import SINGLE_RATE, THREE_ZONE, TWO_ZONE, ZoneSchedule
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.load import ConstantLoad, DailyLoad
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.settings import MeterSettings

SCHEDULES = st.sampled_from([SINGLE_RATE, TWO_ZONE, THREE_ZONE])
TIME_ZONES = st.sampled_from(
    ["Europe/Moscow", "Europe/Kaliningrad", "Asia/Yekaterinburg", "Asia/Vladivostok"]
)
STARTS = st.datetimes(
    min_value=datetime(2022, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
#: Steps from a second to three days, biased towards short ones that stay inside one zone.
STEPS = st.lists(
    st.one_of(
        st.floats(min_value=1, max_value=3600),
        st.floats(min_value=3600, max_value=3 * 86400),
    ),
    min_size=1,
    max_size=8,
)
DRIFTS = st.floats(min_value=-900, max_value=900)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_meter(
    start: datetime,
    *,
    schedule: ZoneSchedule = TWO_ZONE,
    time_zone: str = "Europe/Moscow",
    drift_s: float = 0.0,
    seed: int = 1,
    export_peak_kw: float = 0.0,
    kinds: frozenset[EnergyKind] = frozenset(EnergyKind),
) -> tuple[SimulatedMeter, ManualClock]:
    clock = ManualClock(start)
    meter_settings = MeterSettings(
        serial="40680048",
        schedule=schedule,
        time_zone=time_zone,
        drift_s=drift_s,
        seed=seed,
        history_days=0,
        energy_kinds=kinds,
    )
    # Coarse slots keep multi-day steps cheap; the properties do not depend on the slot length.
    load = DailyLoad(seed, time_zone=time_zone, export_peak_kw=export_peak_kw, slot_s=900)
    return SimulatedMeter(meter_settings, clock=clock, load=load), clock


def crosses_boundary(meter: SimulatedMeter, start: datetime, end: datetime) -> bool:
    """Whether a schedule switch point (on the meter's local clock) lies inside (start, end)."""
    tz = ZoneInfo(meter.settings.time_zone)
    drift = timedelta(seconds=meter.settings.drift_s)
    local_start = (start + drift).astimezone(tz)
    local_end = (end + drift).astimezone(tz)
    day = local_start.date() - timedelta(days=1)
    while day <= local_end.date() + timedelta(days=1):
        for switch, _ in meter.settings.schedule.switches:
            instant = datetime.combine(day, switch, tzinfo=tz)
            if local_start < instant < local_end:
                return True
        day += timedelta(days=1)
    return False


@FAST
@given(
    start=STARTS,
    steps=STEPS,
    schedule=SCHEDULES,
    tz=TIME_ZONES,
    drift=DRIFTS,
    seed=st.integers(0, 2**32),
)
def test_sum_is_sum_of_zones_and_registers_never_decrease(
    start: datetime, steps: list[float], schedule: ZoneSchedule, tz: str, drift: float, seed: int
) -> None:
    meter, clock = make_meter(
        start, schedule=schedule, time_zone=tz, drift_s=drift, seed=seed, export_peak_kw=3.0
    )
    before = meter.registers()
    for step in steps:
        clock.advance(step)
        after = meter.registers()
        for kind, zones in after.items():
            assert zones[0] == sum(zones[zone] for zone in (1, 2, 3, 4))
            for zone, wh in zones.items():
                assert wh >= before[kind][zone], (kind, zone)
        before = after


@FAST
@given(start=STARTS, steps=STEPS, schedule=SCHEDULES, tz=TIME_ZONES, drift=DRIFTS)
def test_only_the_zone_in_force_on_the_meter_clock_grows(
    start: datetime, steps: list[float], schedule: ZoneSchedule, tz: str, drift: float
) -> None:
    meter, clock = make_meter(start, schedule=schedule, time_zone=tz, drift_s=drift)
    before = meter.registers()
    for step in steps:
        step_start = clock()
        step_end = clock.advance(step)
        after = meter.registers()
        grown = {
            zone
            for zones_after, zones_before in ((after[k], before[k]) for k in after)
            for zone in (1, 2, 3, 4)
            if zones_after[zone] != zones_before[zone]
        }
        if not crosses_boundary(meter, step_start, step_end):
            assert grown <= {meter.zone_at(step_start)}
        else:
            assert grown <= set(schedule.zones)
        before = after


@FAST
@given(start=STARTS, steps=STEPS, tz=TIME_ZONES, seed=st.integers(0, 2**32))
def test_one_jump_books_exactly_what_many_steps_book(
    start: datetime, steps: list[float], tz: str, seed: int
) -> None:
    stepped, stepped_clock = make_meter(start, schedule=THREE_ZONE, time_zone=tz, seed=seed)
    jumped, jumped_clock = make_meter(start, schedule=THREE_ZONE, time_zone=tz, seed=seed)
    for step in steps:
        stepped_clock.advance(step)
        stepped.registers()
    jumped_clock.set(stepped_clock())
    assert jumped.registers() == stepped.registers()


def test_night_energy_goes_to_t2_and_day_energy_to_t1_in_moscow_time() -> None:
    # 20:00 UTC is 23:00 in Moscow: from there until 04:00 UTC (07:00 MSK) is night, T2.
    meter, clock = make_meter(datetime(2024, 6, 10, 20, 0, tzinfo=UTC))
    before = meter.registers()[EnergyKind.A_PLUS]
    clock.advance(8 * 3600)
    night = meter.registers()[EnergyKind.A_PLUS]
    assert night[1] == before[1]
    assert night[2] > before[2]
    clock.advance(16 * 3600)
    day = meter.registers()[EnergyKind.A_PLUS]
    assert day[2] == night[2]
    assert day[1] > night[1]


def test_an_advance_across_a_boundary_is_split_between_the_zones() -> None:
    # 06:30 → 07:30 Moscow with a constant 3.6 kW: 1.8 kWh at night (T2), 1.8 kWh by day (T1).
    clock = ManualClock(datetime(2024, 6, 10, 3, 30, tzinfo=UTC))
    meter = SimulatedMeter(
        MeterSettings(serial="40680048", history_days=0),
        clock=clock,
        load=ConstantLoad(p_w=3600.0),
        initial_wh={},
    )
    clock.advance(3600)
    assert meter.registers()[EnergyKind.A_PLUS] == {0: 3600, 1: 1800, 2: 1800, 3: 0, 4: 0}


def test_the_meter_clock_drift_moves_the_zone_boundary() -> None:
    # The meter runs 10 minutes fast: at 06:55 true Moscow time its tariffer is already in T1.
    clock = ManualClock(datetime(2024, 6, 10, 3, 55, tzinfo=UTC))
    meter = SimulatedMeter(
        MeterSettings(serial="40680048", history_days=0, drift_s=600),
        clock=clock,
        load=ConstantLoad(p_w=3600.0),
        initial_wh={},
    )
    assert meter.zone_at(clock()) == 1
    clock.advance(300)
    assert meter.registers()[EnergyKind.A_PLUS] == {0: 300, 1: 300, 2: 0, 3: 0, 4: 0}


def test_a_one_direction_meter_masks_and_never_books_reverse_energy() -> None:
    meter, clock = make_meter(
        datetime(2024, 6, 10, 7, 0, tzinfo=UTC),
        kinds=frozenset({EnergyKind.A_PLUS, EnergyKind.R_PLUS}),
        export_peak_kw=50.0,
    )
    clock.advance(6 * 3600)
    assert meter.register(EnergyKind.A_MINUS) is None
    assert meter.register(EnergyKind.R_MINUS) is None
    assert set(meter.registers()) == {EnergyKind.A_PLUS, EnergyKind.R_PLUS}


def test_a_two_direction_meter_books_export_as_a_minus() -> None:
    meter, clock = make_meter(datetime(2024, 6, 10, 7, 0, tzinfo=UTC), export_peak_kw=50.0)
    clock.advance(4 * 3600)
    assert (meter.register(EnergyKind.A_MINUS) or 0) > 0


def test_history_days_start_the_registers_as_if_the_meter_had_run() -> None:
    start = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    fresh = SimulatedMeter(
        MeterSettings(serial="40680048", seed=5, history_days=0), clock=ManualClock(start)
    )
    aged = SimulatedMeter(
        MeterSettings(serial="40680048", seed=5, history_days=7), clock=ManualClock(start)
    )
    again = SimulatedMeter(
        MeterSettings(serial="40680048", seed=5, history_days=7), clock=ManualClock(start)
    )
    week = aged.register(EnergyKind.A_PLUS)
    assert week is not None
    assert fresh.register(EnergyKind.A_PLUS) is not None
    # A week of a household-sized load: tens to a few hundred kWh on top of the lifetime total.
    assert 20_000 < week - (fresh.register(EnergyKind.A_PLUS) or 0) < 500_000
    assert again.registers() == aged.registers()


def test_set_register_pins_a_zone_and_freeze_stops_the_load() -> None:
    meter, clock = make_meter(datetime(2024, 3, 1, 9, 0, tzinfo=UTC))
    meter.freeze()
    meter.set_register(EnergyKind.A_PLUS, 1, 3_196_200)
    for zone in (2, 3, 4):
        meter.set_register(EnergyKind.A_PLUS, zone, 0)
    clock.advance(86400)
    assert meter.register(EnergyKind.A_PLUS) == 3_196_200
    assert meter.register(EnergyKind.A_PLUS, 1) == 3_196_200
