"""The edge collector: bus pollers, the disk queue and the MQTT uplink in one asyncio service.

In process (tests, benches)::

    config = CollectorConfig.model_validate({...})          # or collector.config.load_config()
    async with Collector(config) as collector:
        states = await collector.poll_once()                 # every meter once, now
        task = asyncio.create_task(collector.run())          # the schedule and MQTT
        ...
        task.cancel()                                        # publishes offline, disconnects

The disk queue runs on one worker thread (:class:`~collector.queue.AsyncDiskQueue`); everything
else runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from types import TracebackType

from collector.bus import BusPoller, LedgerMarks, StreamOpener, open_bus_stream
from collector.config import CollectorConfig, read_secret
from collector.metrics import CollectorMetrics
from collector.queue import AsyncDiskQueue, DiskQueue, QueueEntry
from collector.uplink import MqttUplink
from core.errors import ConfigError, IsuError
from core.messages import MeterState

__all__ = ["Collector", "run_collector"]

logger = logging.getLogger(__name__)

_HOUSEKEEPING_S = 5.0
_FULL_WARNING_REPEAT_S = 600.0
_WARN_FRACTION = 0.8


class Collector:
    """One collector: construct it from a validated config, then :meth:`run` it.

    Construction opens the disk queue and reads every secret, so a missing password file or an
    unusable queue path fails here, at start-up. ``open_stream`` replaces the TCP/serial
    transports (tests pass in-memory streams).
    """

    def __init__(
        self,
        config: CollectorConfig,
        *,
        open_stream: StreamOpener = open_bus_stream,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.metrics = CollectorMetrics()
        self._clock = clock
        password = read_secret(config.mqtt, "[mqtt]")
        self.buses = [
            BusPoller(bus, config, sink=self, metrics=self.metrics, open_stream=open_stream)
            for bus in config.buses
        ]
        self.queue = AsyncDiskQueue(DiskQueue(config.queue.path))
        self.uplink = MqttUplink(config, password, self.queue, self.metrics, clock=clock)
        #: Each meter's ledger marks as committed (see :meth:`ledger`).
        self._ledgers: dict[str, dict[str, float]] = {}
        self._full_warned_at: float | None = None
        self._warned_level = 0
        self.metrics.queue_depth.set(self.queue.depth())

    async def __aenter__(self) -> Collector:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def run(self) -> None:
        """Poll, queue and publish until cancelled; on cancel, publish ``offline`` and stop."""
        if self.config.metrics is not None:
            self.metrics.serve(*self.config.metrics.address)
        meters = sum(len(bus.meters) for bus in self.buses)
        logger.info(
            "collector %s: %d bus(es), %d meter(s), %d message(s) waiting on disk",
            self.config.collector_id,
            len(self.buses),
            meters,
            self.queue.depth(),
        )
        if not meters:
            logger.warning(
                "collector %s: no meters configured; only the queue is relayed",
                self.config.collector_id,
            )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.uplink.run(), name="mqtt")
                tasks.create_task(self._housekeeping(), name="housekeeping")
                for bus in self.buses:
                    tasks.create_task(bus.run(), name=f"bus {bus.bus.name}")
        finally:
            self.metrics.close()
            logger.info("collector %s: stopped", self.config.collector_id)

    async def poll_once(self) -> dict[str, MeterState]:
        """Read every meter once, now (buses in parallel, meters on a bus one by one).

        Messages go to the disk queue as in :meth:`run`; returns each meter's state.
        """

        async def one_bus(bus: BusPoller) -> None:
            for meter in bus.meters:
                await bus.poll_meter(meter)

        await asyncio.gather(*(one_bus(bus) for bus in self.buses))
        return self.meter_states()

    def meter_states(self) -> dict[str, MeterState]:
        return {meter.config.id: meter.state for bus in self.buses for meter in bus.meters}

    def close(self) -> None:
        """Close the disk queue (after :meth:`run` has ended)."""
        self.queue.close()

    # PollSink -----------------------------------------------------------------------------

    async def store(self, entries: list[QueueEntry], ledger: LedgerMarks) -> None:
        try:
            await self.queue.put(entries, self._clock(), ledger)
        except BaseException:
            for meter_id, _ in ledger:  # unknown whether they moved: ask the file next time
                self._ledgers.pop(meter_id, None)
            raise
        for (meter_id, stream), ts in ledger.items():
            marks = self._ledgers.get(meter_id)
            if marks is not None:
                marks[stream] = max(marks.get(stream, ts), ts)
        self.uplink.notify()
        self._check_depth(self.queue.depth())

    async def ledger(self, meter_id: str) -> dict[str, float]:
        # A queue file belongs to one collector, and store() is the only writer of its ledger:
        # the file is read once per meter, then the copy in memory follows what store()
        # commits — a trip to the queue's thread saved on every history read.
        marks = self._ledgers.get(meter_id)
        if marks is None:
            stored = await self.queue.ledger(meter_id)
            marks = self._ledgers.setdefault(meter_id, {})
            for stream, ts in stored.items():
                marks[stream] = max(marks.get(stream, ts), ts)
        return dict(marks)

    def meter_state(self, state: MeterState) -> None:
        self.uplink.meter_state(state)

    # -------------------------------------------------------------------------------------

    def _check_depth(self, depth: int) -> None:
        self.metrics.queue_depth.set(depth)
        bound = self.config.queue.max_messages
        level = 2 if depth >= bound else 1 if depth >= _WARN_FRACTION * bound else 0
        now = self._clock()
        repeat = (
            self._full_warned_at is not None
            and now - self._full_warned_at >= _FULL_WARNING_REPEAT_S
        )
        if level > self._warned_level or (level and repeat):
            self._full_warned_at = now
            log = logger.error if level == 2 else logger.warning
            log(
                "disk queue holds %d message(s), %s its bound of %d (queue.max_messages); is the "
                "gateway acknowledging?%s",
                depth,
                "at" if level == 2 else "over 80 % of",
                bound,
                " History streams (profiles, snapshots, journals) are not read until it drains;"
                " the meters keep them and catch-up reads them later."
                if level == 2
                else "",
            )
        self._warned_level = level
        self.metrics.history_paused.set(1 if level == 2 else 0)

    def history_paused(self) -> bool:
        """At the queue's bound, what the meters keep themselves is left with them for now."""
        return self.queue.depth() >= self.config.queue.max_messages

    async def _housekeeping(self) -> None:
        while True:
            try:
                age = await self.queue.oldest_age(self._clock())
                self.metrics.queue_oldest_age.set(age or 0.0)
                self._check_depth(self.queue.depth())
            except IsuError as exc:
                logger.error("disk queue: %s", exc)
            await asyncio.sleep(_HOUSEKEEPING_S)


def run_collector(config: CollectorConfig) -> int:
    """Run until SIGINT or SIGTERM; 0 on a clean stop, 2 for an unusable configuration (a secret
    that cannot be read, a driver option, the metrics port), 1 for any other failure."""

    async def main() -> int:
        try:
            collector = Collector(config)
        except IsuError as exc:
            logger.error("collector %s: cannot start: %s", config.collector_id, exc)
            return _exit_status(exc)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await collector.run()
        except IsuError as exc:
            logger.error("collector %s: stopped: %s", config.collector_id, exc)
            return _exit_status(exc)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            collector.close()
        return 0

    return asyncio.run(main())


def _exit_status(exc: IsuError) -> int:
    return 2 if isinstance(exc, ConfigError) else 1
