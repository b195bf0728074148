"""Months and date ranges of the journal, archive and interval routes, in the meter's local time.

A month ``YYYY-MM`` runs from 00:00 local on its 1st to 00:00 local on the next 1st; a date
range ``from``..``to`` (``YYYY-MM-DD``, both included) from 00:00 local on ``from`` to 00:00
local on the day after ``to``. So bounds follow the object's zone and its historic offsets, and a
day with a clock change is 23 or 25 hours long. A parameter that does not parse, or a range that
is reversed or too long, is a 422 naming the parameter (:func:`bad_parameter`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from fastapi.exceptions import RequestValidationError

__all__ = [
    "MAX_DAYS",
    "MAX_MONTHS",
    "LocalRange",
    "bad_parameter",
    "date_range",
    "month_range",
    "one_month",
    "parse_date",
    "parse_month",
]

#: Longest date range of one request: a leap year.
MAX_DAYS = 366
#: Longest month range of one request: three years of billing periods.
MAX_MONTHS = 36

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# Far enough for any meter's data, near enough that every bound is a valid datetime.
_FIRST_YEAR, _LAST_YEAR = 1970, 2999


def bad_parameter(name: str, message: str) -> RequestValidationError:
    """A 422 whose body names query parameter ``name`` (api.errors renders it)."""
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


@dataclass(frozen=True, slots=True)
class LocalRange:
    """``[start, end)``: aware local midnights in the meter's zone."""

    start: datetime
    end: datetime


def parse_month(text: str, name: str) -> tuple[int, int]:
    """``(year, month)`` of ``YYYY-MM``; 422 naming ``name`` otherwise."""
    found = _MONTH.match(text)
    if found is None:
        raise bad_parameter(name, f"expected a month as YYYY-MM, got {text!r}")
    year, month = int(found[1]), int(found[2])
    if not 1 <= month <= 12:
        raise bad_parameter(name, f"month {month:02d} is not 01..12")
    _check_year(year, name)
    return year, month


def parse_date(text: str, name: str) -> date:
    """The date ``YYYY-MM-DD``; 422 naming ``name`` otherwise."""
    found = _DATE.match(text)
    if found is None:
        raise bad_parameter(name, f"expected a date as YYYY-MM-DD, got {text!r}")
    try:
        day = date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError as exc:
        raise bad_parameter(name, f"{text!r} is not a date: {exc}") from exc
    _check_year(day.year, name)
    return day


def _check_year(year: int, name: str) -> None:
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise bad_parameter(name, f"year {year} is outside {_FIRST_YEAR}..{_LAST_YEAR}")


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def month_range(
    first: str, last: str, zone: tzinfo, *, names: tuple[str, str] = ("from", "to")
) -> LocalRange:
    """Months ``first``..``last`` (both included, at most :data:`MAX_MONTHS`)."""
    start = parse_month(first, names[0])
    end = parse_month(last, names[1])
    if end < start:
        raise bad_parameter(names[1], f"{last} is before {names[0]} {first}")
    count = (end[0] - start[0]) * 12 + end[1] - start[1] + 1
    if count > MAX_MONTHS:
        raise bad_parameter(
            names[1], f"the range has {count} months; at most {MAX_MONTHS} are allowed"
        )
    after = _next_month(*end)
    return LocalRange(
        _midnight(date(start[0], start[1], 1), zone), _midnight(date(after[0], after[1], 1), zone)
    )


def date_range(
    first: str, last: str, zone: tzinfo, *, names: tuple[str, str] = ("from", "to")
) -> LocalRange:
    """Dates ``first``..``last`` (both included, at most :data:`MAX_DAYS`)."""
    start = parse_date(first, names[0])
    end = parse_date(last, names[1])
    if end < start:
        raise bad_parameter(names[1], f"{last} is before {names[0]} {first}")
    count = (end - start).days + 1
    if count > MAX_DAYS:
        raise bad_parameter(names[1], f"the range has {count} days; at most {MAX_DAYS} are allowed")
    return LocalRange(_midnight(start, zone), _midnight(end + timedelta(days=1), zone))


def one_month(year: int, month: int, zone: tzinfo) -> LocalRange:
    """The local month ``year``-``month``."""
    after = _next_month(year, month)
    return LocalRange(
        _midnight(date(year, month, 1), zone), _midnight(date(after[0], after[1], 1), zone)
    )
