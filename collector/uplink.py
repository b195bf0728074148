"""The MQTT side of the collector: publish from the disk queue, delete on the gateway's ack.

Flow (DESIGN §4)::

    poll ──▶ DiskQueue (committed) ──publish QoS 1──▶ broker ──▶ gateway ──commit──┐
                 ▲   mark_sent after PUBACK                                       │
                 └──────── delete on AckMessage on isu/v1/{id}/ack ◀──────────────┘

- The client id is the collector id, with a persistent session (``clean_session=False``) so
  that acknowledgements published while the collector is away are kept for it by the broker.
- Last Will: ``offline``, retained, QoS 1 on the status topic; ``online`` is published retained
  after every connect, ``offline`` again on a clean shutdown.
- A message that stays unacknowledged ``ack_timeout_s`` after its last PUBACK is published
  again; the broker's PUBACK only frees the in-flight window, it never deletes anything.
- Meter states are latest-value data: kept in memory, published retained, and all of them are
  published again after each reconnect; they never go through the disk queue.
- The connection is retried with backoff forever; messages wait on disk meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import ssl
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiomqtt
from pydantic import SecretStr, ValidationError

from collector.backoff import Backoff
from collector.config import CollectorConfig
from collector.metrics import CollectorMetrics
from collector.queue import AsyncDiskQueue, QueuedMessage
from core.errors import StorageError
from core.messages import AckMessage, MeterState, ack_topic, state_topic, status_topic

__all__ = ["MqttUplink"]

logger = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(r"^[0-9a-f]{64}$")
_OFFLINE_TIMEOUT_S = 2.0
#: How long the publishers wait, once woken, for more to publish in the same window.
_GATHER_S = 0.02


class MqttUplink:
    def __init__(
        self,
        config: CollectorConfig,
        password: SecretStr | None,
        queue: AsyncDiskQueue,
        metrics: CollectorMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._password = password
        self._queue = queue
        self._metrics = metrics
        self._clock = clock
        self._id = config.collector_id
        self._status_topic = status_topic(self._id)
        self._ack_topic = ack_topic(self._id)
        self._wakeup = asyncio.Event()
        self._states: dict[str, MeterState] = {}
        self._dirty: set[str] = set()
        self._states_changed = asyncio.Event()
        self._backoff = Backoff(config.mqtt.reconnect_initial_s, config.mqtt.reconnect_max_s)
        self.connected = asyncio.Event()

    def notify(self) -> None:
        """New messages are on disk: publish without waiting for the next resend check."""
        self._wakeup.set()

    def meter_state(self, state: MeterState) -> None:
        self._states[state.meter] = state
        self._dirty.add(state.meter)
        self._states_changed.set()

    async def run(self) -> None:
        """Stay connected and publishing until cancelled."""
        mqtt = self._config.mqtt
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                logger.warning("mqtt %s:%d: %s", mqtt.host, mqtt.port, exc)
            except StorageError as exc:
                logger.error("mqtt: the disk queue failed: %s", exc)
            except Exception:
                logger.exception("mqtt: unexpected error")
                self._metrics.unexpected.labels("mqtt").inc()
            finally:
                self.connected.clear()
                self._metrics.mqtt_connected.set(0)
            delay = self._backoff.next_delay()
            logger.info("mqtt %s:%d: reconnecting in %.3g s", mqtt.host, mqtt.port, delay)
            await asyncio.sleep(delay)

    def _client(self) -> aiomqtt.Client:
        mqtt = self._config.mqtt
        tls_context = None
        if mqtt.tls:
            tls_context = ssl.create_default_context(
                cafile=str(mqtt.ca_file) if mqtt.ca_file is not None else None
            )
        client = aiomqtt.Client(
            mqtt.host,
            mqtt.port,
            identifier=self._id,
            username=self._config.mqtt_username,
            password=self._password.get_secret_value() if self._password is not None else None,
            clean_session=False,
            keepalive=mqtt.keepalive_s,
            timeout=mqtt.timeout_s,
            will=aiomqtt.Will(self._status_topic, b"offline", qos=1, retain=True),
            tls_context=tls_context,
            max_inflight_messages=mqtt.max_inflight,
            logger=logging.getLogger("collector.mqtt.paho"),
        )
        # Messages and meter states go out a window each, plus a status: that many calls
        # waiting for their PUBACK are the design, not a reason for aiomqtt to warn about each.
        client.pending_calls_threshold = 2 * mqtt.max_inflight + 1
        return client

    async def _session(self) -> None:
        mqtt = self._config.mqtt
        async with self._client() as client:
            await client.subscribe(self._ack_topic, qos=1)
            await client.publish(self._status_topic, b"online", qos=1, retain=True)
            logger.info("mqtt %s:%d: connected as %s", mqtt.host, mqtt.port, self._id)
            self._backoff.reset()
            self.connected.set()
            self._metrics.mqtt_connected.set(1)
            self._dirty.update(self._states)
            self._states_changed.set()
            self._wakeup.set()
            try:
                await _first_failure(
                    self._receive(client), self._publish(client), self._publish_states(client)
                )
            except asyncio.CancelledError:
                # A clean shutdown: say so before the Last Will would, then disconnect cleanly.
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.publish(
                        self._status_topic,
                        b"offline",
                        qos=1,
                        retain=True,
                        timeout=_OFFLINE_TIMEOUT_S,
                    )
                logger.info("mqtt: offline, disconnecting")
                raise

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if not message.topic.matches(self._ack_topic):
                continue
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                continue
            try:
                ack = AckMessage.model_validate_json(payload)
            except ValidationError as exc:
                logger.warning("mqtt: ignoring a malformed acknowledgement: %s", exc)
                continue
            ids = [message_id for message_id in ack.ids if _MESSAGE_ID.match(message_id)]
            done = await self._queue.acknowledge(ids)
            now = self._clock()
            for acked in done:
                if acked.last_sent_at is not None:
                    self._metrics.ack_latency.observe(max(0.0, now - acked.last_sent_at))
            self._metrics.acknowledged.inc(len(done))
            self._metrics.queue_depth.set(self._queue.depth())
            logger.debug("mqtt: %d of %d acknowledged id(s) deleted", len(done), len(ack.ids))

    async def _publish(self, client: aiomqtt.Client) -> None:
        ack_timeout_s = self._config.queue.ack_timeout_s
        window = self._config.mqtt.max_inflight
        # No later than the earliest moment a published message may fall due again (waking
        # early only costs a look at the queue): every call to the queue is a trip to its
        # thread, so the queue is asked only when this bound is unknown or has passed.
        resend_at: float | None = None
        # PUBACK'd while more was waiting: marked sent in the same trip as the next look.
        sent: list[QueuedMessage] = []
        sent_at = 0.0
        while True:
            self._wakeup.clear()
            if sent:
                ids = [item.id for item in sent]
                batch = await self._queue.mark_sent_then_pending(
                    ids, sent_at, self._clock(), ack_timeout_s, limit=window
                )
                self._count_published(sent)
            else:
                batch = await self._queue.pending(self._clock(), ack_timeout_s, limit=window)
            sent = []
            if batch:
                sent, error = await self._publish_batch(client, batch)
                if sent:
                    sent_at = self._clock()
                    if resend_at is not None:
                        resend_at = min(resend_at, sent_at + ack_timeout_s)
                if error is None and (len(batch) == window or self._wakeup.is_set()):
                    continue  # more may be waiting
                # Less than a window, and nothing stored since: nothing else is due now.
                if sent:
                    await self._queue.mark_sent([item.id for item in sent], sent_at)
                    self._count_published(sent)
                    sent = []
                if error is not None:
                    raise error
            if resend_at is None or resend_at <= self._clock():
                resend_at = await self._queue.next_resend_at(ack_timeout_s)
                if resend_at is None:  # nothing in flight: the next publish sets the bound
                    resend_at = math.inf
            timeout = None if resend_at == math.inf else max(0.0, resend_at - self._clock())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
                    # Let the reads finishing about now join in: one look at the queue and
                    # one window for them all, instead of one per meter.
                    await asyncio.sleep(_GATHER_S)

    async def _publish_batch(
        self, client: aiomqtt.Client, batch: list[QueuedMessage]
    ) -> tuple[list[QueuedMessage], BaseException | None]:
        """Publish ``batch``: the PUBACK'd messages, and the first failure (``None``: none)."""
        # The whole window goes out at once, in order on the one connection; each message is
        # marked sent only once its PUBACK is in.
        results = await asyncio.gather(
            *(client.publish(item.topic, item.payload, qos=1) for item in batch),
            return_exceptions=True,
        )
        sent = [item for item, result in zip(batch, results, strict=True) if result is None]
        error = next((r for r in results if isinstance(r, BaseException)), None)
        return sent, error

    def _count_published(self, sent: list[QueuedMessage]) -> None:
        repeats = sum(1 for item in sent if item.send_count)
        self._metrics.published.labels("first").inc(len(sent) - repeats)
        self._metrics.published.labels("repeat").inc(repeats)
        if repeats:
            logger.info("mqtt: %d unacknowledged message(s) published again", repeats)

    async def _publish_states(self, client: aiomqtt.Client) -> None:
        window = self._config.mqtt.max_inflight
        while True:
            await self._states_changed.wait()
            await asyncio.sleep(_GATHER_S)  # as for messages: the states of a moment together
            self._states_changed.clear()
            while self._dirty:
                meters = [self._dirty.pop() for _ in range(min(window, len(self._dirty)))]
                results = await asyncio.gather(
                    *(
                        client.publish(
                            state_topic(self._id, meter),
                            self._states[meter].to_json(),
                            qos=1,
                            retain=True,
                        )
                        for meter in meters
                    ),
                    return_exceptions=True,
                )
                failed = [m for m, r in zip(meters, results, strict=True) if r is not None]
                self._dirty.update(failed)
                for result in results:
                    if isinstance(result, BaseException):
                        raise result


async def _first_failure(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines together; the first to fail (or end) stops the others and re-raises."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    raise aiomqtt.MqttError("a connection task ended")
