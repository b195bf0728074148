"""Archive tables and interval series from stored rows (docs/api.md, «Архив»); no I/O.

The same rules as the «Показания» tab (api/readings.py): values are converted to kWh or kvarh
and multiplied by the ratio; a value of quality ``invalid`` is missing; a register row's sum is
the stored total (T = 0) when the snapshot has one, else the sum of its zones. A register archive
has one row per snapshot (``ts``) and the zones in use anywhere in the range; an interval row is
one start with the four kinds side by side (pivoted by the query).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from api.archive_files import (
    ARCHIVE_TYPE_TITLES,
    ArchiveTable,
    Cell,
    interval_columns,
    register_columns,
)
from api.archive_queries import IntervalRecord, RegisterRecord
from api.formats import energy_text, local_isoformat, to_kilo
from api.schemas import BlockType
from core.model import Quality
from core.obis import ENERGY_KINDS, EnergyKind, interval_obis, parse_energy_obis

__all__ = [
    "IntervalPoint",
    "Snapshot",
    "interval_points",
    "interval_table",
    "json_cell",
    "register_snapshots",
    "register_table",
]

logger = logging.getLogger(__name__)

_INVALID = Quality.INVALID.rank
_QUALITY_BY_RANK = {quality.rank: quality for quality in Quality}
_OK = Quality.OK.rank


@dataclass(slots=True)
class Snapshot:
    """The billing values of one register snapshot, by kind: zones and the stored total."""

    ts: datetime
    zones: dict[EnergyKind, dict[int, Decimal]] = field(default_factory=dict)
    totals: dict[EnergyKind, Decimal] = field(default_factory=dict)

    def row_sum(self, kind: EnergyKind) -> Decimal | None:
        total = self.totals.get(kind)
        if total is not None:
            return total
        zoned = self.zones.get(kind)
        return sum(zoned.values(), Decimal(0)) if zoned else None


@dataclass(frozen=True, slots=True)
class IntervalPoint:
    """One interval: billing values by kind (``None``: missing or invalid), worst quality."""

    start: datetime
    period_s: int
    values: dict[EnergyKind, Decimal | None]
    quality: Quality

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.period_s)


def _skip(meter_id: str, what: str, obis: str, unit: str) -> None:
    logger.warning(
        "meter %s: skipping %s %s in unit %r", meter_id, what, obis, unit,
        extra={"meter_id": meter_id},
    )  # fmt: skip


def register_snapshots(
    records: Iterable[RegisterRecord], ratio: Decimal, *, meter_id: str = ""
) -> list[Snapshot]:
    """Snapshots from register rows ordered by ``ts`` (one snapshot per distinct ``ts``)."""
    snapshots: list[Snapshot] = []
    current: Snapshot | None = None
    for ts, obis, value, unit, quality in records:
        if current is None or ts != current.ts:
            current = Snapshot(ts)
            snapshots.append(current)
        if quality <= _INVALID:
            continue
        channel = parse_energy_obis(obis)
        amount = to_kilo(value, unit)
        if channel is None or amount is None:
            _skip(meter_id, "register", obis, unit)
            continue
        kind, tariff = channel
        if tariff == 0:
            current.totals[kind] = amount * ratio
        else:
            current.zones.setdefault(kind, {})[tariff] = amount * ratio
    return snapshots


def register_table(
    block_type: BlockType, snapshots: Sequence[Snapshot], zone: tzinfo
) -> ArchiveTable:
    """One row per snapshot: its time, then for A+, A-, R+, R- the zones in use and the sum."""
    used = sorted({t for snap in snapshots for by_zone in snap.zones.values() for t in by_zone})
    columns = register_columns(block_type, ENERGY_KINDS, used)
    rows: list[list[Cell]] = []
    for snap in snapshots:
        row: list[Cell] = [snap.ts]
        for kind in ENERGY_KINDS:
            zoned = snap.zones.get(kind, {})
            row += [zoned.get(t) for t in used]
            row.append(snap.row_sum(kind))
        rows.append(row)
    return ArchiveTable(columns, rows, zone, sheet_title=_sheet(block_type))


def interval_points(
    records: Iterable[IntervalRecord], ratio: Decimal, *, meter_id: str = ""
) -> list[IntervalPoint]:
    """Intervals from the pivoted rows of :func:`api.archive_queries.interval_records`.

    The quality is the worst among the kinds present, so an interval with an invalid kind says
    ``invalid`` while that kind's value is missing.
    """
    points: list[IntervalPoint] = []
    # unit → billing factor (kilo conversion times ratio), so each value costs one multiply
    factors: dict[str, Decimal | None] = {}
    for record in records:
        values: dict[EnergyKind, Decimal | None] = {}
        worst = _OK
        for position, kind in enumerate(ENERGY_KINDS):
            value, unit, quality = record[2 + 3 * position : 5 + 3 * position]
            if value is None:
                values[kind] = None
                continue
            worst = min(worst, quality)
            if unit not in factors:
                kilo = to_kilo(Decimal(1), unit)
                factors[unit] = None if kilo is None else kilo * ratio
            factor = factors[unit]
            if factor is None:
                _skip(meter_id, "interval channel", interval_obis(kind), unit)
            values[kind] = None if factor is None or quality <= _INVALID else value * factor
        points.append(IntervalPoint(record[0], record[1], values, _QUALITY_BY_RANK[worst]))
    return points


def interval_table(points: Sequence[IntervalPoint], zone: tzinfo) -> ArchiveTable:
    """One row per interval: start, end, A+, A-, R+, R-."""
    rows: list[list[Cell]] = [
        [point.start, point.end, *(point.values[kind] for kind in ENERGY_KINDS)] for point in points
    ]
    return ArchiveTable(interval_columns(), rows, zone, sheet_title=_sheet(BlockType.INTERVAL))


def json_cell(cell: Cell, zone: tzinfo) -> str | None:
    """A cell as the JSON archive gives it: local ISO time, energy with three decimals."""
    if cell is None or isinstance(cell, str):
        return cell
    if isinstance(cell, Decimal):
        return energy_text(cell)
    return local_isoformat(cell, zone)


def _sheet(block_type: BlockType) -> str:
    return ARCHIVE_TYPE_TITLES[block_type]
