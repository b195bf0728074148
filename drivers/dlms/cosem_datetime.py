"""COSEM date, time and date-time (IEC 62056-6-2 §4.1.6.1; GOST R 58940-2020 §7.2.4).

::

    date-time (12)  year(2) month day weekday | hour minute second hundredths | deviation(2) status
    date (5)        year(2) month day weekday
    time (4)        hour minute second hundredths

    year FFFF, other fields FF: not specified; month FD/FE: DST end/begin;
    day FD/FE: second-to-last/last day of the month; weekday 1 = Monday … 7
    deviation       int16 minutes, UTC = local time + deviation (Moscow −180); 8000 unspecified
    status          bit 0 invalid, 1 doubtful, 2 different clock base, 3 invalid status,
                    7 daylight saving active; FF = not used (never read it as "OK")

A field that is not specified is ``None``. Other values are kept as sent, even outside their
range: GOST's own range example (§13.4) sends weekday 00, and a value the codec refused could
not be re-encoded; ``to_date()``/``to_datetime()`` are where a bad calendar value fails. The
deviation's sign is the Blue Book's; some
companion standards invert it, so a driver must check it per meter model (notes §5.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import IntFlag
from typing import Final

from core.errors import FrameError, TruncatedError

__all__ = [
    "DAY_LAST",
    "DAY_SECOND_LAST",
    "DEVIATION_UNSPECIFIED",
    "MONTH_DST_BEGIN",
    "MONTH_DST_END",
    "ClockStatus",
    "CosemDate",
    "CosemDateTime",
    "CosemTime",
]

MONTH_DST_END: Final = 0xFD
MONTH_DST_BEGIN: Final = 0xFE
DAY_SECOND_LAST: Final = 0xFD
DAY_LAST: Final = 0xFE
DEVIATION_UNSPECIFIED: Final = -0x8000
_UNSPECIFIED: Final = 0xFF


class ClockStatus(IntFlag):
    INVALID = 0x01
    DOUBTFUL = 0x02
    DIFFERENT_BASE = 0x04
    INVALID_STATUS = 0x08
    DAYLIGHT_SAVING = 0x80


def _field(value: int) -> int | None:
    return None if value == _UNSPECIFIED else value


def _check(value: int | None, name: str) -> None:
    if value is not None and not 0 <= value < _UNSPECIFIED:
        raise FrameError(f"COSEM {name} {value} does not fit a byte (FF is 'not specified')")


def _byte(value: int | None) -> int:
    return _UNSPECIFIED if value is None else value


@dataclass(frozen=True, slots=True)
class CosemDate:
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None

    def __post_init__(self) -> None:
        if self.year is not None and not 0 <= self.year < 0xFFFF:
            raise FrameError(f"COSEM year {self.year} is out of range")
        for name in ("month", "day", "weekday"):
            _check(getattr(self, name), name)

    def to_bytes(self) -> bytes:
        year = 0xFFFF if self.year is None else self.year
        return year.to_bytes(2, "big") + bytes(
            (_byte(self.month), _byte(self.day), _byte(self.weekday))
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CosemDate:
        _check_length(data, 5, "date")
        year = int.from_bytes(data[0:2], "big")
        return cls(
            None if year == 0xFFFF else year,
            _field(data[2]),
            _field(data[3]),
            _field(data[4]),
        )

    @classmethod
    def from_date(cls, value: date, *, weekday: bool = True) -> CosemDate:
        return cls(value.year, value.month, value.day, value.isoweekday() if weekday else None)

    def to_date(self) -> date:
        if self.year is None or self.month is None or self.day is None or self.day > 31:
            raise FrameError(f"COSEM date {self} is not one calendar day")
        try:
            return date(self.year, self.month, self.day)
        except ValueError as exc:
            raise FrameError(f"COSEM date {self}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class CosemTime:
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    hundredths: int | None = None

    def __post_init__(self) -> None:
        for name in ("hour", "minute", "second", "hundredths"):
            _check(getattr(self, name), name)

    def to_bytes(self) -> bytes:
        return bytes(
            (_byte(self.hour), _byte(self.minute), _byte(self.second), _byte(self.hundredths))
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CosemTime:
        _check_length(data, 4, "time")
        return cls(
            _field(data[0]),
            _field(data[1]),
            _field(data[2]),
            _field(data[3]),
        )

    @classmethod
    def from_time(cls, value: time) -> CosemTime:
        return cls(value.hour, value.minute, value.second, value.microsecond // 10_000)

    def to_time(self) -> time:
        """Unspecified seconds and hundredths count as 0."""
        if self.hour is None or self.minute is None:
            raise FrameError(f"COSEM time {self} has no hour or minute")
        hundredths = self.hundredths or 0
        if hundredths > 99:
            raise FrameError(f"COSEM time {self} is not a time of day")
        try:
            return time(self.hour, self.minute, self.second or 0, hundredths * 10_000)
        except ValueError as exc:
            raise FrameError(f"COSEM time {self} is not a time of day") from exc


@dataclass(frozen=True, slots=True)
class CosemDateTime:
    date: CosemDate
    time: CosemTime
    deviation: int | None = None
    clock_status: ClockStatus | None = None

    def __post_init__(self) -> None:
        if self.deviation is not None and not -0x7FFF <= self.deviation <= 0x7FFF:
            raise FrameError(f"COSEM deviation {self.deviation} does not fit int16")

    def to_bytes(self) -> bytes:
        deviation = DEVIATION_UNSPECIFIED if self.deviation is None else self.deviation
        status = _UNSPECIFIED if self.clock_status is None else int(self.clock_status)
        return (
            self.date.to_bytes()
            + self.time.to_bytes()
            + deviation.to_bytes(2, "big", signed=True)
            + bytes((status,))
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CosemDateTime:
        _check_length(data, 12, "date-time")
        deviation = int.from_bytes(data[9:11], "big", signed=True)
        return cls(
            CosemDate.from_bytes(data[0:5]),
            CosemTime.from_bytes(data[5:9]),
            None if deviation == DEVIATION_UNSPECIFIED else deviation,
            None if data[11] == _UNSPECIFIED else ClockStatus(data[11]),
        )

    @classmethod
    def from_datetime(
        cls,
        value: datetime,
        *,
        clock_status: ClockStatus | None = None,
        weekday: bool = True,
        deviation: bool = True,
    ) -> CosemDateTime:
        """An aware ``value`` gets its deviation (−offset in minutes) unless ``deviation`` is
        false (range bounds for meters that refuse one, notes §5.7); a naive one gets none."""
        offset = value.utcoffset()
        minutes = None
        if offset is not None and deviation:
            minutes = -int(offset.total_seconds() // 60)
        return cls(
            CosemDate.from_date(value.date(), weekday=weekday),
            CosemTime.from_time(value.time()),
            minutes,
            clock_status,
        )

    def to_datetime(self) -> datetime:
        """The local wall time, aware when the deviation is given (offset = −deviation)."""
        moment = datetime.combine(self.date.to_date(), self.time.to_time())
        if self.deviation is None:
            return moment
        return moment.replace(tzinfo=timezone(timedelta(minutes=-self.deviation)))

    def to_utc(self) -> datetime:
        if self.deviation is None:
            raise FrameError("a COSEM date-time without deviation has no UTC instant")
        return self.to_datetime().astimezone(UTC)


def _check_length(data: bytes, size: int, name: str) -> None:
    if len(data) < size:
        raise TruncatedError(f"a COSEM {name} of {len(data)} byte(s), {size} expected")
    if len(data) > size:
        raise FrameError(f"a COSEM {name} of {len(data)} bytes, {size} expected")
