"""Messages → rows of the store's tables (pure; no database).

Streams map to tables as follows (schema: ``migrations/001_initial.sql``)::

    current, daily, monthly → register_readings (with the stream column)
    interval                → interval_readings
    instant                 → instant_readings
    clock                   → clock_readings
    events                  → events
    info                    → meter_info   (serial_number also fills meters.serial_number)

Quality is stored as its rank (``core.model.Quality.rank``) so that SQL can compare it.

A message that passed the gateway's fast path (:class:`core.messages.CheckedReadings`) already
carries every value as the text PostgreSQL reads (canonical UTC times, plain decimals, units
without tab, newline or backslash), so its rows go straight to ``COPY`` as text lines
(``BatchRows.lines``) without a Python object per value; a model message becomes tuples
(``BatchRows.tables``) that psycopg formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from core.messages import CheckedReadings, ReadingsMessage
from core.model import ClockItem, EventItem, InfoItem, Quality, ReadingItem, Stream
from core.validation import Accepted

__all__ = [
    "TABLE_OF_STREAM",
    "BatchRows",
    "DeadLetter",
    "MeterRow",
    "Row",
    "batch_rows",
    "dedupe_dead_letters",
    "storable_problem",
]

TABLE_OF_STREAM: dict[Stream, str] = {
    Stream.CURRENT: "register_readings",
    Stream.DAILY: "register_readings",
    Stream.MONTHLY: "register_readings",
    Stream.INTERVAL: "interval_readings",
    Stream.INSTANT: "instant_readings",
    Stream.CLOCK: "clock_readings",
    Stream.EVENTS: "events",
    Stream.INFO: "meter_info",
}

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery the gateway could not accept, stored with the reason (table ``dead_letters``)."""

    topic: str
    reason: str
    payload: bytes
    received_at: datetime


@dataclass(slots=True)
class MeterRow:
    """What one batch says about a meter: who sent it, when, and its serial number if read."""

    meter_id: str
    collector_id: str
    first_seen_at: datetime
    last_seen_at: datetime
    serial_number: str | None = None
    serial_ts: datetime | None = None
    last_reading_at: datetime | None = None  # the newest register item's ts

    def as_row(self) -> Row:
        return (
            self.meter_id,
            self.collector_id,
            self.first_seen_at,
            self.last_seen_at,
            self.serial_number,
            self.last_reading_at,
        )


@dataclass(slots=True)
class BatchRows:
    """The rows of a batch, per table, in the column order of ``timeseries.store``: tuples, and
    lines already in ``COPY`` text format (each ends with a newline)."""

    tables: dict[str, list[Row]] = field(
        default_factory=lambda: {name: [] for name in sorted(set(TABLE_OF_STREAM.values()))}
    )
    lines: dict[str, list[str]] = field(
        default_factory=lambda: {name: [] for name in sorted(set(TABLE_OF_STREAM.values()))}
    )
    meters: dict[str, MeterRow] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.tables.values()) + sum(
            len(lines) for lines in self.lines.values()
        )


def _has_nul(item: BaseModel) -> bool:
    return any(isinstance(value, str) and "\x00" in value for value in item.__dict__.values())


def storable_problem(message: Accepted) -> str | None:
    """Why a valid message still cannot be stored, or ``None``.

    PostgreSQL text cannot hold NUL, and interval energy needs its period; such a message would
    fail its whole batch, so the gateway dead-letters it up front.
    """
    if isinstance(message, CheckedReadings):
        # Its texts are plain (no NUL); only the period can be missing.
        if message.stream is Stream.INTERVAL:
            for index, reading in enumerate(message.items):
                if reading[6] is None:
                    return f"items.{index}.period_s: an interval reading needs its period"
        return None
    for index, item in enumerate(message.items):
        interval = message.stream is Stream.INTERVAL and isinstance(item, ReadingItem)
        if interval and getattr(item, "period_s", None) is None:
            return f"items.{index}.period_s: an interval reading needs its period"
        if _has_nul(item):
            return f"items.{index}: text contains a NUL character"
    return None


def _meter_time(moment: datetime) -> datetime:
    # The meter's wall clock is stored as the meter shows it, without offset (type timestamp).
    return moment.replace(tzinfo=None)


