"""The gateway's link to the broker: paho-mqtt 2 with a persistent session and manual PUBACK.

The broker's PUBACK only frees its in-flight window; the gateway sends it after the commit
(DESIGN §4). A packet id is only meaningful on the connection that delivered it, so each
delivery carries the connection's *generation*: after a reconnect, deliveries of the old
connection are never acknowledged (the broker redelivers them on the resumed session, and the
idempotent store absorbs the repeat), and an old id can never acknowledge a new message that
the broker gave the same id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from core.errors import ConfigError
from core.messages import AckMessage, ack_topic
from core.model import utc_now
from gateway.batching import Delivery
from gateway.config import MqttConfig
from gateway.metrics import GatewayMetrics

__all__ = ["BrokerLink"]

logger = logging.getLogger(__name__)


class _QuietStop(logging.Filter):
    """paho 2.2 runs its loop once more after a clean ``disconnect()`` and logs that at ERROR."""

    def __init__(self, link: BrokerLink) -> None:
        super().__init__()
        self._link = link

    def filter(self, record: logging.LogRecord) -> bool:
        noise = record.getMessage().startswith("Client is not connected")
        return not (noise and self._link.stopping)


def _awaited(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether :meth:`BrokerLink.stop` can still wait for this acknowledgement.

    One published while the link was down stays queued in paho and goes out after the reconnect,
    but its info keeps the "not connected" code, and ``is_published()`` raises for it from then
    on: it cannot be waited for (if it never goes out, the collector publishes again past its
    ``ack_timeout_s``).
    """
    try:
        return not info.is_published()
    except (RuntimeError, ValueError):
        return False


class BrokerLink:
    """Connects in the background, resubscribes on every connect, reconnects with backoff."""

    def __init__(
        self,
        config: MqttConfig,
        password: str | None,
        deliver: Callable[[Delivery], None],
        metrics: GatewayMetrics,
    ) -> None:
        self._config = config
        self._deliver = deliver
        self._metrics = metrics
        self._v5 = config.protocol == "5"
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else False,
            manual_ack=True,
        )
        if config.username:
            self._client.username_pw_set(config.username, password)
        if config.uses_tls:
            ca_file = str(config.tls_ca_file) if config.tls_ca_file else None
            try:
                self._client.tls_set(ca_certs=ca_file)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"[mqtt] TLS cannot be set up: {exc}") from exc
        self._client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)
        self._paho_logger = logging.getLogger(f"gateway.mqtt.{config.client_id}")
        self._quiet_stop = _QuietStop(self)
        self._paho_logger.addFilter(self._quiet_stop)
        self._client.enable_logger(self._paho_logger)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._subscribe_mid: int | None = None
        self._lock = threading.Lock()
        self._generation = 0
        self._stopping = False
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self.connected = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def start(self) -> None:
        """Connect in the background (a broker that is down is retried, not an error)."""
        config = self._config
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = config.session_expiry_s
            properties.ReceiveMaximum = config.receive_maximum
            self._client.connect_async(
                config.host, config.port, config.keepalive_s,
                clean_start=False, properties=properties,
            )
        else:
            self._client.connect_async(config.host, config.port, config.keepalive_s)
        self._client.loop_start()

    def stop(self, flush_timeout_s: float = 2.0) -> None:
        """Wait briefly for published acknowledgements, then disconnect cleanly.

        The subscription is kept: the persistent session holds new messages until the next start.
        """
        deadline = time.monotonic() + flush_timeout_s
        with self._lock:
            pending, self._pending = self._pending, []
        for info in pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.connected.is_set():
                break
            try:
                info.wait_for_publish(remaining)
            except (RuntimeError, ValueError):
                break  # not queued (connection lost); the collector republishes past its timeout
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._paho_logger.removeFilter(self._quiet_stop)
        self.connected.clear()
        self._metrics.connected.set(0)

    def ack(self, deliveries: Iterable[Delivery]) -> int:
        """PUBACK the deliveries still on the current connection; returns how many were sent."""
        sent = 0
        with self._lock:
            for delivery in deliveries:
                if delivery.qos > 0 and delivery.generation == self._generation:
                    self._client.ack(delivery.mid, delivery.qos)
                    sent += 1
        return sent

    def publish_ack(self, collector: str, ids: list[str]) -> None:
        """Publish the end-to-end acknowledgement on ``isu/v1/{collector}/ack`` (QoS 1)."""
        payload = AckMessage(ids=ids, committed_at=utc_now()).to_json()
        info = self._client.publish(ack_topic(collector), payload, qos=1)
        with self._lock:
            self._pending = [item for item in self._pending if _awaited(item)]
            self._pending.append(info)
        self._metrics.acks_published.inc()

    # Callbacks run on paho's network thread.

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.warning("broker %s refused the connection: %s", self.where, reason_code)
            return
        with self._lock:
            self._generation += 1
        logger.info(
            "connected to broker %s as %s (%s); subscribing %s",
            self.where,
            self._config.client_id,
            "session resumed" if flags.session_present else "new session",
            ", ".join(self._config.topic_filters),
        )
        if self._v5:
            _, mid = client.subscribe(
                [(topic, SubscribeOptions(qos=1)) for topic in self._config.topic_filters]
            )
        else:
            _, mid = client.subscribe([(topic, 1) for topic in self._config.topic_filters])
        self._subscribe_mid = mid

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        # Connected means subscribed: only after the SUBACK is every message routed to us.
        if mid != self._subscribe_mid:
            return
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            logger.error(
                "broker %s refused the subscription to %s: %s",
                self.where,
                ", ".join(self._config.topic_filters),
                ", ".join(str(code) for code in refused),
            )
            return
        self.connected.set()
        self._metrics.connected.set(1)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._generation += 1
        self.connected.clear()
        self._metrics.connected.set(0)
        if not self._stopping:
            logger.warning(
                "lost the broker %s (%s); reconnecting with backoff", self.where, reason_code
            )

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = repr(message._topic)  # dead-lettered as a malformed topic
        self._metrics.received.inc()
        self._deliver(
            Delivery(
                topic=topic,
                payload=bytes(message.payload),
                mid=message.mid,
                qos=message.qos,
                generation=self._generation,
                received_at=utc_now(),
                received_monotonic=time.monotonic(),
            )
        )
