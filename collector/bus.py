"""One physical bus: its byte stream, its lock and the schedule of the meters on it.

Isolation rules (what field users of other gateways lose: one dead device stalling the rest):

- one request in flight per bus: :attr:`BusPoller.lock` is held around opening the stream and
  each driver call, whoever calls;
- a failing meter costs its own time only: its error is recorded, it backs off (its period, then
  twice that, … up to ``poll.backoff_max_s``), and the other meters keep their schedule;
- a read that never ends is cut at ``read_deadline_s``, and the stream is reopened;
- a lost connection closes the stream and the next read reopens it; a connection lost on a
  reused stream (converters drop idle ones) gets one fresh retry before the meter is charged;
- a port that will not open is retried with its own backoff, without charging any meter's;
- an exception outside the error tree (a bug) is logged and counted and the bus goes on.

Catch-up: history streams (archives, profiles, journals) are read ``since`` the newest item the
ledger says was read and stored, each in its own driver read; the ledger advances in the same
queue transaction as the messages, so what a meter still holds is read exactly once after any
outage of the collector, the link or the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from collector.backoff import Backoff
from collector.clock import apply_clock_policy
from collector.config import BusConfig, CollectorConfig, SerialBusConfig, TcpBusConfig
from collector.meter import MeterRuntime
from collector.metrics import CollectorMetrics
from collector.payloads import encode_message
from collector.queue import QueueEntry
from core.errors import (
    ConnectError,
    ConnectionLostError,
    IsuError,
    StorageError,
    TransportError,
    TransportTimeoutError,
)
from core.messages import MeterState
from core.model import Stream, utc_now
from drivers.base import (
    HISTORY_STREAMS,
    MeterDriver,
    ReadResult,
    create_driver,
)
from drivers.transport.counting import CountingStream, TrafficCounts
from drivers.transport.stream import ByteStream
from drivers.transport.tcp import open_tcp
from drivers.transport.timing import inter_byte_timeout_s, wire_time_s

__all__ = [
    "BusPoller",
    "LedgerMarks",
    "PollOutcome",
    "PollSink",
    "StreamOpener",
    "open_bus_stream",
]

logger = logging.getLogger(__name__)

StreamOpener = Callable[[TcpBusConfig | SerialBusConfig], Awaitable[ByteStream]]


def _since(last_ts: float | None) -> datetime | None:
    return None if last_ts is None else datetime.fromtimestamp(last_ts, UTC) + _AFTER


async def open_bus_stream(bus: TcpBusConfig | SerialBusConfig) -> ByteStream:
    """The bus's byte stream: TCP to a converter, or a local serial port."""
    if isinstance(bus, TcpBusConfig):
        return await open_tcp(bus.host, bus.port, bus.connect_timeout_s)
    try:
        # Imported here: the serial stack is needed only by collectors with a serial bus.
        from drivers.transport.serial import open_serial
    except ImportError as exc:
        raise ConnectError(f"{bus.where}: the serial transport is not available: {exc}") from exc
    return await open_serial(bus.device, baud=bus.baud, parity=bus.parity, echo=bus.echo)


class PollOutcome(StrEnum):
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    BUS_DOWN = "bus_down"


#: ``(meter_id, stream)`` → ``ts`` of the newest item read, Unix seconds.
LedgerMarks = Mapping[tuple[str, str], float]

# ``since`` is inclusive: start just after the newest item already stored.
_AFTER = timedelta(microseconds=1)


class PollSink(Protocol):
    """Where a bus delivers what it read (the collector: disk queue, then MQTT)."""

    async def store(self, entries: list[QueueEntry], ledger: LedgerMarks) -> None: ...

    async def ledger(self, meter_id: str) -> dict[str, float]: ...

    def history_paused(self) -> bool: ...

    def meter_state(self, state: MeterState) -> None: ...


