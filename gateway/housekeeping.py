"""The gateway's housekeeping thread: retention (docs/timeseries.md §Retention).

It runs once shortly after start and then every ``retention.every_s``, on its own database
connection, so a long ``DELETE`` never holds up the ingest. A failed round is logged and
counted; the next round tries again. Only one gateway applies retention at a time (an advisory
lock in ``timeseries.retention``); the others skip the round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from core.errors import StorageError
from gateway.metrics import GatewayMetrics
from gateway.periodic import PeriodicWorker
from timeseries.retention import RetentionConfig, apply_retention

__all__ = ["RetentionWorker"]

logger = logging.getLogger(__name__)

_FIRST_ROUND_S = 5.0


class RetentionWorker(PeriodicWorker):
    thread_name = "isu-gateway-retention"

    def __init__(
        self,
        dsn: str,
        config: RetentionConfig,
        metrics: GatewayMetrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self._dsn = dsn
        self._config = config
        self._metrics = metrics
        self._clock = clock

    def start(self) -> None:
        if not self._config.horizons():
            logger.info("retention: every stream is kept for ever (no [retention] horizons)")
            return
        super().start()

    def first_delay_s(self) -> float:
        return _FIRST_ROUND_S

    def every_s(self) -> float:
        return self._config.every_s

    def run_once(self) -> None:
        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
                result = apply_retention(conn, self._config, self._clock())
        except (StorageError, psycopg.Error) as exc:
            logger.warning("retention round failed: %s", exc)
            self._metrics.retention_errors.inc()
            return
        if not result.ran:
            logger.debug("retention: another gateway holds the lock; skipping this round")
            return
        for table, chunks in result.chunks_dropped.items():
            self._metrics.retention_removed.labels(table, "chunks").inc(chunks)
        for stream, rows in result.rows_deleted.items():
            self._metrics.retention_removed.labels(stream, "rows").inc(rows)
