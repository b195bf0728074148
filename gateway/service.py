"""The ingest: MQTT deliveries → batches → one transaction each → acknowledgements.

::

    paho network thread            batcher thread                writer threads (batch.writers)
    on_message → bounded queue ──▶ collect_batch (size or age) ─▶ Store.write_prepared
                                   classify: accepted /           (one transaction each, on its
                                     dead letters / ignored         own connection; retried
                                   prepare_batch (the rows)         with backoff)
                                        hand-over, numbered       after COMMIT only, in the
                                                                    batches' order: PUBACK every
                                                                    delivery, publish AckMessage
                                                                    per collector

The batcher prepares the next batch while the writers' transactions run, and the writers' work
runs in the database on as many cores, so the gateway's Python and the database overlap. Each
batch is acknowledged only after its own commit, and acknowledgements go out in the order the
batches were made (a batch committed early waits for its elders). A batch that the database
cannot write is never acknowledged, so the broker keeps it. With MQTT 5 the broker sends at most
``receive_maximum`` unacknowledged messages, which bounds the queue: back-pressure reaches the
broker instead of memory.
"""

from __future__ import annotations

import gc
import itertools
import logging
import queue
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from types import FrameType, TracebackType
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from core.errors import ConfigError, IsuError, RejectedDataError, StorageError
from core.model import utc_now
from core.validation import Accepted
from gateway.batching import (
    BatchPlan,
    Delivery,
    Rejected,
    RejectKind,
    ack_ids,
    classify,
    collect_batch,
)
from gateway.broker import BrokerLink
from gateway.config import GatewayConfig
from gateway.housekeeping import RetentionWorker
from gateway.metrics import GatewayMetrics
from gateway.verification import VerificationWatch
from timeseries.store import PreparedBatch, Store, WriteResult, prepare_batch

__all__ = ["Gateway", "run_gateway"]

logger = logging.getLogger(__name__)

_IDLE_POLL_S = 0.25


@dataclass(slots=True)
class _Batch:
    """A batch on its way from the batcher to a writer; ``seq`` orders the acknowledgements."""

    deliveries: list[Delivery]
    plan: BatchPlan
    prepared: PreparedBatch
    seq: int = -1


