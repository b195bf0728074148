"""Tariff-zone schedules of the day (docs/reference/domain.md: FTS order № 1473-э, local time).

Zone numbering follows the cabinet: T1 day or peak, T2 night, T3 semi-peak. A schedule is a list
of ``(start, zone)`` switch points over one local day; the zone of a moment is that of the last
switch point at or before its local wall-clock time.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import time

__all__ = ["SINGLE_RATE", "THREE_ZONE", "TWO_ZONE", "ZoneSchedule", "schedule_named"]


@dataclass(frozen=True, slots=True)
class ZoneSchedule:
    name: str
    switches: tuple[tuple[time, int], ...]

    def __post_init__(self) -> None:
        if not self.switches or self.switches[0][0] != time(0, 0):
            raise ValueError(f"schedule {self.name!r} must start at 00:00")
        starts = [start for start, _ in self.switches]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError(f"schedule {self.name!r}: switch points must be strictly increasing")
        if any(not 1 <= zone <= 8 for _, zone in self.switches):
            raise ValueError(f"schedule {self.name!r}: zones are 1..8")

    @property
    def zones(self) -> tuple[int, ...]:
        """The zones the schedule uses, ascending."""
        return tuple(sorted({zone for _, zone in self.switches}))

    def zone_at(self, local: time) -> int:
        """The zone in force at local wall-clock time ``local``."""
        index = bisect_right([start for start, _ in self.switches], local.replace(tzinfo=None)) - 1
        return self.switches[index][1]


SINGLE_RATE = ZoneSchedule("single", ((time(0, 0), 1),))
TWO_ZONE = ZoneSchedule("two-zone", ((time(0, 0), 2), (time(7, 0), 1), (time(23, 0), 2)))
THREE_ZONE = ZoneSchedule(
    "three-zone",
    (
        (time(0, 0), 2),
        (time(7, 0), 1),
        (time(10, 0), 3),
        (time(17, 0), 1),
        (time(21, 0), 3),
        (time(23, 0), 2),
    ),
)

_NAMED = {schedule.name: schedule for schedule in (SINGLE_RATE, TWO_ZONE, THREE_ZONE)}


def schedule_named(name: str) -> ZoneSchedule:
    try:
        return _NAMED[name]
    except KeyError:
        raise ValueError(f"unknown zone schedule {name!r}; known: {', '.join(_NAMED)}") from None
