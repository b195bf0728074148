"""Prometheus metrics of one gateway, in a registry of its own (several gateways may share a
process in tests and in the demo)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["GatewayMetrics", "VerificationDue"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
# From seconds (live polling) to a week (a collector catching up after an outage).
_LAG_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0,
                6 * 3600.0, 86_400.0, 7 * 86_400.0)


class VerificationDue(Collector):
    """``isu_meter_verification_due_timestamp_seconds{meter_id, contract}``: the meters whose
    verification interval («МПИ») ends soon (gateway/verification.py). The whole set is swapped
    at once, so a scrape never sees half a round and a re-verified meter's series goes away."""

    NAME = "isu_meter_verification_due_timestamp_seconds"
    HELP = ("Start (00:00 UTC) of the day a registered meter's next verification is due; only "
            "meters due within 90 days, overdue ones included")

    def __init__(self) -> None:
        self._due: dict[tuple[str, str], float] = {}

    def update(self, due: Mapping[tuple[str, str], float]) -> None:
        self._due = dict(due)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["meter_id", "contract"])
        for (meter_id, contract), timestamp in sorted(self._due.items()):
            family.add_metric([meter_id, contract], timestamp)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=["meter_id", "contract"])


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
        # Seen from the data centre, whether or not Prometheus can reach the site: a collector
        # whose messages stop arriving (alert IsuCollectorNotHeard).
        self.collector_last_stored = Gauge(
            "isu_gateway_collector_last_stored_timestamp_seconds",
            "When this gateway last committed a message of the collector (Unix time)",
            ["collector"], registry=r,
        )
        self.verification_due = VerificationDue()
        r.register(self.verification_due)
        self.verification_checked = Gauge(
            "isu_gateway_verification_checked_timestamp_seconds",
            "When the meters' verification dates were last read from the registry",
            registry=r,
        )
        self.verification_errors = Counter(
            "isu_gateway_verification_errors",
            "Failed reads of the meters' verification dates",
            registry=r,
        )
