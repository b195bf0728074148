"""Profile buffers of the simulated SPODES meter (IC 7 Profile generic, attribute 2): entries
oldest first, encoded only when selected, and selective access (IEC 62056-6-2 §4.3.6; GOST R
58940-2020 §7.3.6, §13.4).

- by entry (selector 2): entries from 1 (0 counts as 1), ``to_entry`` 0 = the newest;
  columns from 1, ``to_column`` 0 = the last; bad columns → other-reason;
- by range (selector 1): only on the clock column; bounds inclusive; a bound without
  deviation is the meter's local time, one with a deviation an instant; unspecified seconds
  and hundredths count as 0; selected values pick columns in their order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Final

from core.errors import ProtocolError
from drivers.dlms.access import (
    CLOCK,
    AccessSelection,
    CaptureObject,
    EntryDescriptor,
    RangeDescriptor,
)
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import ClockStatus, CosemDateTime, CosemTime
from drivers.dlms.results import DataAccessResult
from simulators.dlms.meter import Entry, JournalEntry

__all__ = ["CLOCK_TIME", "ProfileBuffer", "Stamped", "encode", "select", "stamp", "u32"]

CLOCK_TIME: Final = CaptureObject(8, CLOCK, 2)


def u32(value: int) -> Data:
    return Data(DataType.DOUBLE_LONG_UNSIGNED, max(0, min(value, 0xFFFFFFFF)))


def stamp(moment: datetime) -> Data:
    return Data.datetime_octets(CosemDateTime.from_datetime(moment, clock_status=ClockStatus(0)))


Stamped = Entry | JournalEntry


@dataclass(slots=True)
class ProfileBuffer:
    """A buffer's entries (oldest first) and how one entry becomes its row of values; rows
    are encoded only for the entries selected."""

    columns: tuple[CaptureObject, ...]
    entries: Callable[[], Sequence[Stamped]]
    encode: Callable[[Stamped], tuple[Data, ...]]
    capture_period_s: int
    depth: int


def select(profile: ProfileBuffer, access: AccessSelection | None,
           tz: tzinfo) -> Data | DataAccessResult:
    rows = profile.entries()
    columns = list(range(len(profile.columns)))
    try:
        if access is None:
            chosen = list(rows)
        elif access.selector == EntryDescriptor.SELECTOR:
            entry = EntryDescriptor.from_selection(access)
            last = len(rows) if entry.to_entry == 0 else min(entry.to_entry, len(rows))
            chosen = list(rows[max(entry.from_entry, 1) - 1 : last])
            to_column = entry.to_column or len(profile.columns)
            if not 1 <= entry.from_column <= to_column <= len(profile.columns):
                return DataAccessResult.OTHER_REASON
            columns = list(range(entry.from_column - 1, to_column))
        elif access.selector == RangeDescriptor.SELECTOR:
            selection = RangeDescriptor.from_selection(access)
            if not _same(selection.restricting, CLOCK_TIME):
                return DataAccessResult.OTHER_REASON
            start, end = (_bound(value, tz) for value in (selection.start, selection.end))
            chosen = [row for row in rows if start <= row.stamp <= end]
            if selection.columns:
                picked = [next((i for i, column in enumerate(profile.columns)
                                if _same(column, wanted)), None) for wanted in selection.columns]
                if None in picked:
                    return DataAccessResult.OTHER_REASON
                columns = [i for i in picked if i is not None]
        else:
            return DataAccessResult.OTHER_REASON
    except ProtocolError:
        return DataAccessResult.OTHER_REASON
    encoded = (profile.encode(entry) for entry in chosen)
    return Data.array(*(Data.structure(*(values[i] for i in columns)) for values in encoded))


def _same(a: CaptureObject, b: CaptureObject) -> bool:
    return (a.class_id, a.instance, a.attribute) == (b.class_id, b.instance, b.attribute)


def _bound(value: Data, tz: tzinfo) -> datetime:
    """A range bound as an aware instant; unspecified time fields count as 0, a bound without
    deviation is the meter's local time."""
    sent = value.as_datetime()
    clock = sent.time
    wall = CosemTime(clock.hour or 0, clock.minute or 0, clock.second or 0, clock.hundredths or 0)
    moment = datetime.combine(sent.date.to_date(), wall.to_time())
    if sent.deviation is None:
        return moment.replace(tzinfo=tz)
    return moment.replace(tzinfo=timezone(timedelta(minutes=-sent.deviation)))


def encode(entry: Stamped) -> tuple[Data, ...]:
    if isinstance(entry, JournalEntry):
        return (stamp(entry.stamp), Data(DataType.LONG_UNSIGNED, entry.code),
                u32(entry.operating_s))
    return (stamp(entry.stamp), *(u32(value) for value in entry.values))
