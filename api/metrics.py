"""Prometheus metrics of the API: requests and latency by route template, plus the pool.

Each application owns its :class:`~prometheus_client.CollectorRegistry`, so two apps in one
process (tests, a later admin app) never clash. Routes are labelled by their template
(``/api/v1/meters/{meter_id}/readings``), never by the raw path, so a scan of random URLs
cannot blow up the label set: anything unmatched is ``unmatched``. The middleware matches the
templates itself rather than reading the framework's routing state from the ASGI scope.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ApiMetrics", "MetricsMiddleware", "PoolCollector", "RouteLabels"]

_UNMATCHED = "unmatched"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The metric objects of one application, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "isu_api_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "isu_api_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )


class PoolCollector(Collector):
    """Gauges of the connection pool, read when Prometheus scrapes."""

    def __init__(self, stats: Callable[[], dict[str, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._stats()
        for key, help_text in (
            ("pool_size", "Connections the pool holds (in use or idle)"),
            ("pool_available", "Idle connections ready for a request"),
            ("requests_waiting", "Requests queued for a connection (timed-out ones until served)"),
        ):
            yield GaugeMetricFamily(f"isu_api_db_{key}", help_text, value=stats.get(key, 0))

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class RouteLabels:
    """Maps a request path to the template of the route that serves it."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._patterns: list[tuple[re.Pattern[str], str]] = [
            (compile_path(template)[0], template) for template in templates
        ]

    def label(self, path: str) -> str:
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        return _UNMATCHED


class MetricsMiddleware:
    """Pure ASGI middleware that counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: RouteLabels) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = self.routes.label(str(scope.get("path", "")))
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
