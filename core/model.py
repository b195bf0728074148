"""The one data model shared by every protocol, the collector, the gateway and the API.

Values are exact (``Decimal``), times are aware UTC ``datetime``s, channels are OBIS codes
(``core.obis``). Items are pydantic models so that the very same objects travel on MQTT
(``core.messages``) and are validated at the gateway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

__all__ = [
    "ID_PATTERN",
    "ClockItem",
    "EventItem",
    "Exact",
    "InfoItem",
    "Quality",
    "ReadingItem",
    "Stream",
    "UtcDatetime",
    "format_utc",
    "item_json",
    "utc_now",
]

#: Collector and meter identifiers (DESIGN §2).
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"


class Stream(StrEnum):
    """What a message carries (DESIGN §3)."""

    CURRENT = "current"
    DAILY = "daily"
    MONTHLY = "monthly"
    INTERVAL = "interval"
    INSTANT = "instant"
    EVENTS = "events"
    INFO = "info"
    CLOCK = "clock"

    @property
    def is_register(self) -> bool:
        return self in (Stream.CURRENT, Stream.DAILY, Stream.MONTHLY)


class Quality(StrEnum):
    """Quality of a value; a repeat replaces a stored value only when it ranks higher."""

    OK = "ok"
    INCOMPLETE = "incomplete"
    ESTIMATED = "estimated"
    INVALID = "invalid"

    @property
    def rank(self) -> int:
        return _QUALITY_RANK[self]


_QUALITY_RANK = {Quality.INVALID: 0, Quality.ESTIMATED: 1, Quality.INCOMPLETE: 2, Quality.OK: 3}


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, seconds precision unless the value carries microseconds."""
    moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a time must carry its offset (UTC inside the product)")
    return moment.astimezone(UTC)


def _exact(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("a value must be a finite number")
    return value


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


#: An aware datetime, normalised to UTC, serialised as ISO 8601 with ``Z``.
UtcDatetime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]

#: An exact decimal, serialised as a JSON string so that no float ever touches it.
Exact = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    AfterValidator(_exact),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
]

_ITEM_CONFIG = ConfigDict(frozen=True, extra="ignore", strict=False)


class ReadingItem(BaseModel):
    """One value of one channel at one time: a register, an interval energy or an instant value.

    ``value`` is the meter's own value (before CT/VT ratios) in ``unit`` (``kWh``, ``kvarh``,
    ``V``, ``A``, ``kW``, ``kvar``, ``kVA``, ``Hz``, ``1`` for cos φ). For the ``interval`` stream
    ``ts`` is the start of the interval and ``period_s`` its length.
    """

    model_config = _ITEM_CONFIG

    obis: str = Field(pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
    ts: UtcDatetime
    value: Exact
    unit: str = Field(min_length=1, max_length=16)
    quality: Quality = Quality.OK
    period_s: int | None = Field(default=None, gt=0)


class EventItem(BaseModel):
    """One entry of a meter's event journal, described by the catalogue in ``core``."""

    model_config = _ITEM_CONFIG

    ts: UtcDatetime
    journal: str = Field(min_length=1, max_length=64)
    code: int
    kind: str
    text: str
    critical: bool
    phase: int | None = Field(default=None, ge=1, le=3)
    quality: Quality = Quality.OK


class InfoItem(BaseModel):
    """One identity or state field read from the meter (serial number, firmware, ratios…)."""

    model_config = _ITEM_CONFIG

    field: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    value: str = Field(max_length=256)
    ts: UtcDatetime
    quality: Quality = Quality.OK


class ClockItem(BaseModel):
    """The meter's clock as read at ``ts`` (true UTC time of the read).

    ``meter_time`` is the meter's own wall-clock reading in its local time, without offset, as
    the meter shows it; ``drift_s`` is meter minus true time, in seconds (positive = fast).
    """

    model_config = _ITEM_CONFIG

    ts: UtcDatetime
    meter_time: datetime
    drift_s: Exact
    season: str | None = Field(default=None, pattern=r"^(winter|summer)$")
    quality: Quality = Quality.OK


def item_json(item: BaseModel) -> dict[str, Any]:
    """The item as plain JSON types, ``None`` fields left out."""
    return item.model_dump(mode="json", exclude_none=True)
