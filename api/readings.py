"""The cabinet's «Показания» tab (docs/api.md) built from stored rows; no I/O.

A register block (end of day, end of billing period, current values) is one snapshot: the values
of the stream at its newest ``ts``, which is the block's ``as_of``. The interval block is the
energy of the interval profile from the start of the current local month, split into the tariff
zones of the meter's contract (:func:`contract_schedule`, :mod:`core.zone_split`). Every block
has the rows A+, A-, R+, R- in that order. A register block's zone columns are the zones with
data and its sum is the stored total register (T = 0) when there is one, else the sum of the
zones; the interval block's columns are the zones of its schedule and its sum is the whole
interval energy. Values are billing values: the meter's own, converted to kWh or kvarh and
multiplied by the ratio.

A value of quality ``invalid`` (DESIGN §3) is not a billing value: it shows as missing. A block's
``quality`` is the worst quality among what it counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, Inexact, localcontext
from typing import Any

from api.formats import ENERGY_PLACES, energy_text, local_isoformat, to_kilo, zone_label
from api.schemas import BlockType, ReadingsBlock, ReadingsRow
from core.model import Quality
from core.obis import ENERGY_KINDS, EnergyKind, interval_obis, parse_energy_obis
from core.tariffs import SINGLE_RATE, ZoneSchedule, schedule_named
from core.zone_split import IntervalEnergy, split_by_zone, zone_shares

__all__ = [
    "DEFAULT_SCHEDULE",
    "SUM_COLUMN",
    "IntervalGroup",
    "IntervalRow",
    "RegisterValue",
    "build_interval_block",
    "build_register_block",
    "contract_schedule",
    "empty_block",
    "group_intervals",
]

logger = logging.getLogger(__name__)

#: The key of the sum column in a row's values («СУММ»).
SUM_COLUMN = "sum"

#: The schedule of a meter outside any contract, or of a contract that names none: the single
#: rate («круглосуточный», research/domain.md). Zones are a tariff the consumer chooses; where
#: none was chosen, splitting by day and night would invent one.
DEFAULT_SCHEDULE = SINGLE_RATE

_INVALID = Quality.INVALID.rank
_INTERVAL_KINDS = {interval_obis(kind): kind for kind in ENERGY_KINDS}
_QUALITY_OF_RANK = {quality.rank: quality for quality in Quality}


@dataclass(frozen=True, slots=True)
class RegisterValue:
    """One stored register reading (the meter's own value, in its stored unit)."""

    obis: str
    ts: datetime
    value: Decimal
    unit: str
    quality: int = Quality.OK.rank


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """One stored interval ``[ts, ts + period_s)`` (the meter's own value, in its stored unit)."""

    obis: str
    ts: datetime
    period_s: int
    value: Decimal
    unit: str
    quality: int = Quality.OK.rank


@dataclass(frozen=True, slots=True)
class IntervalGroup:
    """Stored intervals of one channel, unit, quality and period that start at the same local
    wall time and span the same wall time (so the same zones of any schedule): ``count`` of
    them from ``first`` on, ending at the latest by ``last_end``, ``value`` their sum.

    :func:`api.queries.interval_groups` forms them in SQL, :func:`group_intervals` in Python;
    a month of half-hours of four kinds is about 200 groups instead of about 6000 rows.
    """

    obis: str
    unit: str
    quality: int
    period_s: int
    first: datetime
    last_end: datetime
    count: int
    value: Decimal


def group_intervals(rows: Iterable[IntervalRow], zone: tzinfo) -> list[IntervalGroup]:
    """The groups of ``rows`` as :func:`api.queries.interval_groups` forms them in SQL."""
    groups: dict[tuple[Any, ...], IntervalGroup] = {}
    for row in rows:
        end = row.ts + timedelta(seconds=row.period_s)
        wall_start = row.ts.astimezone(zone).replace(tzinfo=None)
        wall_span = end.astimezone(zone).replace(tzinfo=None) - wall_start
        key = (row.obis, row.unit, row.quality, row.period_s, wall_start.time(), wall_span)
        known = groups.get(key)
        if known is None:
            groups[key] = IntervalGroup(row.obis, row.unit, row.quality, row.period_s, row.ts,
                                        end, 1, row.value)
        else:
            groups[key] = IntervalGroup(row.obis, row.unit, row.quality, row.period_s,
                                        min(known.first, row.ts), max(known.last_end, end),
                                        known.count + 1, known.value + row.value)
    return list(groups.values())


def contract_schedule(
    name: str | None, switches: Any = None, *, meter_id: str = ""
) -> ZoneSchedule:
    """The schedule a contract's ``zone_schedule`` and ``zone_switches`` name (docs/registry.md).

    ``None`` (no contract, or a contract without a schedule) is :data:`DEFAULT_SCHEDULE`; so is
    an entry that cannot be read, which the registry's checks should never let through (logged).
    """
    if name is None:
        return DEFAULT_SCHEDULE
    try:
        if name == "custom":
            points = tuple((time.fromisoformat(start), int(zone)) for start, zone in switches)
            return ZoneSchedule("custom", points)
        return schedule_named(name)
    except (TypeError, ValueError) as exc:
        logger.warning(
            "meter %s: contract zone schedule %r unusable (%s), using %s",
            meter_id,
            name,
            exc,
            DEFAULT_SCHEDULE.name,
            extra={"meter_id": meter_id},
        )
        return DEFAULT_SCHEDULE


def empty_block(block_type: BlockType, zone_schedule: str | None = None) -> ReadingsBlock:
    """A block without data: still four rows, every value missing, ``as_of`` null."""
    cells: dict[EnergyKind, dict[str, Decimal | None]] = {
        kind: {SUM_COLUMN: None} for kind in ENERGY_KINDS
    }
    return _block(block_type, None, [], cells, None, zone_schedule)


def build_register_block(
    block_type: BlockType,
    values: Iterable[RegisterValue],
    ratio: Decimal,
    zone: tzinfo,
    *,
    meter_id: str = "",
) -> ReadingsBlock:
    """The block of the newest snapshot among ``values`` (rows of one stream of one meter)."""
    values = list(values)
    if not values:
        return empty_block(block_type)
    as_of = max(value.ts for value in values)
    totals: dict[EnergyKind, Decimal] = {}
    zoned: dict[EnergyKind, dict[int, Decimal]] = {kind: {} for kind in ENERGY_KINDS}
    worst: Quality | None = None
    for value in values:
        if value.ts != as_of or value.quality <= _INVALID:
            continue
        channel = parse_energy_obis(value.obis)
        amount = to_kilo(value.value, value.unit)
        if channel is None or amount is None:
            logger.warning(
                "meter %s: skipping register %s in unit %r",
                meter_id,
                value.obis,
                value.unit,
                extra={"meter_id": meter_id},
            )
            continue
        worst = _worse(worst, _QUALITY_OF_RANK[value.quality])
        kind, tariff = channel
        if tariff == 0:
            totals[kind] = amount * ratio
        else:
            zoned[kind][tariff] = amount * ratio
    used = sorted({tariff for by_zone in zoned.values() for tariff in by_zone})
    cells: dict[EnergyKind, dict[str, Decimal | None]] = {}
    for kind in ENERGY_KINDS:
        row: dict[str, Decimal | None] = {zone_label(t): zoned[kind].get(t) for t in used}
        row[SUM_COLUMN] = _row_sum(totals.get(kind), zoned[kind].values())
        cells[kind] = row
    labels = [zone_label(t) for t in used]
    return _block(block_type, local_isoformat(as_of, zone), labels, cells, worst, None)


def build_interval_block(
    groups: Iterable[IntervalGroup],
    ratio: Decimal,
    zone: tzinfo,
    schedule: ZoneSchedule,
    since: datetime,
    *,
    meter_id: str = "",
) -> ReadingsBlock:
    """The interval block of ``groups``, the intervals that start from ``since`` on.

    Each kind's energy is split into the zones of ``schedule`` in local time (``zone``), then
    multiplied by ``ratio``, then rounded once for display so that the shown zones add up to the
    shown sum (:func:`_displayed`). ``as_of`` ends the last counted interval. ``quality`` is the
    worst counted interval's, and at most ``incomplete`` when an ``invalid`` interval was left
    out or a kind's intervals leave a gap between ``since`` and ``as_of``.
    """
    profile = _prepare(groups, schedule, zone, since, meter_id)
    if profile.end is None:
        return empty_block(BlockType.INTERVAL, schedule.name)
    split = split_by_zone(profile.intervals, schedule, zone)
    quality = _worse(split.quality, Quality.INCOMPLETE) if profile.incomplete else split.quality
    labels = [zone_label(tariff) for tariff in schedule.zones]
    cells: dict[EnergyKind, dict[str, Decimal | None]] = {}
    for kind in ENERGY_KINDS:
        totals = split.kinds.get(kind)
        if totals is None:
            cells[kind] = dict.fromkeys([*labels, SUM_COLUMN])
            continue
        with _exact():  # the zones times the ratio still add up to the total times the ratio
            zones = {tariff: share * ratio for tariff, share in totals.zones.items()}
            shown, total = _displayed(zones, totals.total * ratio)
        cells[kind] = {**{zone_label(t): shown[t] for t in schedule.zones}, SUM_COLUMN: total}
    as_of = local_isoformat(profile.end, zone)
    return _block(BlockType.INTERVAL, as_of, labels, cells, quality, schedule.name)


@dataclass(frozen=True, slots=True)
class _Profile:
    """The counted intervals of a block, ready for :func:`core.zone_split.split_by_zone`."""

    intervals: list[IntervalEnergy]
    end: datetime | None
    incomplete: bool


def _prepare(
    groups: Iterable[IntervalGroup],
    schedule: ZoneSchedule,
    zone: tzinfo,
    since: datetime,
    meter_id: str,
) -> _Profile:
    """Groups as kWh or kvarh intervals; those that lie inside one zone summed per zone.

    The split adds an interval inside one zone whole to that zone, so summing such intervals
    first (exactly) changes nothing but the work; a group that straddles a switch goes to the
    split as one interval of its summed energy, which the split shares out as it would each of
    its intervals (the shares are the same: same wall start, same wall span). ``incomplete``
    says that an ``invalid`` interval was left out or that a kind's intervals leave a gap in
    ``[since, end)``: its first interval starts after ``since``, or its intervals cover less
    time than from ``since`` to its last end, or it ends before another kind.
    """
    merged: dict[tuple[EnergyKind, int, Quality], tuple[IntervalGroup, Decimal]] = {}
    pieces_of: dict[tuple[time, timedelta, int], list[tuple[int, int]]] = {}
    straddling: list[IntervalEnergy] = []
    first: dict[EnergyKind, datetime] = {}
    covered_s: dict[EnergyKind, int] = {}
    reach: dict[EnergyKind, datetime] = {}
    skipped: set[tuple[str, str]] = set()
    end: datetime | None = None
    incomplete = False
    with _exact():
        for group in sorted(groups, key=lambda g: g.first):
            kind = _INTERVAL_KINDS.get(group.obis)
            amount = to_kilo(group.value, group.unit)
            if kind is None or amount is None:
                skipped.add((group.obis, group.unit))
                continue
            quality = _QUALITY_OF_RANK[group.quality]
            if quality is Quality.INVALID:
                incomplete = True
                continue
            first[kind] = min(first.get(kind, group.first), group.first)
            covered_s[kind] = covered_s.get(kind, 0) + group.count * group.period_s
            reach[kind] = max(reach.get(kind, group.last_end), group.last_end)
            end = group.last_end if end is None else max(end, group.last_end)
            # The pieces depend only on the wall start and span (the schedule is by time of
            # day): about 50 distinct ones in a month of half-hours of four kinds and qualities.
            wall = group.first.astimezone(zone)
            wall_end = (group.first + timedelta(seconds=group.period_s)).astimezone(zone)
            shape = (wall.time(), wall_end.replace(tzinfo=None) - wall.replace(tzinfo=None),
                     group.period_s)
            pieces = pieces_of.get(shape)
            if pieces is None:
                pieces = pieces_of[shape] = zone_shares(schedule, zone, group.first,
                                                        group.period_s)
            if len(pieces) > 1:
                straddling.append(
                    IntervalEnergy(kind, group.first, group.period_s, amount, quality))
                continue
            key = (kind, pieces[0][0], quality)
            known, total = merged.get(key, (group, Decimal(0)))
            merged[key] = (known, total + amount)
    for obis, unit in sorted(skipped):
        logger.warning(
            "meter %s: skipping interval channel %s in unit %r",
            meter_id,
            obis,
            unit,
            extra={"meter_id": meter_id},
        )
    whole = [
        IntervalEnergy(kind, group.first, group.period_s, total, quality)
        for (kind, _, quality), (group, total) in merged.items()
    ]
    if end is not None:
        for kind, last in reach.items():
            span_s = (last - since).total_seconds()
            if first[kind] > since or covered_s[kind] < span_s or last < end:
                incomplete = True
    return _Profile([*whole, *straddling], end, incomplete)


def _displayed(zones: Mapping[int, Decimal], total: Decimal) -> tuple[dict[int, Decimal], Decimal]:
    """Zones and total at the API's precision, the zones adding up exactly to the total.

    The total is rounded half up, as every energy value (docs/api.md, "Energy"). Each zone is
    rounded down, and the thousandths still missing go to the zones with the largest remainders
    (ties: the lower zone), so a zone differs from its exact value by less than one thousandth
    and a zone that is exact at this precision is never changed. ``zones`` must add up to
    ``total`` exactly, as :func:`core.zone_split.split_by_zone` guarantees.
    """
    scaled = {tariff: value.scaleb(ENERGY_PLACES) for tariff, value in zones.items()}
    units = {tariff: int(v.to_integral_value(ROUND_FLOOR)) for tariff, v in scaled.items()}
    total_units = int(total.scaleb(ENERGY_PLACES).to_integral_value(ROUND_HALF_UP))
    missing = total_units - sum(units.values())
    if not 0 <= missing <= len(units):
        raise ValueError(f"zones {dict(zones)} do not add up to {total}")
    by_remainder = sorted(scaled, key=lambda t: (units[t] - scaled[t], t))
    for tariff in by_remainder[:missing]:
        units[tariff] += 1
    shown = {tariff: Decimal(n).scaleb(-ENERGY_PLACES) for tariff, n in units.items()}
    return shown, Decimal(total_units).scaleb(-ENERGY_PLACES)


@contextmanager
def _exact() -> Iterator[None]:
    """Decimal arithmetic that raises rather than round (far beyond any meter's digits)."""
    with localcontext() as context:
        context.prec = 60
        context.traps[Inexact] = True
        yield


def _worse(current: Quality | None, other: Quality) -> Quality:
    return other if current is None or other.rank < current.rank else current


def _row_sum(total: Decimal | None, zones: Iterable[Decimal]) -> Decimal | None:
    if total is not None:
        return total
    present = list(zones)
    return sum(present, Decimal(0)) if present else None


def _block(
    block_type: BlockType,
    as_of: str | None,
    zones: Sequence[str],
    cells: dict[EnergyKind, dict[str, Decimal | None]],
    quality: Quality | None,
    zone_schedule: str | None,
) -> ReadingsBlock:
    rows = [
        ReadingsRow(
            kind=kind.label,
            name=kind.name_ru,
            unit=kind.unit_ru,
            values={column: energy_text(value) for column, value in cells[kind].items()},
        )
        for kind in ENERGY_KINDS
    ]
    return ReadingsBlock(
        type=block_type,
        title=block_type.title_ru,
        as_of=as_of,
        quality=None if quality is None else quality.value,
        zone_schedule=zone_schedule,
        zones=list(zones),
        rows=rows,
    )
