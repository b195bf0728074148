"""The main average-power profile of a simulated Mercury 230 (memory 3;
docs/reference/mercury-protocol.md §1.10).

One 16-byte slot per interval of T minutes, the slot chosen by the interval's own time (intervals
since the profile began at slot 0, modulo the memory's 4096 or 8192 records), so addresses advance
continuously even while the power is off: an interval spent entirely without supply is never
written and keeps whatever the slot held (zeros, or a record from the memory's previous round).
A record stamped hh:mm holds the counts of [hh:mm − T, hh:mm): N = energy · 2A per kWh, the
difference of the cumulative counts at both ends, so the counts of a day add up to the day's
register delta (each to within one count); a register set back by hand gives 0. An interval
with a power failure, or the one in which the profile started, is marked incomplete (status
bit 1); ``08 13``'s status carries the overflow bit (0) once the memory has wrapped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from drivers.mercury.records import ProfilePointer, ProfileRecord

__all__ = ["RECORD_SIZE", "ProfileMemory"]

RECORD_SIZE = 0x10
_MAX_COUNT = 0xFFFE
_OVERFLOW = 0x01
_INCOMPLETE = 0x02
_WINTER = 0x08

Counts = tuple[int | None, int | None, int | None, int | None]


class ProfileMemory:
    """Slots of one profile; ``index_pointer`` picks what 08 13 reports (index or address)."""

    def __init__(self, period_min: int, records: int, *, index_pointer: bool) -> None:
        if period_min <= 0 or (60 % period_min and period_min % 60):
            raise ValueError(f"profile period {period_min} min does not divide the hour")
        self.period_min = period_min
        self.records = records
        self.index_pointer = index_pointer
        self.slots: dict[int, ProfileRecord] = {}
        self.last: tuple[int, datetime] | None = None
        self.wrapped = False
        self._origin: datetime | None = None
        self._previous: Counts | None = None

    @property
    def period(self) -> timedelta:
        return timedelta(minutes=self.period_min)

    def slot(self, stamp: datetime) -> int:
        origin = self._origin if self._origin is not None else stamp
        return (stamp - origin) // self.period % self.records

    def baseline(self, cumulative: Counts) -> None:
        """Cumulative counts where the profile starts (mid-interval: that one is incomplete)."""
        self._previous = cumulative

    def capture(self, stamp: datetime, cumulative: Counts, *, dark: bool, incomplete: bool,
                winter: bool = True) -> None:
        """The interval ending at local ``stamp``: write it unless it was all without supply."""
        previous, self._previous = self._previous, cumulative
        if self._origin is None:
            self._origin = stamp
        if dark:
            return
        if previous is None:
            incomplete, previous = True, cumulative
        counts = tuple(
            None if now is None or before is None else min(_MAX_COUNT, max(0, now - before))
            for now, before in zip(cumulative, previous, strict=True)
        )
        status = (_INCOMPLETE if incomplete else 0) | (_WINTER if winter else 0)
        index = self.slot(stamp)
        self.slots[index] = ProfileRecord(status, stamp, self.period_min, *counts)
        self.last = (index, stamp)
        self.wrapped = self.wrapped or (stamp - self._origin) // self.period >= self.records

    def pointer(self, winter: bool = True) -> ProfilePointer:
        """08 13: where the last record is, its status and stamp."""
        status = (_OVERFLOW if self.wrapped else 0) | (_WINTER if winter else 0)
        if self.last is None:
            return ProfilePointer(0, status, None, self.period_min)
        index, stamp = self.last
        pointer = index if self.index_pointer else (index * RECORD_SIZE) & 0xFFFF
        return ProfilePointer(pointer, status, stamp, self.period_min)

    def read(self, offset: int) -> ProfileRecord | None:
        """06 at byte ``offset`` (a record boundary); ``None`` beyond the memory."""
        if offset % RECORD_SIZE or offset >= self.records * RECORD_SIZE:
            return None
        empty = ProfileRecord(0, None, 0, 0, 0, 0, 0)
        return self.slots.get(offset // RECORD_SIZE, empty)