class Gateway:
    """One ingest service. ``start()`` returns once the store is ready and the broker link is
    connecting; ``stop()`` finishes the batch in hand, acknowledges it and disconnects."""

    def __init__(self, config: GatewayConfig, *, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.metrics = GatewayMetrics(registry)
        # Above the broker's window, so that a resumed session's redeliveries also fit.
        self._queue: queue.Queue[Delivery] = queue.Queue(
            maxsize=2 * config.mqtt.receive_maximum + config.batch.max_messages
        )
        self.metrics.queue_depth.set_function(self._queue.qsize)
        self._store: Store | None = None
        self._broker: BrokerLink | None = None
        self._threads: list[threading.Thread] = []
        # At most one prepared batch waits while the writers write theirs.
        self._handoff: queue.Queue[_Batch] = queue.Queue(maxsize=1)
        self._batcher_done = threading.Event()
        self._numbers = itertools.count()
        self._turn = threading.Condition()
        self._next_ack = 0
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._metrics_server: Any = None
        self._retention: RetentionWorker | None = None
        self._verification: VerificationWatch | None = None
        self.metrics_address: tuple[str, int] | None = None

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Read secrets, migrate and open the store, then connect; raises :class:`IsuError`."""
        if self._threads:
            raise RuntimeError("the gateway is already started")
        config = self.config
        broker = BrokerLink(config.mqtt, config.mqtt.read_password(), self._enqueue, self.metrics)
        dsn = config.database.read_dsn()
        store = Store(
            dsn,
            pool_max_size=config.database.pool_max_size,
            timeout_s=config.database.timeout_s,
        )
        try:
            store.open()
        except IsuError:
            store.close()
            raise
        self._store = store
        logger.info("store %s ready", store.description)
        self._retention = RetentionWorker(dsn, config.retention, self.metrics)
        self._retention.start()
        if config.metrics.address is not None:
            host, port = config.metrics.address
            try:
                self._metrics_server, _ = start_http_server(
                    port, host, registry=self.metrics.registry
                )
            except OSError as exc:
                self._store = None
                store.close()
                raise ConfigError(f"[metrics] cannot listen on {host}:{port}: {exc}") from exc
            self.metrics_address = (host, self._metrics_server.server_address[1])
            logger.info("metrics on http://%s:%d/metrics", *self.metrics_address)
            self._verification = VerificationWatch(dsn, self.metrics)
            self._verification.start()
        self._stopping.clear()
        self._abandon.clear()
        self._batcher_done.clear()
        self._numbers = itertools.count()
        self._next_ack = 0
        self._threads = [
            threading.Thread(target=self._run_batcher, name="isu-gateway-batcher", daemon=True),
            *(
                threading.Thread(
                    target=self._run_writer, name=f"isu-gateway-writer-{index}", daemon=True
                )
                for index in range(config.batch.writers)
            ),
        ]
        for thread in self._threads:
            thread.start()
        self._broker = broker
        broker.start()

    def stop(self, grace_s: float = 10.0) -> None:
        """Finish and acknowledge the batches in hand (for up to ``grace_s`` if the database
        fails), then disconnect. Deliveries not yet in a batch stay with the broker."""
        if self._threads:
            self._stopping.set()
            deadline = time.monotonic() + grace_s
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if any(thread.is_alive() for thread in self._threads):
                logger.warning("the database did not recover in %.0f s; abandoning the batches "
                               "in hand (unacknowledged, so the broker redelivers them)", grace_s)
                self._abandon.set()
                for thread in self._threads:
                    thread.join()
            self._threads = []
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
        if self._retention is not None:
            self._retention.stop()
            self._retention = None
        if self._verification is not None:
            self._verification.stop()
            self._verification = None
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None
        self._drain_queue()

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """True once subscribed to the broker (for tests and the demo)."""
        return self._broker is not None and self._broker.connected.wait(timeout_s)

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """True once nothing is queued or in hand (for tests and the demo)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # Every delivery put in the queue counts until its batch is finished (task_done).
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    # The paho thread.

    def _enqueue(self, delivery: Delivery) -> None:
        while True:
            try:
                self._queue.put(delivery, timeout=1.0)
                return
            except queue.Full:
                logger.warning("ingest queue full (%d); holding the broker back",
                               self._queue.maxsize)

    def _drain_queue(self) -> None:
        # Unacknowledged: the broker redelivers them to the next session.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
            self._queue.task_done()

    def _finished(self, deliveries: list[Delivery]) -> None:
        for _ in deliveries:
            self._queue.task_done()

    # The batcher thread: gather, classify, turn into rows.

    def _next(self, timeout_s: float) -> Delivery | None:
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _run_batcher(self) -> None:
        batch_config = self.config.batch
        try:
            while not self._stopping.is_set():
                deliveries = collect_batch(
                    self._next,
                    max_messages=batch_config.max_messages,
                    max_delay_s=batch_config.max_delay_s,
                    first_wait_s=_IDLE_POLL_S,
                )
                if not deliveries:
                    continue
                try:
                    batch = self._prepare(deliveries)
                except Exception:
                    # Unacknowledged, so nothing is lost; the broker redelivers after a reconnect.
                    logger.exception("unexpected failure preparing a batch of %d",
                                     len(deliveries))
                    self._finished(deliveries)
                    continue
                self._hand_over(batch)
        finally:
            self._batcher_done.set()

    def _prepare(self, deliveries: list[Delivery]) -> _Batch:
        self.metrics.batch_messages.observe(len(deliveries))
        plan = classify(deliveries, max_future_s=self.config.validation.max_future_s)
        _log_rejected(plan.rejected)
        return _Batch(deliveries, plan, prepare_batch(plan.to_store, plan.dead_letters))

    def _hand_over(self, batch: _Batch) -> None:
        batch.seq = next(self._numbers)
        while not self._abandon.is_set():
            try:
                self._handoff.put(batch, timeout=_IDLE_POLL_S)
                return
            except queue.Full:
                continue
        # Abandoned, unacknowledged: the broker redelivers.
        self._pass_turn(batch.seq)
        self._finished(batch.deliveries)

    # The writer threads: one transaction per batch, then the acknowledgements in turn.

    def _run_writer(self) -> None:
        while True:
            try:
                batch = self._handoff.get(timeout=_IDLE_POLL_S)
            except queue.Empty:
                if self._batcher_done.is_set() and self._handoff.empty():
                    return
                continue
            result, committed_at = None, utc_now()
            try:
                if not self._abandon.is_set():
                    result = self._write_with_retry(batch)
                    committed_at = utc_now()
            except Exception:
                # Unacknowledged, so nothing is lost; the broker redelivers after a reconnect.
                logger.exception("unexpected failure writing a batch of %d",
                                 len(batch.deliveries))
            try:
                self._wait_turn(batch.seq)
                if result is not None:
                    self._acknowledge(batch, result, committed_at)
            except Exception:
                logger.exception("unexpected failure acknowledging a batch of %d",
                                 len(batch.deliveries))
            finally:
                self._pass_turn(batch.seq)
                self._finished(batch.deliveries)

    def _wait_turn(self, seq: int) -> None:
        # Stopping with the database down abandons the elders: then nobody waits for them.
        with self._turn:
            while self._next_ack < seq and not self._abandon.is_set():
                self._turn.wait(_IDLE_POLL_S)

    def _pass_turn(self, seq: int) -> None:
        with self._turn:
            self._next_ack = max(self._next_ack, seq + 1)
            self._turn.notify_all()

    def _acknowledge(self, batch: _Batch, result: WriteResult, committed_at: datetime) -> None:
        plan = batch.plan
        stored = plan.to_store
        collectors: set[str] = set()
        for message in stored:
            lag_s = (committed_at - message.read_at).total_seconds()
            self.metrics.ingest_lag_seconds.observe(max(0.0, lag_s))
            collectors.add(message.collector)
        for collector in collectors:
            self.metrics.collector_last_stored.labels(collector=collector).set(
                committed_at.timestamp())
        broker = self._broker
        if broker is None:
            return
        broker.ack(plan.deliveries)
        for collector, ids in ack_ids(stored, plan.rejected).items():
            broker.publish_ack(collector, ids)
        self._account(plan, result)
        self.metrics.ingest_delay_seconds.observe(
            time.monotonic() - batch.deliveries[0].received_monotonic
        )

    def _write_with_retry(self, batch: _Batch) -> WriteResult | None:
        store = self._store
        assert store is not None
        delay_s = self.config.database.retry_min_s
        while True:
            started = time.monotonic()
            try:
                result = self._write(store, batch)
            except StorageError as exc:
                self.metrics.store_errors.inc()
                logger.warning("batch of %d not written, retrying in %.1f s: %s",
                               len(batch.deliveries), delay_s, exc)
                if self._abandon.wait(delay_s):
                    return None
                delay_s = min(delay_s * 2, self.config.database.retry_max_s)
                continue
            self.metrics.batch_seconds.observe(time.monotonic() - started)
            return result

    def _write(self, store: Store, batch: _Batch) -> WriteResult:
        plan = batch.plan
        try:
            return store.write_prepared(batch.prepared)
        except RejectedDataError as exc:
            logger.warning("the database refused a batch of %d (%s); writing one by one",
                           len(plan.accepted), exc)
        # One message at a time finds the culprits; repeats of those already written cost nothing.
        # The plan changes only once every message has been tried, so a retry starts clean.
        accepted: list[tuple[Delivery, Accepted]] = []
        refused: list[Rejected] = []
        for delivery, message in plan.accepted:
            try:
                store.write([message])
            except RejectedDataError as exc:
                reason = f"refused by the database: {exc.detail}"
                refused.append(Rejected(delivery, RejectKind.DATABASE, reason))
            else:
                accepted.append((delivery, message))
        _log_rejected(refused)
        plan.accepted = accepted
        plan.rejected.extend(refused)
        batch.prepared = prepare_batch(plan.to_store, plan.dead_letters)
        return store.write_prepared(batch.prepared)

    def _account(self, plan: BatchPlan, result: WriteResult) -> None:
        metrics = self.metrics
        metrics.ingested.inc(len(plan.accepted))
        metrics.ignored.inc(len(plan.ignored))
        for item in plan.rejected:
            metrics.dead_lettered.labels(kind=item.kind.value).inc()
        for table, count in result.rows.items():
            metrics.rows_written.labels(table=table).inc(count)
        logger.debug("batch committed: %d stored, %d dead-lettered, %d ignored, %d rows",
                     len(plan.accepted), len(plan.rejected), len(plan.ignored),
                     result.rows_written)


_LOGGED_REJECTS = 10


def _log_rejected(rejected: list[Rejected]) -> None:
    # A flood of bad messages must not flood the log: the reasons are in dead_letters and the
    # counts in the metrics.
    for item in rejected[:_LOGGED_REJECTS]:
        logger.warning("dead-lettering %s: %s", item.delivery.topic, item.reason)
    if len(rejected) > _LOGGED_REJECTS:
        kinds = Counter(item.kind.value for item in rejected[_LOGGED_REJECTS:])
        logger.warning(
            "dead-lettering %d more of this batch (%s); see isu deadletter list",
            len(rejected) - _LOGGED_REJECTS,
            ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())),
        )


def run_gateway(config: GatewayConfig) -> int:
    """Run until SIGTERM or SIGINT; returns the exit status (0 after a clean stop).

    A store that cannot be reached at start is retried with backoff, like any later outage.
    """
    stop = threading.Event()

    def _signalled(signum: int, frame: FrameType | None) -> None:
        logger.info("%s received; finishing the current batch", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _signalled) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        delay_s = config.database.retry_min_s
        while not stop.is_set():
            gateway = Gateway(config)
            try:
                gateway.start()
            except StorageError as exc:
                gateway.stop()
                logger.warning("store not ready, retrying in %.1f s: %s", delay_s, exc)
                stop.wait(delay_s)
                delay_s = min(delay_s * 2, config.database.retry_max_s)
                continue
            except IsuError as exc:
                gateway.stop()
                logger.error("gateway cannot start: %s", exc)
                return 1
            logger.info("gateway running")
            # What exists now (modules, validators, the pool) lives as long as the process: kept
            # out of the cyclic collector, whose full passes over it would otherwise cost the
            # ingest more than the batches' own garbage does.
            gc.freeze()
            stop.wait()
            gateway.stop()
            logger.info("gateway stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
