"""The gateway's broker link while the broker is away: a commit that lands while the link is down
queues its acknowledgement in paho, and that must not break the acknowledgements after it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from gateway.batching import Delivery
from gateway.broker import BrokerLink
from gateway.config import MqttConfig
from gateway.metrics import GatewayMetrics

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _ignore(delivery: Delivery) -> None:
    raise AssertionError("nothing is delivered without a broker")


def test_acknowledgements_published_while_the_broker_is_away_do_not_break_the_next_ones() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    # Never started: paho is not connected, as between a broker's death and the reconnect.
    link = BrokerLink(
        MqttConfig(host="127.0.0.1", port=9, client_id="gw-away"), None, _ignore, metrics
    )
    link.publish_ack("site-1", [A])
    # paho keeps the first one queued with "not connected" in its info, whose is_published()
    # raises from then on; the next acknowledgements must still go out.
    link.publish_ack("site-1", [B])
    link.publish_ack("site-2", [C])
    assert metrics.registry.get_sample_value("isu_gateway_acks_published_total") == 3
    link.stop(flush_timeout_s=0.1)
