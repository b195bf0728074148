"""The ``events`` stream of the ``mercury230`` driver: journals 04 JJ REC
(docs/reference/mercury-protocol.md §1.11; DOC3 §4.2, table 4.2).

Each journal is a ring of 10 records numbered 0..9. ``04 JJ FF`` gives the last record with its
number appended; the reader then walks back through the ring (N−1, N−2, … mod 10) and stops at
an empty record (all zeros: never written), after ten records, or after a record that began
before ``since`` (the ones before it are older still). Every non-empty stamp of a record is its
own event: code 1 = the first stamp (on, before, start, opened), code 2 = the second (off,
after, end, closed); kind, text, criticality and phase come from the catalogue in
``core.events``. A journal the meter does not keep (status 1) is skipped, not an error.
Journal 13 (reprogramming) carries a date without a time: its event is put at 00:00 local
and marked ``estimated``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from core.errors import RemoteProtocolError
from core.events import MERCURY230, describe, journal_name
from core.model import EventItem, Quality
from drivers.mercury.reading import Exchange, local_to_utc
from drivers.mercury.records import (
    JOURNAL_STAMPS,
    REPROGRAMMING_JOURNAL,
    JournalRecord,
    ReprogrammingRecord,
)
from drivers.mercury.request import ReadJournalRequest

__all__ = [
    "DEFAULT_JOURNALS",
    "KNOWN_JOURNALS",
    "RING_SIZE",
    "read_events",
    "record_events",
    "reprogramming_events",
    "ring_back",
]

logger = logging.getLogger(__name__)

#: Journals read by default: power, clock, phase voltages, power and energy limits, cover,
#: phase currents, magnetic field, reverse current.
DEFAULT_JOURNALS: tuple[int, ...] = (
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0B, 0x0C, 0x0D, 0x0E,
    0x12, 0x13, 0x17, 0x18, 0x19, 0x1A, 0x80, 0x81, 0x82,
)  # fmt: skip
#: Every journal this reader can decode.
KNOWN_JOURNALS = frozenset({*JOURNAL_STAMPS, REPROGRAMMING_JOURNAL})
RING_SIZE = 10
_LAST = 0xFF


def ring_back(last: int) -> list[int]:
    """Record numbers from the last one backwards through the ring: 3 → 3, 2, 1, 0, 9, …, 4."""
    return [(last - step) % RING_SIZE for step in range(RING_SIZE)]


def record_events(journal: int, record: JournalRecord, zone: ZoneInfo) -> list[EventItem]:
    """The events of one record (empty stamps left out), ``ts`` in UTC."""
    items = []
    for code, stamp in enumerate(record.stamps, start=1):
        if stamp is None:
            continue
        entry = describe(MERCURY230, journal, code)
        items.append(EventItem(
            ts=local_to_utc(stamp, zone), journal=journal_name(MERCURY230, journal), code=code,
            kind=entry.kind.name, text=entry.text, critical=entry.critical, phase=entry.phase,
        ))
    return items


def reprogramming_events(record: ReprogrammingRecord, zone: ZoneInfo) -> list[EventItem]:
    """Journal 13 has a date but no time: the event is put at 00:00 local of that date and
    marked ``estimated``; the count of write requests goes into the text."""
    if record.day is None:
        return []
    entry = describe(MERCURY230, REPROGRAMMING_JOURNAL, 1)
    return [EventItem(
        ts=local_to_utc(datetime.combine(record.day, time(0)), zone),
        journal=journal_name(MERCURY230, REPROGRAMMING_JOURNAL), code=1, kind=entry.kind.name,
        text=f"{entry.text} (запросов записи: {record.requests})", critical=entry.critical,
        quality=Quality.ESTIMATED,
    )]


async def _record(exchange: Exchange, address: int, zone: ZoneInfo, journal: int,
                  number: int) -> tuple[list[EventItem], int | None]:
    """The events of one record and, for the last one (FF), its number."""
    request = ReadJournalRequest(address, journal, number)
    if journal == REPROGRAMMING_JOURNAL:
        changed = await exchange(request, ReprogrammingRecord)
        return reprogramming_events(changed, zone), changed.number
    record = await exchange(request, JournalRecord)
    return record_events(journal, record, zone), record.number


def _in_range(item: EventItem, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or item.ts >= since) and (until is None or item.ts < until)


async def read_events(
    exchange: Exchange,
    address: int,
    zone: ZoneInfo,
    journals: Iterable[int] = DEFAULT_JOURNALS,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    meter_id: str = "",
) -> list[EventItem]:
    """Every event of ``journals`` with ``since <= ts < until``, oldest first."""
    items: list[EventItem] = []
    for journal in journals:
        try:
            items += await _read_journal(exchange, address, zone, journal, since)
        except RemoteProtocolError:
            logger.debug("meter %s: no journal %02X (status 1), skipped", meter_id, journal)
    chosen = [item for item in items if _in_range(item, since, until)]
    return sorted(chosen, key=lambda item: (item.ts, item.journal, item.code))


async def _read_journal(
    exchange: Exchange, address: int, zone: ZoneInfo, journal: int, since: datetime | None
) -> list[EventItem]:
    if journal not in KNOWN_JOURNALS:
        raise RemoteProtocolError(f"journal {journal:02X} has no known record layout")
    events, last = await _record(exchange, address, zone, journal, _LAST)
    if last is None or not 0 <= last < RING_SIZE:
        raise RemoteProtocolError(f"journal {journal:02X}: last record number {last}")
    items: list[EventItem] = []
    for number in ring_back(last):
        if number != last:
            events, _ = await _record(exchange, address, zone, journal, number)
        if not events:
            break  # never written: the ring has not come round yet
        items += events
        if since is not None and min(item.ts for item in events) < since:
            break  # older records are older still
    return items
