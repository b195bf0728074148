"""The gateway's broker link on the real Mosquitto: acknowledgements of batches committed while
the link is down go out once it is up, and the ones after them too (issue 5, broker killed)."""

from __future__ import annotations

import asyncio
import contextlib

import aiomqtt
import pytest
from prometheus_client import CollectorRegistry

from core.messages import AckMessage, ack_topic
from gateway.batching import Delivery
from gateway.broker import BrokerLink
from gateway.config import MqttConfig
from gateway.metrics import GatewayMetrics
from tests.integration.test_gateway import forget_session

pytestmark = pytest.mark.services

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _keep(delivery: Delivery) -> None:
    pass


async def test_acknowledgements_queued_while_the_link_is_down_go_out_when_it_is_up(
    mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    host, port = mqtt_address
    client_id = f"gw-{topic_prefix_id}"
    config = MqttConfig(
        host=host, port=port, client_id=client_id, collectors=(topic_prefix_id,), reconnect_max_s=1
    )
    link = BrokerLink(config, None, _keep, GatewayMetrics(CollectorRegistry()))
    seen: list[str] = []
    try:
        async with aiomqtt.Client(host, port) as witness:
            await witness.subscribe(ack_topic(topic_prefix_id), qos=1)
            # Committed while the broker is away: paho queues these.
            link.publish_ack(topic_prefix_id, [A])
            link.publish_ack(topic_prefix_id, [B])
            link.start()
            assert await asyncio.to_thread(link.connected.wait, 10)
            link.publish_ack(topic_prefix_id, [C])
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    async for message in witness.messages:
                        assert isinstance(message.payload, bytes)
                        seen += AckMessage.model_validate_json(message.payload).ids
                        if len(seen) >= 3:
                            break
    finally:
        link.stop()
        forget_session(host, port, client_id)
    assert sorted(seen) == [A, B, C]
