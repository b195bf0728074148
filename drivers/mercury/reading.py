"""What the per-stream readers of the ``mercury230`` driver share: one request → one payload,
and the meter's local time → UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from core.model import Quality, ReadingItem
from drivers.mercury.answer import Payload
from drivers.mercury.request import Request

__all__ = ["Exchange", "PayloadT", "local_to_utc", "reading_item"]

PayloadT = TypeVar("PayloadT", bound=Payload)


class Exchange(Protocol):
    """The driver's request/answer step: status answers raise ``core.errors``."""

    async def __call__(self, request: Request, kind: type[PayloadT]) -> PayloadT: ...


def local_to_utc(moment: datetime, zone: ZoneInfo, *, winter: bool | None = None) -> datetime:
    """A naive wall time of the meter in ``zone`` as aware UTC.

    In a repeated autumn hour the season flag (when known) says which of the two is meant;
    zones without daylight saving (Russia since 2011) never have one.
    """
    fold = 1 if winter else 0
    return moment.replace(tzinfo=zone, fold=fold).astimezone(UTC)


_new_model = ReadingItem.__new__
_set = object.__setattr__
_GIVEN = frozenset({"obis", "ts", "value", "unit"})
# What the shortcut below writes; a model that changes shape takes the validating constructor.
_TRUSTED_SHAPE = (
    tuple(ReadingItem.model_fields) == ("obis", "ts", "value", "unit", "quality", "period_s")
    and not ReadingItem.__pydantic_post_init__
    and not ReadingItem.__private_attributes__
)


def reading_item(
    obis: str,
    ts: datetime,
    value: Decimal,
    unit: str,
    *,
    quality: Quality | None = None,
    period_s: int | None = None,
) -> ReadingItem:
    """What ``ReadingItem(obis=…, ts=…, value=…, unit=…[, quality=…][, period_s=…])`` gives,
    for values this driver made itself: OBIS codes and units from its tables, times in UTC,
    finite decimals from the meter's integers.

    Validating each of thousands of items a second cost more than decoding them, and the
    validators leave such values as they are, so the item is put together as pydantic's
    ``model_construct`` does. Anything else (a time not in UTC, a value that is no ``Decimal``)
    is validated as usual. ``tests/unit/mercury/test_reading_items.py`` holds both paths to the
    same result.
    """
    if _TRUSTED_SHAPE and ts.tzinfo is UTC and type(value) is Decimal:
        item = _new_model(ReadingItem)
        _set(item, "__dict__", {
            "obis": obis, "ts": ts, "value": value, "unit": unit,
            "quality": Quality.OK if quality is None else quality, "period_s": period_s,
        })
        fields_set = set(_GIVEN)
        if quality is not None:
            fields_set.add("quality")
        if period_s is not None:
            fields_set.add("period_s")
        _set(item, "__pydantic_fields_set__", fields_set)
        _set(item, "__pydantic_extra__", None)
        _set(item, "__pydantic_private__", None)
        return item
    given: dict[str, object] = {"obis": obis, "ts": ts, "value": value, "unit": unit}
    if quality is not None:
        given["quality"] = quality
    if period_s is not None:
        given["period_s"] = period_s
    return ReadingItem.model_validate(given)
