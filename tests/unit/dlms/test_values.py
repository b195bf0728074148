"""The driver's reading of COSEM values: scaler-units, numbers, identity texts, meter times and
range bounds; any value at all gives a value or our ``FrameError``."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given

from core.errors import FrameError
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import ClockStatus, CosemDate, CosemDateTime, CosemTime
from drivers.dlms.values import (
    ScalerUnit,
    bounds_datetime,
    meter_moment,
    number,
    scaler_unit,
    text,
)
from tests.unit.dlms import vectors as v
from tests.unit.dlms.test_fuzz import VALUES

MOSCOW = ZoneInfo("Europe/Moscow")


def su(scaler: int, unit: int) -> Data:
    return Data.structure(Data(DataType.INTEGER, scaler), Data(DataType.ENUM, unit))


@pytest.mark.parametrize(
    ("raw", "scaler", "unit_code", "expected", "unit"),
    [
        (Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567), 0, 30, Decimal("1234.567"), "kWh"),
        (Data(DataType.DOUBLE_LONG_UNSIGNED, 1234567), 1, 32, Decimal("12345.67"), "kvarh"),
        (Data(DataType.LONG_UNSIGNED, 22834), -2, 35, Decimal("228.34"), "V"),
        (Data(DataType.DOUBLE_LONG, -150000), -2, 27, Decimal("-1.5"), "kW"),
        (Data(DataType.LONG, -870), -3, 255, Decimal("-0.870"), "1"),
        (Data(DataType.LONG_UNSIGNED, 5001), -2, 44, Decimal("50.01"), "Hz"),
        (Data(DataType.FLOAT32, 0.5), 0, 33, Decimal("0.5"), "A"),
    ],
)
def test_values_are_scaled_exactly_into_the_models_units(
    raw: Data, scaler: int, unit_code: int, expected: Decimal, unit: str
) -> None:
    scaled = scaler_unit(su(scaler, unit_code))
    assert scaled == ScalerUnit(scaler, unit_code)
    assert scaled.unit == unit
    assert scaled.value(raw) == expected


def test_scaler_units_that_do_not_fit_are_frame_errors() -> None:
    with pytest.raises(FrameError, match="unit 34"):
        scaler_unit(su(0, 34))  # coulomb: no unit of the model
    with pytest.raises(FrameError):
        scaler_unit(Data(DataType.STRUCTURE, (Data(DataType.INTEGER, 0),)))
    with pytest.raises(FrameError):
        scaler_unit(Data.structure(Data(DataType.LONG, 0), Data(DataType.ENUM, 30)))
    with pytest.raises(FrameError, match="number"):
        number(Data.octets(b"12"))
    with pytest.raises(FrameError, match="not a number"):
        number(Data(DataType.FLOAT64, float("nan")))


def test_identity_texts() -> None:
    model = "ИСУ-СПОДЭС-3Ф".encode("cp1251")
    assert text(Data.octets(model)) == "ИСУ-СПОДЭС-3Ф"  # notes §5.11: cp1251 octets
    assert text(Data(DataType.VISIBLE_STRING, model.decode("latin-1"))) == "ИСУ-СПОДЭС-3Ф"
    assert text(Data(DataType.VISIBLE_STRING, "50000016\x00")) == "50000016"
    assert text(Data(DataType.DOUBLE_LONG_UNSIGNED, 40710001)) == "40710001"
    made = CosemDateTime(CosemDate(2023, 6, 1, 4), CosemTime(0, 0, 0, 0), -180, ClockStatus(0))
    assert text(Data.datetime_octets(made)) == "2023-06-01T00:00:00+03:00"


def test_meter_times_are_wall_time_in_the_zone_unless_the_deviation_is_used() -> None:
    # §4.3 AMS: 2024-06-15 20:23:45 with deviation −120 (UTC+2), daylight saving on.
    value = CosemDateTime.from_bytes(v.AMS_DATE_TIME)
    assert meter_moment(value, MOSCOW, use_deviation=False) == datetime(2024, 6, 15, 17, 23, 45,
                                                                        tzinfo=UTC)
    assert meter_moment(value, MOSCOW, use_deviation=True) == datetime(2024, 6, 15, 18, 23, 45,
                                                                       tzinfo=UTC)
    unspecified = CosemDateTime(CosemDate(2024, 3, 4), CosemTime(0, 30), None, None)
    assert meter_moment(unspecified, MOSCOW, use_deviation=True) == datetime(2024, 3, 3, 21, 30,
                                                                             tzinfo=UTC)


def test_range_bounds_have_the_gost_layout_without_a_deviation() -> None:
    # GOST §13.4 sends 07 DE 0C 09 02 00 00 00 FF 00 00 00 for 2014-12-09 (a Tuesday).
    bound = bounds_datetime(datetime(2014, 12, 9, tzinfo=MOSCOW), MOSCOW)
    assert bound.as_bytes() == bytes.fromhex("07DE0C09 02 000000FF 8000 00".replace(" ", ""))
    late = bounds_datetime(datetime(2024, 3, 4, 20, 59, 59, tzinfo=UTC), MOSCOW)  # a Monday
    assert late.as_bytes()[:9] == bytes.fromhex("07E80304 01 17 3B 3B FF".replace(" ", ""))


@given(VALUES)
def test_any_value_reads_or_raises_frame_error(value: Data) -> None:
    for reader in (number, text, scaler_unit):
        with suppress(FrameError):
            reader(value)
