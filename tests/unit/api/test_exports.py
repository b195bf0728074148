"""The 80020 export's assembly of stored rows into measuring points (``api.exports``); no I/O."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from api.ats80020 import Ats80020Message, Channel, Party, build_80020
from api.exports import DEFAULT_PERIOD, assemble_points
from api.exports_queries import IntervalRow, MeterRatio, PointRecord
from core.errors import ExportError
from core.model import Quality

MOSCOW = ZoneInfo("Europe/Moscow")
POINT = PointRecord(1, "1", "ВРУ-1", "770000000000101", "1", "0001", "Europe/Moscow")
A_PLUS = "1.0.1.29.0.255"


def _row(
    ts: datetime, value: str, unit: str = "kWh", *, meter: str = "M", quality: int = 3
) -> IntervalRow:
    return IntervalRow(meter, A_PLUS, ts, 3600, Decimal(value), unit, quality)


def _meter(meter_id: str = "M", ct: str = "1") -> MeterRatio:
    return MeterRatio(meter_id, POINT.id, Decimal(ct), Decimal(1))


def test_units_and_ratio_make_billing_values_and_bad_rows_are_missing() -> None:
    start = datetime(2026, 11, 20, 21, tzinfo=UTC)
    rows = [
        _row(start, "12.5", "Wh"),
        _row(start + timedelta(hours=1), "-1"),
        _row(start + timedelta(hours=2), "5", "V"),
        _row(start + timedelta(hours=3), "2", quality=1),
    ]
    [point] = assemble_points([POINT], [_meter(ct="40")], rows, MOSCOW)
    assert point.period == timedelta(hours=1)
    assert set(point.channels) == set(Channel)
    intervals = point.channels[Channel.A_PLUS]
    assert [(i.energy_kwh, i.quality) for i in intervals] == [
        (Decimal("0.5000"), Quality.OK),
        (None, Quality.INVALID),
        (None, Quality.INVALID),
        (Decimal(80), Quality.ESTIMATED),
    ]
    assert intervals[0].start.utcoffset() == timedelta(hours=3)
    assert point.channels[Channel.R_MINUS] == []


def test_a_point_without_rows_takes_the_contract_period_else_half_hours() -> None:
    other = PointRecord(2, "2", "ВРУ-2", "770000000000102", "1", "0001", "Europe/Moscow")
    rows = [_row(datetime(2026, 11, 20, 21, tzinfo=UTC), "1")]
    first, second = assemble_points([POINT, other], [_meter()], rows, MOSCOW)
    assert (first.period, second.period) == (timedelta(hours=1), timedelta(hours=1))
    [alone] = assemble_points([POINT], [], [], MOSCOW)
    assert alone.period == DEFAULT_PERIOD


def test_two_meters_hand_over_but_never_overlap() -> None:
    start = datetime(2026, 11, 20, 21, tzinfo=UTC)
    meters = [_meter("OLD"), _meter("NEW")]
    rows = [_row(start, "1", meter="OLD"), _row(start + timedelta(hours=1), "2", meter="NEW")]
    [point] = assemble_points([POINT], meters, rows, MOSCOW)
    assert [i.energy_kwh for i in point.channels[Channel.A_PLUS]] == [Decimal(1), Decimal(2)]
    with pytest.raises(
        ExportError, match=r"meters OLD and NEW both have an interval at 2026-11-21T00:00:00\+03:00"
    ):
        assemble_points([POINT], meters, [*rows, _row(start, "3", meter="NEW")], MOSCOW)


def test_a_day_the_clocks_go_back_keeps_both_repeated_hours() -> None:
    # Moscow left summer time on 2014-10-26: 01:00-02:00 local happened twice, 25 hours.
    start = datetime(2014, 10, 25, 20, tzinfo=UTC)
    rows = [_row(start + timedelta(hours=i), "1.4") for i in range(25)]
    points = assemble_points([POINT], [_meter()], rows, MOSCOW)
    message = Ats80020Message(
        sender=Party("7700000000", "Отправитель"),
        area=Party("7700000001", "Область"),
        day=date(2014, 10, 26),
        number=1,
        created_at=start,
        local_zone="Europe/Moscow",
        points=points,
    )
    text = build_80020(message).decode("cp1251")
    a_plus = text.split('code="02"')[0]
    assert a_plus.count('<value status="0">') == 25
    assert sum(map(int, re.findall(r'status="0">(\d+)<', a_plus))) == 35  # 25 * 1.4
