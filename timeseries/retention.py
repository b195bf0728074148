"""Retention: how long each kind of data is kept (docs/timeseries.md §Retention).

TimescaleDB's Apache edition has ``drop_chunks`` but not the background retention policies of
the Community edition, so the gateway applies retention itself, hourly, on one gateway at a time
(an advisory lock). Tables that hold one stream lose whole chunks older than their horizon
(cheap, no row-by-row delete; a chunk goes once its newest possible row is past the horizon).
``register_readings`` holds three streams with very different worth — current snapshots every
few minutes, daily and monthly snapshots kept for billing — so it is trimmed per stream with
bounded ``DELETE`` batches instead.

A stream without a horizon is kept for ever; that is the default for every stream.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from pydantic import Field

from core.config import ConfigModel
from core.errors import StorageError

__all__ = ["RetentionConfig", "RetentionResult", "apply_retention"]

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x15_0619  # advisory lock id owned by retention
_DELETE_BATCH = 50_000
Days = Field(default=None, gt=0, le=36_500)

# stream → (table, whole table?): a whole table loses chunks; the others are trimmed by DELETE.
_TARGETS: dict[str, tuple[str, str | None]] = {
    "current": ("register_readings", "current"),
    "daily": ("register_readings", "daily"),
    "monthly": ("register_readings", "monthly"),
    "interval": ("interval_readings", None),
    "instant": ("instant_readings", None),
    "clock": ("clock_readings", None),
    "events": ("events", None),
}


class RetentionConfig(ConfigModel):
    """``[retention]``: days to keep each stream; unset keeps it for ever."""

    current_days: int | None = Days
    daily_days: int | None = Days
    monthly_days: int | None = Days
    interval_days: int | None = Days
    instant_days: int | None = Days
    clock_days: int | None = Days
    events_days: int | None = Days
    info_days: int | None = Days
    dead_letters_days: int | None = Field(
        default=None, gt=0, le=36_500, description="replayed dead letters only"
    )
    every_s: float = Field(default=3600.0, ge=60.0)

    def horizons(self) -> dict[str, int]:
        """stream (or ``info``, ``dead_letters``) → days, for those that have one."""
        found = {}
        for name in (*_TARGETS, "info", "dead_letters"):
            days = getattr(self, f"{name}_days")
            if days is not None:
                found[name] = days
        return found


@dataclass
class RetentionResult:
    ran: bool = True  # False when another gateway holds the lock
    chunks_dropped: dict[str, int] = field(default_factory=dict)
    rows_deleted: dict[str, int] = field(default_factory=dict)


def _delete_in_batches(
    conn: psycopg.Connection[Any], statement: str, params: tuple[Any, ...]
) -> int:
    total = 0
    while True:
        with conn.transaction():
            deleted = conn.execute(statement, params).rowcount
        total += max(deleted, 0)
        if deleted < _DELETE_BATCH:
            return total


def apply_retention(
    conn: psycopg.Connection[Any], config: RetentionConfig, now: datetime
) -> RetentionResult:
    """Remove what is past its horizon; ``conn`` must be in autocommit mode."""
    horizons = config.horizons()
    result = RetentionResult()
    if not horizons:
        return result
    try:
        locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()
        if not locked or not locked[0]:
            result.ran = False
            return result
        try:
            for stream, days in horizons.items():
                cutoff = now - timedelta(days=days)
                if stream in _TARGETS and _TARGETS[stream][1] is None:
                    table = _TARGETS[stream][0]
                    rows = conn.execute(
                        "SELECT drop_chunks(%s::regclass, older_than => %s::timestamptz)",
                        (table, cutoff),
                    ).fetchall()
                    result.chunks_dropped[table] = len(rows)
                elif stream in _TARGETS:
                    result.rows_deleted[stream] = _delete_in_batches(
                        conn,
                        # by key: a ctid is only unique inside one chunk
                        "DELETE FROM register_readings WHERE (meter_id, stream, obis, ts) IN"
                        " (SELECT meter_id, stream, obis, ts FROM register_readings"
                        "  WHERE stream = %s AND ts < %s LIMIT %s)",
                        (stream, cutoff, _DELETE_BATCH),
                    )
                elif stream == "info":
                    result.rows_deleted["info"] = _delete_in_batches(
                        conn,
                        "DELETE FROM meter_info WHERE (meter_id, field, ts) IN"
                        " (SELECT meter_id, field, ts FROM meter_info WHERE ts < %s LIMIT %s)",
                        (cutoff, _DELETE_BATCH),
                    )
                else:
                    result.rows_deleted["dead_letters"] = _delete_in_batches(
                        conn,
                        "DELETE FROM dead_letters WHERE id = ANY(ARRAY(SELECT id FROM dead_letters"
                        " WHERE replayed_at < %s LIMIT %s))",
                        (cutoff, _DELETE_BATCH),
                    )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    except psycopg.Error as exc:
        raise StorageError(f"retention failed: {exc}") from exc
    if result.chunks_dropped or result.rows_deleted:
        logger.info(
            "retention: chunks dropped %s, rows deleted %s",
            result.chunks_dropped,
            result.rows_deleted,
        )
    return result
