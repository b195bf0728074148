"""Several writers ([batch] writers): batches are committed side by side, yet every message is
stored once and the acknowledgements leave in the order the messages came."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.messages import AckMessage, data_topic
from gateway import Gateway, GatewayConfig
from tests.integration.test_gateway import WAIT_S, Bench, daily, forget_session, rows

pytestmark = pytest.mark.services


@pytest.fixture
def config(
    fresh_database: str, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> Iterator[GatewayConfig]:
    host, port = mqtt_address
    client_id = f"gw-{topic_prefix_id}"
    yield GatewayConfig.model_validate({
        "mqtt": {"host": host, "port": port, "client_id": client_id,
                 "collectors": [topic_prefix_id], "session_expiry_s": 600},
        "database": {"dsn": fresh_database, "pool_max_size": 3},
        "batch": {"max_messages": 7, "max_delay_ms": 20, "writers": 3},
    })
    forget_session(host, port, client_id)


def test_three_writers_store_everything_once_and_acknowledge_in_order(
    config: GatewayConfig, mqtt_address: tuple[str, int], topic_prefix_id: str,
    fresh_database: str,
) -> None:
    bench = Bench(*mqtt_address, topic_prefix_id)
    messages = [daily(topic_prefix_id, f"m{n % 40}", f"{n}.5", day=n // 40) for n in range(400)]
    try:
        with Gateway(config) as gateway:
            assert gateway.wait_connected(WAIT_S)
            infos = [
                bench.client.publish(data_topic(m.collector, m.meter, m.stream), m.to_json(),
                                     qos=1)
                for m in messages
            ]
            for info in infos:
                info.wait_for_publish(WAIT_S)
            acked: list[str] = []
            deadline = time.monotonic() + 3 * WAIT_S
            while len(acked) < len(messages) and time.monotonic() < deadline:
                ack: AckMessage = bench.acks.get(timeout=3 * WAIT_S)
                acked += ack.ids
            assert gateway.wait_idle(WAIT_S)
    finally:
        bench.close()
    assert acked == [message.id for message in messages]
    assert rows(fresh_database, "SELECT count(*), count(DISTINCT message_id) FROM register_readings"
                ) == [(400, 400)]


def test_the_pool_must_hold_the_writers() -> None:
    with pytest.raises(ValueError, match=r"pool_max_size must be at least batch\.writers"):
        GatewayConfig.model_validate({
            "database": {"dsn": "postgresql://localhost/isu", "pool_max_size": 2},
            "batch": {"writers": 3},
        })
