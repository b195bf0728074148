"""How the API writes energy, ratios, zones and times (api.formats)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from api.formats import (
    billing_ratio,
    energy_text,
    local_isoformat,
    month_start,
    ratio_text,
    to_kilo,
    zone_info,
    zone_label,
)

MOSCOW = ZoneInfo("Europe/Moscow")
YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # the end-of-period example of the cabinet manual's «Показания» tab (docs/api.md)
        (Decimal("8.116"), "8.116"),
        (Decimal("8.05"), "8.050"),
        (Decimal(0), "0.000"),
        (Decimal("0.0005"), "0.001"),  # half up, not half even
        (Decimal("0.0025"), "0.003"),
        (Decimal("0.00049"), "0.000"),
        (Decimal("-0.0004"), "0.000"),  # never "-0.000"
        (Decimal("-1.2345"), "-1.235"),
        (Decimal("123456789.1"), "123456789.100"),
        (Decimal("1E+3"), "1000.000"),
    ],
)
def test_energy_has_exactly_three_decimals(value: Decimal, text: str) -> None:
    assert energy_text(value) == text


def test_missing_energy_stays_missing() -> None:
    assert energy_text(None) is None


@pytest.mark.parametrize(
    ("value", "unit", "kilo"),
    [
        (Decimal(1500), "Wh", Decimal("1.5")),
        (Decimal("1.5"), "kWh", Decimal("1.5")),
        (Decimal("0.002"), "MWh", Decimal(2)),
        (Decimal(250), "varh", Decimal("0.25")),
        (Decimal("0.25"), "kvarh", Decimal("0.25")),
        (Decimal("0.25"), "kVArh", Decimal("0.25")),
        (Decimal(1), "Mvarh", Decimal(1000)),
    ],
)
def test_stored_units_become_kilo(value: Decimal, unit: str, kilo: Decimal) -> None:
    assert to_kilo(value, unit) == kilo


@pytest.mark.parametrize("unit", ["V", "kW", "", "kWh/h"])
def test_a_unit_that_is_not_energy_has_no_kilo_value(unit: str) -> None:
    assert to_kilo(Decimal(1), unit) is None


@pytest.mark.parametrize(
    ("ct", "vt", "text"),
    [
        ("1", "1", "1"),
        ("40", "100", "4000"),
        ("200", "0.5", "100"),
        ("1.00", "2.5", "2.5"),
        ("0.4", "1", "0.4"),
    ],
)
def test_ratio_is_ct_times_vt_written_plainly(ct: str, vt: str, text: str) -> None:
    assert ratio_text(billing_ratio(Decimal(ct), Decimal(vt))) == text


def test_zone_labels() -> None:
    assert [zone_label(zone) for zone in range(1, 9)] == [f"T{zone}" for zone in range(1, 9)]
    with pytest.raises(ValueError, match="outside"):
        zone_label(0)


def test_times_carry_the_zone_offset() -> None:
    moment = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
    assert local_isoformat(moment, MOSCOW) == "2026-11-22T15:30:00+03:00"
    assert local_isoformat(moment, YEKATERINBURG) == "2026-11-22T17:30:00+05:00"
    assert local_isoformat(moment.replace(microsecond=250), MOSCOW) == (
        "2026-11-22T15:30:00.000250+03:00"
    )
    assert local_isoformat(None, MOSCOW) is None


def test_a_time_without_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        local_isoformat(datetime(2026, 11, 22, 12, 30), MOSCOW)


def test_moscow_had_summer_time_before_2011() -> None:
    # zoneinfo knows the history: an old reading keeps the offset it had then.
    assert local_isoformat(datetime(2010, 7, 1, tzinfo=UTC), MOSCOW) == (
        "2010-07-01T04:00:00+04:00"
    )


@pytest.mark.parametrize(
    ("now", "zone", "start"),
    [
        # 22:30 UTC on 31 October is already 1 November in Moscow
        (datetime(2026, 10, 31, 22, 30, tzinfo=UTC), MOSCOW, datetime(2026, 10, 31, 21, 0)),
        (datetime(2026, 10, 31, 20, 30, tzinfo=UTC), MOSCOW, datetime(2026, 9, 30, 21, 0)),
        (datetime(2026, 11, 22, 12, 0, tzinfo=UTC), YEKATERINBURG, datetime(2026, 10, 31, 19, 0)),
        (datetime(2027, 1, 15, tzinfo=UTC), MOSCOW, datetime(2026, 12, 31, 21, 0)),
    ],
)
def test_month_start_is_local_midnight_on_the_first(
    now: datetime, zone: ZoneInfo, start: datetime
) -> None:
    assert month_start(now, zone) == start.replace(tzinfo=UTC)
    assert month_start(now, zone).astimezone(zone).day == 1


def test_month_start_accepts_any_aware_now() -> None:
    now = datetime(2026, 11, 1, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    assert month_start(now, MOSCOW) == datetime(2026, 10, 31, 21, 0, tzinfo=UTC)


def test_unknown_zone_falls_back() -> None:
    assert zone_info("Asia/Yekaterinburg", "Europe/Moscow").key == "Asia/Yekaterinburg"
    assert zone_info("Mars/Olympus", "Europe/Moscow").key == "Europe/Moscow"
    assert zone_info("", "Europe/Moscow").key == "Europe/Moscow"
    assert zone_info(None, "Europe/Moscow").key == "Europe/Moscow"
