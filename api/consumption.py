"""``/api/v1/meters/{meter_id}/consumption``: a year of monthly consumption, for a bar chart.

Each local month of the year sums the meter's interval energy (``1.0.C.29.0.255``) per kind in
the database, so a year of half-hours (70,272 rows) crosses the wire as a few dozen groups. The
rules are those of the «Показания» interval block (docs/api.md): the stored unit converted to
kWh or kvarh, ``invalid`` intervals left out, the sum multiplied by the ratio and rounded half up
once; a month is at least ``incomplete`` when an invalid interval was left out or when a kind
with intervals does not cover the whole month (so the month in progress always is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import Services, caller_scope, services
from api.errors import error_responses
from api.formats import billing_ratio, energy_text, local_isoformat, ratio_text, to_kilo, zone_info
from api.periods import one_month
from api.queries import Scope, find_meter
from core.errors import StorageError
from core.model import ID_PATTERN, Quality
from core.obis import ENERGY_KINDS, EnergyKind, interval_obis

__all__ = ["MonthConsumption", "YearConsumption", "month_groups", "router", "year_consumption"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["consumption"])

CallerScope = Annotated[Scope, Depends(caller_scope)]
Shared = Annotated[Services, Depends(services)]
MeterId = Annotated[
    str, Path(pattern=ID_PATTERN, description="the meter's id", examples=["M230-0042"])
]

_KIND_BY_CODE = {interval_obis(kind): kind for kind in ENERGY_KINDS}
_QUALITY_BY_RANK = {quality.rank: quality for quality in Quality}


def _config(example: Any) -> ConfigDict:
    return ConfigDict(frozen=True, json_schema_extra={"examples": [example]})


def _example_month(month: int) -> dict[str, Any]:
    """Moscow in 2026 as on 22 November: whole months, the month in progress, one to come."""
    days = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    after = "2027-01" if month == 12 else f"2026-{month + 1:02d}"
    covered = {11: 21 * 86400 + 15 * 3600 + 1800, 12: 0}.get(month, days * 86400)
    a_plus = f"{400 + 7 * month}.{month * 37:03d}"
    return {
        "month": f"2026-{month:02d}",
        "start": f"2026-{month:02d}-01T00:00:00+03:00",
        "end": f"{after}-01T00:00:00+03:00",
        "values": {"A+": None, "A-": None, "R+": None, "R-": None}
        if month == 12
        else {"A+": a_plus, "A-": "0.000", "R+": f"{100 + month}.500", "R-": None},
        "quality": {11: "incomplete", 12: None}.get(month, "ok"),
        "covered_s": covered,
        "span_s": days * 86400,
    }


_MONTH_EXAMPLE = _example_month(10)
_YEAR_EXAMPLE = {
    "meter_id": "M230-0042",
    "time_zone": "Europe/Moscow",
    "ratio": "1",
    "year": 2026,
    "units": {"A+": "кВт*ч", "A-": "кВт*ч", "R+": "кВар*ч", "R-": "кВар*ч"},
    "months": [_example_month(month) for month in range(1, 13)],
}


class MonthConsumption(BaseModel):
    """One local month: the interval energy of each kind, summed."""

    model_config = _config(_MONTH_EXAMPLE)

    month: str = Field(description="YYYY-MM")
    start: str = Field(description="00:00 local on the 1st (included)")
    end: str = Field(description="00:00 local on the next 1st (excluded)")
    values: dict[str, str | None] = Field(
        description="A+, A-, R+, R-: the month's energy with the ratio applied (three decimals); "
        "null when the kind has no valid interval in the month"
    )
    quality: Quality | None = Field(
        description="the worst quality counted; at least incomplete when an invalid interval "
        "was left out or the intervals do not cover the month; null: no intervals"
    )
    covered_s: int = Field(description="seconds covered by the best-covered kind's intervals")
    span_s: int = Field(description="the month's length in seconds (DST changes included)")


class YearConsumption(BaseModel):
    """The twelve months of one year, January first."""

    model_config = _config(_YEAR_EXAMPLE)

    meter_id: str
    time_zone: str = Field(description="IANA zone of the months' bounds")
    ratio: str = Field(description="ct_ratio * vt_ratio, already applied to every value")
    year: int
    units: dict[str, str] = Field(description="unit of each kind: кВт*ч or кВар*ч")
    months: list[MonthConsumption] = Field(description="always twelve, January to December")


#: ``(month 1..12, obis, unit, quality, sum of values, sum of period_s)``.
MonthGroup = tuple[int, str, str, int, Decimal, int]

# The year's bounds are given as well as each month's, so that TimescaleDB keeps only the
# chunks of the year when it plans the query; the (meter_id, ts DESC) index does the rest.
_GROUPS = (
    "SELECT b.n, r.obis, r.unit, r.quality, sum(r.value), sum(r.period_s)::bigint"
    " FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) WITH ORDINALITY"
    "   AS b(since, until, n)"
    " JOIN interval_readings AS r ON r.ts >= b.since AND r.ts < b.until"
    " WHERE r.meter_id = %(meter)s AND r.obis = ANY(%(codes)s::text[])"
    "   AND r.ts >= %(first)s AND r.ts < %(last)s"
    " GROUP BY b.n, r.obis, r.unit, r.quality"
)


async def month_groups(
    conn: psycopg.AsyncConnection[Any], meter_id: str, bounds: list[tuple[datetime, datetime]]
) -> list[MonthGroup]:
    """The interval energy of each of ``bounds`` (``[start, end)`` of months 1, 2, …), grouped
    by kind, unit and quality."""
    params = {
        "starts": [start for start, _ in bounds],
        "ends": [end for _, end in bounds],
        "first": bounds[0][0],
        "last": bounds[-1][1],
        "meter": meter_id,
        "codes": list(_KIND_BY_CODE),
    }
    try:
        cursor = await conn.execute(_GROUPS, params)
        groups: list[MonthGroup] = await cursor.fetchall()
        return groups
    except psycopg.Error as exc:
        raise StorageError(
            f"reading the monthly consumption of meter {meter_id} failed: {type(exc).__name__}"
        ) from exc


@dataclass
class _KindSum:
    value: Decimal = Decimal(0)
    covered_s: int = 0
    worst: int = Quality.OK.rank


@dataclass
class _Month:
    kinds: dict[EnergyKind, _KindSum] = field(default_factory=dict)
    left_out: bool = False  # an invalid interval (or one in a unit not energy) was not counted


def _sum_groups(groups: list[MonthGroup], meter_id: str) -> dict[int, _Month]:
    months: dict[int, _Month] = {}
    for index, obis, unit, quality, total, period_s in groups:
        month = months.setdefault(index, _Month())
        kilo = to_kilo(total, unit)
        if kilo is None:
            logger.warning("meter %s: interval %s in unit %r skipped", meter_id, obis, unit)
        if quality == Quality.INVALID.rank or kilo is None:
            month.left_out = True
            continue
        found = month.kinds.setdefault(_KIND_BY_CODE[obis], _KindSum())
        found.value += kilo
        found.covered_s += period_s
        found.worst = min(found.worst, quality)
    return months


def _month_body(
    summed: _Month | None, start: datetime, end: datetime, ratio: Decimal, zone: ZoneInfo
) -> MonthConsumption:
    span_s = int((end - start).total_seconds())
    values: dict[str, str | None] = {kind.label: None for kind in ENERGY_KINDS}
    quality: Quality | None = None
    covered_s = 0
    if summed is not None:
        for kind, found in summed.kinds.items():
            values[kind.label] = energy_text(found.value * ratio)
        covered_s = max((found.covered_s for found in summed.kinds.values()), default=0)
        worst = min((found.worst for found in summed.kinds.values()), default=None)
        short = any(found.covered_s < span_s for found in summed.kinds.values())
        if worst is None:  # only left-out intervals
            quality = Quality.INCOMPLETE
        else:
            quality = _QUALITY_BY_RANK[worst]
            if (short or summed.left_out) and quality is Quality.OK:
                quality = Quality.INCOMPLETE
    local = start.astimezone(zone)
    return MonthConsumption(
        month=f"{local.year:04d}-{local.month:02d}",
        start=local_isoformat(start, zone) or "",
        end=local_isoformat(end, zone) or "",
        values=values,
        quality=quality,
        covered_s=covered_s,
        span_s=span_s,
    )


def year_consumption(
    meter_id: str, year: int, zone: ZoneInfo, ratio: Decimal, groups: list[MonthGroup]
) -> YearConsumption:
    """The answer for ``groups`` as :func:`month_groups` returns them."""
    summed = _sum_groups(groups, meter_id)
    months = []
    for month in range(1, 13):
        bounds = one_month(year, month, zone)
        months.append(_month_body(summed.get(month), bounds.start, bounds.end, ratio, zone))
    return YearConsumption(
        meter_id=meter_id,
        time_zone=zone.key,
        ratio=ratio_text(ratio),
        year=year,
        units={kind.label: kind.unit_ru for kind in ENERGY_KINDS},
        months=months,
    )


@router.get(
    "/meters/{meter_id}/consumption",
    summary="A year of monthly consumption (interval energy per local month), for charts",
    response_model=YearConsumption,
    responses={
        200: {
            "description": "Twelve months, January to December, with the ratio applied",
            "content": {"application/json": {"example": _YEAR_EXAMPLE}},
        },
        **error_responses(404, 422, 503),
    },
)
async def get_consumption(
    meter_id: MeterId,
    scope: CallerScope,
    shared: Shared,
    year: Annotated[
        int | None,
        Query(
            ge=1970,
            le=2999,
            description="the year, in the meter's local time; default: the current year",
            examples=[2026],
        ),
    ] = None,
) -> YearConsumption:
    async with shared.connection() as conn:
        meter = await find_meter(conn, scope, meter_id)
        if meter is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id!r} not found")
        zone = zone_info(meter.time_zone, shared.default_time_zone)
        if year is None:
            year = shared.clock().astimezone(zone).year
        bounds = [one_month(year, month, zone) for month in range(1, 13)]
        groups = await month_groups(
            conn, meter_id, [(b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in bounds]
        )
    ratio = billing_ratio(meter.ct_ratio, meter.vt_ratio)
    return year_consumption(meter.meter_id, year, zone, ratio, groups)
