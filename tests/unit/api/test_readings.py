"""The «Показания» blocks built from stored rows (api.readings), without a database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from api.formats import energy_text
from api.readings import (
    DEFAULT_SCHEDULE,
    IntervalRow,
    RegisterValue,
    build_interval_block,
    build_register_block,
    contract_schedule,
    empty_block,
    group_intervals,
)
from api.schemas import BlockType, ReadingsBlock
from core.model import Quality
from core.obis import EnergyKind
from core.tariffs import SINGLE_RATE, THREE_ZONE, TWO_ZONE, ZoneSchedule
from core.zone_split import IntervalEnergy, split_by_zone

MOSCOW = ZoneInfo("Europe/Moscow")
SNAPSHOT = datetime(2026, 10, 31, 21, 0, tzinfo=UTC)  # 1 November 00:00 in Moscow
ONE = Decimal(1)

# end of billing period, values as the cabinet manual's «Показания» tab shows them (docs/api.md)
SEED_PERIOD_END = {
    1: ("8.05", "0.066", "0", "8.116"),  # A+
    2: ("2.001", "0.012", "0", "2.013"),  # A-
    3: ("3.789", "0.033", "0", "3.822"),  # R+
    4: ("1.384", "0.027", "0", "1.411"),  # R-
}


def reg(
    obis: str,
    value: str,
    *,
    ts: datetime = SNAPSHOT,
    unit: str = "kWh",
    quality: Quality = Quality.OK,
) -> RegisterValue:
    return RegisterValue(obis, ts, Decimal(value), unit, quality.rank)


def seed_rows(with_totals: bool = True) -> list[RegisterValue]:
    rows = []
    for kind, (t1, t2, t3, total) in SEED_PERIOD_END.items():
        unit = "kWh" if kind <= 2 else "kvarh"
        rows += [reg(f"1.0.{kind}.8.{zone}.255", v, unit=unit) for zone, v in ((1, t1), (2, t2))]
        rows.append(reg(f"1.0.{kind}.8.3.255", t3, unit=unit))
        if with_totals:
            rows.append(reg(f"1.0.{kind}.8.0.255", total, unit=unit))
    return rows


def values(block: ReadingsBlock) -> dict[str, dict[str, str | None]]:
    return {row.kind: row.values for row in block.rows}


def test_the_seed_example_renders_as_the_cabinet_shows_it() -> None:
    block = build_register_block(BlockType.PERIOD_END, seed_rows(), ONE, MOSCOW)
    assert block.type is BlockType.PERIOD_END
    assert block.title == "Показания на конец расчетного периода"
    assert block.as_of == "2026-11-01T00:00:00+03:00"
    assert block.zones == ["T1", "T2", "T3"]
    assert [(row.kind, row.name, row.unit) for row in block.rows] == [
        ("A+", "активная принятая", "кВт*ч"),
        ("A-", "активная отпущенная", "кВт*ч"),
        ("R+", "реактивная принятая", "кВар*ч"),
        ("R-", "реактивная отпущенная", "кВар*ч"),
    ]
    assert values(block)["A+"] == {"T1": "8.050", "T2": "0.066", "T3": "0.000", "sum": "8.116"}
    assert values(block)["R-"] == {"T1": "1.384", "T2": "0.027", "T3": "0.000", "sum": "1.411"}
    assert list(block.rows[0].values) == ["T1", "T2", "T3", "sum"]


def test_without_a_total_register_the_sum_is_the_zones_sum() -> None:
    block = build_register_block(BlockType.PERIOD_END, seed_rows(False), ONE, MOSCOW)
    assert [row.values["sum"] for row in block.rows] == ["8.116", "2.013", "3.822", "1.411"]


def test_the_stored_total_wins_over_the_zones() -> None:
    # A meter's total may differ from the sum of its zones (a zone outside T1..T8, rounding).
    rows = [reg("1.0.1.8.0.255", "10"), reg("1.0.1.8.1.255", "4"), reg("1.0.1.8.2.255", "5")]
    block = build_register_block(BlockType.CURRENT, rows, ONE, MOSCOW)
    assert values(block)["A+"] == {"T1": "4.000", "T2": "5.000", "sum": "10.000"}


def test_zone_columns_are_the_zones_with_data_in_any_row() -> None:
    rows = [
        reg("1.0.1.8.1.255", "1"),
        reg("1.0.1.8.2.255", "2"),
        reg("1.0.3.8.4.255", "4", unit="kvarh"),
        reg("1.0.3.8.0.255", "7", unit="kvarh"),
    ]
    block = build_register_block(BlockType.CURRENT, rows, ONE, MOSCOW)
    assert block.zones == ["T1", "T2", "T4"]
    table = values(block)
    assert table["A+"] == {"T1": "1.000", "T2": "2.000", "T4": None, "sum": "3.000"}
    assert table["A-"] == {"T1": None, "T2": None, "T4": None, "sum": None}
    assert table["R+"] == {"T1": None, "T2": None, "T4": "4.000", "sum": "7.000"}


def test_only_totals_means_no_zone_columns() -> None:
    block = build_register_block(BlockType.DAY_END, [reg("1.0.1.8.0.255", "5")], ONE, MOSCOW)
    assert block.zones == []
    assert values(block)["A+"] == {"sum": "5.000"}


def test_one_snapshot_the_newest_ts() -> None:
    older = SNAPSHOT - timedelta(days=1)
    rows = [
        reg("1.0.1.8.0.255", "9", ts=SNAPSHOT),
        reg("1.0.2.8.0.255", "1", ts=older),  # A- was not read in the newest snapshot
        reg("1.0.1.8.3.255", "3", ts=older),  # nor was zone 3
    ]
    block = build_register_block(BlockType.DAY_END, rows, ONE, MOSCOW)
    assert block.as_of == "2026-11-01T00:00:00+03:00"
    assert block.zones == []
    assert values(block)["A+"] == {"sum": "9.000"}
    assert values(block)["A-"] == {"sum": None}


def test_ratio_multiplies_zones_and_sum() -> None:
    block = build_register_block(BlockType.PERIOD_END, seed_rows(), Decimal(4000), MOSCOW)
    assert values(block)["A+"] == {
        "T1": "32200.000",
        "T2": "264.000",
        "T3": "0.000",
        "sum": "32464.000",
    }
    fractional = build_register_block(
        BlockType.CURRENT, [reg("1.0.1.8.0.255", "1.2345")], Decimal("0.5"), MOSCOW
    )
    assert values(fractional)["A+"] == {"sum": "0.617"}  # 0.61725 rounded once, at the end


def test_watt_hours_are_shown_in_kilo() -> None:
    rows = [reg("1.0.1.8.0.255", "8116", unit="Wh"), reg("1.0.4.8.0.255", "1411", unit="varh")]
    block = build_register_block(BlockType.CURRENT, rows, ONE, MOSCOW)
    assert values(block)["A+"] == {"sum": "8.116"}
    assert values(block)["R-"] == {"sum": "1.411"}


def test_invalid_values_show_as_missing() -> None:
    rows = [
        reg("1.0.1.8.0.255", "5", quality=Quality.INVALID),
        reg("1.0.1.8.1.255", "5", quality=Quality.INVALID),
        reg("1.0.2.8.0.255", "2", quality=Quality.ESTIMATED),
    ]
    block = build_register_block(BlockType.CURRENT, rows, ONE, MOSCOW)
    assert block.as_of == "2026-11-01T00:00:00+03:00"
    assert block.zones == []
    assert values(block)["A+"] == {"sum": None}
    assert values(block)["A-"] == {"sum": "2.000"}


def test_other_channels_and_units_are_skipped() -> None:
    rows = [
        reg("1.0.32.7.0.255", "230", unit="V"),
        reg("1.0.1.8.0.255", "1", unit="kW"),
        reg("1.0.1.8.1.255", "2"),
    ]
    block = build_register_block(BlockType.CURRENT, rows, ONE, MOSCOW)
    assert values(block)["A+"] == {"T1": "2.000", "sum": "2.000"}


def test_empty_block_keeps_its_four_rows() -> None:
    for block_type in BlockType:
        block = empty_block(block_type)
        assert block.as_of is None
        assert block.zones == []
        assert [row.kind for row in block.rows] == ["A+", "A-", "R+", "R-"]
        assert all(row.values == {"sum": None} for row in block.rows)
    assert build_register_block(BlockType.CURRENT, [], ONE, MOSCOW) == empty_block(
        BlockType.CURRENT
    )


# 1 November 2026 00:00 in Moscow: where the month of the interval block starts
MONTH = datetime(2026, 10, 31, 21, 0, tzinfo=UTC)
A_PLUS_29, R_PLUS_29 = "1.0.1.29.0.255", "1.0.3.29.0.255"


def iv(
    start: datetime,
    value: str,
    *,
    obis: str = A_PLUS_29,
    period_s: int = 1800,
    unit: str = "kWh",
    quality: Quality = Quality.OK,
) -> IntervalRow:
    return IntervalRow(obis, start, period_s, Decimal(value), unit, quality.rank)


def half_hours(first: datetime, *values: str, obis: str = A_PLUS_29) -> list[IntervalRow]:
    step = timedelta(minutes=30)
    return [iv(first + n * step, value, obis=obis) for n, value in enumerate(values)]


def interval_block(
    rows: list[IntervalRow],
    schedule: ZoneSchedule = TWO_ZONE,
    ratio: Decimal = ONE,
    since: datetime = MONTH,
) -> ReadingsBlock:
    return build_interval_block(group_intervals(rows, MOSCOW), ratio, MOSCOW, schedule, since)


def test_interval_block_splits_the_month_into_the_schedule_zones() -> None:
    # 06:00-07:30 local on 1 November: two night half-hours (T2), then one day half-hour (T1)
    rows = half_hours(MONTH, *["0"] * 12, "0.5", "0.25", "1")
    rows += [iv(MONTH + timedelta(hours=6), "2", obis=R_PLUS_29, period_s=5400)]  # 06:00-07:30
    block = interval_block(rows)
    assert block.type is BlockType.INTERVAL
    assert block.title == "Расход э/энергии суммарный за интервал"
    assert block.as_of == "2026-11-01T07:30:00+03:00"
    assert block.quality == "incomplete"  # R+ starts at 06:00: no R+ before it
    assert block.zone_schedule == "two-zone"
    assert block.zones == ["T1", "T2"]
    assert values(block) == {
        "A+": {"T1": "1.000", "T2": "0.750", "sum": "1.750"},
        "A-": {"T1": None, "T2": None, "sum": None},
        "R+": {"T1": "0.667", "T2": "1.333", "sum": "2.000"},  # split 1/3 day, 2/3 night
        "R-": {"T1": None, "T2": None, "sum": None},
    }
    assert [(r.kind, r.name, r.unit) for r in block.rows][2] == (
        "R+",
        "реактивная принятая",
        "кВар*ч",
    )


def test_the_columns_are_the_schedule_zones_even_without_energy_in_some() -> None:
    block = interval_block(half_hours(MONTH, "0.5"), THREE_ZONE)
    assert block.zones == ["T1", "T2", "T3"]
    assert values(block)["A+"] == {"T1": "0.000", "T2": "0.500", "T3": "0.000", "sum": "0.500"}
    assert block.quality == "ok"
    single = interval_block(half_hours(MONTH, "0.5"), SINGLE_RATE)
    assert single.zones == ["T1"]
    assert values(single)["A+"] == {"T1": "0.500", "sum": "0.500"}


def test_a_custom_switch_inside_an_hour_splits_it_by_time() -> None:
    custom = ZoneSchedule("custom", ((time(0), 2), (time(7, 30), 1), (time(22), 2)))
    hours = [iv(MONTH + timedelta(hours=h), "1.2", period_s=3600) for h in range(24)]
    block = interval_block(hours, custom)
    assert block.zone_schedule == "custom"
    assert block.quality == "ok"
    # 07:30-22:00 is 14.5 hours of day: 14.5 * 1.2 = 17.4; the rest 9.5 * 1.2 = 11.4
    assert values(block)["A+"] == {"T1": "17.400", "T2": "11.400", "sum": "28.800"}


def test_the_ratio_multiplies_the_split_and_rounding_comes_last() -> None:
    # 0.002 kWh over three zones of ten minutes each: 0.000667 each before the ratio
    thirds = ZoneSchedule(
        "custom", ((time(0), 1), (time(0, 10), 2), (time(0, 20), 3), (time(0, 30), 1))
    )
    block = interval_block([iv(MONTH, "0.002")], thirds, ratio=Decimal(3))
    assert values(block)["A+"] == {"T1": "0.002", "T2": "0.002", "T3": "0.002", "sum": "0.006"}
    # without the ratio each zone rounds half up to 0.001: 0.003 against a sum of 0.002; the
    # thousandths go by largest remainder, so the shown zones add up to the shown sum
    plain = interval_block([iv(MONTH, "0.002")], thirds)
    assert values(plain)["A+"] == {"T1": "0.001", "T2": "0.001", "T3": "0.000", "sum": "0.002"}


def test_the_shown_zones_always_add_up_to_the_shown_sum() -> None:
    custom = ZoneSchedule("custom", ((time(0), 2), (time(0, 7), 1), (time(0, 19), 3)))
    for value in ("0.001", "0.0015", "0.0125", "1.0005", "7.777"):
        for ratio in (ONE, Decimal("0.5"), Decimal(3), Decimal("2.5")):
            row = values(interval_block([iv(MONTH, value)], custom, ratio))["A+"]
            shown = [Decimal(row[t] or "") for t in ("T1", "T2", "T3")]
            assert sum(shown) == Decimal(row["sum"] or ""), (value, ratio, row)
            exact = Decimal(value) * ratio
            assert Decimal(row["sum"] or "") == exact.quantize(Decimal("0.001"), "ROUND_HALF_UP")


def test_summing_intervals_inside_one_zone_first_changes_nothing() -> None:
    # the block sums whole-zone intervals before the split; the split of each interval alone
    # must give the same zones (to the shown thousandth) and the same total
    custom = ZoneSchedule("custom", ((time(0), 2), (time(7, 30), 1), (time(21, 45), 3)))
    rng = random.Random(1473)
    rows, intervals = [], []
    start = MONTH
    for _ in range(400):
        period_s = rng.choice((1800, 3600, 900))
        value = Decimal(rng.randrange(0, 5000)).scaleb(-3)
        quality = rng.choice((Quality.OK, Quality.OK, Quality.ESTIMATED, Quality.INVALID))
        rows.append(iv(start, str(value), period_s=period_s, quality=quality))
        intervals.append(IntervalEnergy(EnergyKind.A_PLUS, start, period_s, value, quality))
        start += timedelta(seconds=period_s)
    ratio = Decimal("2.5")
    block = interval_block(rows, custom, ratio)
    direct = split_by_zone(intervals, custom, MOSCOW)
    assert direct.split > 0
    assert block.quality == "estimated"  # worse than the incomplete of the left-out ones
    totals = direct.kinds[EnergyKind.A_PLUS]
    shown = values(block)["A+"]
    assert shown["sum"] == energy_text(totals.total * ratio)
    for tariff, exact in totals.zones.items():
        assert abs(Decimal(shown[f"T{tariff}"] or "") - exact * ratio) < Decimal("0.001")


def test_watt_hours_and_other_channels() -> None:
    rows = [
        iv(MONTH, "250", unit="Wh"),
        iv(MONTH + timedelta(minutes=30), "0.75"),
        iv(MONTH, "99", obis="1.0.1.8.0.255"),  # not an interval channel
        iv(MONTH, "5", obis="1.0.3.29.0.255", unit="kW"),  # not an energy unit
    ]
    block = interval_block(rows, ratio=Decimal(2))
    assert values(block)["A+"] == {"T1": "0.000", "T2": "2.000", "sum": "2.000"}
    assert values(block)["R+"] == {"T1": None, "T2": None, "sum": None}


@pytest.mark.parametrize(
    ("qualities", "expected"),
    [
        ((Quality.OK, Quality.OK, Quality.OK), "ok"),
        ((Quality.OK, Quality.ESTIMATED, Quality.INCOMPLETE), "estimated"),
        ((Quality.OK, Quality.INCOMPLETE, Quality.OK), "incomplete"),
        ((Quality.OK, Quality.INVALID, Quality.OK), "incomplete"),  # left out: a hole
        ((Quality.ESTIMATED, Quality.OK, Quality.INVALID), "estimated"),  # the last one
    ],
)
def test_quality_marks_the_block(qualities: tuple[Quality, ...], expected: str) -> None:
    rows = [
        iv(MONTH + n * timedelta(minutes=30), "1", quality=quality)
        for n, quality in enumerate(qualities)
    ]
    block = interval_block(rows)
    assert block.quality == expected
    counted = [q for q in qualities if q is not Quality.INVALID]
    assert values(block)["A+"]["sum"] == f"{len(counted)}.000"


def test_as_of_ends_the_last_counted_interval() -> None:
    rows = [iv(MONTH, "1"), iv(MONTH + timedelta(minutes=30), "1", quality=Quality.INVALID)]
    assert interval_block(rows).as_of == "2026-11-01T00:30:00+03:00"


def test_missing_intervals_make_the_block_incomplete() -> None:
    gap = [iv(MONTH, "1"), iv(MONTH + timedelta(hours=1), "1")]
    assert interval_block(gap).quality == "incomplete"
    late_start = [iv(MONTH + timedelta(minutes=30), "1")]
    assert interval_block(late_start).quality == "incomplete"
    # one kind stops earlier than the other
    rows = half_hours(MONTH, "1", "1") + half_hours(MONTH, "1", obis=R_PLUS_29)
    assert interval_block(rows).quality == "incomplete"
    assert interval_block(half_hours(MONTH, "1", "1")).quality == "ok"


def test_interval_block_without_data_is_empty() -> None:
    block = interval_block([])
    assert block.as_of is None
    assert block.quality is None
    assert block.zones == []
    assert block.zone_schedule == "two-zone"
    assert all(row.values == {"sum": None} for row in block.rows)
    only_invalid = interval_block([iv(MONTH, "1", quality=Quality.INVALID)])
    assert only_invalid == block


def test_contract_schedules() -> None:
    assert contract_schedule(None) is DEFAULT_SCHEDULE is SINGLE_RATE
    assert contract_schedule("two-zone") is TWO_ZONE
    custom = contract_schedule("custom", [["00:00", 2], ["08:00", 1], ["22:00", 2]])
    assert custom == ZoneSchedule("custom", ((time(0), 2), (time(8), 1), (time(22), 2)))
    # never let through by the registry; the default stands in (logged)
    assert contract_schedule("custom", None) is DEFAULT_SCHEDULE
    assert contract_schedule("custom", [["07:00", 1]]) is DEFAULT_SCHEDULE
    assert contract_schedule("four-zone") is DEFAULT_SCHEDULE


def test_register_blocks_carry_the_worst_quality_shown() -> None:
    block = build_register_block(BlockType.PERIOD_END, seed_rows(), ONE, MOSCOW)
    assert (block.quality, block.zone_schedule) == ("ok", None)
    rows = [
        reg("1.0.1.8.0.255", "5", quality=Quality.INVALID),
        reg("1.0.2.8.0.255", "2", quality=Quality.ESTIMATED),
        reg("1.0.3.8.0.255", "2", unit="kvarh", quality=Quality.INCOMPLETE),
    ]
    assert build_register_block(BlockType.CURRENT, rows, ONE, MOSCOW).quality == "estimated"
    assert empty_block(BlockType.CURRENT).quality is None


def test_block_titles() -> None:
    assert [(b.value, b.title_ru) for b in BlockType] == [
        ("day_end", "Показания на конец суток"),
        ("period_end", "Показания на конец расчетного периода"),
        ("interval", "Расход э/энергии суммарный за интервал"),
        ("current", "Текущие значения показаний ПУ"),
    ]
