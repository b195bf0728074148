"""The simulated Modbus meter: energy that grows and splits by zone, coherent instantaneous values,
constant info fields, and what ``set`` may change."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.obis import energy_obis
from core.tariffs import SINGLE_RATE, TWO_ZONE
from drivers.modbus.maps import RegisterMap, load_map
from drivers.modbus.values import decode_number
from simulators.mercury230.clock import ManualClock
from simulators.modbus.meter import ModbusMeter
from tests.unit.modbus.support import write_map

#: 09:00 UTC is 12:00 in Moscow: day zone T1 of the two-zone schedule.
START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


def energy_points(kind: int, zones: range, *, start: int, type_: str = "u64",
                  unit: str = "kWh", scale: str = "0.01") -> str:
    width = {"u32": 2, "u64": 4, "float64": 4}[type_]
    size = 'resolution = "0.001"' if type_.startswith("float") else f'scale = "{scale}"'
    return "".join(f"""
[[point]]
obis = "1.0.{kind}.8.{zone}.255"
address = {start + width * i}
type = "{type_}"
unit = "{unit if kind <= 2 else unit.replace('Wh', 'varh')}"
{size}
stream = "current"
""" for i, zone in enumerate(zones))


INSTANT = "".join(f"""
[[point]]
obis = "{obis}"
address = {100 + 2 * i}
type = "{kind}"
unit = "{unit}"
scale = "{scale}"
stream = "instant"
""" for i, (obis, kind, unit, scale) in enumerate([
    ("1.0.32.7.0.255", "u32", "V", "0.1"), ("1.0.52.7.0.255", "u32", "V", "0.1"),
    ("1.0.72.7.0.255", "u32", "V", "0.1"),
    ("1.0.31.7.0.255", "u32", "mA", "1"), ("1.0.51.7.0.255", "u32", "mA", "1"),
    ("1.0.71.7.0.255", "u32", "mA", "1"),
    ("1.0.21.7.0.255", "s32", "W", "0.1"), ("1.0.41.7.0.255", "s32", "W", "0.1"),
    ("1.0.61.7.0.255", "s32", "W", "0.1"), ("1.0.1.7.0.255", "s32", "W", "0.1"),
    ("1.0.23.7.0.255", "s32", "var", "0.1"), ("1.0.43.7.0.255", "s32", "var", "0.1"),
    ("1.0.63.7.0.255", "s32", "var", "0.1"), ("1.0.3.7.0.255", "s32", "var", "0.1"),
    ("1.0.29.7.0.255", "s32", "VA", "0.1"), ("1.0.49.7.0.255", "s32", "VA", "0.1"),
    ("1.0.69.7.0.255", "s32", "VA", "0.1"), ("1.0.9.7.0.255", "s32", "VA", "0.1"),
    ("1.0.33.7.0.255", "s16", "1", "0.001"), ("1.0.53.7.0.255", "s16", "1", "0.001"),
    ("1.0.73.7.0.255", "s16", "1", "0.001"), ("1.0.13.7.0.255", "s16", "1", "0.001"),
    ("1.0.14.7.0.255", "u16", "Hz", "0.01"), ("1.0.91.7.0.255", "u16", "A", "0.01"),
]))
SERIAL = """
[[point]]
field = "serial_number"
address = 200
type = "{type}"
stream = "info"
[[point]]
field = "hardware_version"
address = 210
type = "u16"
stream = "info"
"""


@pytest.fixture
def full_map(tmp_path: Path) -> RegisterMap:
    points = "".join(energy_points(kind, range(5), start=20 * (kind - 1))
                     for kind in (1, 2, 3, 4))
    return load_map(write_map(tmp_path, "full", points + INSTANT + SERIAL.format(type="u32")))


def meter_of(register_map: RegisterMap, clock: ManualClock, **options: object) -> ModbusMeter:
    return ModbusMeter(register_map, 1, clock=clock, **options)  # type: ignore[arg-type]


def energy(meter: ModbusMeter, kind: int, zone: int) -> Decimal:
    return meter.value_of(energy_obis(kind, zone))  # type: ignore[arg-type]


def test_energy_grows_never_decreases_and_totals_are_the_zones_sums(
        full_map: RegisterMap) -> None:
    clock = ManualClock(START)
    meter = meter_of(full_map, clock, seed=3, mean_power_kw=2.0)
    start = {kind: energy(meter, kind, 0) for kind in (1, 2, 3, 4)}
    before = {(kind, zone): energy(meter, kind, zone) for kind in (1, 2, 3, 4) for zone in range(5)}
    for _ in range(24 * 6):  # one day, 10-minute reads
        clock.advance(600)
        for kind in (1, 2, 3, 4):
            zones = [energy(meter, kind, zone) for zone in range(5)]
            assert zones[0] == sum(zones[1:])  # exactly, in 0.01 kWh
            for zone, value in enumerate(zones):
                assert value >= before[(kind, zone)]
                before[(kind, zone)] = value
    grown = {kind: energy(meter, kind, 0) - start[kind] for kind in (1, 2, 3, 4)}
    assert Decimal(10) < grown[1] < Decimal(200)  # about 2 kW for a day
    assert all(Decimal(0) < grown[kind] < grown[1] for kind in (2, 3, 4))


def test_energy_goes_to_the_zone_of_the_local_time(full_map: RegisterMap) -> None:
    night = datetime(2024, 3, 5, 21, 0, tzinfo=UTC)  # 00:00 in Moscow: T2 until 07:00
    clock = ManualClock(night)
    meter = meter_of(full_map, clock, schedule=TWO_ZONE)
    t1, t2 = energy(meter, 1, 1), energy(meter, 1, 2)
    clock.advance(5 * 3600)
    assert energy(meter, 1, 1) == t1
    assert energy(meter, 1, 2) > t2
    single = meter_of(full_map, ManualClock(night), schedule=SINGLE_RATE)
    assert energy(single, 1, 2) == energy(single, 1, 3) == 0
    assert energy(single, 1, 1) == energy(single, 1, 0)


def test_one_jump_books_what_many_small_steps_book(full_map: RegisterMap) -> None:
    jumping, stepping = ManualClock(START), ManualClock(START)
    one, many = meter_of(full_map, jumping, seed=5), meter_of(full_map, stepping, seed=5)
    jumping.advance(7 * 3600)
    for _ in range(7 * 60):
        stepping.advance(60)
        many.update()
    assert [energy(one, k, z) for k in (1, 2, 3, 4) for z in range(5)] == \
        [energy(many, k, z) for k in (1, 2, 3, 4) for z in range(5)]


def test_instantaneous_values_are_plausible_and_consistent(full_map: RegisterMap) -> None:
    clock = ManualClock(START)
    meter = meter_of(full_map, clock, seed=11, mean_power_kw=3.0)
    for _ in range(60):
        clock.advance(1800)
        u = [meter.value_of(f"1.0.{c}.7.0.255") for c in (32, 52, 72)]
        i = [meter.value_of(f"1.0.{c}.7.0.255") / 1000 for c in (31, 51, 71)]
        p = [meter.value_of(f"1.0.{c}.7.0.255") for c in (21, 41, 61)]
        q = [meter.value_of(f"1.0.{c}.7.0.255") for c in (23, 43, 63)]
        s = [meter.value_of(f"1.0.{c}.7.0.255") for c in (29, 49, 69)]
        pf = [meter.value_of(f"1.0.{c}.7.0.255") for c in (33, 53, 73)]
        assert all(Decimal("225.4") <= each <= Decimal("234.6") for each in u)
        assert Decimal("49.95") <= meter.value_of("1.0.14.7.0.255") <= Decimal("50.05")
        assert meter.value_of("1.0.1.7.0.255") == sum(p)
        assert meter.value_of("1.0.3.7.0.255") == sum(q)
        assert meter.value_of("1.0.9.7.0.255") == sum(s)
        for n in range(3):
            rounding = Decimal("0.0005") * u[n] + Decimal("0.05") * i[n] + Decimal("0.1")
            assert abs(u[n] * i[n] - s[n]) <= rounding
            assert s[n] >= abs(p[n])
            if s[n] > 20:
                assert Decimal("0.899") <= abs(pf[n]) <= Decimal("0.991")
                assert (pf[n] < 0) == (p[n] < 0)
        assert meter.value_of("1.0.91.7.0.255") == 0  # a channel the model does not know


def test_info_fields_are_constant_and_the_serial_is_configurable(
        full_map: RegisterMap, tmp_path: Path) -> None:
    clock = ManualClock(START)
    meter = ModbusMeter(full_map, 42, clock=clock)
    assert meter.value_of("info:serial_number") == 70_000_042
    version = meter.value_of("info:hardware_version")
    clock.advance(86_400)
    assert meter.value_of("hardware_version") == version
    assert ModbusMeter(full_map, 1, clock=clock, serial="123").value_of("serial_number") == 123
    narrow = load_map(write_map(tmp_path, "narrow", SERIAL.format(type="u16")))
    with pytest.raises(ValueError, match="cannot hold 70000001"):
        ModbusMeter(narrow, 1, clock=clock)
    assert ModbusMeter(narrow, 1, clock=clock, serial="65535").value_of("serial_number") == 65535


def test_frozen_keeps_every_value_still(full_map: RegisterMap) -> None:
    clock = ManualClock(START)
    meter = meter_of(full_map, clock, frozen=True)
    values = meter.values()
    clock.advance(3 * 86_400)
    assert meter.values() == values


def test_registers_encode_what_value_of_reports(tmp_path: Path) -> None:
    points = energy_points(1, range(2), start=0, type_="float64") + \
        energy_points(2, range(1), start=10, type_="u32", unit="Wh", scale="1")
    register_map = load_map(write_map(tmp_path, "kinds", points,
                                      extra='word_order = "little"\nbyte_order = "little"\n'))
    meter = meter_of(register_map, ManualClock(START))
    total = meter.registers_of("1.0.1.8.0.255")
    assert decode_number(total, "float64", "little", "little") == \
        pytest.approx(float(energy(meter, 1, 0)))
    wh = decode_number(meter.registers_of("1.0.2.8.0.255"), "u32", "little", "little")
    assert Decimal(wh) == energy(meter, 2, 0)


def test_set_moves_energy_up_only_unless_forced_and_pins_other_points(
        full_map: RegisterMap) -> None:
    clock = ManualClock(START)
    meter = meter_of(full_map, clock, frozen=True)
    t1 = energy(meter, 1, 1)
    meter.set_value("1.0.1.8.1.255", t1 + Decimal("100.05"))
    assert energy(meter, 1, 1) == t1 + Decimal("100.05")
    assert energy(meter, 1, 0) == sum(energy(meter, 1, z) for z in range(1, 5))
    with pytest.raises(ValueError, match="only goes up"):
        meter.set_value("1.0.1.8.1.255", t1)
    meter.set_value("1.0.1.8.1.255", t1, force=True)
    assert energy(meter, 1, 1) == t1
    total = energy(meter, 1, 0)
    meter.set_value("1.0.1.8.0.255", total + 5)  # the zone in force now: T1 at noon
    assert (energy(meter, 1, 0), energy(meter, 1, 1)) == (total + 5, t1 + 5)
    meter.set_value("1.0.32.7.0.255", Decimal("241.3"))
    assert meter.value_of("1.0.32.7.0.255") == Decimal("241.3")
    meter.set_value("1.0.32.7.0.255", None)
    assert meter.value_of("1.0.32.7.0.255") != Decimal("241.3")
    with pytest.raises(KeyError, match="no point"):
        meter.set_value("1.0.99.7.0.255", Decimal(1))
