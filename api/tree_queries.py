"""What the object tree and the information pages read from the registry (migration 004).

The caller's :class:`api.queries.Scope` narrows every query in SQL: meters through
:func:`api.queries._visible`, energy objects (and so the nodes under them) through
:func:`_visible_object`, which applies the same rule one level up. A node outside the scope is
not found, exactly like one that does not exist (404, DESIGN §5).

Node rows come back as dicts keyed by column name; :mod:`api.tree` turns them into the response
models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from api.queries import Scope, _storage, _visible

__all__ = [
    "ContractRecord",
    "Row",
    "TreeRow",
    "find_connection_point",
    "find_contract",
    "find_energy_object",
    "find_meter_registry",
    "find_metering_point",
    "list_contracts",
    "tree_rows",
]

Connection = psycopg.AsyncConnection[Any]
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContractRecord:
    id: int
    number: str
    name: str


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One path of the tree: an energy object and, where they exist, the nodes below it."""

    eo_id: int
    eo_number: str
    eo_name: str
    cp_id: int | None
    cp_number: str | None
    cp_name: str | None
    mp_id: int | None
    mp_number: str | None
    mp_name: str | None
    meter_id: str | None
    model: str | None
    serial_number: str | None


def _visible_object(scope: Scope) -> sql.Composable:
    """The condition on ``energy_objects AS eo`` that keeps what ``scope`` may see."""
    if scope.admin:
        return sql.SQL("TRUE")
    if not scope.contracts and not scope.energy_objects:
        return sql.SQL("FALSE")
    return sql.SQL(
        "(eo.contract_id = ANY({contracts}::bigint[]) OR eo.id = ANY({objects}::bigint[]))"
    ).format(
        contracts=sql.Literal(sorted(scope.contracts)),
        objects=sql.Literal(sorted(scope.energy_objects)),
    )


async def list_contracts(conn: Connection, scope: Scope) -> list[ContractRecord]:
    """Contracts with at least one meter the caller may see (S001 §10: «на которых есть ИПУ»)."""
    query = sql.SQL(
        "SELECT c.id, c.number, c.name FROM contracts AS c WHERE EXISTS ("
        " SELECT 1 FROM meters AS m"
        " JOIN metering_points AS mp ON mp.id = m.metering_point_id"
        " JOIN connection_points AS cp ON cp.id = mp.connection_point_id"
        " JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
        " WHERE eo.contract_id = c.id AND {visible})"
    ).format(visible=_visible(scope))
    with _storage("listing contracts"):
        cursor = await conn.execute(query)
        rows = await cursor.fetchall()
    return [ContractRecord(*row) for row in rows]


async def find_contract(conn: Connection, scope: Scope, number: str) -> ContractRecord | None:
    """The contract ``number`` when the caller sees it or one of its energy objects."""
    query = sql.SQL(
        "SELECT c.id, c.number, c.name FROM contracts AS c WHERE c.number = %s AND ("
        " {admin} OR c.id = ANY({contracts}::bigint[])"
        " OR EXISTS (SELECT 1 FROM energy_objects AS eo"
        "   WHERE eo.contract_id = c.id AND eo.id = ANY({objects}::bigint[])))"
    ).format(
        admin=sql.SQL("TRUE" if scope.admin else "FALSE"),
        contracts=sql.Literal(sorted(scope.contracts)),
        objects=sql.Literal(sorted(scope.energy_objects)),
    )
    with _storage(f"looking up contract {number}"):
        cursor = await conn.execute(query, (number,))
        row = await cursor.fetchone()
    return None if row is None else ContractRecord(*row)


async def tree_rows(
    conn: Connection, scope: Scope, contract_id: int, energy_object: str | None = None
) -> list[TreeRow]:
    """Every path of the contract's trees the caller may see, optionally of one energy object."""
    query = sql.SQL(
        "SELECT eo.id, eo.number, eo.name, cp.id, cp.number, cp.name,"
        " mp.id, mp.number, mp.name, m.meter_id, m.model, m.serial_number"
        " FROM energy_objects AS eo"
        " LEFT JOIN connection_points AS cp ON cp.energy_object_id = eo.id"
        " LEFT JOIN metering_points AS mp ON mp.connection_point_id = cp.id"
        " LEFT JOIN meters AS m ON m.metering_point_id = mp.id"
        " WHERE eo.contract_id = %(contract)s AND {visible}"
        "   AND (%(number)s::text IS NULL OR eo.number = %(number)s::text)"
    ).format(visible=_visible_object(scope))
    with _storage(f"reading the tree of contract {contract_id}"):
        cursor = await conn.execute(query, {"contract": contract_id, "number": energy_object})
        rows = await cursor.fetchall()
    return [TreeRow(*row) for row in rows]


