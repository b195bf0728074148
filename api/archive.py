"""``/api/v1/meters/{meter_id}/archive`` and ``…/intervals`` (DESIGN §5, docs/api.md).

The archive is the cabinet's «Форма запроса архива данных»: one block type over a month range
(end of billing period) or a date range (end of day, interval, current values), as CSV or XLSX
for Russian Excel (api/archive_files.py) or as JSON with the same columns. The interval series
is the load profile for charts. Both apply the ratio like the «Показания» tab. Files are built in
a worker thread, so a large XLSX never stalls the event loop, and answered directly: the bodies
are built from already formatted values, so a year of intervals skips a second validation
against the response models (which document them).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.archive_files import (
    ARCHIVE_TYPE_TITLES,
    ArchiveTable,
    ColumnKind,
    archive_csv,
    archive_xlsx,
)
from api.archive_queries import interval_records, register_records
from api.archive_rows import (
    interval_points,
    interval_table,
    json_cell,
    register_snapshots,
    register_table,
)
from api.dependencies import Services, caller_scope, services
from api.errors import error_responses
from api.formats import billing_ratio, energy_text, local_isoformat, ratio_text, zone_info
from api.periods import LocalRange, date_range, month_range
from api.queries import Scope, find_meter
from api.schemas import BlockType
from core.model import ID_PATTERN, Quality, Stream
from core.obis import ENERGY_KINDS

__all__ = ["ArchiveBody", "ArchiveColumn", "IntervalEntry", "IntervalSeries", "router"]

router = APIRouter(tags=["archive"])

CallerScope = Annotated[Scope, Depends(caller_scope)]
Shared = Annotated[Services, Depends(services)]
MeterId = Annotated[
    str, Path(pattern=ID_PATTERN, description="the meter's id", examples=["M230-0042"])
]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

_STREAMS = {
    BlockType.DAY_END: Stream.DAILY,
    BlockType.PERIOD_END: Stream.MONTHLY,
    BlockType.CURRENT: Stream.CURRENT,
}


class ArchiveFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


def _config(example: Any) -> ConfigDict:
    return ConfigDict(frozen=True, json_schema_extra={"examples": [example]})


class ArchiveColumn(BaseModel):
    """A column of the archive: its Russian title (as in the files) and what its cells hold."""

    model_config = _config({"title": "A+ T1, кВт*ч", "kind": "number"})

    title: str
    kind: ColumnKind = Field(
        description="text; number: energy, a decimal string with three decimals; date or "
        "datetime: a local time with the meter's offset"
    )


_KWH = "кВт*ч"
_KVARH = "кВар*ч"
_PERIOD_END_COLUMNS = [{"title": "Дата", "kind": "date"}] + [
    {"title": f"{kind} {label}, {unit}", "kind": "number"}
    for kind, unit in (("A+", _KWH), ("A-", _KWH), ("R+", _KVARH), ("R-", _KVARH))
    for label in ("T1", "T2", "T3", "СУММ")
]
_ARCHIVE_EXAMPLE = {
    "meter_id": "M230-0042",
    "type": "period_end",
    "title": "На конец месяца",
    "time_zone": "Europe/Moscow",
    "ratio": "1",
    "start": "2023-12-01T00:00:00+03:00",
    "end": "2024-01-01T00:00:00+03:00",
    "columns": _PERIOD_END_COLUMNS,
    "rows": [
        [
            "2023-12-01T00:00:00+03:00",
            *("8.050", "0.066", "0.000", "8.116"),
            *("2.001", "0.012", "0.000", "2.013"),
            *("3.789", "0.033", "0.000", "3.822"),
            *("1.384", "0.027", "0.000", "1.411"),
        ]
    ],
}
_DISPOSITION_EXAMPLE = 'attachment; filename="M230-0042_period_end_2023-01_2023-06.csv"'
_CSV_EXAMPLE = (
    "\ufeffДата;A+ T1, кВт*ч;A+ T2, кВт*ч;A+ T3, кВт*ч;A+ СУММ, кВт*ч;A- T1, кВт*ч;…\r\n"
    "01.12.2023;8,050;0,066;0,000;8,116;2,001;…\r\n"
)


class ArchiveBody(BaseModel):
    """An archive as JSON: the columns of the CSV/XLSX file and one array of cells per row."""

    model_config = _config(_ARCHIVE_EXAMPLE)

    meter_id: str
    type: BlockType
    title: str = Field(description="the archive type's Russian name («На конец месяца» …)")
    time_zone: str = Field(description="IANA zone of the range's bounds and of the times")
    ratio: str = Field(description="ct_ratio * vt_ratio, already applied to every value")
    start: str = Field(description="00:00 local on the first day or month (included)")
    end: str = Field(description="00:00 local after the last day or month (excluded)")
    columns: list[ArchiveColumn]
    rows: list[list[str | None]] = Field(
        description="one array per snapshot or interval, a cell per column; null: missing"
    )


_INTERVAL_ENTRY_EXAMPLE = {
    "start": "2026-11-22T14:30:00+03:00",
    "period_s": 1800,
    "values": {"A+": "0.250", "A-": "0.000", "R+": "0.031", "R-": None},
    "quality": "ok",
}


class IntervalEntry(BaseModel):
    """One interval ``[start, start + period_s)`` of the load profile."""

    model_config = _config(_INTERVAL_ENTRY_EXAMPLE)

    start: str = Field(description="local start with the meter's offset")
    period_s: int
    values: dict[str, str | None] = Field(
        description="A+, A-, R+, R-: energy of the interval with the ratio applied (three "
        "decimals), null when missing or invalid"
    )
    quality: Quality = Field(description="the worst quality among the interval's kinds")


_SERIES_EXAMPLE = {
    "meter_id": "M230-0042",
    "time_zone": "Europe/Moscow",
    "ratio": "1",
    "start": "2026-11-22T00:00:00+03:00",
    "end": "2026-11-23T00:00:00+03:00",
    "units": {"A+": _KWH, "A-": _KWH, "R+": _KVARH, "R-": _KVARH},
    "intervals": [_INTERVAL_ENTRY_EXAMPLE],
}


class IntervalSeries(BaseModel):
    """The load profile of a date range, for charts."""

    model_config = _config(_SERIES_EXAMPLE)

    meter_id: str
    time_zone: str
    ratio: str = Field(description="ct_ratio * vt_ratio, already applied to every value")
    start: str = Field(description="00:00 local on the first day (included)")
    end: str = Field(description="00:00 local after the last day (excluded)")
    units: dict[str, str] = Field(description="unit of each kind: кВт*ч or кВар*ч")
    intervals: list[IntervalEntry] = Field(description="by start; only starts with data")


_FromParam = Annotated[
    str,
    Query(
        alias="from",
        description="first month (YYYY-MM) for period_end, else first day (YYYY-MM-DD)",
        examples=["2023-01"],
    ),
]
_ToParam = Annotated[
    str,
    Query(alias="to", description="last month or day, included", examples=["2023-06"]),
]


async def _meter(
    conn: Any, shared: Services, scope: Scope, meter_id: str
) -> tuple[ZoneInfo, Decimal]:
    meter = await find_meter(conn, scope, meter_id)
    if meter is None:
        raise HTTPException(status_code=404, detail=f"meter {meter_id!r} not found")
    zone = zone_info(meter.time_zone, shared.default_time_zone)
    return zone, billing_ratio(meter.ct_ratio, meter.vt_ratio)


def _bounds(archive_type: BlockType, first: str, last: str, zone: tzinfo) -> LocalRange:
    if archive_type is BlockType.PERIOD_END:
        return month_range(first, last, zone)
    return date_range(first, last, zone)


def _body(
    meter_id: str, archive_type: BlockType, table: ArchiveTable, bounds: LocalRange, ratio: Decimal
) -> dict[str, Any]:
    zone = table.zone
    return {
        "meter_id": meter_id,
        "type": archive_type.value,
        "title": ARCHIVE_TYPE_TITLES[archive_type],
        "time_zone": getattr(zone, "key", str(zone)),
        "ratio": ratio_text(ratio),
        "start": local_isoformat(bounds.start, zone),
        "end": local_isoformat(bounds.end, zone),
        "columns": [{"title": c.title, "kind": c.kind.value} for c in table.columns],
        "rows": [[json_cell(cell, zone) for cell in row] for row in table.rows],
    }


@router.get(
    "/meters/{meter_id}/archive",
    summary="The archive of one block type over a month or date range: CSV, XLSX or JSON",
    response_model=ArchiveBody,
    responses={
        200: {
            "description": "The archive; CSV and XLSX come as an attachment",
            "content": {
                "application/json": {"example": _ARCHIVE_EXAMPLE},
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
                XLSX_MEDIA_TYPE: {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "(an XLSX workbook: one sheet «На конец месяца», the same rows)",
                },
            },
            "headers": {
                "Content-Disposition": {
                    "description": "CSV and XLSX only",
                    "schema": {
                        "type": "string",
                        "example": _DISPOSITION_EXAMPLE,
                    },
                }
            },
        },
        **error_responses(404, 422, 503),
    },
)
async def get_archive(
    meter_id: MeterId,
    scope: CallerScope,
    shared: Shared,
    archive_type: Annotated[
        BlockType,
        Query(alias="type", description="day_end, period_end, interval or current"),
    ],
    first: _FromParam,
    last: _ToParam,
    file_format: Annotated[
        ArchiveFormat, Query(alias="format", description="json (default), csv or xlsx")
    ] = ArchiveFormat.JSON,
) -> Any:
    _bounds(archive_type, first, last, UTC)  # a bad parameter is a 422 before any query
    async with shared.connection() as conn:
        zone, ratio = await _meter(conn, shared, scope, meter_id)
        bounds = _bounds(archive_type, first, last, zone)
        if archive_type is BlockType.INTERVAL:
            intervals = await interval_records(conn, meter_id, bounds.start, bounds.end)
        else:
            stream = _STREAMS[archive_type]
            registers = await register_records(conn, meter_id, stream, bounds.start, bounds.end)

    def build() -> Response:
        if archive_type is BlockType.INTERVAL:
            table = interval_table(interval_points(intervals, ratio, meter_id=meter_id), zone)
        else:
            snapshots = register_snapshots(registers, ratio, meter_id=meter_id)
            table = register_table(archive_type, snapshots, zone)
        if file_format is ArchiveFormat.JSON:
            return JSONResponse(_body(meter_id, archive_type, table, bounds, ratio))
        name = f"{meter_id}_{archive_type.value}_{first}_{last}.{file_format.value}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if file_format is ArchiveFormat.CSV:
            return Response(archive_csv(table), media_type=CSV_MEDIA_TYPE, headers=headers)
        return Response(archive_xlsx(table), media_type=XLSX_MEDIA_TYPE, headers=headers)

    return await run_in_threadpool(build)


@router.get(
    "/meters/{meter_id}/intervals",
    summary="The interval (load-profile) series of a date range, for charts",
    response_model=IntervalSeries,
    responses={
        200: {
            "description": "Intervals by start, with the ratio applied",
            "content": {"application/json": {"example": _SERIES_EXAMPLE}},
        },
        **error_responses(404, 422, 503),
    },
)
async def get_intervals(
    meter_id: MeterId,
    scope: CallerScope,
    shared: Shared,
    first: Annotated[
        str, Query(alias="from", description="first day, YYYY-MM-DD", examples=["2026-11-22"])
    ],
    last: Annotated[
        str, Query(alias="to", description="last day, included", examples=["2026-11-22"])
    ],
) -> Any:
    date_range(first, last, UTC)  # a bad parameter is a 422 before any query
    async with shared.connection() as conn:
        zone, ratio = await _meter(conn, shared, scope, meter_id)
        bounds = date_range(first, last, zone)
        records = await interval_records(conn, meter_id, bounds.start, bounds.end)

    def build() -> JSONResponse:
        points = interval_points(records, ratio, meter_id=meter_id)
        return JSONResponse(
            {
                "meter_id": meter_id,
                "time_zone": zone.key,
                "ratio": ratio_text(ratio),
                "start": local_isoformat(bounds.start, zone),
                "end": local_isoformat(bounds.end, zone),
                "units": {kind.label: kind.unit_ru for kind in ENERGY_KINDS},
                "intervals": [
                    {
                        "start": local_isoformat(point.start, zone),
                        "period_s": point.period_s,
                        "values": {k.label: energy_text(v) for k, v in point.values.items()},
                        "quality": point.quality.value,
                    }
                    for point in points
                ],
            }
        )

    return await run_in_threadpool(build)
