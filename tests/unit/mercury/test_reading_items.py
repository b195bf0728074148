"""The driver's shortcut for its own reading items gives what validation gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.model import Quality, ReadingItem
from drivers.mercury.reading import reading_item

TS = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "extra"),
    [
        (("1.0.1.8.0.255", TS, Decimal("12345.678"), "kWh"), {}),
        (("1.0.13.7.0.255", TS, Decimal("-0.987"), "1"), {}),
        (
            ("1.0.1.29.0.255", TS, Decimal("0.125"), "kWh"),
            {"quality": Quality.INCOMPLETE, "period_s": 1800},
        ),
        (("1.0.1.29.0.255", TS, Decimal("0.125"), "kWh"), {"quality": Quality.OK, "period_s": 60}),
    ],
)
def test_the_shortcut_equals_validation(given: tuple, extra: dict) -> None:
    obis, ts, value, unit = given
    fast = reading_item(obis, ts, value, unit, **extra)
    checked = ReadingItem(obis=obis, ts=ts, value=value, unit=unit, **extra)
    assert type(fast) is ReadingItem
    assert fast == checked
    assert fast.model_fields_set == checked.model_fields_set
    assert fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_copy(update={"quality": Quality.INVALID}).quality is Quality.INVALID
    with pytest.raises(ValidationError):
        fast.value = Decimal(0)  # type: ignore[misc]  # frozen, as any item


def test_other_values_are_validated() -> None:
    moscow = timezone(timedelta(hours=3))
    item = reading_item("1.0.1.8.0.255", TS.astimezone(moscow), Decimal(1), "kWh")
    assert item.ts.tzinfo is UTC  # converted by the model, as ever
    assert item == ReadingItem(obis="1.0.1.8.0.255", ts=TS, value=Decimal(1), unit="kWh")
    with pytest.raises(ValidationError):
        reading_item("1.0.1.8.0.255", TS, "NaN", "kWh")  # type: ignore[arg-type]
