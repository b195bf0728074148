"""Gateway: MQTT ingest into TimescaleDB, batched, idempotent, acknowledged after commit."""

from gateway.config import GatewayConfig, load_gateway_config
from gateway.service import Gateway, run_gateway

__all__ = ["Gateway", "GatewayConfig", "load_gateway_config", "run_gateway"]
