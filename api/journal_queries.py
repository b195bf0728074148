"""The journal's questions to the store: one month of one meter's events (docs/api.md, «Журнал»).

Both queries bound ``ts`` to the month and name the meter, so TimescaleDB keeps only the chunks
that overlap the month (90-day chunks: one or two) and reads them through the
``events (meter_id, ts DESC)`` index: the cost is the meter's events of that month, whatever the
size of the table or the number of meters. The filters on kind and criticality are checked on
those rows. A month of one meter is small (hundreds to a few thousand rows), so the page is cut
with ``LIMIT``/``OFFSET`` after the sort by time; a deep offset costs no more than the month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql

from core.errors import StorageError
from core.events import EVENT_KINDS, OTHER, EventKind

__all__ = ["EventFilter", "EventRow", "Order", "count_events", "event_page"]

Connection = psycopg.AsyncConnection[Any]

_KNOWN_NAMES = [kind.name for kind in EVENT_KINDS]


class Order(StrEnum):
    """Time order of the journal: ``asc`` as the cabinet's screenshot, ``desc`` newest first."""

    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Conditions combined with AND; ``kinds`` empty or ``critical`` ``None`` is no filter.

    The store holds a kind's Russian name (``EventItem.kind``); a name the catalogue does not
    know counts as kind ``other``.
    """

    kinds: frozenset[EventKind] = frozenset()
    critical: bool | None = None

    def condition(self) -> tuple[sql.Composable, dict[str, Any]]:
        parts: list[sql.Composable] = []
        params: dict[str, Any] = {}
        if self.kinds:
            names = sorted(kind.name for kind in self.kinds)
            if OTHER in self.kinds:
                parts.append(
                    sql.SQL("(kind = ANY(%(kinds)s::text[]) OR kind <> ALL(%(known)s::text[]))")
                )
                params["known"] = _KNOWN_NAMES
            else:
                parts.append(sql.SQL("kind = ANY(%(kinds)s::text[])"))
            params["kinds"] = names
        if self.critical is not None:
            parts.append(sql.SQL("critical = %(critical)s"))
            params["critical"] = self.critical
        if not parts:
            return sql.SQL("TRUE"), params
        return sql.SQL(" AND ").join(parts), params


@dataclass(frozen=True, slots=True)
class EventRow:
    """One stored journal entry."""

    ts: datetime
    journal: str
    code: int
    kind: str
    text: str
    critical: bool
    phase: int | None
    quality: int


_RANGE = "meter_id = %(meter)s AND ts >= %(since)s AND ts < %(until)s"


def _params(meter_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    return {"meter": meter_id, "since": since, "until": until}


async def count_events(
    conn: Connection, meter_id: str, since: datetime, until: datetime, where: EventFilter
) -> int:
    """How many events of ``meter_id`` in ``[since, until)`` pass ``where``."""
    condition, params = where.condition()
    query = sql.SQL("SELECT count(*) FROM events WHERE {range} AND {condition}").format(
        range=sql.SQL(_RANGE), condition=condition
    )
    try:
        cursor = await conn.execute(query, {**_params(meter_id, since, until), **params})
        row = await cursor.fetchone()
    except psycopg.Error as exc:
        raise StorageError(
            f"counting events of meter {meter_id} failed: {type(exc).__name__}"
        ) from exc
    return int(row[0]) if row else 0


async def event_page(
    conn: Connection,
    meter_id: str,
    since: datetime,
    until: datetime,
    where: EventFilter,
    *,
    order: Order = Order.ASC,
    limit: int,
    offset: int = 0,
) -> list[EventRow]:
    """One page of those events, by time, then journal and code (ties at the same second)."""
    condition, params = where.condition()
    direction = sql.SQL("DESC" if order is Order.DESC else "ASC")
    query = sql.SQL(
        "SELECT ts, journal, code, kind, text, critical, phase, quality FROM events"
        " WHERE {range} AND {condition}"
        ' ORDER BY ts {direction}, journal COLLATE "C", code'
        " LIMIT %(limit)s OFFSET %(offset)s"
    ).format(range=sql.SQL(_RANGE), condition=condition, direction=direction)
    values = {**_params(meter_id, since, until), **params, "limit": limit, "offset": offset}
    try:
        cursor = await conn.execute(query, values)
        rows = await cursor.fetchall()
    except psycopg.Error as exc:
        raise StorageError(
            f"reading events of meter {meter_id} failed: {type(exc).__name__}"
        ) from exc
    return [EventRow(*row) for row in rows]
