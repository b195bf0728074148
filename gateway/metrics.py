"""Prometheus metrics of one gateway, in a registry of its own (several gateways may share a
process in tests and in the demo)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
# From seconds (live polling) to a week (a collector catching up after an outage).
_LAG_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0,
                6 * 3600.0, 86_400.0, 7 * 86_400.0)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "isu_gateway_messages_received", "MQTT deliveries received", registry=r
        )
        self.ingested = Counter(
            "isu_gateway_messages_ingested", "Messages committed to the store", registry=r
        )
        self.dead_lettered = Counter(
            "isu_gateway_messages_dead_lettered",
            "Deliveries stored as dead letters, by the rule they broke (kind)",
            ["kind"],
            registry=r,
        )
        self.ignored = Counter(
            "isu_gateway_messages_ignored",
            "Deliveries acknowledged without storing (retained meter state)",
            registry=r,
        )
        self.rows_written = Counter(
            "isu_gateway_rows_written",
            "Rows inserted or replaced (a higher quality), by table",
            ["table"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "isu_gateway_batch_seconds",
            "Time to write one batch in one transaction (the successful attempt)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ingest_delay_seconds = Histogram(
            "isu_gateway_ingest_delay_seconds",
            "From receipt of a batch's first delivery to its acknowledgement",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ingest_lag_seconds = Histogram(
            "isu_gateway_ingest_lag_seconds",
            "From a stored message's read_at (the collector's read) to the commit that stored it;"
            " one observation per message, a read_at after the commit counts as 0",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.batch_messages = Histogram(
            "isu_gateway_batch_messages", "Deliveries per batch", buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "isu_gateway_store_errors", "Failed batch writes (each is retried)", registry=r
        )
        self.acks_published = Counter(
            "isu_gateway_acks_published", "End-to-end acknowledgements published", registry=r
        )
        self.connected = Gauge(
            "isu_gateway_mqtt_connected", "1 while connected to the broker", registry=r
        )
        self.retention_removed = Counter(
            "isu_gateway_retention_removed",
            "Data removed by retention: chunks dropped per table, rows deleted per stream",
            ["what", "unit"],
            registry=r,
        )
        self.retention_errors = Counter(
            "isu_gateway_retention_errors", "Retention rounds that failed", registry=r
        )
        self.queue_depth = Gauge(
            "isu_gateway_queue_depth", "Deliveries waiting for a batch", registry=r
        )
