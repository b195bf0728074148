"""``GET /api/v1/contracts/{number}/export/80020?day=``: one operating day as ATS 80020 XML.

The route reads the contract, its metering points and meters and the day's interval rows, takes
the sender's next message number in the same transaction, and hands typed values to the
sans-IO builder (:mod:`api.ats80020`). Values are billing values: converted to kWh or kvarh and
multiplied by each meter's ``ct_ratio * vt_ratio``. Whatever keeps the registry from making a
correct file — a missing INN or name, a metering point without a 15-digit ATS code, energy
objects on different clocks, an interval off the day's grid — answers 409 naming it, and the
transaction rolls back, so a refused export takes no message number (docs/exports.md).
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from api.ats80020 import (
    ENCODING,
    MOSCOW_ZONE,
    Ats80020Message,
    Channel,
    Interval,
    MeasuringPoint,
    Party,
    TimeBasis,
    build_80020,
    file_name_80020,
)
from api.dependencies import Services, caller_scope, services
from api.errors import error_responses
from api.exports_queries import (
    Connection,
    ContractRecord,
    IntervalRow,
    MeterRatio,
    PointRecord,
    contract_points,
    day_intervals,
    find_export_contract,
    next_message_number,
    point_meters,
)
from api.formats import billing_ratio, to_kilo
from api.periods import parse_date
from api.queries import Scope
from api.schemas import ErrorBody, ValidationErrorBody
from core.errors import ExportError, StorageError
from core.model import Quality
from core.obis import EnergyKind, interval_obis

__all__ = ["DEFAULT_PERIOD", "MEDIA_TYPE", "assemble_points", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["exports"])

#: The answer's media type: the bytes are windows-1251, as the XML declaration says.
MEDIA_TYPE = f"application/xml; charset={ENCODING}"
#: The profile period of a metering point without a single interval that day, when no other
#: point of the contract has one either: the half-hour profile of Mercury meters and the
#: 48-period samples (research/peers.md §4).
DEFAULT_PERIOD = timedelta(minutes=30)

_ATS_CODE = re.compile(r"[0-9]{15}")
_QUALITY_BY_RANK = {quality.rank: quality for quality in Quality}
_CHANNEL_BY_OBIS = {interval_obis(EnergyKind(int(channel.value))): channel for channel in Channel}
_CONTRACT_FIELDS = ("sender_inn", "sender_name", "area_inn", "area_name")

CallerScope = Annotated[Scope, Depends(caller_scope)]
Shared = Annotated[Services, Depends(services)]
ContractNumber = Annotated[
    str,
    Path(
        pattern=r"^[0-9A-Za-z._-]{1,40}$",
        description="the contract's registry number",
        examples=["321654988"],
    ),
]
Day = Annotated[
    str,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description=(
            "the operating day, YYYY-MM-DD, in the object's local time (or Moscow time when"
            " the contract's `ats_time` is `moscow`); not after today"
        ),
        examples=["2026-11-21"],
    ),
]

_XML_EXAMPLE = """\
<?xml version="1.0" encoding="windows-1251"?>
<message class="80020" version="2" number="17">
  <datetime>
    <timestamp>20261122153000</timestamp>
    <daylightsavingtime>0</daylightsavingtime>
    <day>20261121</day>
  </datetime>
  <sender>
    <inn>7700000000</inn>
    <name>ООО "Пример Учёт"</name>
  </sender>
  <area>
    <inn>7700000001</inn>
    <name>Потребитель "Завод N1"</name>
    <measuringpoint code="770000000000101" name="ВРУ-1, ввод 1">
      <measuringchannel code="01" desc="счетчик, акт. прием">
        <period start="0000" end="0030"><value status="0">41</value></period>
        <period start="0030" end="0100"><value status="1">0</value></period>
        <period start="2330" end="0000"><value status="0">40</value></period>
      </measuringchannel>
      <measuringchannel code="02" desc="счетчик, акт. отдача">
        <period start="0000" end="0030"><value status="0">0</value></period>
      </measuringchannel>
    </measuringpoint>
  </area>
