"""The archive's and the interval series' questions to the store (docs/api.md, «Архив»).

Both read one meter over a time range, so TimescaleDB keeps only the chunks that overlap it:

- register snapshots (``register_readings``): the primary key ``(meter_id, stream, obis, ts)``
  is probed once per energy register code (``obis = ANY(…)``, 36 codes) with the range on
  ``ts`` as an index condition, so only the snapshot rows of that meter, stream and range are
  read;
- interval energy (``interval_readings``): the ``(meter_id, ts DESC)`` index (or the primary key
  ``(meter_id, obis, ts)``, the planner's choice) gives the four channels of the range, pivoted
  in the server to one row per interval start.

Rows come back as plain tuples, ordered by time; :mod:`api.archive_rows` shapes them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from core.errors import StorageError
from core.model import Stream
from core.obis import ENERGY_KINDS, energy_obis, interval_obis

__all__ = ["IntervalRecord", "RegisterRecord", "interval_records", "register_records"]

Connection = psycopg.AsyncConnection[Any]

#: ``(ts, obis, value, unit, quality)`` of one stored register reading.
RegisterRecord = tuple[datetime, str, Decimal, str, int]
#: ``(ts, period_s, value, unit, quality of A+, of A-, of R+, of R-)``: one interval start.
IntervalRecord = tuple[Any, ...]

_REGISTER_CODES = [energy_obis(kind, zone) for kind in ENERGY_KINDS for zone in range(9)]
_INTERVAL_CODES = [interval_obis(kind) for kind in ENERGY_KINDS]


async def register_records(
    conn: Connection, meter_id: str, stream: Stream, since: datetime, until: datetime
) -> list[RegisterRecord]:
    """Energy registers of ``stream`` stored with ``ts`` in ``[since, until)``, by ``ts``."""
    if not stream.is_register:
        raise ValueError(f"{stream} is not a register stream")
    query = (
        "SELECT ts, obis, value, unit, quality FROM register_readings"
        " WHERE meter_id = %(meter)s AND stream = %(stream)s AND obis = ANY(%(codes)s::text[])"
        "   AND ts >= %(since)s AND ts < %(until)s"
        " ORDER BY ts"
    )
    params = {
        "meter": meter_id,
        "stream": stream.value,
        "codes": _REGISTER_CODES,
        "since": since,
        "until": until,
    }
    try:
        cursor = await conn.execute(query, params)
        return await cursor.fetchall()
    except psycopg.Error as exc:
        raise StorageError(
            f"reading the {stream} archive of meter {meter_id} failed: {type(exc).__name__}"
        ) from exc


def _interval_query() -> sql.Composed:
    # One row per start, the four kinds side by side: the pivot runs in the server, so a year
    # of half-hours crosses the wire as 17,568 rows, not 70,272. The primary key makes each
    # (obis, ts) unique, so max() picks that one row's value, unit and quality.
    columns = sql.SQL(", ").join(
        sql.SQL(
            "max(value) FILTER (WHERE obis = {code}), max(unit) FILTER (WHERE obis = {code}),"
            " max(quality) FILTER (WHERE obis = {code})"
        ).format(code=sql.Literal(code))
        for code in _INTERVAL_CODES
    )
    return sql.SQL(
        "SELECT ts, max(period_s), {columns} FROM interval_readings"
        " WHERE meter_id = %(meter)s AND obis = ANY(%(codes)s::text[])"
        "   AND ts >= %(since)s AND ts < %(until)s"
        " GROUP BY ts ORDER BY ts"
    ).format(columns=columns)


_INTERVALS = _interval_query()


async def interval_records(
    conn: Connection, meter_id: str, since: datetime, until: datetime
) -> list[IntervalRecord]:
    """Intervals starting in ``[since, until)``, by start: ``(ts, period_s)`` and then value,
    unit and quality of A+, A-, R+ and R- in turn (``None`` where a kind has no row)."""
    params = {"meter": meter_id, "codes": _INTERVAL_CODES, "since": since, "until": until}
    try:
        cursor = await conn.execute(_INTERVALS, params)
        return await cursor.fetchall()
    except psycopg.Error as exc:
        raise StorageError(
            f"reading the intervals of meter {meter_id} failed: {type(exc).__name__}"
        ) from exc
