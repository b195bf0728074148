"""Events of a simulated Mercury 230 on demand and in its history: power failures, cover,
magnetic field, clock corrections (journals.py keeps the records; docs/simulators.md).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from functools import partial

from simulators.mercury230.clock import Clock
from simulators.mercury230.journals import (
    CLOCK,
    COVER,
    MAGNETIC_FIELD,
    PHASE_VOLTAGE,
    POWER,
    Journals,
)
from simulators.mercury230.settings import MeterSettings

__all__ = ["MeterEvents"]


class MeterEvents:
    """The event side of :class:`~simulators.mercury230.meter.SimulatedMeter`."""

    settings: MeterSettings
    clock: Clock
    journals: Journals
    outages: list[tuple[datetime, datetime]]
    drift_s: float
    _corrected_on: date | None

    def update(self) -> None:
        raise NotImplementedError

    def meter_time(self, at: datetime | None = None) -> datetime:
        raise NotImplementedError

    def local_stamp(self, at: datetime) -> datetime:
        """The meter's wall time at true time ``at``, as its journals stamp it."""
        return self.meter_time(at).replace(tzinfo=None, microsecond=0)

    def powered(self, at: datetime | None = None) -> bool:
        moment = at if at is not None else self.clock()
        return not any(off <= moment < on for off, on in self.outages)

    def power_failure(self, duration_s: float) -> None:
        """The supply fails now for ``duration_s``: journal 01 and the phase voltage journals
        03–05 get the off stamp, then (once the clock gets there) a record with the on stamp."""
        if duration_s <= 0:
            raise ValueError("a power failure lasts a positive time")
        self.update()
        self._outage(self.clock(), duration_s)
        self.journals.settle(self.clock())

    def _outage(self, off: datetime, duration_s: float) -> None:
        on = off + timedelta(seconds=duration_s)
        self.outages.append((off, on))
        for journal in (POWER, *PHASE_VOLTAGE):
            self.journals.later(off, partial(self._switch_off, journal, off))
            self.journals.later(on, partial(self._switch_on, journal, on))

    def _switch_on(self, journal: int, on: datetime) -> None:
        self.journals.append(journal, self.local_stamp(on))

    def _switch_off(self, journal: int, off: datetime) -> None:
        ring = self.journals.rings[journal]
        if ring.last is not None and ring.records[ring.last][1] is None:
            ring.set_stamp(ring.last, 1, self.local_stamp(off))
        else:
            ring.append(None, self.local_stamp(off))

    def open_cover(self, duration_s: float = 60.0, at: datetime | None = None) -> None:
        """The terminal cover is opened at ``at`` (default now) and closed ``duration_s`` later."""
        self._condition(COVER, duration_s, at)

    def magnetic_field(self, duration_s: float = 60.0, at: datetime | None = None) -> None:
        """A magnet acts on the meter from ``at`` (default now) for ``duration_s``."""
        self._condition(MAGNETIC_FIELD, duration_s, at)

    def _condition(self, journal: int, duration_s: float, at: datetime | None) -> None:
        if duration_s <= 0:
            raise ValueError("a condition lasts a positive time")
        start = at if at is not None else self.clock()
        end = start + timedelta(seconds=duration_s)
        number = self.journals.append(journal, self.local_stamp(start))
        self.journals.end_later(journal, number, end, self.local_stamp(end))
        self.journals.settle(self.clock())

    def correct_clock(self, delta_s: float) -> bool:
        """03 0D: move the meter's clock by ``delta_s`` (±240 s, once a meter day).

        Returns ``False`` when a correction was already made today (the meter answers
        status 4); raises ``ValueError`` beyond ±4 min. Journal 02 gets (before, after).
        """
        if abs(delta_s) > 240:
            raise ValueError("a clock correction is limited to ±4 min")
        self.update()
        now = self.clock()
        today = self.meter_time(now).date()
        if self._corrected_on == today:
            return False
        before = self.local_stamp(now)
        self.drift_s += delta_s
        self.journals.append(CLOCK, before, self.local_stamp(now))
        self._corrected_on = self.meter_time(now).date()
        return True

    def _history_events(self, start: datetime, now: datetime) -> None:
        """A few seeded power failures and one clock correction over the history window."""
        for journal in (POWER, *PHASE_VOLTAGE):
            self.journals.append(journal, self.local_stamp(start))
        span = now - start
        draws = random.Random(self.settings.seed * 31 + 7)
        failures = min(3, self.settings.history_days)
        for k in range(failures):
            off = start + span * (k + 0.5) / failures + timedelta(minutes=draws.randint(0, 120))
            duration_s = 60 * draws.randint(5, 90)
            if off + timedelta(seconds=duration_s) < now:
                self._outage(off, duration_s)
        if self.settings.history_days >= 2:
            moment = start + span * 0.3
            before = self.local_stamp(moment)
            self.journals.append(CLOCK, before, before + timedelta(seconds=draws.randint(5, 60)))
        self.journals.settle(now)