</message>
"""

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The 80020 file, windows-1251 encoded (shortened here: every period of the day is"
            " written, for channels 01-04 of every metering point)"
        ),
        "content": {MEDIA_TYPE.split(";")[0]: {"example": _XML_EXAMPLE}},
        "headers": {
            "Content-Disposition": {
                "description": "the conventional file name, 80020_<sender INN>_<day>_<number>.xml",
                "schema": {
                    "type": "string",
                    "example": 'attachment; filename="80020_7700000000_20261121_17.xml"',
                },
            }
        },
    },
    **error_responses(404),
    409: {
        "model": ErrorBody,
        "description": "The registry cannot make a correct file; nothing was counted",
        "content": {
            "application/json": {
                "example": {
                    "detail": "contract '321654988': metering point 3216549882/1/1 «ВРУ-1, ввод"
                    " 1» has no ATS code; the 80020 export needs a 15-digit code for every"
                    " metering point of the contract"
                }
            }
        },
    },
    422: {
        "model": ValidationErrorBody,
        "description": "A parameter is invalid",
        "content": {
            "application/json": {
                "example": {
                    "detail": "query parameter 'day': '2026-13-01' is not a date: month must be"
                    " in 1..12",
                    "errors": [
                        {
                            "parameter": "day",
                            "location": "query",
                            "message": "'2026-13-01' is not a date: month must be in 1..12",
                        }
                    ],
                }
            }
        },
    },
    **error_responses(503),
}


def _conflict(contract: ContractRecord, problem: str) -> HTTPException:
    return HTTPException(status_code=409, detail=f"contract {contract.number!r}: {problem}")


def _label(point: PointRecord) -> str:
    return f"{point.energy_object}/{point.connection_point}/{point.number} «{point.name}»"


def _parties(contract: ContractRecord) -> tuple[Party, Party]:
    given = {name: getattr(contract, name) for name in _CONTRACT_FIELDS}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise _conflict(
            contract,
            f"the registry gives no {', '.join(missing)}; the 80020 export needs the sender's"
            " and the area's INN and name",
        )
    return (
        Party(given["sender_inn"], given["sender_name"]),
        Party(given["area_inn"], given["area_name"]),
    )


def _check_codes(contract: ContractRecord, points: Sequence[PointRecord]) -> None:
    if not points:
        raise _conflict(contract, "the contract has no metering points to export")
    problems = []
    for point in points:
        if point.ats_code is None:
            problems.append(f"metering point {_label(point)} has no ATS code")
        elif not _ATS_CODE.fullmatch(point.ats_code):
            problems.append(
                f"metering point {_label(point)} has ATS code {point.ats_code!r}, not 15 digits"
            )
    if problems:
        raise _conflict(
            contract,
            "; ".join(problems)
            + "; the 80020 export needs a 15-digit code for every metering point of the contract",
        )


def _basis_zone(contract: ContractRecord, points: Sequence[PointRecord]) -> tuple[str, ZoneInfo]:
    """The objects' local zone (one for the area) and the zone that names the periods."""
    zones = sorted({point.time_zone for point in points})
    basis = TimeBasis(contract.ats_time)
    if basis is TimeBasis.LOCAL and len(zones) > 1:
        raise _conflict(
            contract,
            f"its energy objects keep different time zones ({', '.join(zones)}), and one 80020"
            " file has one clock; set the contract's ats_time to 'moscow'",
        )
    local = zones[0] if basis is TimeBasis.LOCAL else MOSCOW_ZONE
    try:
        return local, ZoneInfo(local)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _conflict(contract, f"unknown time zone {local!r} in the registry") from exc


def _day_error(message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", "day"), "msg": message, "type": "value_error"}]
    )


def _interval(row: IntervalRow, ratio: Decimal, zone: tzinfo) -> Interval:
    """The billing value of ``row``; a unit that is not energy, or a negative value, makes the
    interval unusable (written with status 1), never a number."""
    quality = _QUALITY_BY_RANK.get(row.quality, Quality.INVALID)
    kilo = to_kilo(Decimal(row.value), row.unit)
    energy = None if kilo is None or kilo < 0 else kilo * ratio
    if energy is None:
        logger.warning(
            "meter %s: interval %s at %s has value %s %s, exported as missing",
            row.meter_id,
            row.obis,
            row.ts.isoformat(),
            row.value,
            row.unit,
            extra={"meter_id": row.meter_id},
        )
        quality = Quality.INVALID
    return Interval(row.ts.astimezone(zone), timedelta(seconds=row.period_s), energy, quality)


