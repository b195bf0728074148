"""A test double of a meter protocol, registered as ``fake-test``, plus helpers for collector tests.

The driver reads nothing from its stream: each meter's behaviour is set in :data:`BENCH` by meter
id (fail with an error every time, take time, hang, answer partly). It does record what the
collector must guarantee: how many reads were in flight on one stream at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from collector.config import CollectorConfig, SerialBusConfig, TcpBusConfig
from core.errors import ConfigError, IsuError
from core.model import ReadingItem, Stream, utc_now
from drivers.base import MeterEndpoint, ReadResult, register_driver
from drivers.transport.memory import MemoryStream, memory_pair
from drivers.transport.stream import ByteStream

__all__ = [
    "BENCH",
    "FAKE_PROTOCOL",
    "MAX_IN_FLIGHT",
    "FakeDriver",
    "FakeMeter",
    "MemoryBuses",
    "make_config",
    "reset_bench",
    "tcp_bus",
]

FAKE_PROTOCOL = "fake-test"


@dataclass
class FakeMeter:
    """How one fake meter behaves; counters tell what the collector did."""

    failure: BaseException | None = None
    #: Fail only this many reads (then answer); ``None``: fail every read.
    failures_left: int | None = None
    delay_s: float = 0.0
    hang: bool = False
    fixed_value: Decimal | None = None
    #: Return items that break the contract (a non-reading item in a readings stream).
    garbage: bool = False
    stream_errors: dict[Stream, IsuError] = field(default_factory=dict)
    #: The meter's load profile memory: what an ``interval`` read can return.
    profile: list[ReadingItem] = field(default_factory=list)
    #: ``since`` of every ``interval`` read, in order.
    interval_since: list[datetime | None] = field(default_factory=list)
    reads: int = 0
    endpoints: list[MeterEndpoint] = field(default_factory=list)


BENCH: dict[str, FakeMeter] = {}
_IN_FLIGHT: dict[int, int] = {}
MAX_IN_FLIGHT: dict[str, int] = {}


class FakeDriver:
    protocol: ClassVar[str] = FAKE_PROTOCOL
    supported_streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CURRENT, Stream.INSTANT, Stream.INTERVAL}
    )

    def __init__(self, stream: ByteStream, endpoint: MeterEndpoint) -> None:
        unknown = set(endpoint.options) - {"level", "password_encoding", "colour"}
        if unknown:
            raise ConfigError(f"meter {endpoint.meter_id}: unknown option(s) {sorted(unknown)}")
        self.stream = stream
        self.endpoint = endpoint

    async def read(
        self,
        streams: Sequence[Stream],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ReadResult:
        meter = BENCH.setdefault(self.endpoint.meter_id, FakeMeter())
        meter.reads += 1
        meter.endpoints.append(self.endpoint)
        key = id(self.stream)
        _IN_FLIGHT[key] = _IN_FLIGHT.get(key, 0) + 1
        where = self.stream.description
        MAX_IN_FLIGHT[where] = max(MAX_IN_FLIGHT.get(where, 0), _IN_FLIGHT[key])
        try:
            if meter.hang:
                await asyncio.Event().wait()
            if meter.delay_s:
                await asyncio.sleep(meter.delay_s)
            if meter.failure is not None and meter.failures_left != 0:
                if meter.failures_left is not None:
                    meter.failures_left -= 1
                raise meter.failure
            now = utc_now()
            value = meter.fixed_value if meter.fixed_value is not None else Decimal(meter.reads)
            ts = now if meter.fixed_value is None else datetime.fromisoformat("2026-01-01T00:00Z")
            produced = {
                Stream.CURRENT: [ReadingItem(obis="1.0.1.8.0.255", ts=ts, value=value, unit="kWh")],
                Stream.INSTANT: [
                    ReadingItem(obis="1.0.32.7.0.255", ts=ts, value=Decimal("230.1"), unit="V")
                ],
            }
            result = ReadResult(meter_id=self.endpoint.meter_id, read_at=now)
            if meter.garbage:
                result.readings[Stream.CURRENT] = ["not an item"]  # type: ignore[list-item]
                return result
            if Stream.INTERVAL in streams:
                meter.interval_since.append(since)
                # Without ``since``, the default window: the two newest records.
                held = meter.profile if since is not None else meter.profile[-2:]
                produced[Stream.INTERVAL] = [
                    item
                    for item in held
                    if (since is None or item.ts >= since) and (until is None or item.ts < until)
                ]
            for stream in streams:
                if stream in meter.stream_errors:
                    result.errors[stream] = meter.stream_errors[stream]
                elif produced.get(stream):
                    result.readings[stream] = produced[stream]
            return result
        finally:
            _IN_FLIGHT[key] -= 1


register_driver(FAKE_PROTOCOL, FakeDriver)


class MemoryBuses:
    """An ``open_stream`` for :class:`collector.service.Collector`: in-memory streams per bus.

    ``down`` holds bus names whose port "will not open" (raises the given error).
    """

    def __init__(self) -> None:
        self.opened: dict[str, int] = {}
        self.down: dict[str, IsuError] = {}
        self.peers: list[MemoryStream] = []

    async def __call__(self, bus: TcpBusConfig | SerialBusConfig) -> ByteStream:
        if bus.name in self.down:
            raise self.down[bus.name]
        self.opened[bus.name] = self.opened.get(bus.name, 0) + 1
        ours, theirs = memory_pair(f"{bus.name}#{self.opened[bus.name]}")
        self.peers.append(theirs)
        return ours


def make_config(
    tmp_path: Path,
    buses: list[dict[str, Any]],
    *,
    collector_id: str = "site-1",
    mqtt: dict[str, Any] | None = None,
    queue: dict[str, Any] | None = None,
    poll: dict[str, Any] | None = None,
) -> CollectorConfig:
    """A validated config; MQTT defaults to a closed loopback port (nothing listens there)."""
    return CollectorConfig.model_validate(
        {
            "collector_id": collector_id,
            "mqtt": {"host": "127.0.0.1", "port": 9, "reconnect_initial_s": 0.2, **(mqtt or {})},
            "queue": {"path": str(tmp_path / "queue.sqlite3"), **(queue or {})},
            "poll": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.2, **(poll or {})},
            "bus": buses,
        }
    )


def tcp_bus(name: str, *meter_ids: str, **extra: Any) -> dict[str, Any]:
    """A TCP bus of fake meters (the test's ``MemoryBuses`` stands in for the socket)."""
    return {
        "name": name,
        "transport": "tcp",
        "host": "127.0.0.1",
        "port": 4001,
        "timeout_s": 0.1,
        **extra,
        "meter": [
            {"id": meter_id, "protocol": FAKE_PROTOCOL, "address": index + 1}
            for index, meter_id in enumerate(meter_ids)
        ],
    }


def reset_bench() -> None:
    BENCH.clear()
    _IN_FLIGHT.clear()
    MAX_IN_FLIGHT.clear()
