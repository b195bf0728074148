"""The gateway's watch on meters' verification intervals («МПИ», межповерочный интервал).

A meter whose verification («поверка») has lapsed is no longer a commercial meter: its readings
may not be used for billing. The registry keeps each meter's ``next_verification_on``
(migration 004); this thread reads, right after start and then every ``every_s``, the registered
meters whose next verification falls within :data:`HORIZON_DAYS` (overdue ones included) and
exports them as ``isu_meter_verification_due_timestamp_seconds{meter_id, contract}``, the start
(00:00 UTC) of the day the verification is due. Prometheus alerts on it
(``deploy/prometheus/rules/isu.rules.yml``); meters due later are not exported, which bounds the
series to those that need attention. Every gateway runs the watch (one small query); the alert
rules take ``min by (meter_id)`` across them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

from gateway.metrics import GatewayMetrics
from gateway.periodic import PeriodicWorker

__all__ = ["HORIZON_DAYS", "VerificationWatch", "due_meters"]

logger = logging.getLogger(__name__)

#: Meters due within this many days are exported (the alert warns 30 days ahead).
HORIZON_DAYS = 90
_EVERY_S = 900.0

_DUE = """
SELECT m.meter_id, coalesce(c.number, ''), m.next_verification_on
FROM meters m
LEFT JOIN metering_points mp ON mp.id = m.metering_point_id
LEFT JOIN connection_points cp ON cp.id = mp.connection_point_id
LEFT JOIN energy_objects eo ON eo.id = cp.energy_object_id
LEFT JOIN contracts c ON c.id = eo.contract_id
WHERE m.registered AND m.next_verification_on IS NOT NULL AND m.next_verification_on <= %s
ORDER BY m.meter_id
"""


def due_meters(
    conn: psycopg.Connection[Any], today: date, horizon_days: int = HORIZON_DAYS
) -> dict[tuple[str, str], float]:
    """(meter_id, contract number) → the due day's 00:00 UTC as a Unix time, for the registered
    meters due on or before ``today + horizon_days``."""
    rows = conn.execute(_DUE, (today + timedelta(days=horizon_days),)).fetchall()
    return {
        (meter_id, contract): datetime.combine(due_on, time(), UTC).timestamp()
        for meter_id, contract, due_on in rows
    }


class VerificationWatch(PeriodicWorker):
    thread_name = "isu-gateway-verification"

    def __init__(
        self,
        dsn: str,
        metrics: GatewayMetrics,
        *,
        every_s: float = _EVERY_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self._dsn = dsn
        self._metrics = metrics
        self._every_s = every_s
        self._clock = clock

    def every_s(self) -> float:
        return self._every_s

    def run_once(self) -> bool:
        """One round; False (logged and counted) when the database fails. The previous round's
        values stay exported until a round succeeds."""
        now = self._clock()
        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
                due = due_meters(conn, now.astimezone(UTC).date())
        except psycopg.Error as exc:
            logger.warning("verification watch: reading the registry failed: %s", exc)
            self._metrics.verification_errors.inc()
            return False
        self._metrics.verification_due.update(due)
        self._metrics.verification_checked.set(now.timestamp())
        return True
