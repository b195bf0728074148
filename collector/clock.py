"""The clock policy: when to move a meter's clock, by how much, and the event that records it.

Drift is measured on every poll that reads the ``clock`` stream (meter minus true time). With
``clock_policy = "correct"`` a drift beyond ``clock_threshold_s`` is corrected, within the
protocol's limit (±240 s once a day for the Mercury 230 family), using the driver's own
primitive; a drift larger than the limit is reduced by the limit each day. Each correction is
published as an event of the ``events`` stream, besides what the meter writes in its own
journal.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.events import TIME_CORRECTION
from core.model import EventItem

__all__ = ["COLLECTOR_CLOCK_JOURNAL", "correction_event", "correction_for"]

#: The journal name of corrections made by the collector.
COLLECTOR_CLOCK_JOURNAL = "collector:clock"


def correction_for(drift_s: Decimal, threshold_s: float, limit_s: float) -> int | None:
    """Whole seconds to move the clock by, or ``None`` when the drift is within the threshold."""
    if abs(drift_s) <= Decimal(str(threshold_s)):
        return None
    delta = -int(drift_s.to_integral_value())
    limit = int(limit_s)
    return max(-limit, min(limit, delta)) or None


def correction_event(ts: datetime, delta_s: int, drift_s: Decimal) -> EventItem:
    return EventItem(
        ts=ts,
        journal=COLLECTOR_CLOCK_JOURNAL,
        code=1,
        kind=TIME_CORRECTION.name,
        text=f"Коррекция времени ПУ сборщиком на {delta_s:+d} с (расхождение {drift_s} с)",
        critical=False,
    )
