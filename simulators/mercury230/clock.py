"""Injectable clocks for simulated meters.

A clock is any callable returning an aware UTC ``datetime``. Simulated meters read it whenever
they answer or are inspected, so a test drives a whole fleet through time with one
:class:`ManualClock`; a bench uses :func:`system_clock`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "ManualClock", "ScaledClock", "system_clock"]

#: Returns the true time now, aware, in UTC.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, replays, fast-forwarded benches)."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
        self._now = _aware_utc(start)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds} s")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment``; simulated registers ignore time that runs backwards."""
        self._now = _aware_utc(moment)


class ScaledClock:
    """Wall time, optionally from another start and ``speed`` times as fast, that can jump.

    ``ScaledClock()`` reads like the system clock; ``speed=60`` runs an hour a minute (the
    240 s channel then lapses in 4 s); ``speed=0`` stands still until :meth:`advance`.
    """

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("a clock's speed must not be negative")
        self.speed = speed
        self._start = _aware_utc(start) if start is not None else system_clock()
        self._origin = time.monotonic()
        self._offset = timedelta(0)

    def __call__(self) -> datetime:
        elapsed = (time.monotonic() - self._origin) * self.speed
        return self._start + timedelta(seconds=elapsed) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Jump forward by ``seconds`` of simulated time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds} s")
        self._offset += timedelta(seconds=seconds)
        return self()


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a clock's time must be aware (UTC inside the product)")
    return moment.astimezone(UTC)
