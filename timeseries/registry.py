"""Loading the object tree into the database: ``isu registry import FILE`` (docs/registry.md).

One transaction per file, under an advisory lock so that two imports never interleave. Every node
is found by its key (a contract by its number, an energy object by its number in its contract,
… a meter by its ``meter_id``), then created, updated with the fields the file gives, or left
alone when they already hold those values — so importing the same file twice changes nothing,
and ``updated_at`` (the «as of» of a node's information blocks) moves only when something did.

Nodes and meters that the file does not name are kept. A meter named by the file becomes
registered (``registered = true``) under its metering point; its readings, stored before while
it was unassigned, stay where they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from core.errors import ConfigError, StorageError
from timeseries.registry_model import RegistryDocument, given_fields

__all__ = ["ImportReport", "LevelCounts", "import_registry"]

_LOCK_KEY = 0x15_0618  # advisory lock id owned by the registry import
_JSON_COLUMNS = frozenset({"attributes", "zone_switches"})
# Columns that the database keeps NOT NULL: a file may leave them out, but not clear them.
_REQUIRED = {
    "contracts": ("name",),
    "energy_objects": ("name",),
    "connection_points": ("name",),
    "metering_points": ("name",),
    "meters": (),
}
_NOT_NULL = {
    "energy_objects": ("time_zone",),
    "contracts": ("ats_time",),
    "meters": ("ct_ratio", "vt_ratio"),
}


@dataclass
class LevelCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    dry_run: bool
    levels: dict[str, LevelCounts] = field(
        default_factory=lambda: {table: LevelCounts() for table in _REQUIRED}
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            **{table: vars(counts) for table, counts in self.levels.items()},
        }

    def summary(self) -> str:
        parts = [
            f"{table.replace('_', ' ')}: {c.created} created, {c.updated} updated, "
            f"{c.unchanged} unchanged"
            for table, c in self.levels.items()
        ]
        prefix = "dry run, nothing written — " if self.dry_run else ""
        return prefix + "; ".join(parts)


def _column_value(column: str, value: Any) -> Any:
    if column == "zone_switches" and value is not None:
        return [
            [start.strftime("%H:%M") if isinstance(start, time) else start, zone]
            for start, zone in value
        ]
    if column == "attributes" and value is None:
        return {}
    return value


def _adapt(column: str, value: Any) -> Any:
    return Jsonb(value) if column in _JSON_COLUMNS and value is not None else value


class _Importer:
    def __init__(self, cur: psycopg.Cursor[Any], report: ImportReport) -> None:
        self.cur = cur
        self.report = report

    def upsert(
        self,
        table: str,
        at: str,
        keys: Mapping[str, Any],
        given: Mapping[str, Any],
        *,
        stamp: str = "updated_at",
        always: Mapping[str, Any] | None = None,
    ) -> Any:
        """The node's id after creating or updating it; ``at`` names it in errors."""
        fields = {column: _column_value(column, value) for column, value in given.items()}
        for column in _NOT_NULL.get(table, ()):
            if column in fields and fields[column] is None:
                raise ConfigError(f"{at}.{column}: cannot be cleared (null)")
        fields.update(always or {})
        counts = self.report.levels[table]
        key_sql = sql.SQL(" AND ").join(
            sql.SQL("{} = %s").format(sql.Identifier(column)) for column in keys
        )
        columns = list(fields)
        select = sql.SQL("SELECT {id}{more} FROM {table} WHERE {keys} FOR UPDATE").format(
            id=sql.Identifier("meter_id" if table == "meters" else "id"),
            more=sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier(c)) for c in columns),
            table=sql.Identifier(table),
            keys=key_sql,
        )
        row = self.cur.execute(select, list(keys.values())).fetchone()
        if row is None:
            for column in _REQUIRED[table]:
                if fields.get(column) is None:
                    raise ConfigError(f"{at}: a new {table[:-1].replace('_', ' ')} needs {column}")
            names = [*keys, *columns]
            insert = sql.SQL(
                "INSERT INTO {table} ({names}, {stamp}) VALUES ({values}, now()) RETURNING {id}"
            ).format(
                table=sql.Identifier(table),
                names=sql.SQL(", ").join(map(sql.Identifier, names)),
                stamp=sql.Identifier(stamp),
                values=sql.SQL(", ").join(sql.Placeholder() * len(names)),
                id=sql.Identifier("meter_id" if table == "meters" else "id"),
            )
            values = [*keys.values(), *(_adapt(c, fields[c]) for c in columns)]
            created = self.cur.execute(insert, values).fetchone()
            assert created is not None
            counts.created += 1
            return created[0]
        current = dict(zip(columns, row[1:], strict=True))
        changed = [c for c in columns if current[c] != fields[c]]
        if not changed:
            counts.unchanged += 1
            return row[0]
        update = sql.SQL("UPDATE {table} SET {sets}, {stamp} = now() WHERE {keys}").format(
            table=sql.Identifier(table),
            sets=sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changed),
            stamp=sql.Identifier(stamp),
            keys=key_sql,
        )
        self.cur.execute(update, [*(_adapt(c, fields[c]) for c in changed), *keys.values()])
        counts.updated += 1
        return row[0]


def import_registry(
    conn: psycopg.Connection[Any], document: RegistryDocument, *, dry_run: bool = False
) -> ImportReport:
    """Write ``document`` in one transaction (rolled back when ``dry_run``); the counts per
    level. :class:`ConfigError` for what the file gets wrong against the database (a new node
    without a name), :class:`StorageError` when the database fails."""
    report = ImportReport(dry_run=dry_run)
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            _walk(_Importer(cur, report), document)
            if dry_run:
                raise psycopg.Rollback()
    except psycopg.errors.UniqueViolation as exc:
        # ats_code is unique across the registry: the file gives one that another point holds.
        detail = exc.diag.message_detail or str(exc)
        raise ConfigError(f"registry: {detail}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"registry import failed: {exc}") from exc
    return report


# Each level of the tree: its table, the list of its children, and its column for the parent.
_LEVELS: tuple[tuple[str, str, str | None], ...] = (
    ("contracts", "energy_objects", None),
    ("energy_objects", "connection_points", "contract_id"),
    ("connection_points", "metering_points", "energy_object_id"),
    ("metering_points", "meters", "connection_point_id"),
)
_NOT_FIELDS = frozenset({"number", *(children for _, children, _ in _LEVELS)})


def _walk(importer: _Importer, document: RegistryDocument) -> None:
    _walk_level(importer, 0, document.contracts, "contracts", None)


def _walk_level(
    importer: _Importer, depth: int, nodes: Sequence[Any], at: str, parent_id: Any
) -> None:
    table, children, parent_column = _LEVELS[depth]
    for index, node in enumerate(nodes):
        here = f"{at}[{index}]"
        keys = {"number": node.number}
        if parent_column is not None:
            keys = {parent_column: parent_id, **keys}
        node_id = importer.upsert(table, here, keys, given_fields(node, exclude=_NOT_FIELDS))
        below = getattr(node, children)
        if depth + 1 < len(_LEVELS):
            _walk_level(importer, depth + 1, below, f"{here}.{children}", node_id)
            continue
        for position, meter in enumerate(below):
            importer.upsert(
                "meters",
                f"{here}.meters[{position}]",
                {"meter_id": meter.meter_id},
                given_fields(meter, exclude=frozenset({"meter_id"})),
                stamp="registry_updated_at",
                always={"registered": True, "metering_point_id": node_id},
            )
