"""The clock policy: when to move a meter's clock, by how much, and the event that records it.

Drift is measured on every poll that reads the ``clock`` stream (meter minus true time). With
``clock_policy = "correct"`` a drift beyond ``clock_threshold_s`` is corrected, within the
protocol's limit (±240 s once a day for the Mercury 230 family), using the driver's own
primitive; a drift larger than the limit is reduced by the limit each day. Each correction is
published as an event of the ``events`` stream, besides what the meter writes in its own
journal.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from core.errors import IsuError, TransportError
from core.events import TIME_CORRECTION
from core.model import EventItem, utc_now
from drivers.base import ClockCorrector, MeterDriver, ReadResult

if TYPE_CHECKING:
    from collector.meter import MeterRuntime

__all__ = ["COLLECTOR_CLOCK_JOURNAL", "apply_clock_policy", "correction_event", "correction_for"]

logger = logging.getLogger(__name__)

# A clock correction is allowed once a day; do not try again sooner.
_RETRY = timedelta(hours=23)

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


async def apply_clock_policy(driver: MeterDriver, meter: MeterRuntime, result: ReadResult) -> None:
    """Correct the meter's clock when the drift ``result`` measured exceeds the threshold; the
    bus lock is held. A transport failure propagates; any other refusal is logged."""
    if not isinstance(driver, ClockCorrector) or not result.clock:
        return
    now = utc_now()
    last = meter.clock_corrected_at
    if last is not None and now - last < _RETRY:
        return
    drift = result.clock[-1].drift_s
    delta = correction_for(drift, meter.config.clock_threshold_s, driver.clock_correction_limit_s)
    if delta is None:
        return
    try:
        await driver.correct_clock(delta)
    except IsuError as exc:
        if isinstance(exc, TransportError):
            raise
        logger.warning(
            "meter %s: clock not corrected by %+d s: %s (%s)",
            meter.config.id,
            delta,
            exc,
            exc.error_class,
            extra=meter.log_extra,
        )
        if not exc.retryable:
            meter.clock_corrected_at = now  # e.g. already corrected today: not before tomorrow
        return
    meter.clock_corrected_at = now
    logger.info(
        "meter %s: clock drift %s s, corrected by %+d s",
        meter.config.id,
        drift,
        delta,
        extra=meter.log_extra,
    )
    result.events.append(correction_event(now, delta, drift))
