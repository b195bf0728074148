"""The simulated SPODES meter (simulators/dlms/meter.py) and its COSEM view (spodes.py):
registers grow with the load, profile entries come at the capture period, selection by entry
and by range returns exactly the entries asked, journals fill on demand, clock corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.obis import EnergyKind
from drivers.dlms.access import (
    CLOCK,
    AttributeDescriptor,
    CaptureObject,
    EntryDescriptor,
    MethodDescriptor,
    RangeDescriptor,
)
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import CosemDateTime
from drivers.dlms.obis import Obis
from drivers.dlms.results import ActionResult, DataAccessResult
from simulators.dlms.meter import CORRECTIONS, EXTERNAL, POWER, VOLTAGE, SpodesMeter, SpodesSettings
from simulators.dlms.spodes import LOAD_PROFILE, SpodesObjects, journal_obis
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.load import ConstantLoad

START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
MOSCOW = ZoneInfo("Europe/Moscow")
READER, CONFIGURATOR, PUBLIC = 32, 48, 16


def make(days: int = 3, **settings: object) -> tuple[SpodesMeter, ManualClock]:
    clock = ManualClock(START)
    return SpodesMeter(SpodesSettings(history_days=days, **settings), clock=clock), clock  # type: ignore[arg-type]


def attribute(class_id: int, obis: str, attr: int) -> AttributeDescriptor:
    return AttributeDescriptor(class_id, Obis.parse(obis), attr)


def test_registers_grow_with_the_load_and_total_is_the_sum_of_zones() -> None:
    meter, clock = make(1)
    before = meter.register(EnergyKind.A_PLUS)
    meter.load = ConstantLoad(p_w=3000.0, q_var=600.0)
    clock.advance(3600)
    assert meter.register(EnergyKind.A_PLUS) - before == 3000
    assert meter.register(EnergyKind.A_PLUS) == sum(
        meter.register(EnergyKind.A_PLUS, zone) for zone in (1, 2, 3, 4))


def test_load_profile_entries_come_at_the_capture_period_and_add_up() -> None:
    meter, clock = make(0)
    meter.load = ConstantLoad(p_w=2000.0)
    assert len(meter.load_profile) == 0
    clock.advance(6 * 3600)
    entries = list(meter.entries_of(meter.load_profile))
    assert len(entries) == 12
    assert [e.stamp for e in entries] == [
        datetime(2024, 3, 5, 12, 30, tzinfo=MOSCOW) + timedelta(minutes=30 * i)
        for i in range(12)]
    assert all(e.values[0] == 1000 for e in entries)  # 2 kW for half an hour


def test_history_fills_profiles_and_journals() -> None:
    meter, _ = make(3)
    assert len(meter.load_profile) == 3 * 48
    assert [e.stamp.hour for e in meter.daily] == [0, 0, 0]
    assert next(e.code for e in meter.journals[POWER]) == 2  # powered on at the start
    assert {e.code for e in meter.journals[VOLTAGE]} == {27, 28}
    assert [e.code for e in meter.journals[EXTERNAL]] == [3, 1, 2]
    assert meter.tamper["cover"].count == 1


def test_daily_entries_hold_the_registers_at_midnight() -> None:
    meter, clock = make(0, frozen=True)
    clock.advance(86400)
    (entry,) = meter.entries_of(meter.daily)
    assert entry.stamp == datetime(2024, 3, 6, tzinfo=MOSCOW)
    assert entry.values[0] == meter.register(EnergyKind.A_PLUS)
    assert entry.values[0] == sum(entry.values[1:5])


def test_power_failure_stops_energy_and_journals_both_ends() -> None:
    meter, clock = make(0)
    meter.load = ConstantLoad(p_w=1000.0)
    before = meter.register(EnergyKind.A_PLUS)
    meter.power_failure(1800)
    assert [e.code for e in meter.journals[POWER]][-1] == 1
    clock.advance(3600)
    assert meter.register(EnergyKind.A_PLUS) - before == 500
    assert [e.code for e in meter.journals[POWER]][-2:] == [1, 2]
    assert [e.code for e in meter.journals[VOLTAGE]][-2:] == [27, 28]


def test_tamper_events_on_demand() -> None:
    meter, clock = make(0)
    meter.open_cover()
    meter.magnetic_field(120)
    meter.open_case()
    clock.advance(300)
    assert [e.code for e in meter.entries_of(meter.journals[EXTERNAL])] == [3, 1, 4, 2]
    assert [meter.tamper[k].count for k in ("cover", "magnet", "case")] == [1, 1, 1]


# --- the COSEM view -------------------------------------------------------------------------


def test_registers_with_scaler_unit_and_access_levels() -> None:
    meter, _ = make(0, frozen=True)
    objects = SpodesObjects(meter)
    value = objects.get(attribute(3, "1.0.1.8.0.255", 2), PUBLIC, None)
    assert value == Data(DataType.DOUBLE_LONG_UNSIGNED, meter.register(EnergyKind.A_PLUS))
    assert objects.get(attribute(3, "1.0.1.8.0.255", 3), PUBLIC, None) == Data.structure(
        Data(DataType.INTEGER, 0), Data(DataType.ENUM, 30))
    assert objects.get(attribute(3, "1.0.32.7.0.255", 3), PUBLIC, None) == Data.structure(
        Data(DataType.INTEGER, -2), Data(DataType.ENUM, 35))
    assert objects.get(attribute(7, "1.0.99.1.0.255", 2), PUBLIC, None) is \
        DataAccessResult.READ_WRITE_DENIED
    assert objects.get(attribute(3, "1.0.1.8.9.255", 2), READER, None) is \
        DataAccessResult.OBJECT_UNDEFINED


def test_current_values_follow_the_load() -> None:
    meter, _ = make(0)
    meter.load = ConstantLoad(p_w=3000.0, q_var=0.0, u_v=230.0)
    objects = SpodesObjects(meter)
    assert objects.get(attribute(3, "1.0.1.7.0.255", 2), PUBLIC, None) == \
        Data(DataType.DOUBLE_LONG, 300000)  # 3000.00 W at scaler -2
    assert objects.get(attribute(3, "1.0.32.7.0.255", 2), PUBLIC, None) == \
        Data(DataType.LONG_UNSIGNED, 23000)
    assert objects.get(attribute(3, "1.0.31.7.0.255", 2), PUBLIC, None) == \
        Data(DataType.DOUBLE_LONG_UNSIGNED, 4348)  # 1000 VA / 230 V, scaler -3
    assert objects.get(attribute(3, "1.0.13.7.0.255", 2), PUBLIC, None) == \
        Data(DataType.LONG, 1000)


def _rows(objects: SpodesObjects, obis: Obis, selection: object) -> tuple[Data, ...]:
    value = objects.get(AttributeDescriptor(7, obis, 2), READER, selection)  # type: ignore[arg-type]
    assert isinstance(value, Data)
    return value.items


def test_profile_selection_by_entry_and_by_range() -> None:
    meter, _ = make(2)
    objects = SpodesObjects(meter)
    everything = _rows(objects, LOAD_PROFILE, None)
    assert len(everything) == 96
    assert _rows(objects, LOAD_PROFILE, EntryDescriptor(3, 5).to_selection()) == everything[2:5]
    last_two_columns = _rows(objects, LOAD_PROFILE, EntryDescriptor(95, 0, 2, 3).to_selection())
    assert [len(row.items) for row in last_two_columns] == [2, 2]
    assert last_two_columns[1].items == everything[95].items[1:3]
    day = datetime(2024, 3, 4, tzinfo=MOSCOW)
    bounds = RangeDescriptor(
        Data.datetime_octets(CosemDateTime.from_datetime(day + timedelta(minutes=30))),
        Data.datetime_octets(CosemDateTime.from_datetime(day + timedelta(days=1))))
    rows = _rows(objects, LOAD_PROFILE, bounds.to_selection())
    stamps = [row.items[0].as_datetime().to_datetime() for row in rows]
    assert len(rows) == 48
    assert stamps[0] == day + timedelta(minutes=30)
    assert stamps[-1] == day + timedelta(days=1)
    # a bound without deviation is the meter's local time; UTC bounds give the same rows
    local = RangeDescriptor(
        Data.datetime_octets(CosemDateTime.from_datetime((day + timedelta(minutes=30))
                                                         .replace(tzinfo=None))),
        Data.datetime_octets(CosemDateTime.from_datetime(
            (day + timedelta(days=1)).astimezone(UTC))),
        columns=(CaptureObject(8, CLOCK, 2), CaptureObject(3, Obis(1, 0, 1, 29, 0, 255), 2)))
    picked = _rows(objects, LOAD_PROFILE, local.to_selection())
    assert [row.items for row in picked] == [row.items[:2] for row in rows]


def test_range_on_another_column_is_refused() -> None:
    meter, _ = make(1)
    objects = SpodesObjects(meter)
    bounds = RangeDescriptor(Data(DataType.DOUBLE_LONG_UNSIGNED, 0),
                             Data(DataType.DOUBLE_LONG_UNSIGNED, 9),
                             CaptureObject(3, Obis(1, 0, 1, 29, 0, 255), 2))
    assert objects.get(AttributeDescriptor(7, LOAD_PROFILE, 2), READER,
                       bounds.to_selection()) is DataAccessResult.OTHER_REASON


def test_journal_capture_objects_and_entries() -> None:
    meter, _ = make(0)
    objects = SpodesObjects(meter)
    meter.power_failure(60)
    columns = objects.get(AttributeDescriptor(7, journal_obis(2), 3), READER, None)
    assert isinstance(columns, Data)
    assert [CaptureObject.from_data(c).instance for c in columns.items] == [
        CLOCK, Obis(0, 0, 96, 11, 2, 255), Obis(0, 0, 96, 8, 0, 255)]
    rows = _rows(objects, journal_obis(2), None)
    assert [row.items[1].as_int() for row in rows] == [2, 1]
    assert objects.get(attribute(1, "0.0.96.11.2.255", 2), READER, None) == \
        Data(DataType.LONG_UNSIGNED, 1)


def test_clock_set_and_shift_within_the_window() -> None:
    meter, _ = make(0)
    objects = SpodesObjects(meter)
    shift = MethodDescriptor(8, CLOCK, 6)
    assert objects.action(shift, READER, Data(DataType.LONG, -30)) == (ActionResult.SUCCESS, None)
    assert objects.action(shift, READER, Data(DataType.LONG, 901))[0] is \
        ActionResult.SCOPE_OF_ACCESS_VIOLATED
    assert objects.action(shift, PUBLIC, Data(DataType.LONG, 1))[0] is \
        ActionResult.READ_WRITE_DENIED
    assert meter.drift_s == -30
    target = datetime(2024, 3, 5, 13, 0, tzinfo=MOSCOW)
    time_attribute = AttributeDescriptor(8, CLOCK, 2)
    value = Data.datetime_octets(CosemDateTime.from_datetime(target))
    assert objects.set(time_attribute, READER, value) is DataAccessResult.READ_WRITE_DENIED
    assert objects.set(time_attribute, CONFIGURATOR, value) is DataAccessResult.SUCCESS
    assert meter.meter_time() == target
    assert [e.code for e in meter.journals[CORRECTIONS]] == [68, 3]
    assert objects.get(AttributeDescriptor(8, CLOCK, 3), PUBLIC, None) == Data(DataType.LONG, -180)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="divide"):
        SpodesSettings(profile_period_s=7 * 60 + 1)


def test_the_object_list_gives_each_level_its_rights() -> None:
    meter, _ = make(0)
    objects = SpodesObjects(meter)
    association = AttributeDescriptor(15, Obis(0, 0, 40, 0, 0, 255), 2)

    def rights(level: int) -> dict[tuple[int, Obis], Data]:
        listed = objects.get(association, level, None)
        assert isinstance(listed, Data)
        return {(item.items[0].as_int(), Obis.from_bytes(item.items[2].as_bytes())): item
                for item in listed.items}

    public, configurator = rights(PUBLIC), rights(CONFIGURATOR)
    assert set(public) == {(c, o) for c, o, _ in objects.attributes}
    profile = public[(7, LOAD_PROFILE)]
    assert profile.items[1] == Data(DataType.UNSIGNED, 1)
    buffer = profile.items[3].items[0].items[1]  # attribute 2
    assert buffer.items[1] == Data(DataType.ENUM, 0)  # the public client may not read it
    assert [s.as_int() for s in buffer.items[2].items] == [1, 2]
    clock = configurator[(8, CLOCK)].items[3]
    assert clock.items[0].items[1].items[1] == Data(DataType.ENUM, 3)  # time: read-write
    assert clock.items[1].items == (Data.structure(Data(DataType.INTEGER, 6),
                                                   Data(DataType.ENUM, 1)),)


@given(steps=st.lists(st.floats(min_value=1, max_value=20000), min_size=1, max_size=6),
       drift=st.floats(min_value=-900, max_value=900))
@settings(max_examples=25, deadline=None)
def test_one_jump_books_and_captures_what_many_steps_do(steps: list[float],
                                                        drift: float) -> None:
    one, one_clock = make(0, seed=5, drift_s=drift)
    many, many_clock = make(0, seed=5, drift_s=drift)
    one_clock.advance(sum(steps))
    for step in steps:
        many_clock.advance(step)
        many.update()
    for kind in EnergyKind:
        assert [one.register(kind, z) for z in range(5)] == [many.register(kind, z)
                                                             for z in range(5)]
    assert one.entries_of(one.load_profile) == many.entries_of(many.load_profile)
    period = timedelta(seconds=1800)
    stamps = [e.stamp for e in one.load_profile]
    assert all(b - a == period for a, b in pairwise(stamps))


@given(first=st.integers(0, 60), last=st.integers(0, 60),
       columns=st.tuples(st.integers(1, 5), st.integers(0, 5)))
@settings(max_examples=40, deadline=None)
def test_selection_by_entry_is_a_slice(first: int, last: int, columns: tuple[int, int]) -> None:
    meter, _ = make(1, frozen=True)
    objects = SpodesObjects(meter)
    everything = _rows(objects, LOAD_PROFILE, None)
    selection = EntryDescriptor(first, last, *columns).to_selection()
    answer = objects.get(AttributeDescriptor(7, LOAD_PROFILE, 2), READER, selection)
    low, high = columns[0], columns[1] or 5
    if low > high:
        assert answer is DataAccessResult.OTHER_REASON
        return
    assert isinstance(answer, Data)
    stop = len(everything) if last == 0 else min(last, len(everything))
    expected = [row.items[low - 1 : high] for row in everything[max(first, 1) - 1 : stop]]
    assert [row.items for row in answer.items] == expected
