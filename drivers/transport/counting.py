"""A byte stream that counts what crosses it: the raw figures of bus efficiency.

Wraps any :class:`~drivers.transport.stream.ByteStream`; every byte written and read, and every
write (one request frame each, for the Mercury protocols), is counted. The bench and the
collector's metrics turn the counts into wire time with ``drivers.transport.timing``.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.transport.stream import ByteStream

__all__ = ["CountingStream", "TrafficCounts"]


@dataclass(slots=True)
class TrafficCounts:
    bytes_written: int = 0
    bytes_read: int = 0
    writes: int = 0

    @property
    def bytes_total(self) -> int:
        return self.bytes_written + self.bytes_read


class CountingStream:
    def __init__(self, inner: ByteStream, counts: TrafficCounts | None = None) -> None:
        self.inner = inner
        self.counts = counts if counts is not None else TrafficCounts()

    @property
    def description(self) -> str:
        return self.inner.description

    async def write(self, data: bytes) -> None:
        await self.inner.write(data)
        self.counts.bytes_written += len(data)
        self.counts.writes += 1

    async def read_some(self, timeout_s: float) -> bytes:
        data = await self.inner.read_some(timeout_s)
        self.counts.bytes_read += len(data)
        return data

    async def discard_input(self) -> None:
        await self.inner.discard_input()

    async def close(self) -> None:
        await self.inner.close()
