"""What the API reads from the store (timeseries/migrations): one function per question.

Every query that finds meters goes through :func:`_visible`, the one place where the caller's
:class:`Scope` narrows what exists; a meter outside the scope is simply not found (404, never
403, DESIGN §5). Database failures come out as :class:`core.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from api.readings import IntervalGroup, RegisterValue
from core.errors import StorageError
from core.model import Stream
from core.obis import ENERGY_KINDS, energy_obis, interval_obis

__all__ = [
    "MeterRecord",
    "Scope",
    "contract_zone_schedule",
    "find_meter",
    "interval_groups",
    "list_meters",
    "newest_snapshots",
    "register_snapshot",
]

Connection = psycopg.AsyncConnection[Any]

#: Every energy register a snapshot may hold: four kinds, total and zones 1..8.
_REGISTER_CODES = [energy_obis(kind, zone) for kind in ENERGY_KINDS for zone in range(9)]
_TOTAL_CODES = [energy_obis(kind) for kind in ENERGY_KINDS]
# The newest row of each register code given: one backward probe of the primary key per chunk.
_NEWEST_PER_CODE = (
    "SELECT r.obis, r.ts, r.value, r.unit, r.quality FROM unnest(%(codes)s::text[]) AS c(obis)"
    " CROSS JOIN LATERAL (SELECT obis, ts, value, unit, quality FROM register_readings"
    "   WHERE meter_id = %(meter)s AND stream = %(stream)s AND obis = c.obis"
    "   ORDER BY ts DESC LIMIT 1) AS r"
)
_INTERVAL_CODES = [interval_obis(kind) for kind in ENERGY_KINDS]


@dataclass(frozen=True, slots=True)
class Scope:
    """What the caller may see (docs/api.md, "Authentication").

    ``admin`` sees every meter, unassigned ones included. Otherwise a meter is visible when its
    metering point lies in one of ``contracts`` (by ``contracts.id``) or under one of
    ``energy_objects`` (by ``energy_objects.id``); an unassigned meter never is.
    """

    admin: bool = False
    contracts: frozenset[int] = frozenset()
    energy_objects: frozenset[int] = frozenset()

    @classmethod
    def everything(cls) -> Scope:
        return cls(admin=True)


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """A row of ``meters`` as the API uses it."""

    meter_id: str
    model: str | None
    serial_number: str | None
    registered: bool
    time_zone: str | None
    ct_ratio: Decimal
    vt_ratio: Decimal
    last_reading_at: datetime | None = None
    #: The contract's and the energy object's numbers where the registry places the meter.
    contract: str | None = None
    energy_object: str | None = None


def _visible(scope: Scope) -> sql.Composable:
    """The condition on ``meters AS m`` that keeps what ``scope`` may see."""
    if scope.admin:
        return sql.SQL("TRUE")
    if not scope.contracts and not scope.energy_objects:
        return sql.SQL("FALSE")
    # Ids are integers from our own tables, so they are inlined as literals: the condition
    # composes into queries whatever their parameter style.
    return sql.SQL(
        "EXISTS (SELECT 1 FROM metering_points AS vmp"
        " JOIN connection_points AS vcp ON vcp.id = vmp.connection_point_id"
        " JOIN energy_objects AS veo ON veo.id = vcp.energy_object_id"
        " WHERE vmp.id = m.metering_point_id"
        " AND (veo.contract_id = ANY({contracts}::bigint[]) OR veo.id = ANY({objects}::bigint[])))"
    ).format(
        contracts=sql.Literal(sorted(scope.contracts)),
        objects=sql.Literal(sorted(scope.energy_objects)),
    )


@contextmanager
def _storage(what: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise StorageError(f"{what} failed: {type(exc).__name__}") from exc


# A meter's zone is its own, else its energy object's (DESIGN §3); NULL for an unassigned
# meter, which the API shows in its configured default zone.
_METER_COLUMNS = sql.SQL(
    "m.meter_id, m.model, m.serial_number, m.registered,"
    " coalesce(m.time_zone, (SELECT eo.time_zone FROM metering_points AS mp"
    "   JOIN connection_points AS cp ON cp.id = mp.connection_point_id"
    "   JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
    "   WHERE mp.id = m.metering_point_id)),"
    " m.ct_ratio, m.vt_ratio"
)


def _record(row: tuple[Any, ...], last_reading_at: datetime | None = None) -> MeterRecord:
    meter_id, model, serial, registered, zone, ct_ratio, vt_ratio = row[:7]
    return MeterRecord(
        meter_id=meter_id,
        model=model,
        serial_number=serial,
        registered=registered,
        time_zone=zone,
        ct_ratio=Decimal(ct_ratio),
        vt_ratio=Decimal(vt_ratio),
        last_reading_at=last_reading_at,
    )


async def list_meters(conn: Connection, scope: Scope, q: str | None = None) -> list[MeterRecord]:
    """Meters in ``scope`` whose id or serial number contains ``q`` (any case), by id."""
    query = sql.SQL(
        "SELECT {columns}, m.last_reading_at, c.number, eo.number FROM meters AS m"
        " LEFT JOIN metering_points AS mp ON mp.id = m.metering_point_id"
        " LEFT JOIN connection_points AS cp ON cp.id = mp.connection_point_id"
        " LEFT JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
        " LEFT JOIN contracts AS c ON c.id = eo.contract_id"
        " WHERE {visible} AND (%(q)s::text IS NULL"
        "   OR strpos(lower(m.meter_id), lower(%(q)s::text)) > 0"
        "   OR strpos(lower(coalesce(m.serial_number, '')), lower(%(q)s::text)) > 0)"
        ' ORDER BY m.meter_id COLLATE "C"'
    ).format(columns=_METER_COLUMNS, visible=_visible(scope))
    with _storage("listing meters"):
        cursor = await conn.execute(query, {"q": q or None})
        rows = await cursor.fetchall()
    return [replace(_record(row, row[7]), contract=row[8], energy_object=row[9])
            for row in rows]


async def find_meter(conn: Connection, scope: Scope, meter_id: str) -> MeterRecord | None:
    """The meter ``meter_id`` when it exists in ``scope``."""
    query = sql.SQL("SELECT {columns} FROM meters AS m WHERE m.meter_id = %s AND {visible}").format(
        columns=_METER_COLUMNS, visible=_visible(scope)
    )
    with _storage(f"looking up meter {meter_id}"):
        cursor = await conn.execute(query, (meter_id,))
        row = await cursor.fetchone()
    return None if row is None else _record(row)


async def register_snapshot(conn: Connection, meter_id: str, stream: Stream) -> list[RegisterValue]:
    """The register rows of ``stream`` from which the newest snapshot is built.

    Every snapshot carries the total registers (DESIGN §3), so the newest total, found by four
    probes of the primary key, bounds the search: the rows at or after its ``ts`` come from the
    newest chunk only. Without any total, each energy register code is probed for its newest
    row instead. Either way the caller keeps the values at the newest ``ts``
    (:func:`api.readings.build_register_block`).
    """
    if not stream.is_register:
        raise ValueError(f"{stream} is not a register stream")
    with _storage(f"reading {stream} registers of meter {meter_id}"):
        params = {"codes": _TOTAL_CODES, "meter": meter_id, "stream": stream.value}
        cursor = await conn.execute(_NEWEST_PER_CODE, params)
        newest_total = max((row[1] for row in await cursor.fetchall()), default=None)
        if newest_total is not None:
            cursor = await conn.execute(
                "SELECT obis, ts, value, unit, quality FROM register_readings"
                " WHERE meter_id = %s AND stream = %s AND ts >= %s",
                (meter_id, stream.value, newest_total),
            )
        else:
            cursor = await conn.execute(_NEWEST_PER_CODE, {**params, "codes": _REGISTER_CODES})
        rows = await cursor.fetchall()
    return [
        RegisterValue(obis, ts, value, unit, quality) for obis, ts, value, unit, quality in rows
    ]


_NEWEST_SNAPSHOTS = (
    "WITH newest AS ("
    "  SELECT s.stream, max(r.ts) AS ts FROM unnest(%(streams)s::text[]) AS s(stream)"
    "  CROSS JOIN unnest(%(codes)s::text[]) AS c(obis)"
    "  CROSS JOIN LATERAL (SELECT ts FROM register_readings"
    "    WHERE meter_id = %(meter)s AND stream = s.stream AND obis = c.obis"
    "    ORDER BY ts DESC LIMIT 1) AS r"
    "  GROUP BY s.stream)"
    " SELECT rr.stream, rr.obis, rr.ts, rr.value, rr.unit, rr.quality FROM newest AS n"
    " JOIN register_readings AS rr"
    "   ON rr.meter_id = %(meter)s AND rr.stream = n.stream AND rr.ts >= n.ts"
)


async def newest_snapshots(
    conn: Connection, meter_id: str, streams: Sequence[Stream]
) -> dict[Stream, list[RegisterValue]]:
    """:func:`register_snapshot` of several streams in one round trip (the «Показания» tab
    needs three): the newest total of each stream bounds its rows, as there. A stream without
    any total takes :func:`register_snapshot`'s probe of every code."""
    params = {"streams": [stream.value for stream in streams], "codes": _TOTAL_CODES,
              "meter": meter_id}
    with _storage(f"reading the registers of meter {meter_id}"):
        cursor = await conn.execute(_NEWEST_SNAPSHOTS, params)
        rows = await cursor.fetchall()
    found: dict[Stream, list[RegisterValue]] = {stream: [] for stream in streams}
    for stream, obis, ts, value, unit, quality in rows:
        found[Stream(stream)].append(RegisterValue(obis, ts, value, unit, quality))
    for stream in streams:
        if not found[stream]:
            found[stream] = await register_snapshot(conn, meter_id, stream)
    return found


