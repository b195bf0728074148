"""COSEM values as the driver reports them: numbers with their scaler-unit, texts, times.

A register's value (attribute 2) means ``value × 10^scaler`` in the unit of attribute 3
(notes §1.2, §5.8). The shared model wants energy in kWh/kvarh and power in kW/kvar/kVA, so
Wh, varh, W, var and VA are divided by 1000; the arithmetic is decimal and exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.errors import FrameError
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import ClockStatus, CosemDate, CosemDateTime, CosemTime

__all__ = [
    "ScalerUnit", "bounds_datetime", "meter_moment", "number", "scaler_unit", "seconds", "text",
]

#: DLMS unit codes (Blue Book "unit" enumeration) → (the model's unit, power of ten to apply).
_UNITS: dict[int, tuple[str, int]] = {
    7: ("s", 0),
    9: ("°C", 0),
    27: ("kW", -3),
    28: ("kVA", -3),
    29: ("kvar", -3),
    30: ("kWh", -3),
    31: ("kVAh", -3),
    32: ("kvarh", -3),
    33: ("A", 0),
    35: ("V", 0),
    44: ("Hz", 0),
    56: ("%", 0),
    254: ("1", 0),  # "other unit"
    255: ("1", 0),  # "no unit, unitless count"
}
_INTEGERS = frozenset({DataType.DOUBLE_LONG, DataType.DOUBLE_LONG_UNSIGNED, DataType.INTEGER,
                       DataType.LONG, DataType.UNSIGNED, DataType.LONG_UNSIGNED, DataType.LONG64,
                       DataType.LONG64_UNSIGNED, DataType.ENUM})


@dataclass(frozen=True, slots=True)
class ScalerUnit:
    """Attribute 3 of a register: ``scaler`` (a power of ten) and the DLMS unit code; ``unit``
    is the model's name for it and ``exponent`` the power of ten that takes a raw value there."""

    scaler: int
    unit_code: int
    unit: str = field(init=False)
    exponent: int = field(init=False)

    def __post_init__(self) -> None:
        if self.unit_code not in _UNITS:
            raise FrameError(f"DLMS unit {self.unit_code} is not one the driver reports")
        unit, shift = _UNITS[self.unit_code]
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "exponent", self.scaler + shift)

    def value(self, data: Data) -> Decimal:
        """``data × 10^scaler`` in :attr:`unit`, exactly."""
        return number(data).scaleb(self.exponent)


def scaler_unit(data: Data) -> ScalerUnit:
    """Attribute 3 of a register (class 3) or extended register (class 4)."""
    if data.type is not DataType.STRUCTURE or len(data.items) != 2:
        raise FrameError("a scaler_unit is a structure of two")
    scaler, unit = data.items
    if scaler.type is not DataType.INTEGER or unit.type is not DataType.ENUM:
        raise FrameError("a scaler_unit is an integer and an enum")
    return ScalerUnit(scaler.as_int(), unit.as_int())


def number(data: Data) -> Decimal:
    """An integer or float value as an exact decimal (a float by its shortest repr)."""
    if data.type in _INTEGERS:
        return Decimal(data.as_int())
    if data.type in (DataType.FLOAT32, DataType.FLOAT64) and isinstance(data.value, float):
        if not math.isfinite(data.value):
            raise FrameError(f"a {data.type.name.lower()} that is not a number: {data.value}")
        return Decimal(repr(data.value))
    raise FrameError(f"A-XDR {data.type.name.lower()} where a number was due")


def text(data: Data) -> str:
    """An identity value as text: octet and visible strings as cp1251 (notes §5.11), numbers
    as decimals, a date as ISO 8601."""
    if data.type is DataType.OCTET_STRING:
        raw = data.as_bytes()
        if len(raw) == 12:
            try:
                return data.as_datetime().to_datetime().isoformat()
            except FrameError:
                pass
        return _cp1251(raw)
    if data.type is DataType.VISIBLE_STRING and isinstance(data.value, str):
        return _cp1251(data.value.encode("latin-1"))
    if data.type is DataType.UTF8_STRING and isinstance(data.value, str):
        return data.value.strip("\x00 ")
    if data.type in (DataType.DATE_TIME, DataType.DATE) and isinstance(
        data.value, CosemDateTime | CosemDate
    ):
        value = data.value
        return (value.to_datetime() if isinstance(value, CosemDateTime)
                else value.to_date()).isoformat()
    return str(number(data))


def _cp1251(raw: bytes) -> str:
    return raw.decode("cp1251", errors="replace").strip("\x00 ")


def meter_moment(value: CosemDateTime, zone: ZoneInfo, *, use_deviation: bool) -> datetime:
    """A time the meter sent, as aware UTC: wall time in ``zone`` (``ignore``), or placed by its
    deviation when it carries one and ``use_deviation`` (the Blue Book's sign)."""
    local = value.to_datetime()
    if local.tzinfo is not None and use_deviation:
        return local.astimezone(UTC)
    naive = local.replace(tzinfo=None)
    fold = 0
    status = value.clock_status
    if status is not None and not status & ClockStatus.DAYLIGHT_SAVING:
        fold = 1  # a repeated autumn hour in winter time is the second one
    return naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def bounds_datetime(moment: datetime, zone: ZoneInfo) -> Data:
    """A range bound as GOST §13.4 sends it: the meter's wall time with its weekday, hundredths
    not specified, the deviation not specified (meters refuse bounds carrying one, notes §5.7)
    and status 00."""
    local = moment.astimezone(zone)
    value = CosemDateTime(
        CosemDate.from_date(local.date()),
        CosemTime(local.hour, local.minute, local.second, None),
        None,
        None,
    )
    raw = value.to_bytes()
    return Data.octets(raw[:11] + b"\x00")


def seconds(delta: timedelta) -> Decimal:
    """A time difference in seconds, exactly."""
    whole = Decimal(delta.days * 86400 + delta.seconds)
    return whole + Decimal(delta.microseconds).scaleb(-6)
