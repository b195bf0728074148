"""The ``interval`` stream of the ``mercury230`` driver: the main average-power profile
(docs/reference/mercury-protocol.md §1.10; DOC3 §4.4 08 13, §4.5 06).

::

    08 13                    → PTR(2) ST hh mm DD MM YY T        the last record written
    06 (A16<<7 | 03) HI LO 0F → ST hh mm DD MM YY T P+ P- Q+ Q-   one record, powers LE

The record k places before the last one sits 16·k bytes earlier (memory wraps at 4096
records of 64 KB or 8192 of 131 KB, variant b4 bit 7; the 17th address bit travels as A16) and
is stamped T·k minutes earlier: addresses advance even while the power is off. ``PTR`` is a
record index (×16) on firmware ≥ 9, a byte address before (option ``profile_pointer``). Every
record's own stamp is checked against the expected one; a mismatch (a hole left by a power
failure, a clock set) is skipped and logged, never stored under a wrong time.

A record stamped hh:mm holds [hh:mm − T, hh:mm) by default (``profile_stamp = "end"``;
"start" for a model that stamps the start). Its energy is N/(2A) kWh (P = N·(60/T)/(2A) kW
over T minutes), A the meter constant; FF FF (not measured) is left out; status bits 0
(overflow) and 1 (incomplete slice) make the interval ``incomplete``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.errors import ObjectUnavailableError
from core.model import Quality, ReadingItem
from core.obis import EnergyKind, interval_obis
from drivers.mercury.frame import Param
from drivers.mercury.reading import Exchange, local_to_utc, reading_item
from drivers.mercury.records import ProfilePointer, ProfileRecord, Variant
from drivers.mercury.request import ReadMemoryRequest, ReadParamRequest

__all__ = ["PROFILE_MEMORY", "RECORD_SIZE", "interval_items", "read_profile", "record_address"]

logger = logging.getLogger(__name__)

PROFILE_MEMORY = 3
RECORD_SIZE = 0x10
_RECORD_LENGTH = 15
_INCOMPLETE_BITS = 0x03


def record_address(pointer: int, index_pointer: bool, back: int, records: int) -> int:
    """Byte address of the record ``back`` places before the one ``pointer`` names."""
    last = pointer * RECORD_SIZE if index_pointer else pointer
    return (last - back * RECORD_SIZE) % (records * RECORD_SIZE)


def interval_items(record: ProfileRecord, start: datetime, constant: int) -> list[ReadingItem]:
    """The interval energies of one verified record; ``start`` is the interval's UTC start."""
    counts = (record.p_plus, record.p_minus, record.q_plus, record.q_minus)
    quality = Quality.INCOMPLETE if record.status & _INCOMPLETE_BITS else Quality.OK
    return [
        reading_item(
            interval_obis(kind), start, Decimal(count) / (2 * constant), kind.unit,
            quality=quality, period_s=record.period_min * 60,
        )
        for kind, count in zip(EnergyKind, counts, strict=True)
        if count is not None
    ]


async def read_profile(
    exchange: Exchange,
    address: int,
    zone: ZoneInfo,
    variant: Variant | None,
    *,
    index_pointer: bool,
    stamp_at_end: bool,
    since: datetime,
    until: datetime,
    meter_id: str = "",
) -> list[ReadingItem]:
    """Interval energies with ``since <= start < until``, oldest first."""
    if variant is None or not variant.has_profile or variant.meter_constant is None:
        raise ObjectUnavailableError("the meter keeps no average-power profile")
    constant = variant.meter_constant
    records = 8192 if variant.large_memory else 4096
    last = await exchange(ReadParamRequest(address, Param.PROFILE_LAST), ProfilePointer)
    if last.recorded_at is None or last.period_min <= 0:
        return []
    period = timedelta(minutes=last.period_min)
    shift = period if stamp_at_end else timedelta(0)
    written = records if last.status & 0x01 else _written(last.pointer, index_pointer)
    items: list[ReadingItem] = []
    for back in range(min(written, records)):
        stamp = last.recorded_at - back * period
        start = local_to_utc(stamp - shift, zone)
        if start < since:
            break
        if start >= until:
            continue
        offset = record_address(last.pointer, index_pointer, back, records)
        record = await exchange(
            ReadMemoryRequest(address, PROFILE_MEMORY, offset, _RECORD_LENGTH), ProfileRecord
        )
        if record.recorded_at is None:
            logger.debug("meter %s: profile record at %05X is empty (no supply then); skipped",
                         meter_id, offset)
            continue
        if record.recorded_at != stamp or record.period_min != last.period_min:
            logger.warning(
                "meter %s: profile record at %05X says %s/%d min where %s/%d min belongs; "
                "skipped", meter_id, offset, record.recorded_at, record.period_min, stamp,
                last.period_min,
            )
            continue
        items += interval_items(record, start, constant)
    return sorted(items, key=lambda item: (item.ts, item.obis))


def _written(pointer: int, index_pointer: bool) -> int:
    """Records written so far when the memory has not wrapped (the first sits at 0)."""
    return (pointer if index_pointer else pointer // RECORD_SIZE) + 1