async def interval_groups(
    conn: Connection, meter_id: str, since: datetime, until: datetime, zone: str
) -> list[IntervalGroup]:
    """The energy intervals (``1.0.C.29.0.255``) that start in ``[since, until)``, summed per
    channel, unit, quality, period and local wall start and span in ``zone``
    (:class:`api.readings.IntervalGroup`).

    One range scan of ``interval_readings_meter_ts`` (meter_id, ts DESC) aggregated in the
    database: a month of half-hours of four kinds is about 6000 rows but about 200 groups, so
    neither the wire nor Python handles every row. ``invalid`` rows come too, so the caller can
    tell that some were left out (:func:`api.readings.build_interval_block`).
    """
    query = (
        "SELECT obis, unit, quality, period_s, min(ts),"
        "   max(ts) + make_interval(secs => period_s), count(*), sum(value)"
        " FROM interval_readings"
        " WHERE meter_id = %(meter)s AND ts >= %(since)s AND ts < %(until)s"
        "   AND obis = ANY(%(codes)s::text[])"
        " GROUP BY obis, unit, quality, period_s, (ts AT TIME ZONE %(zone)s)::time,"
        "   (ts + make_interval(secs => period_s)) AT TIME ZONE %(zone)s"
        "     - (ts AT TIME ZONE %(zone)s)"
    )
    params = {"meter": meter_id, "codes": _INTERVAL_CODES, "since": since, "until": until,
              "zone": zone}
    with _storage(f"reading intervals of meter {meter_id}"):
        cursor = await conn.execute(query, params)
        rows = await cursor.fetchall()
    return [IntervalGroup(*row) for row in rows]


async def contract_zone_schedule(conn: Connection, meter_id: str) -> tuple[str | None, Any] | None:
    """``(zone_schedule, zone_switches)`` of the contract the meter's metering point lies in.

    ``None`` for a meter outside the registry's tree; the pair's values are ``None`` for a
    contract that names no schedule (docs/registry.md). The meter's visibility is the caller's
    business (:func:`find_meter` first).
    """
    query = (
        "SELECT c.zone_schedule, c.zone_switches FROM meters AS m"
        " JOIN metering_points AS mp ON mp.id = m.metering_point_id"
        " JOIN connection_points AS cp ON cp.id = mp.connection_point_id"
        " JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
        " JOIN contracts AS c ON c.id = eo.contract_id"
        " WHERE m.meter_id = %s"
    )
    with _storage(f"reading the zone schedule of meter {meter_id}"):
        cursor = await conn.execute(query, (meter_id,))
        row = await cursor.fetchone()
    return None if row is None else (row[0], row[1])
