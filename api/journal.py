"""``/api/v1/meters/{meter_id}/journal``: the cabinet's «Журнал» tab (DESIGN §5, docs/api.md).

One month of a meter's events in its local time, one row per event, filtered by kind and
criticality (AND), time-ordered and paged; and the list of kinds for the «Вид события» filter.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import Services, caller_scope, services
from api.errors import error_responses
from api.formats import local_isoformat, zone_info
from api.journal_queries import EventFilter, EventRow, Order, count_events, event_page
from api.periods import bad_parameter, one_month, parse_month
from api.queries import MeterRecord, Scope, find_meter
from core.events import EVENT_KINDS, OTHER, EventKind, event_kind
from core.model import ID_PATTERN, Quality

__all__ = ["EventKindEntry", "JournalEvent", "JournalPage", "router"]

router = APIRouter(tags=["journal"])

CallerScope = Annotated[Scope, Depends(caller_scope)]
Shared = Annotated[Services, Depends(services)]
MeterId = Annotated[
    str, Path(pattern=ID_PATTERN, description="the meter's id", examples=["M230-0042"])
]

#: Page size when ``limit`` is not given, and the largest one allowed.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

_KIND_BY_NAME = {kind.name: kind for kind in EVENT_KINDS}
_QUALITY_BY_RANK = {quality.rank: quality for quality in Quality}


def _config(example: Any) -> ConfigDict:
    return ConfigDict(frozen=True, json_schema_extra={"examples": [example]})


class EventKindEntry(BaseModel):
    """One value of the «Вид события» filter."""

    model_config = _config({"id": "power", "title": "События питания"})

    id: str = Field(description="stable id, the value of the journal's kind= filter")
    title: str = Field(description="the kind's Russian name, as the cabinet shows it")


_EVENT_EXAMPLE = {
    "ts": "2023-12-01T00:00:30+03:00",
    "journal": "spodes:4",
    "code": 36,
    "kind": "tamper",
    "kind_title": "Внешние воздействия",
    "text": "Вскрытие пломбы крышки клеммной колодки",
    "description": "Внешние воздействия: Вскрытие пломбы крышки клеммной колодки",
    "critical": True,
    "phase": None,
    "quality": "ok",
}


class JournalEvent(BaseModel):
    """One journal entry."""

    model_config = _config(_EVENT_EXAMPLE)

    ts: str = Field(
        description="when it happened, with the meter's UTC offset",
        json_schema_extra={"format": "date-time"},
    )
    journal: str = Field(description="source journal: mercury230:01, spodes:4, collector:clock…")
    code: int = Field(description="the event's code within its journal")
    kind: str = Field(description="kind id (GET …/journal/kinds); 'other' for a kind not listed")
    kind_title: str = Field(description="the kind's Russian name as stored with the event")
    text: str = Field(description="Russian text of the event")
    description: str = Field(description="«kind_title: text», the cabinet's «Описание события»")
    critical: bool = Field(description="true: «критичное», false: «не критичное»")
    phase: int | None = Field(description="1, 2 or 3 (A, B, C) when the event names a phase")
    quality: Quality = Field(description="ok; estimated when the meter gave no exact time")


_PAGE_EXAMPLE = {
    "meter_id": "M230-0042",
    "time_zone": "Europe/Moscow",
    "month": "2023-12",
    "start": "2023-12-01T00:00:00+03:00",
    "end": "2024-01-01T00:00:00+03:00",
    "kinds": ["tamper"],
    "critical": None,
    "order": "asc",
    "total": 1,
    "limit": 100,
    "offset": 0,
    "events": [_EVENT_EXAMPLE],
}


class JournalPage(BaseModel):
    """One page of a month of events, with the total that matches the filters."""

    model_config = _config(_PAGE_EXAMPLE)

    meter_id: str
    time_zone: str = Field(description="IANA zone of the month's bounds and of the times")
    month: str = Field(description="YYYY-MM")
    start: str = Field(description="00:00 local on the 1st (included)")
    end: str = Field(description="00:00 local on the next 1st (excluded)")
    kinds: list[str] = Field(description="the kind filter, sorted; empty: all kinds")
    critical: bool | None = Field(description="the criticality filter; null: both")
    order: Order
    total: int = Field(description="events of the month that pass the filters")
    limit: int
    offset: int
    events: list[JournalEvent]


def _ok(example: Any, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": description, "content": {"application/json": {"example": example}}}
    }


def _parse_kinds(values: list[str] | None) -> frozenset[EventKind]:
    found: set[EventKind] = set()
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            try:
                found.add(event_kind(name))
            except KeyError:
                known = ", ".join(kind.id for kind in EVENT_KINDS)
                raise bad_parameter(
                    "kind", f"unknown event kind {name!r}; known: {known}"
                ) from None
    return frozenset(found)


async def _meter(shared: Services, scope: Scope, meter_id: str) -> MeterRecord:
    async with shared.connection() as conn:
        meter = await find_meter(conn, scope, meter_id)
    if meter is None:
        raise HTTPException(status_code=404, detail=f"meter {meter_id!r} not found")
    return meter


def _event(row: EventRow, zone: tzinfo) -> JournalEvent:
    kind = _KIND_BY_NAME.get(row.kind, OTHER)
    return JournalEvent(
        ts=local_isoformat(row.ts, zone) or "",
        journal=row.journal,
        code=row.code,
        kind=kind.id,
        kind_title=row.kind,
        text=row.text,
        description=f"{row.kind}: {row.text}",
        critical=row.critical,
        phase=row.phase,
        quality=_QUALITY_BY_RANK.get(row.quality, Quality.OK),
    )


@router.get(
    "/meters/{meter_id}/journal/kinds",
    summary="Event kinds: the values of the journal's kind filter",
    response_model=list[EventKindEntry],
    responses={
        **_ok([{"id": k.id, "title": k.name} for k in EVENT_KINDS], "Every kind, in order"),
        **error_responses(404, 422, 503),
    },
)
async def get_journal_kinds(
    meter_id: MeterId, scope: CallerScope, shared: Shared
) -> list[EventKindEntry]:
    await _meter(shared, scope, meter_id)
    return [EventKindEntry(id=kind.id, title=kind.name) for kind in EVENT_KINDS]


@router.get(
    "/meters/{meter_id}/journal",
    summary="The meter's events of one month, filtered by kind and criticality (AND)",
    response_model=JournalPage,
    responses={
        **_ok(_PAGE_EXAMPLE, "One page of the month's events, by time"),
        **error_responses(404, 422, 503),
    },
)
async def get_journal(
    meter_id: MeterId,
    scope: CallerScope,
    shared: Shared,
    month: Annotated[
        str | None,
        Query(
            description="YYYY-MM, in the meter's local time; default: the current month",
            examples=["2023-12"],
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        Query(
            description="kind ids (GET …/journal/kinds), repeated or comma-separated; "
            "an event of any of them passes. Default: all kinds",
            examples=[["power", "tamper"]],
        ),
    ] = None,
    critical: Annotated[
        bool | None,
        Query(description="true: critical events only, false: non-critical only"),
    ] = None,
    order: Annotated[Order, Query(description="asc (oldest first, default) or desc")] = Order.ASC,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="events to skip")] = 0,
) -> JournalPage:
    kinds = _parse_kinds(kind)
    parsed = parse_month(month, "month") if month is not None else None
    where = EventFilter(kinds=kinds, critical=critical)
    async with shared.connection() as conn:
        meter = await find_meter(conn, scope, meter_id)
        if meter is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id!r} not found")
        zone = zone_info(meter.time_zone, shared.default_time_zone)
        if parsed is None:
            now = shared.clock().astimezone(zone)
            parsed = (now.year, now.month)
        bounds = one_month(*parsed, zone)
        total = await count_events(conn, meter_id, bounds.start, bounds.end, where)
        rows: list[EventRow] = []
        if offset < total:
            rows = await event_page(
                conn, meter_id, bounds.start, bounds.end, where,
                order=order, limit=limit, offset=offset,
            )  # fmt: skip
    return JournalPage(
        meter_id=meter.meter_id,
        time_zone=zone.key,
        month=f"{parsed[0]:04d}-{parsed[1]:02d}",
        start=local_isoformat(bounds.start, zone) or "",
        end=local_isoformat(bounds.end, zone) or "",
        kinds=sorted(k.id for k in kinds),
        critical=critical,
        order=order,
        total=total,
        limit=limit,
        offset=offset,
        events=[_event(row, zone) for row in rows],
    )
