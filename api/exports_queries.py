"""What the ATS 80020 export reads from the store, and its message counter (docs/exports.md).

The export needs a contract as a whole: its sender and area, every metering point under it
with its ATS code and its energy object's time zone, the meters of those points with their
ratios, and the day's interval rows of those meters. A contract is visible to an admin key or
to a key scoped to the whole contract; a key limited to some energy objects cannot export the
contract's area (a partial file would silently drop points), so for it the contract is not
found (404, DESIGN §5). Database failures come out as :class:`core.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from api.queries import Scope
from core.errors import StorageError
from core.obis import ENERGY_KINDS, interval_obis

__all__ = [
    "Connection",
    "ContractRecord",
    "IntervalRow",
    "MeterRatio",
    "PointRecord",
    "contract_points",
    "day_intervals",
    "find_export_contract",
    "next_message_number",
    "point_meters",
]

Connection = psycopg.AsyncConnection[Any]

_INTERVAL_CODES = [interval_obis(kind) for kind in ENERGY_KINDS]


@dataclass(frozen=True, slots=True)
class ContractRecord:
    id: int
    number: str
    name: str
    sender_inn: str | None
    sender_name: str | None
    area_inn: str | None
    area_name: str | None
    ats_time: str


@dataclass(frozen=True, slots=True)
class PointRecord:
    """A metering point of the contract, with the place it hangs in the tree."""

    id: int
    number: str
    name: str
    ats_code: str | None
    connection_point: str
    energy_object: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class MeterRatio:
    meter_id: str
    metering_point_id: int
    ct_ratio: Decimal
    vt_ratio: Decimal


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """One stored interval: the meter's own value in its stored unit, quality as its rank."""

    meter_id: str
    obis: str
    ts: datetime
    period_s: int
    value: Decimal
    unit: str
    quality: int


@contextmanager
def _storage(what: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise StorageError(f"{what} failed: {type(exc).__name__}") from exc


def _contract_visible(scope: Scope) -> sql.Composable:
    """The condition on ``contracts AS c`` for a caller who may export the whole contract."""
    if scope.admin:
        return sql.SQL("TRUE")
    return sql.SQL("c.id = ANY({ids}::bigint[])").format(ids=sql.Literal(sorted(scope.contracts)))


async def find_export_contract(
    conn: Connection, scope: Scope, number: str
) -> ContractRecord | None:
    """The contract ``number`` when ``scope`` covers all of it."""
    query = sql.SQL(
        "SELECT c.id, c.number, c.name, c.sender_inn, c.sender_name, c.area_inn, c.area_name,"
        " c.ats_time FROM contracts AS c WHERE c.number = %s AND {visible}"
    ).format(visible=_contract_visible(scope))
    with _storage(f"looking up contract {number}"):
        cursor = await conn.execute(query, (number,))
        row = await cursor.fetchone()
    return None if row is None else ContractRecord(*row)


async def contract_points(conn: Connection, contract_id: int) -> list[PointRecord]:
    """Every metering point of the contract, in the registry's order (object, connection
    point, metering point numbers, byte order)."""
    query = (
        "SELECT mp.id, mp.number, mp.name, mp.ats_code, cp.number, eo.number, eo.time_zone"
        " FROM metering_points AS mp"
        " JOIN connection_points AS cp ON cp.id = mp.connection_point_id"
        " JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
        " WHERE eo.contract_id = %s"
        ' ORDER BY eo.number COLLATE "C", cp.number COLLATE "C", mp.number COLLATE "C"'
    )
    with _storage("reading the contract's metering points"):
        cursor = await conn.execute(query, (contract_id,))
        rows = await cursor.fetchall()
    return [PointRecord(*row) for row in rows]


async def point_meters(conn: Connection, point_ids: Sequence[int]) -> list[MeterRatio]:
    """The meters placed under the metering points ``point_ids``, with their ratios."""
    query = (
        "SELECT meter_id, metering_point_id, ct_ratio, vt_ratio FROM meters"
        ' WHERE metering_point_id = ANY(%s::bigint[]) ORDER BY meter_id COLLATE "C"'
    )
    with _storage("reading the metering points' meters"):
        cursor = await conn.execute(query, (list(point_ids),))
        rows = await cursor.fetchall()
    return [
        MeterRatio(meter_id, point_id, Decimal(ct), Decimal(vt))
        for meter_id, point_id, ct, vt in rows
    ]


async def day_intervals(
    conn: Connection, meter_ids: Sequence[str], since: datetime, until: datetime
) -> list[IntervalRow]:
    """Interval energy rows (``1.0.C.29.0.255``, C = 1..4) of ``meter_ids`` that start in
    ``[since, until)``, every quality included (the export flags them itself)."""
    if not meter_ids:
        return []
    query = (
        "SELECT meter_id, obis, ts, period_s, value, unit, quality FROM interval_readings"
        " WHERE meter_id = ANY(%(meters)s::text[]) AND obis = ANY(%(codes)s::text[])"
        "   AND ts >= %(since)s AND ts < %(until)s"
        " ORDER BY meter_id, obis, ts"
    )
    params = {"meters": list(meter_ids), "codes": _INTERVAL_CODES, "since": since, "until": until}
    with _storage("reading the day's intervals"):
        cursor = await conn.execute(query, params)
        rows = await cursor.fetchall()
    return [IntervalRow(*row) for row in rows]


async def next_message_number(conn: Connection, sender_inn: str) -> int:
    """The sender's next 80020 message number (1 for a new sender).

    Call it inside the transaction that builds the file: the row stays locked until that
    transaction ends, so concurrent exports of one sender take consecutive numbers, and a
    rolled-back export gives its number back.
    """
    query = (
        "INSERT INTO ats_message_counters AS c (sender_inn, last_number) VALUES (%s, 1)"
        " ON CONFLICT (sender_inn) DO UPDATE"
        " SET last_number = c.last_number + 1, updated_at = now()"
        " RETURNING c.last_number"
    )
    with _storage(f"taking the next message number of sender {sender_inn}"):
        cursor = await conn.execute(query, (sender_inn,))
        row = await cursor.fetchone()
    assert row is not None  # INSERT … RETURNING always returns the row
    return int(row[0])
