"""The «Показания» blocks built from stored rows (api.readings), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from api.readings import (
    IntervalTotal,
    RegisterValue,
    build_interval_block,
    build_register_block,
    empty_block,
)
from api.schemas import BlockType, ReadingsBlock
from core.model import Quality

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


def test_interval_block_sums_the_whole_in_the_sum_column() -> None:
    end = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    totals = [
        IntervalTotal("1.0.1.29.0.255", "kWh", Decimal("0.75"), end),
        IntervalTotal("1.0.1.29.0.255", "Wh", Decimal(250), end - timedelta(hours=1)),
        IntervalTotal("1.0.3.29.0.255", "kvarh", Decimal("0.125"), end - timedelta(days=3)),
        IntervalTotal("1.0.1.8.0.255", "kWh", Decimal(99), end),  # not an interval channel
    ]
    block = build_interval_block(totals, Decimal(2), MOSCOW)
    assert block.type is BlockType.INTERVAL
    assert block.title == "Расход э/энергии суммарный за интервал"
    assert block.as_of == "2026-11-22T15:00:00+03:00"
    assert block.zones == []
    assert values(block) == {
        "A+": {"sum": "2.000"},
        "A-": {"sum": None},
        "R+": {"sum": "0.250"},
        "R-": {"sum": None},
    }


def test_interval_block_without_data_is_empty() -> None:
    assert build_interval_block([], ONE, MOSCOW) == empty_block(BlockType.INTERVAL)


def test_block_titles() -> None:
    assert [(b.value, b.title_ru) for b in BlockType] == [
        ("day_end", "Показания на конец суток"),
        ("period_end", "Показания на конец расчетного периода"),
        ("interval", "Расход э/энергии суммарный за интервал"),
        ("current", "Текущие значения показаний ПУ"),
    ]