async def _one(conn: Connection, query: sql.Composed, params: Any, what: str) -> Row | None:
    with _storage(what):
        async with conn.cursor(row_factory=dict_row) as cursor:
            await cursor.execute(query, params)
            return await cursor.fetchone()


async def find_energy_object(conn: Connection, scope: Scope, node_id: int) -> Row | None:
    """The energy object's columns, plus ``contract_number``."""
    query = sql.SQL(
        "SELECT eo.*, c.number AS contract_number FROM energy_objects AS eo"
        " JOIN contracts AS c ON c.id = eo.contract_id WHERE eo.id = %s AND {visible}"
    ).format(visible=_visible_object(scope))
    return await _one(conn, query, (node_id,), f"looking up energy object {node_id}")


async def find_connection_point(conn: Connection, scope: Scope, node_id: int) -> Row | None:
    """The connection point's columns, plus ``time_zone`` and ``contract_number``."""
    query = sql.SQL(
        "SELECT cp.*, eo.time_zone, c.number AS contract_number FROM connection_points AS cp"
        " JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
        " JOIN contracts AS c ON c.id = eo.contract_id WHERE cp.id = %s AND {visible}"
    ).format(visible=_visible_object(scope))
    return await _one(conn, query, (node_id,), f"looking up connection point {node_id}")


async def find_metering_point(conn: Connection, scope: Scope, node_id: int) -> Row | None:
    """The metering point's columns, plus ``time_zone`` and ``contract_number``."""
    query = sql.SQL(
        "SELECT mp.*, eo.time_zone, c.number AS contract_number FROM metering_points AS mp"
        " JOIN connection_points AS cp ON cp.id = mp.connection_point_id"
        " JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
        " JOIN contracts AS c ON c.id = eo.contract_id WHERE mp.id = %s AND {visible}"
    ).format(visible=_visible_object(scope))
    return await _one(conn, query, (node_id,), f"looking up metering point {node_id}")


# The meter's registry columns and those of the nodes above it; NULL for an unassigned meter.
_METER_REGISTRY = sql.SQL(
    "SELECT m.meter_id, m.model, m.serial_number, m.mac_address, m.commissioned_on,"
    " m.isu_connected_on, m.installed_on, m.install_place, m.verified_on,"
    " m.next_verification_on, m.capacity, m.ct_ratio, m.vt_ratio, m.accuracy_class,"
    " m.rated_voltage_v, m.rated_current_a, m.phases, m.attributes, m.registry_updated_at,"
    " m.registered, coalesce(m.time_zone, eo.time_zone) AS time_zone,"
    " mp.id AS mp_id, mp.number AS mp_number, mp.name AS mp_name, mp.ats_code,"
    " mp.updated_at AS mp_updated_at,"
    " eo.number AS eo_number, eo.name AS eo_name, eo.updated_at AS eo_updated_at,"
    " c.number AS contract_number, c.name AS contract_name, c.signed_on, c.zone_schedule,"
    " c.consumer_name, c.consumer_inn, c.attributes AS contract_attributes,"
    " c.updated_at AS contract_updated_at"
    " FROM meters AS m"
    " LEFT JOIN metering_points AS mp ON mp.id = m.metering_point_id"
    " LEFT JOIN connection_points AS cp ON cp.id = mp.connection_point_id"
    " LEFT JOIN energy_objects AS eo ON eo.id = cp.energy_object_id"
    " LEFT JOIN contracts AS c ON c.id = eo.contract_id"
    " WHERE m.meter_id = %s AND {visible}"
)


async def find_meter_registry(conn: Connection, scope: Scope, meter_id: str) -> Row | None:
    """The meter ``meter_id`` with its registry data, when it exists in ``scope``."""
    query = _METER_REGISTRY.format(visible=_visible(scope))
    return await _one(conn, query, (meter_id,), f"looking up meter {meter_id}")
