"""The cabinet's «Показания» tab (docs/api.md) built from stored rows; no I/O.

A register block (end of day, end of billing period, current values) is one snapshot: the values
of the stream at its newest ``ts``, which is the block's ``as_of``. The interval block is the
energy of the interval profile summed from the start of the current local month. Every block
has the rows A+, A-, R+, R- in that order; the zone columns are the zones with data; the sum is
the stored total register (T = 0) when there is one, else the sum of the zones. Values are
billing values: the meter's own, converted to kWh or kvarh and multiplied by the ratio.

A value of quality ``invalid`` (DESIGN §3) is not a billing value: it shows as missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from api.formats import energy_text, local_isoformat, to_kilo, zone_label
from api.schemas import BlockType, ReadingsBlock, ReadingsRow
from core.model import Quality
from core.obis import ENERGY_KINDS, EnergyKind, interval_obis, parse_energy_obis

__all__ = [
    "SUM_COLUMN",
    "IntervalTotal",
    "RegisterValue",
    "build_interval_block",
    "build_register_block",
    "empty_block",
]

logger = logging.getLogger(__name__)

#: The key of the sum column in a row's values («СУММ»).
SUM_COLUMN = "sum"

_INVALID = Quality.INVALID.rank
_INTERVAL_KINDS = {interval_obis(kind): kind for kind in ENERGY_KINDS}


@dataclass(frozen=True, slots=True)
class RegisterValue:
    """One stored register reading (the meter's own value, in its stored unit)."""

    obis: str
    ts: datetime
    value: Decimal
    unit: str
    quality: int = Quality.OK.rank


@dataclass(frozen=True, slots=True)
class IntervalTotal:
    """Interval energy of one channel summed over a period; ``end`` closes its last interval."""

    obis: str
    unit: str
    total: Decimal
    end: datetime


def empty_block(block_type: BlockType) -> ReadingsBlock:
    """A block without data: still four rows, every value missing, ``as_of`` null."""
    return _block(block_type, None, [], {kind: {SUM_COLUMN: None} for kind in ENERGY_KINDS})


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
    return _block(block_type, local_isoformat(as_of, zone), [zone_label(t) for t in used], cells)


def build_interval_block(
    totals: Iterable[IntervalTotal],
    ratio: Decimal,
    zone: tzinfo,
    *,
    meter_id: str = "",
) -> ReadingsBlock:
    """The interval block: the whole of each kind in the sum column (no zone split yet)."""
    sums: dict[EnergyKind, Decimal] = {}
    ends: list[datetime] = []
    for entry in totals:
        kind = _INTERVAL_KINDS.get(entry.obis)
        amount = to_kilo(entry.total, entry.unit)
        if kind is None or amount is None:
            logger.warning(
                "meter %s: skipping interval channel %s in unit %r",
                meter_id,
                entry.obis,
                entry.unit,
                extra={"meter_id": meter_id},
            )
            continue
        sums[kind] = sums.get(kind, Decimal(0)) + amount * ratio
        ends.append(entry.end)
    if not ends:
        return empty_block(BlockType.INTERVAL)
    cells: dict[EnergyKind, dict[str, Decimal | None]] = {
        kind: {SUM_COLUMN: sums.get(kind)} for kind in ENERGY_KINDS
    }
    return _block(BlockType.INTERVAL, local_isoformat(max(ends), zone), [], cells)


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
        type=block_type, title=block_type.title_ru, as_of=as_of, zones=list(zones), rows=rows
    )