def assemble_points(
    points: Sequence[PointRecord],
    meters: Sequence[MeterRatio],
    rows: Sequence[IntervalRow],
    zone: tzinfo,
) -> list[MeasuringPoint]:
    """The measuring points of the file: every point, channels 01-04, billing values.

    A point's intervals come from all of its meters (a meter replaced during the day hands over
    to the next); two meters with an interval at the same start is refused, since summing would
    count a check meter twice and choosing would be a guess. A point's period is the one most of
    its intervals have; a point without intervals takes the contract's, else
    :data:`DEFAULT_PERIOD`. Times are handed over (and named in errors) in ``zone``.
    """
    meters_of: dict[int, list[MeterRatio]] = defaultdict(list)
    for meter in meters:
        meters_of[meter.metering_point_id].append(meter)
    rows_of: dict[str, list[IntervalRow]] = defaultdict(list)
    for row in rows:
        rows_of[row.meter_id].append(row)
    overall = Counter(row.period_s for row in rows)
    fallback = timedelta(seconds=overall.most_common(1)[0][0]) if overall else DEFAULT_PERIOD
    result = []
    for point in points:
        assert point.ats_code is not None  # checked before
        channels: dict[Channel, dict[datetime, tuple[str, Interval]]] = {c: {} for c in Channel}
        periods: Counter[int] = Counter()
        for meter in meters_of.get(point.id, []):
            ratio = billing_ratio(meter.ct_ratio, meter.vt_ratio)
            for row in rows_of.get(meter.meter_id, []):
                channel = _CHANNEL_BY_OBIS[row.obis]
                # Keyed by the UTC instant: aware times of one zone compare by wall clock,
                # which would merge the two 01:30s of a day the clocks go back.
                start = row.ts.astimezone(UTC)
                taken = channels[channel].get(start)
                if taken is not None:
                    raise ExportError(
                        f"metering point {_label(point)}, channel {channel.value}: meters"
                        f" {taken[0]} and {meter.meter_id} both have an interval at"
                        f" {start.astimezone(zone).isoformat()}"
                    )
                channels[channel][start] = (meter.meter_id, _interval(row, ratio, zone))
                periods[row.period_s] += 1
        period = timedelta(seconds=periods.most_common(1)[0][0]) if periods else fallback
        result.append(
            MeasuringPoint(
                code=point.ats_code,
                name=point.name,
                period=period,
                channels={
                    channel: [interval for _, interval in by_start.values()]
                    for channel, by_start in channels.items()
                },
            )
        )
    return result


async def _message(
    conn: Connection, contract: ContractRecord, day: date, now: datetime
) -> Ats80020Message:
    """The message of ``day``, numbered with the sender's next number (taken last, so that the
    counter row stays locked only while the file is built)."""
    sender, area = _parties(contract)
    points = await contract_points(conn, contract.id)
    _check_codes(contract, points)
    local_zone, zone = _basis_zone(contract, points)
    if day > now.astimezone(zone).date():
        raise _day_error(f"{day.isoformat()} is after today ({zone.key})")
    since = datetime.combine(day, time(0), zone)
    until = datetime.combine(day + timedelta(days=1), time(0), zone)
    meters = await point_meters(conn, [point.id for point in points])
    rows = await day_intervals(conn, [meter.meter_id for meter in meters], since, until)
    measuring_points = assemble_points(points, meters, rows, zone)
    return Ats80020Message(
        sender=sender,
        area=area,
        day=day,
        number=await next_message_number(conn, sender.inn),
        created_at=now,
        local_zone=local_zone,
        points=measuring_points,
        basis=TimeBasis(contract.ats_time),
    )


@router.get(
    "/contracts/{number}/export/80020",
    summary="ATS 80020 XML of one operating day of the contract's interval data",
    response_class=Response,
    responses=_RESPONSES,
)
async def export_80020(
    number: ContractNumber, day: Day, scope: CallerScope, shared: Shared
) -> Response:
    operating_day = parse_date(day, "day")  # YYYY-MM-DD only, never a Unix time such as "0"
    try:
        async with shared.write_connection() as conn, conn.transaction():
            contract = await find_export_contract(conn, scope, number)
            if contract is None:
                raise HTTPException(status_code=404, detail=f"contract {number!r} not found")
            try:
                message = await _message(conn, contract, operating_day, shared.clock())
                body = build_80020(message)
            except ExportError as exc:  # raised in the transaction: the number is given back
                raise _conflict(contract, str(exc)) from exc
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        raise StorageError("the database refuses writes here (a read replica?): the export's "
                           "message counter needs database.primary_dsn (docs/scale-out.md)") \
            from exc
    name = file_name_80020(message)
    logger.info(
        "80020 export of contract %s for %s: message %d of sender %s",
        contract.number,
        operating_day.isoformat(),
        message.number,
        message.sender.inn,
    )
    return Response(
        content=body,
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
