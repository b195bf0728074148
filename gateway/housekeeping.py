"""The gateway's housekeeping thread: retention (docs/timeseries.md §Retention).

It runs once shortly after start and then every ``retention.every_s``, on its own database
connection, so a long ``DELETE`` never holds up the ingest. A failed round is logged and
counted; the next round tries again. Only one gateway applies retention at a time (an advisory
lock in ``timeseries.retention``); the others skip the round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from core.errors import StorageError
from gateway.metrics import GatewayMetrics
from timeseries.retention import RetentionConfig, apply_retention

__all__ = ["RetentionWorker"]

logger = logging.getLogger(__name__)

_FIRST_ROUND_S = 5.0


class RetentionWorker:
    def __init__(
        self,
        dsn: str,
        config: RetentionConfig,
        metrics: GatewayMetrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dsn = dsn
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self._config.horizons():
            logger.info("retention: every stream is kept for ever (no [retention] horizons)")
            return
        self._thread = threading.Thread(target=self._run, name="isu-gateway-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30.0)
            self._thread = None

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

    def _run(self) -> None:
        delay = _FIRST_ROUND_S
        while not self._stop.wait(delay):
            self.run_once()
            delay = self._config.every_s