class BusPoller:
    def __init__(
        self,
        bus: BusConfig,
        config: CollectorConfig,
        *,
        sink: PollSink,
        metrics: CollectorMetrics,
        open_stream: StreamOpener = open_bus_stream,
    ) -> None:
        self.bus = bus
        self.collector_id = config.collector_id
        self.meters = [
            MeterRuntime(meter, bus, config.period_of(meter), config.poll.backoff_max_s)
            for meter in bus.meters
        ]
        self.lock = asyncio.Lock()
        self._sink = sink
        self._metrics = metrics
        self._open_stream = open_stream
        self._stream: ByteStream | None = None
        self._traffic = TrafficCounts()
        self._busy_s = 0.0
        self._wire_s = 0.0
        self._reconnect = Backoff(config.poll.reconnect_initial_s, config.poll.reconnect_max_s)
        self._extra = {"bus": bus.name}
        self._children: dict[object, Any] = {}

    async def run(self) -> None:
        """Poll the meters on their schedule until cancelled."""
        loop = asyncio.get_running_loop()
        try:
            while self.meters:
                meter = min(self.meters, key=lambda m: m.due_at or 0.0)
                delay = (meter.due_at or 0.0) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                due = meter.streams_due(loop.time())
                if not due:  # woke for a plan entry that moved; look again
                    meter.schedule([], loop.time(), self._next_due(meter, loop.time()))
                    continue
                try:
                    outcome = await self.poll_meter(meter, due)
                except Exception as exc:  # a bug must not stop the bus
                    logger.exception(
                        "meter %s: unexpected error in the poll loop",
                        meter.config.id,
                        extra=meter.log_extra,
                    )
                    self._metrics.unexpected.labels("bus").inc()
                    meter.failed(type(exc).__name__, f"unexpected {type(exc).__name__}")
                    self._report(meter)
                    meter.due_at = loop.time() + meter.backoff.next_delay()
                    continue
                if outcome is PollOutcome.BUS_DOWN:
                    await asyncio.sleep(self._reconnect.next_delay())
            await asyncio.Future()  # a bus without meters idles until cancelled
        finally:
            await self.close()

    async def poll_meter(
        self, meter: MeterRuntime, streams: list[Stream] | None = None
    ) -> PollOutcome:
        """Read ``streams`` of one meter now (all of its streams by default), store the
        messages and report its state."""
        loop = asyncio.get_running_loop()
        streams = list(meter.config.streams) if streams is None else streams
        async with self.lock:
            started = loop.time()
            before = (self._traffic.bytes_total, self._traffic.writes)
            try:
                result = await self._read_with_reopen(meter, streams)
                self._account_line(loop.time() - started, before)
            finally:
                if self.bus.pause_s:
                    await asyncio.sleep(self.bus.pause_s)
        if result is None:
            return PollOutcome.BUS_DOWN
        if isinstance(result, Exception):
            self._record_failure(meter, result)
            delay = meter.backoff.next_delay()
            meter.due_at = loop.time() + delay
            self._report(meter)
            logger.debug(
                "meter %s: next attempt in %.3g s", meter.config.id, delay, extra=meter.log_extra
            )
            return PollOutcome.FAILED
        meter.schedule(streams, loop.time(), self._next_due(meter, loop.time()))
        outcome = await self._deliver(meter, result)
        self._report(meter)
        return outcome

    def _account_line(self, busy_s: float, before: tuple[int, int]) -> None:
        """Bus efficiency: what the line needed against how long the bus was held."""
        baud = self.bus.baud
        if baud is None:
            return
        nbytes = self._traffic.bytes_total - before[0]
        frames = self._traffic.writes - before[1]
        wire_s = wire_time_s(nbytes, baud, self.bus.parity) + frames * inter_byte_timeout_s(baud)
        self._busy_s += busy_s
        self._wire_s += wire_s
        self._metrics.bus_busy.labels(self.bus.name).inc(busy_s)
        self._metrics.bus_wire.labels(self.bus.name).inc(wire_s)
        if self._busy_s > 0:
            self._metrics.bus_efficiency.labels(self.bus.name).set(self._wire_s / self._busy_s)

    async def _read_with_reopen(
        self, meter: MeterRuntime, streams: list[Stream]
    ) -> ReadResult | Exception | None:
        """The read's result or error; ``None`` when the bus cannot be opened (lock held)."""
        reused = self._stream is not None
        try:
            stream = await self._ensure_stream()
        except IsuError as exc:
            self._bus_down(exc)
            return None
        result = await self._read(stream, meter, streams)
        if reused and isinstance(result, ConnectionLostError):
            # A converter that drops idle connections is not the meter's fault: read once more
            # on a fresh connection before charging the meter.
            logger.info(
                "bus %s: the connection was lost (%s); reopening for meter %s",
                self.bus.name,
                result,
                meter.config.id,
                extra=meter.log_extra,
            )
            try:
                stream = await self._ensure_stream()
            except IsuError as exc:
                self._bus_down(exc)
                return None
            result = await self._read(stream, meter, streams)
        return result

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                await stream.close()
            except Exception as exc:  # closing a broken stream may fail any way it likes
                logger.debug("bus %s: close failed: %r", self.bus.name, exc, extra=self._extra)

    async def _ensure_stream(self) -> ByteStream:
        if self._stream is None:
            self._stream = CountingStream(await self._open_stream(self.bus), self._traffic)
            self._reconnect.reset()
            logger.info(
                "bus %s: opened %s", self.bus.name, self._stream.description, extra=self._extra
            )
        return self._stream

    def _bus_down(self, exc: IsuError) -> None:
        logger.warning(
            "bus %s: cannot open %s: %s (%s)",
            self.bus.name,
            self.bus.where,
            exc,
            exc.error_class,
            extra=self._extra,
        )
        self._metrics.bus_errors.labels(self.bus.name, exc.error_class).inc()
        # Every meter on the bus is unreadable; say so in their state, but leave their schedule
        # and backoff alone: they are read as soon as the port opens again.
        for meter in self.meters:
            meter.failed(exc.error_class, str(exc))
            self._report(meter)

    async def _read(
        self, stream: ByteStream, meter: MeterRuntime, streams: list[Stream]
    ) -> ReadResult | Exception:
        """The driver's result, or the error that cost this meter its read (lock held)."""
        deadline = asyncio.timeout(self.bus.read_deadline_s)
        try:
            driver = create_driver(stream, meter.endpoint)
            async with deadline:
                return await self._read_streams(driver, meter, streams)
        except IsuError as exc:
            if isinstance(exc, TransportError) and not isinstance(exc, TransportTimeoutError):
                await self.close()
            else:
                await self._discard(stream)
            return exc
        except Exception as exc:
            await self.close()  # the conversation's state is unknown
            if isinstance(exc, TimeoutError) and deadline.expired():
                return TransportTimeoutError(
                    f"meter {meter.config.id}: read not finished within "
                    f"{self.bus.read_deadline_s:.3g} s"
                )
            logger.exception(
                "meter %s: unexpected error from the %s driver",
                meter.config.id,
                meter.config.protocol,
                extra=meter.log_extra,
            )
            self._metrics.unexpected.labels("driver").inc()
            return exc

    async def _read_streams(
        self, driver: MeterDriver, meter: MeterRuntime, streams: list[Stream]
    ) -> ReadResult:
        """The live streams in one read, then each history stream since its ledger mark.

        A stream the meter refuses is reported and the others are still read; a transport
        failure ends the read (what was read so far is kept); nothing read at all raises.
        """
        live = [stream for stream in streams if stream not in HISTORY_STREAMS]
        history = [stream for stream in streams if stream in HISTORY_STREAMS]
        if history and self._sink.history_paused():
            # The queue is at its bound: the meter keeps these, and the ledger, untouched, makes
            # the next poll after the queue drains read them all.
            logger.debug(
                "meter %s: history streams deferred, the disk queue is full",
                meter.config.id,
                extra=meter.log_extra,
            )
            history = []
        marks = await self._sink.ledger(meter.config.id) if history else {}
        plan: list[tuple[list[Stream], datetime | None]] = [(live, None)] if live else []
        plan += [([stream], _since(marks.get(stream.value))) for stream in history]
        result = ReadResult(meter_id=meter.config.id, read_at=utc_now())
        first_error: IsuError | None = None
        for position, (streams, since) in enumerate(plan):
            try:
                result.absorb(await driver.read(streams, since=since))
            except IsuError as exc:
                first_error = first_error or exc
                if isinstance(exc, TransportError):
                    if not result.streams():
                        raise
                    for rest, _ in plan[position:]:
                        result.errors.update(dict.fromkeys(rest, exc))
                    break
                result.errors.update(dict.fromkeys(streams, exc))
        if first_error is not None and not result.streams():
            raise first_error
        if meter.config.clock_policy == "correct" and result.clock:
            await apply_clock_policy(driver, meter, result)
        return result

    def _record_failure(self, meter: MeterRuntime, error: Exception) -> None:
        if isinstance(error, IsuError):
            error_class, text = error.error_class, str(error)
            logger.warning(
                "meter %s: read failed: %s (%s)",
                meter.config.id,
                text,
                error_class,
                extra=meter.log_extra,
            )
        else:  # already logged with its traceback; its text may say anything, so keep it out
            error_class = type(error).__name__
            text = f"unexpected {error_class}"
        meter.failed(error_class, text)
        self._metrics.polls.labels(self.bus.name, meter.config.id, "failed").inc()
        self._metrics.poll_errors.labels(self.bus.name, meter.config.id, error_class).inc()

    async def _discard(self, stream: ByteStream) -> None:
        # A late answer to the failed request must not be taken for the next meter's.
        try:
            await stream.discard_input()
        except IsuError:
            await self.close()

    async def _deliver(self, meter: MeterRuntime, result: ReadResult) -> PollOutcome:
        meter_id = meter.config.id
        current = result.readings.get(Stream.CURRENT)
        if current:
            result.readings[Stream.CURRENT], suspicious = meter.check_registers(current)
            if suspicious:
                logger.warning(
                    "meter %s: register(s) %s went back without a rollover at the capacity; "
                    "stored as invalid",
                    meter_id,
                    ", ".join(suspicious),
                    extra=meter.log_extra,
                )
        messages = []
        for stream in result.streams():
            items = result.items(stream)
            messages.append(
                encode_message(self.collector_id, meter_id, stream, items, result.read_at)
            )
            self._items_read(stream).inc(len(items))
        for stream, error in result.errors.items():
            logger.warning(
                "meter %s: stream %s not read: %s (%s)",
                meter_id,
                stream.value,
                error,
                error.error_class,
                extra=meter.log_extra,
            )
            self._metrics.poll_errors.labels(self.bus.name, meter_id, error.error_class).inc()
        first_error = next(iter(result.errors.values()), None)
        meter.succeeded(first_error)
        outcome = PollOutcome.PARTIAL if first_error is not None else PollOutcome.OK
        self._polls(meter_id, outcome).inc()
        marks = meter.ledger_marks(result)
        if messages:
            try:
                await self._sink.store(messages, marks)
            except StorageError as exc:
                # Not the meter's fault: its schedule and backoff stay as they are.
                logger.error(
                    "meter %s: %d message(s) lost, the queue failed: %s",
                    meter_id,
                    len(messages),
                    exc,
                    extra=meter.log_extra,
                )
                self._metrics.poll_errors.labels(self.bus.name, meter_id, exc.error_class).inc()
        logger.debug(
            "meter %s: %s, %d message(s)",
            meter_id,
            outcome.value,
            len(messages),
            extra=meter.log_extra,
        )
        return outcome

    def _items_read(self, stream: Stream) -> Any:
        child = self._children.get(stream)
        if child is None:  # a metric's child, looked up once: the same few every poll
            child = self._children[stream] = self._metrics.items_read.labels(stream.value)
        return child

    def _polls(self, meter_id: str, outcome: PollOutcome) -> Any:
        key = (meter_id, outcome)
        child = self._children.get(key)
        if child is None:
            child = self._metrics.polls.labels(self.bus.name, meter_id, outcome.value)
            self._children[key] = child
        return child

    def _next_due(self, meter: MeterRuntime, now: float) -> float:
        # Keep the cadence from the previous due time, so reads do not drift by their duration;
        # a bus that fell behind starts again from now instead of rushing to catch up.
        if meter.cadence_due is None:
            return now + meter.period_s
        due = meter.cadence_due + meter.period_s
        return due if due > now else now

    def _report(self, meter: MeterRuntime) -> None:
        self._sink.meter_state(meter.state)
