"""Poll plans: when each stream of a meter is read.

A meter's ``plan`` names, per stream, either a period in seconds — aligned to the meter's local
wall clock (every 300 s means :00, :05, :10 … local time) — or, for the snapshot streams, the
local time after which the snapshot is read: ``daily = "00:05"`` reads the end-of-day snapshot
five minutes after local midnight, ``monthly = "00:10"`` the end-of-period snapshot ten minutes
after midnight on the 1st. Each meter gets a small fixed offset (a jitter drawn from its id),
so that a thousand meters with the same plan do not all start in the same second. Streams the
plan does not name are read every ``period_s``, as a whole.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.model import Stream

__all__ = ["StreamPlan", "parse_plan_entry"]

_MAX_JITTER_S = 300.0
_JITTER_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """Either ``period_s`` (aligned to local time) or ``at`` (daily, or on the 1st)."""

    period_s: float | None = None
    at: time | None = None
    monthly: bool = False

    def jitter_s(self, meter_id: str) -> float:
        """A fixed offset for this meter: up to 10 % of the period, at most five minutes."""
        span = _MAX_JITTER_S if self.period_s is None else _JITTER_SHARE * self.period_s
        fraction = (zlib.crc32(meter_id.encode()) % 1000) / 1000
        return fraction * min(span, _MAX_JITTER_S)

    def next_run(self, after: datetime, zone: ZoneInfo, meter_id: str) -> datetime:
        """The first run strictly after ``after`` (aware), in UTC."""
        jitter = timedelta(seconds=self.jitter_s(meter_id))
        local = after.astimezone(zone)
        if self.period_s is not None:
            offset = local.utcoffset() or timedelta(0)
            local_s = after.timestamp() + offset.total_seconds()
            slot = (math.floor((local_s - jitter.total_seconds()) / self.period_s) + 1)
            start_s = slot * self.period_s - offset.total_seconds() + jitter.total_seconds()
            return datetime.fromtimestamp(start_s, UTC)
        assert self.at is not None
        day = local.date().replace(day=1) if self.monthly else local.date()
        while True:
            candidate = datetime.combine(day, self.at, zone) + jitter
            if candidate > after:
                return candidate.astimezone(UTC)
            day = _next_month(day) if self.monthly else day + timedelta(days=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_plan_entry(stream: Stream, value: float | int | str) -> StreamPlan:
    """A plan entry from the configuration; ``ValueError`` says what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"plan.{stream.value}: give seconds or a local time HH:MM")
    if isinstance(value, int | float):
        if not 0 < value <= 31 * 86400:
            raise ValueError(f"plan.{stream.value}: a period must be 0 < s <= 31 days")
        return StreamPlan(period_s=float(value))
    if stream not in (Stream.DAILY, Stream.MONTHLY):
        raise ValueError(f"plan.{stream.value}: only daily and monthly take a time of day")
    try:
        at = time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"plan.{stream.value}: {value!r} is not a local time HH:MM") from None
    return StreamPlan(at=at, monthly=stream is Stream.MONTHLY)
