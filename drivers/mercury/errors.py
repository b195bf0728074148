"""Errors peculiar to the Mercury 230 family, fitted into the ``core.errors`` tree."""

from __future__ import annotations

from core.errors import MeterError

__all__ = ["ClockCorrectedTodayError"]


class ClockCorrectedTodayError(MeterError):
    """Status 4: the clock was already corrected today (±4 min once per day, DOC3 §3)."""

    retryable = False
