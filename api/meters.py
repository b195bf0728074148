"""``/api/v1/meters``: the meter list and the «Показания» tab of one meter (DESIGN §5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.dependencies import Services, caller_scope, services
from api.errors import error_responses
from api.formats import billing_ratio, local_isoformat, month_start, ratio_text, zone_info
from api.queries import (
    Scope,
    contract_zone_schedule,
    find_meter,
    interval_groups,
    list_meters,
    newest_snapshots,
)
from api.readings import build_interval_block, build_register_block, contract_schedule
from api.schemas import BlockType, MeterReadings, MeterSummary, example_of
from core.model import ID_PATTERN, Stream

__all__ = ["router"]

router = APIRouter(tags=["meters"])

CallerScope = Annotated[Scope, Depends(caller_scope)]
Shared = Annotated[Services, Depends(services)]
MeterId = Annotated[
    str,
    Path(pattern=ID_PATTERN, description="the meter's id", examples=["M230-0042"]),
]

#: Register blocks and the stream that feeds each.
_REGISTER_BLOCKS = {
    BlockType.DAY_END: Stream.DAILY,
    BlockType.PERIOD_END: Stream.MONTHLY,
    BlockType.CURRENT: Stream.CURRENT,
}


def _ok(example: Any, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": description, "content": {"application/json": {"example": example}}}
    }


@router.get(
    "/meters",
    summary="Meters visible to the caller",
    response_model=list[MeterSummary],
    responses={
        **_ok([example_of(MeterSummary)], "Meters sorted by id"),
        **error_responses(422, 503),
    },
)
async def get_meters(
    scope: CallerScope,
    shared: Shared,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="keeps meters whose id or serial number contains this text (any case)",
            examples=["0042"],
        ),
    ] = None,
) -> list[MeterSummary]:
    async with shared.connection() as conn:
        meters = await list_meters(conn, scope, q)
    return [
        MeterSummary(
            meter_id=meter.meter_id,
            model=meter.model,
            serial_number=meter.serial_number,
            contract=meter.contract,
            energy_object=meter.energy_object,
            registered=meter.registered,
            last_reading_at=local_isoformat(
                meter.last_reading_at, zone_info(meter.time_zone, shared.default_time_zone)
            ),
        )
        for meter in meters
    ]


@router.get(
    "/meters/{meter_id}/readings",
    summary="The meter's readings: end of day, end of billing period, interval, current",
    response_model=MeterReadings,
    responses={
        **_ok(example_of(MeterReadings), "Four blocks, always present, in this order"),
        **error_responses(404, 422, 503),
    },
)
async def get_readings(meter_id: MeterId, scope: CallerScope, shared: Shared) -> MeterReadings:
    async with shared.connection() as conn:
        meter = await find_meter(conn, scope, meter_id)
        if meter is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id!r} not found")
        zone = zone_info(meter.time_zone, shared.default_time_zone)
        now = shared.clock()
        by_stream = await newest_snapshots(conn, meter_id, list(_REGISTER_BLOCKS.values()))
        snapshots = {block: by_stream[stream] for block, stream in _REGISTER_BLOCKS.items()}
        since = month_start(now, zone)
        intervals = await interval_groups(conn, meter_id, since, now, zone.key)
        setting = await contract_zone_schedule(conn, meter_id)
    schedule = contract_schedule(*(setting or (None, None)), meter_id=meter_id)
    ratio = billing_ratio(meter.ct_ratio, meter.vt_ratio)
    register = {
        block: build_register_block(block, values, ratio, zone, meter_id=meter_id)
        for block, values in snapshots.items()
    }
    interval = build_interval_block(intervals, ratio, zone, schedule, since, meter_id=meter_id)
    return MeterReadings(
        meter_id=meter.meter_id,
        time_zone=zone.key,
        ratio=ratio_text(ratio),
        blocks=[
            register[BlockType.DAY_END],
            register[BlockType.PERIOD_END],
            interval,
            register[BlockType.CURRENT],
        ],
    )