def _item_row(message: ReadingsMessage, item: BaseModel) -> Row:
    meter, read_at, mid = message.meter, message.read_at, message.id
    stream = message.stream
    if isinstance(item, ReadingItem):
        rank = item.quality.rank
        if stream.is_register:
            return (
                meter, stream.value, item.obis, item.ts, item.value, item.unit, rank, read_at, mid,
            )
        if stream is Stream.INTERVAL:
            return (
                meter, item.obis, item.ts, item.period_s, item.value, item.unit, rank, read_at, mid,
            )
        return (meter, item.obis, item.ts, item.value, item.unit, rank, read_at, mid)
    if isinstance(item, EventItem):
        return (
            meter, item.journal, item.code, item.ts, item.kind, item.text, item.critical,
            item.phase, item.quality.rank, read_at, mid,
        )
    if isinstance(item, InfoItem):
        return (meter, item.field, item.ts, item.value, item.quality.rank, mid)
    if isinstance(item, ClockItem):
        return (
            meter, item.ts, _meter_time(item.meter_time), item.drift_s, item.season,
            item.quality.rank, read_at, mid,
        )
    raise TypeError(f"unknown item type {type(item).__name__}")


_RANK_TEXT = {quality: str(quality.rank) for quality in Quality}


def _checked_lines(message: CheckedReadings) -> list[str]:
    # COPY text: tab-separated, in the column order of timeseries.store; every text is plain.
    head = f"{message.meter}\t"
    tail = f"\t{message.read_at_text}\t{message.id}\n"
    stream = message.stream
    if stream.is_register:
        head += f"{stream.value}\t"
    if stream is Stream.INTERVAL:
        return [
            f"{head}{obis}\t{ts}\t{period_s}\t{value}\t{unit}\t{_RANK_TEXT[quality]}{tail}"
            for obis, _, ts, value, unit, quality, period_s in message.items
        ]
    return [
        f"{head}{obis}\t{ts}\t{value}\t{unit}\t{_RANK_TEXT[quality]}{tail}"
        for obis, _, ts, value, unit, quality, _ in message.items
    ]


def _note_meter(rows: BatchRows, message: Accepted) -> None:
    seen = message.read_at
    meter = rows.meters.get(message.meter)
    if meter is None:
        meter = MeterRow(message.meter, message.collector, seen, seen)
        rows.meters[message.meter] = meter
    else:
        if seen >= meter.last_seen_at:
            meter.collector_id = message.collector
        meter.first_seen_at = min(meter.first_seen_at, seen)
        meter.last_seen_at = max(meter.last_seen_at, seen)
    if message.stream.is_register and message.items:
        if isinstance(message, CheckedReadings):
            newest = message.newest
        else:
            newest = max(item.ts for item in message.items)
        if newest is not None and (meter.last_reading_at is None or newest > meter.last_reading_at):
            meter.last_reading_at = newest
    if isinstance(message, ReadingsMessage) and message.stream is Stream.INFO:
        serials = [
            item for item in message.items
            if isinstance(item, InfoItem) and item.field == "serial_number" and item.value
        ]
        for item in serials:
            if meter.serial_ts is None or item.ts >= meter.serial_ts:
                meter.serial_number, meter.serial_ts = item.value, item.ts


def batch_rows(messages: Iterable[Accepted]) -> BatchRows:
    """Every row the messages produce, grouped by table; meters summarised once each."""
    rows = BatchRows()
    for message in messages:
        name = TABLE_OF_STREAM[message.stream]
        if isinstance(message, CheckedReadings):
            rows.lines[name].extend(_checked_lines(message))
        else:
            rows.tables[name].extend(_item_row(message, item) for item in message.items)
        _note_meter(rows, message)
    return rows


def dedupe_dead_letters(letters: Sequence[DeadLetter]) -> list[tuple[DeadLetter, int]]:
    """One entry per (topic, payload) with how often it came, first arrival kept."""
    seen: dict[tuple[str, bytes], tuple[DeadLetter, int]] = {}
    for letter in letters:
        key = (letter.topic, letter.payload)
        first, count = seen.get(key, (letter, 0))
        seen[key] = (first, count + 1)
    return list(seen.values())
