"""The collector's Prometheus metrics, kept in a registry of their own (one per collector)."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from core.errors import ConfigError

__all__ = ["CollectorMetrics"]

logger = logging.getLogger(__name__)


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "isu_collector_polls",
            "Meter reads by outcome (ok, partial, failed)",
            ["bus", "meter", "outcome"],
            registry=r,
        )
        self.items_read = Counter(
            "isu_collector_items_read",
            "Items read from meters (each register, instantaneous or interval value, event, "
            "clock or info item), by stream",
            ["stream"],
            registry=r,
        )
        self.poll_errors = Counter(
            "isu_collector_poll_errors",
            "Failed meter reads and failed streams, by error class",
            ["bus", "meter", "error"],
            registry=r,
        )
        self.bus_errors = Counter(
            "isu_collector_bus_errors",
            "Failures to open a bus's port or connection, by error class",
            ["bus", "error"],
            registry=r,
        )
        self.bus_busy = Counter(
            "isu_collector_bus_busy_seconds",
            "Time the bus was held for meter reads",
            ["bus"],
            registry=r,
        )
        self.bus_wire = Counter(
            "isu_collector_bus_wire_seconds",
            "What those reads needed on the line: wire time of the bytes exchanged plus the "
            "protocol's frame-end silence per request (buses with a known baud)",
            ["bus"],
            registry=r,
        )
        self.bus_efficiency = Gauge(
            "isu_collector_bus_efficiency",
            "wire seconds / busy seconds since start (1.0: the line was the only limit)",
            ["bus"],
            registry=r,
        )
        self.unexpected = Counter(
            "isu_collector_unexpected_errors",
            "Exceptions outside the error tree (bugs), caught so that nothing stops",
            ["component"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "isu_collector_queue_depth", "Messages on disk awaiting acknowledgement", registry=r
        )
        self.history_paused = Gauge(
            "isu_collector_history_paused",
            "1 while the disk queue is at its bound and history streams (profiles, snapshots, "
            "journals) are not read; catch-up reads them later",
            registry=r,
        )
        self.queue_oldest_age = Gauge(
            "isu_collector_queue_oldest_age_seconds",
            "Age of the oldest unacknowledged message (0 when the queue is empty)",
            registry=r,
        )
        self.published = Counter(
            "isu_collector_messages_published",
            "Messages taken by the broker (PUBACK); repeat = published again after ack timeout",
            ["attempt"],
            registry=r,
        )
        self.acknowledged = Counter(
            "isu_collector_messages_acknowledged",
            "Messages acknowledged by the gateway",
            registry=r,
        )
        self.ack_latency = Histogram(
            "isu_collector_ack_latency_seconds",
            "From the last publish (PUBACK) to the gateway's acknowledgement",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "isu_collector_mqtt_connected", "1 while connected to the broker", registry=r
        )
        self._server: Any = None

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on a daemon thread until :meth:`close`."""
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"[metrics] listen {host}:{port}: {exc.strerror or exc}") from exc
        self._server = server
        logger.info("metrics on http://%s:%d/metrics", host, port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
