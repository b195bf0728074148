"""An in-memory pair of byte streams, for tests and for simulators driven without sockets."""

from __future__ import annotations

import asyncio

from core.errors import ConnectionLostError, TransportTimeoutError

__all__ = ["MemoryStream", "memory_pair"]


class MemoryStream:
    def __init__(
        self, inbox: asyncio.Queue[bytes | None], outbox: asyncio.Queue[bytes | None], name: str
    ):
        self._inbox = inbox
        self._outbox = outbox
        self._name = name
        self._closed = False

    @property
    def description(self) -> str:
        return f"memory://{self._name}"

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionLostError(f"{self.description}: stream is closed")
        if data:
            self._outbox.put_nowait(bytes(data))

    async def read_some(self, timeout_s: float) -> bytes:
        if self._closed:
            raise ConnectionLostError(f"{self.description}: stream is closed")
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: it can swallow a cancel
                data = await self._inbox.get()
        except TimeoutError as exc:
            raise TransportTimeoutError(
                f"{self.description}: no data within {timeout_s:.3g} s"
            ) from exc
        if data is None:
            self._closed = True
            raise ConnectionLostError(f"{self.description}: closed by the peer")
        return data

    async def discard_input(self) -> None:
        while not self._inbox.empty():
            if self._inbox.get_nowait() is None:
                self._closed = True

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._outbox.put_nowait(None)


def memory_pair(name: str = "pair") -> tuple[MemoryStream, MemoryStream]:
    """Two connected ends: what one writes, the other reads."""
    a_to_b: asyncio.Queue[bytes | None] = asyncio.Queue()
    b_to_a: asyncio.Queue[bytes | None] = asyncio.Queue()
    return MemoryStream(b_to_a, a_to_b, f"{name}/a"), MemoryStream(a_to_b, b_to_a, f"{name}/b")
