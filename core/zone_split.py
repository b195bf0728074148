"""Interval energy summed per tariff zone of a day schedule (docs/archives.md, "Zone split").

An interval ``[start, start + period_s)`` that lies inside one zone adds its whole value to that
zone. An interval that straddles a switch point (a 60-minute profile with a switch at 07:30, a
period not aligned to the schedule, a local midnight) is split in proportion to the real time,
in seconds, that it spends in each zone: ``value * seconds_in_zone / period_s``. Switch points
are local wall-clock times of the object's zone (domain.md), so the split follows the tz
database, DST included; nothing assumes 48 half-hours a day.

Sums are exact: values are added as rationals. A zone's share is an exact decimal unless some
interval was split; then it is rounded to ``SPLIT_EXTRA_PLACES`` more decimal places than the
finest value given, and the rounding units are handed out by largest remainder, so that the
zones of a kind always add up to exactly its total.

Values are taken as they are (the meter's unit or kWh, before or after the CT/VT ratio: the
split is linear, so the caller converts on either side). An interval of quality ``invalid`` is
left out (docs/api.md, "Quality"); ``incomplete`` and ``estimated`` ones count and make the
result's ``quality`` that of the worst counted interval, so the API can mark the block.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

from core.model import Quality
from core.obis import EnergyKind
from core.tariffs import ZoneSchedule

__all__ = [
    "SPLIT_EXTRA_PLACES",
    "IntervalEnergy",
    "KindTotals",
    "ZoneSplit",
    "split_by_zone",
    "zone_shares",
]

#: Decimal places a split zone share keeps beyond the finest input value (1e-6 Wh for Wh input).
SPLIT_EXTRA_PLACES = 6

_MICROSECOND = timedelta(microseconds=1)
_NO_PROGRESS_GUARD = 100_000


@dataclass(frozen=True, slots=True)
class IntervalEnergy:
    """Energy of one kind over ``[start, start + period_s)``; ``start`` is an aware time."""

    kind: EnergyKind
    start: datetime
    period_s: int
    value: Decimal
    quality: Quality = Quality.OK

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("an interval's start must carry its offset")
        if self.period_s <= 0:
            raise ValueError(f"interval period must be positive, got {self.period_s}")
        if not self.value.is_finite():
            raise ValueError("an interval value must be a finite number")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.period_s)


@dataclass(frozen=True, slots=True)
class KindTotals:
    """One energy kind: every zone of the schedule (ascending) and the total."""

    zones: Mapping[int, Decimal]
    total: Decimal


@dataclass(frozen=True, slots=True)
class ZoneSplit:
    """The result of :func:`split_by_zone`.

    ``kinds`` holds only the kinds with at least one counted interval. ``quality`` is the worst
    quality among counted intervals (``ok`` when all were ``ok`` or none counted). ``end`` closes
    the latest counted interval (``None`` when none counted). ``split`` counts the intervals
    that straddled a switch; ``left_out`` counts the ``invalid`` ones.
    """

    kinds: Mapping[EnergyKind, KindTotals]
    quality: Quality
    end: datetime | None
    split: int
    left_out: int

    @property
    def marked(self) -> bool:
        """Whether the API should mark the block: some counted interval was not ``ok``."""
        return self.quality is not Quality.OK


def zone_shares(
    schedule: ZoneSchedule, zone: tzinfo, start: datetime, period_s: int
) -> list[tuple[int, int]]:
    """``(tariff zone, microseconds)`` pieces of ``[start, start + period_s)``, in time order.

    Consecutive pieces in the same zone are merged, so an interval inside one zone gives one
    piece. The pieces add up to the whole period.
    """
    if start.tzinfo is None:
        raise ValueError("an interval's start must carry its offset")
    cursor = start.astimezone(UTC)
    end = cursor + timedelta(seconds=period_s)
    pieces: list[tuple[int, int]] = []
    for _ in range(_NO_PROGRESS_GUARD):
        if cursor >= end:
            return pieces
        local = cursor.astimezone(zone)
        tariff = schedule.zone_at(local.time())
        boundary = min(end, _next_switch(schedule, zone, local, cursor))
        length = (boundary - cursor) // _MICROSECOND
        if pieces and pieces[-1][0] == tariff:
            pieces[-1] = (tariff, pieces[-1][1] + length)
        else:
            pieces.append((tariff, length))
        cursor = boundary
    raise RuntimeError(f"zone split of {start.isoformat()} made no progress")  # pragma: no cover


def _next_switch(
    schedule: ZoneSchedule, zone: tzinfo, local: datetime, cursor: datetime
) -> datetime:
    """The first switch point (or local midnight) after ``cursor``, as an aware UTC time."""
    wall = local.time().replace(tzinfo=None)
    later = [start for start, _ in schedule.switches if start > wall]
    day: date = local.date()
    candidates = [(day, later[0])] if later else []
    candidates.append((day + timedelta(days=1), time(0, 0)))
    for when_day, when in candidates:
        for fold in (local.fold, 1 - local.fold):
            moment = datetime.combine(when_day, when, tzinfo=zone).replace(fold=fold)
            moment_utc = moment.astimezone(UTC)
            if moment_utc > cursor:
                return moment_utc
    # A wall time swallowed by a clock change right after the cursor: step one second on.
    return cursor + timedelta(seconds=1)  # pragma: no cover


def split_by_zone(
    intervals: Iterable[IntervalEnergy], schedule: ZoneSchedule, zone: tzinfo
) -> ZoneSplit:
    """Per-zone sums and totals of ``intervals`` for each energy kind (module docstring)."""
    exact: dict[EnergyKind, dict[int, Fraction]] = {}
    finest = 0
    worst = Quality.OK
    end: datetime | None = None
    split = 0
    left_out = 0
    for interval in intervals:
        if interval.quality is Quality.INVALID:
            left_out += 1
            continue
        if interval.quality.rank < worst.rank:
            worst = interval.quality
        exponent = interval.value.as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked by IntervalEnergy
        finest = min(finest, exponent)
        interval_end = interval.end.astimezone(UTC)
        end = interval_end if end is None else max(end, interval_end)
        sums = exact.setdefault(interval.kind, dict.fromkeys(schedule.zones, Fraction(0)))
        value = Fraction(interval.value)
        pieces = zone_shares(schedule, zone, interval.start, interval.period_s)
        if len(pieces) == 1:
            sums[pieces[0][0]] += value
            continue
        split += 1
        whole = interval.period_s * 1_000_000
        for tariff, length in pieces:
            sums[tariff] += value * length / whole
    places = -finest + (SPLIT_EXTRA_PLACES if split else 0)
    kinds = {kind: _rounded(sums, places, finest) for kind, sums in sorted(exact.items())}
    return ZoneSplit(MappingProxyType(kinds), worst, end, split, left_out)


def _rounded(sums: dict[int, Fraction], places: int, finest: int) -> KindTotals:
    """Zone shares as decimals with at most ``places`` decimals that add up to the exact total."""
    scale = 10**places
    total_units = sum(sums.values(), Fraction(0)) * scale
    # The total is a sum of decimals no finer than ``finest``, hence a whole number of units.
    assert total_units.denominator == 1
    units = {tariff: math.floor(share * scale) for tariff, share in sums.items()}
    missing = total_units.numerator - sum(units.values())
    by_remainder = sorted(sums, key=lambda t: (-(sums[t] * scale - units[t]), t))
    for tariff in by_remainder[:missing]:
        units[tariff] += 1
    zones = {tariff: _decimal(units[tariff], places, -finest) for tariff in sorted(units)}
    return KindTotals(MappingProxyType(zones), _decimal(total_units.numerator, places, -finest))


def _decimal(units: int, places: int, keep: int) -> Decimal:
    """``units * 10**-places`` exactly, trailing zeros dropped down to ``keep`` places."""
    while places > keep and units % 10 == 0:
        units //= 10
        places -= 1
    return Decimal(f"{units}E{-places}")
