"""Register snapshots of a simulated Mercury 230: at 00:00 of each day and of each 1st, on the
meter's own clock (docs/reference/mercury-protocol.md §1.7: arrays B/C/D and the 18h archives,
123 days and 36 months deep).
"""

from __future__ import annotations

from datetime import date, timedelta

from core.obis import EnergyKind

__all__ = ["DAILY_DEPTH", "MONTHLY_DEPTH", "Archive", "Registers"]

#: 18h ARR 0 holds 123 days, ARR 1 36 months (DOC3 p.59).
DAILY_DEPTH = 123
MONTHLY_DEPTH = 36

#: kind → zone (0 = sum) → Wh.
Registers = dict[EnergyKind, dict[int, int]]


class Archive:
    def __init__(self) -> None:
        self.daily: dict[date, Registers] = {}
        self.monthly: dict[date, Registers] = {}

    def capture(self, day: date, registers: Registers) -> None:
        """The registers at 00:00 of ``day`` (meter time)."""
        self.daily[day] = registers
        if day.day == 1:
            self.monthly[day] = registers
        for old in [d for d in self.daily if d < day - timedelta(days=400)]:
            del self.daily[old]

    def day(self, day: date, today: date) -> Registers | None:
        """Registers at 00:00 of ``day`` if the 123-day archive still holds it."""
        if not today - timedelta(days=DAILY_DEPTH) < day <= today:
            return None
        return self.daily.get(day)

    def month(self, first: date, today: date) -> Registers | None:
        """Registers at 00:00 on the 1st of ``first``'s month within 36 months."""
        months_back = (today.year - first.year) * 12 + today.month - first.month
        if not 0 <= months_back < MONTHLY_DEPTH:
            return None
        return self.monthly.get(first.replace(day=1))

    def latest_month_start(self, month: int, today: date) -> Registers | None:
        """Array B: the most recent start of month ``month`` (1..12) up to today."""
        year = today.year if month <= today.month else today.year - 1
        return self.monthly.get(date(year, month, 1))
