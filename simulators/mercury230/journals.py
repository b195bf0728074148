"""The event journals of a simulated Mercury 230 (docs/reference/mercury-protocol.md §1.11).

Every journal the codec knows (``JOURNAL_STAMPS``) is a ring of 10 records, numbered 0..9 and
overwritten after 9; a record never written reads as zeros, and ``04 JJ FF`` answers the last
record written with its number appended (0 and zeros when none was). Stamps are the meter's own
wall time (true time plus drift, local). A condition that has begun but not ended yet (a cover
still open) has its second stamp empty until it ends; endings in the future are kept pending
and written when the meter's clock reaches them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from drivers.mercury.records import JOURNAL_STAMPS, JournalRecord

__all__ = [
    "CLOCK",
    "COVER",
    "MAGNETIC_FIELD",
    "PHASE_VOLTAGE",
    "POWER",
    "RING_SIZE",
    "JournalRing",
    "Journals",
]

RING_SIZE = 10
POWER = 0x01
CLOCK = 0x02
PHASE_VOLTAGE = (0x03, 0x04, 0x05)
COVER = 0x12
MAGNETIC_FIELD = 0x1A

Stamps = list[datetime | None]


@dataclass(slots=True)
class JournalRing:
    """Ten records of one journal; ``last`` is ``None`` until the first record is written."""

    stamps: int
    records: list[Stamps] = field(default_factory=list)
    last: int | None = None

    def __post_init__(self) -> None:
        self.records = [[None] * self.stamps for _ in range(RING_SIZE)]

    def append(self, *stamps: datetime | None) -> int:
        """Write the next record (the oldest is overwritten); its number."""
        number = 0 if self.last is None else (self.last + 1) % RING_SIZE
        padded = [*stamps, *[None] * self.stamps][: self.stamps]
        self.records[number] = padded
        self.last = number
        return number

    def set_stamp(self, number: int, index: int, stamp: datetime) -> None:
        self.records[number][index] = stamp

    def record(self, number: int) -> JournalRecord:
        """Record 0..9, or the last one with its number for ``0xFF``."""
        if number == 0xFF:
            last = 0 if self.last is None else self.last
            return JournalRecord(tuple(self.records[last]), last)
        return JournalRecord(tuple(self.records[number]))


class Journals:
    """All journals of one meter, plus the endings not reached yet."""

    def __init__(self) -> None:
        self.rings = {journal: JournalRing(stamps) for journal, stamps in JOURNAL_STAMPS.items()}
        self._pending: list[tuple[datetime, Callable[[], None]]] = []

    def append(self, journal: int, *stamps: datetime | None) -> int:
        return self.rings[journal].append(*stamps)

    def later(self, due: datetime, action: Callable[[], None]) -> None:
        """Run ``action`` once the true time reaches ``due`` (see :meth:`settle`)."""
        self._pending.append((due, action))
        self._pending.sort(key=lambda pending: pending[0])

    def end_later(self, journal: int, number: int, due: datetime, stamp: datetime) -> None:
        """Write the second stamp of record ``number`` when the true time reaches ``due``."""
        ring = self.rings[journal]
        self.later(due, lambda: ring.set_stamp(number, 1, stamp))

    def settle(self, now: datetime) -> None:
        """Write what has become due by true time ``now``."""
        while self._pending and self._pending[0][0] <= now:
            _, action = self._pending.pop(0)
            action()

    def record(self, journal: int, number: int) -> JournalRecord | None:
        """The answer to 04 JJ REC, ``None`` for a journal or record number not kept."""
        ring = self.rings.get(journal)
        if ring is None or not (number < RING_SIZE or number == 0xFF):
            return None
        return ring.record(number)
