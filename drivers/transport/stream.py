"""The one byte-stream protocol every transport implements.

Frame boundaries belong to the protocol, not the transport: a session asks for bytes until its
decoder is satisfied. ``read_some`` returns whatever arrived (at least one byte) or raises
:class:`~core.errors.TransportTimeoutError` when nothing came within ``timeout_s``.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ByteStream"]


class ByteStream(Protocol):
    """A bidirectional byte stream to one bus (a TCP converter, a serial port…)."""

    @property
    def description(self) -> str:
        """Where the stream goes, for logs and errors (``tcp://10.0.0.5:4001``)."""
        ...

    async def write(self, data: bytes) -> None:
        """Send ``data`` completely; on a half-duplex line, also swallow its echo."""
        ...

    async def read_some(self, timeout_s: float) -> bytes:
        """At least one byte, or :class:`~core.errors.TransportTimeoutError`."""
        ...

    async def discard_input(self) -> None:
        """Drop whatever is buffered (stale bytes of an earlier, abandoned answer)."""
        ...

    async def close(self) -> None: ...
