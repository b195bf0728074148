"""The register streams of the ``mercury230`` driver: ``current`` (array 0) and ``daily`` and
``monthly``, the registers at 00:00 local of a day and of the 1st of a month
(docs/reference/mercury-protocol.md §1.7; DOC3 §4.3).

::

    day D = the meter's today       05 C0 T      "at the start of the current day"
    day D = the meter's yesterday   05 D0 T      "at the start of the previous day"
    older days (123 deep)           18 00 DD MM YY T    when the variant has extended archives
    month M within the last year    05 BM T      "at the start of month M"
    older months (36 deep)          18 01 01 MM YY T    when the variant has extended archives

Arrays 4/5 ("current/previous day") hold the consumption since the day's start, not a snapshot,
and are not used. A snapshot the meter cannot give (status 1: too old, no archive) is left out;
``since``/``until`` select snapshot instants ``since <= ts < until`` (default: the last one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.errors import ObjectUnavailableError, RemoteProtocolError
from core.model import ReadingItem
from core.obis import EnergyKind, energy_obis
from drivers.mercury.frame import EnergyArray
from drivers.mercury.reading import Exchange, local_to_utc, reading_item
from drivers.mercury.request import ReadArchiveRequest, ReadEnergyRequest, Request
from drivers.mercury.values import EnergyRegisters

__all__ = ["daily_days", "month_starts", "read_current", "read_daily", "read_monthly"]

logger = logging.getLogger(__name__)

_ARCHIVE_DAY = 0
_ARCHIVE_MONTH = 1


def daily_days(now_local: date, zone: ZoneInfo, since: datetime | None,
               until: datetime | None) -> list[date]:
    """Days whose 00:00 local lies in ``[since, until)``; by default the meter's today."""
    if since is None:
        return [now_local]
    latest = local_to_utc(_midnight(now_local), zone) + timedelta(seconds=1)
    end = latest if until is None else min(until, latest)
    days = []
    day = since.astimezone(zone).date()
    while local_to_utc(_midnight(day), zone) < end:
        if local_to_utc(_midnight(day), zone) >= since:
            days.append(day)
        day += timedelta(days=1)
    return days


def month_starts(now_local: date, zone: ZoneInfo, since: datetime | None,
                 until: datetime | None) -> list[date]:
    """1sts of months whose 00:00 local lies in ``[since, until)``; by default this month's."""
    this_month = now_local.replace(day=1)
    if since is None:
        return [this_month]
    months = []
    first = since.astimezone(zone).date().replace(day=1)
    while first <= this_month:
        at = local_to_utc(_midnight(first), zone)
        if at >= since and (until is None or at < until):
            months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0))


def _items(registers: EnergyRegisters, tariff: int, ts: datetime) -> list[ReadingItem]:
    return [
        reading_item(energy_obis(kind, tariff), ts, value, kind.unit)
        for kind in EnergyKind
        if (value := registers.kwh(kind)) is not None
    ]


async def _snapshot(exchange: Exchange, requests: Sequence[tuple[int, Request]],
                    ts: datetime) -> list[ReadingItem]:
    items = []
    for tariff, request in requests:
        items += _items(await exchange(request, EnergyRegisters), tariff, ts)
    return items


async def read_current(exchange: Exchange, address: int, zones: Sequence[int],
                       read_at: datetime) -> list[ReadingItem]:
    """Registers now (array 0, "from reset"), the sum and each zone; FF FF FF FF left out."""
    items: list[ReadingItem] = []
    for tariff in (0, *zones):
        request = ReadEnergyRequest(address, EnergyArray.FROM_RESET, tariff)
        items += _items(await exchange(request, EnergyRegisters), tariff, read_at)
    return items


async def read_daily(exchange: Exchange, address: int, zone: ZoneInfo, zones: Sequence[int],
                     *, today: date, archives: bool, since: datetime | None,
                     until: datetime | None, meter_id: str = "") -> list[ReadingItem]:
    """Registers at 00:00 local of each selected day; ``today`` is the meter's date. No day in
    the range (nothing new since ``since``) is an empty answer, not an error."""
    items: list[ReadingItem] = []
    days = daily_days(today, zone, since, until)
    for day in days:
        tariffs = (0, *zones)
        requests: list[tuple[int, Request]]
        if day == today:
            requests = [(t, ReadEnergyRequest(address, EnergyArray.AT_CURRENT_DAY_START, t))
                        for t in tariffs]
        elif day == today - timedelta(days=1):
            requests = [(t, ReadEnergyRequest(address, EnergyArray.AT_PREVIOUS_DAY_START, t))
                        for t in tariffs]
        elif archives:
            requests = [(t, ReadArchiveRequest(address, _ARCHIVE_DAY, day, t)) for t in tariffs]
        else:
            logger.debug("meter %s: no archive for %s", meter_id, day)
            continue
        try:
            items += await _snapshot(exchange, requests, local_to_utc(_midnight(day), zone))
        except RemoteProtocolError:
            logger.debug("meter %s: no daily snapshot of %s (status 1)", meter_id, day)
    if days and not items:
        raise ObjectUnavailableError("no daily snapshot in the range asked for")
    return items


async def read_monthly(exchange: Exchange, address: int, zone: ZoneInfo, zones: Sequence[int],
                       *, today: date, archives: bool, since: datetime | None,
                       until: datetime | None, meter_id: str = "") -> list[ReadingItem]:
    """Registers at 00:00 local on the 1st of each selected month; none in the range is an
    empty answer."""
    items: list[ReadingItem] = []
    year_ago = today.replace(day=1) - timedelta(days=335)
    firsts = month_starts(today, zone, since, until)
    for first in firsts:
        tariffs = (0, *zones)
        requests: list[tuple[int, Request]]
        if first > year_ago:
            requests = [(t, ReadEnergyRequest(address, EnergyArray.AT_MONTH_START, t,
                                              month=first.month)) for t in tariffs]
        elif archives:
            requests = [(t, ReadArchiveRequest(address, _ARCHIVE_MONTH, first, t))
                        for t in tariffs]
        else:
            continue
        try:
            items += await _snapshot(exchange, requests, local_to_utc(_midnight(first), zone))
        except RemoteProtocolError:
            logger.debug("meter %s: no monthly snapshot of %s (status 1)", meter_id, first)
    if firsts and not items:
        raise ObjectUnavailableError("no monthly snapshot in the range asked for")
    return items
