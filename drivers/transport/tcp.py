"""TCP byte streams, as to a transparent serial-to-Ethernet converter (raw bytes, no MBAP).

:func:`open_tcp` connects and gives a :class:`TcpClientStream`: an :class:`asyncio.Protocol` of
its own rather than a ``StreamReader``, so that each answer is awaited on one plain future with
one timer, in the caller's task. A collector makes thousands of exchanges a second, and
``asyncio.wait_for`` (which on Python 3.11 wraps every read in a task of its own) cost more than
the rest of the transport together. :class:`TcpStream` wraps a ``StreamReader``/``StreamWriter``
pair made elsewhere (a server's accepted connection, say).

Neither uses ``asyncio.wait_for``: on 3.11 it can swallow a cancellation that arrives together
with the data, and a stopped collector's bus task would go on polling.
"""

from __future__ import annotations

import asyncio
import contextlib

from core.errors import ConnectError, ConnectionLostError, TransportTimeoutError

__all__ = ["TcpClientStream", "TcpStream", "open_tcp"]

_CHUNK = 4096
#: Reading from the socket pauses while this much is buffered and unread (a babbling peer).
_BUFFER_LIMIT = 65536


class _Receiver(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: Exception | None = None
        #: The reader waiting for data; its result is ``False`` when its time ran out.
        self.waiter: asyncio.Future[bool] | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._paused = False
        self._drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _BUFFER_LIMIT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.resume_writing()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def drain(self) -> None:
        if self._drained is not None:
            await self._drained

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        if self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()
        return data

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class TcpClientStream:
    """The stream :func:`open_tcp` gives."""

    def __init__(self, transport: asyncio.Transport, receiver: _Receiver, host: str, port: int):
        self._transport = transport
        self._receiver = receiver
        self._description = f"tcp://{host}:{port}"

    @property
    def description(self) -> str:
        return self._description

    async def write(self, data: bytes) -> None:
        receiver = self._receiver
        if receiver.eof or self._transport.is_closing():
            why = receiver.error or "connection closed"
            raise ConnectionLostError(f"{self._description}: write failed: {why}")
        try:
            self._transport.write(data)
            await receiver.drain()
        except (ConnectionError, OSError) as exc:
            raise ConnectionLostError(f"{self._description}: write failed: {exc}") from exc
        if receiver.error is not None:
            raise ConnectionLostError(f"{self._description}: write failed: {receiver.error}")

    async def read_some(self, timeout_s: float) -> bytes:
        receiver = self._receiver
        if not receiver.buffer and not receiver.eof:
            loop = asyncio.get_running_loop()
            waiter = receiver.waiter = loop.create_future()
            timer = loop.call_later(timeout_s, _expire, waiter)
            try:
                woken = await waiter
            finally:
                timer.cancel()
                receiver.waiter = None
            if not woken:
                raise TransportTimeoutError(
                    f"{self._description}: no data within {timeout_s:.3g} s"
                )
        if receiver.buffer:
            return receiver.take()
        if receiver.error is not None:
            raise ConnectionLostError(
                f"{self._description}: read failed: {receiver.error}"
            ) from receiver.error
        raise ConnectionLostError(f"{self._description}: connection closed by the peer")

    async def discard_input(self) -> None:
        self._receiver.take()

    async def close(self) -> None:
        self._transport.close()
        await self._receiver.closed


class TcpStream:
    """A ``StreamReader``/``StreamWriter`` pair as a byte stream."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
    ):
        self._reader = reader
        self._writer = writer
        self._description = f"tcp://{host}:{port}"

    @property
    def description(self) -> str:
        return self._description

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise ConnectionLostError(f"{self._description}: write failed: {exc}") from exc

    async def read_some(self, timeout_s: float) -> bytes:
        try:
            async with asyncio.timeout(timeout_s):
                data = await self._reader.read(_CHUNK)
        except TimeoutError as exc:
            raise TransportTimeoutError(
                f"{self._description}: no data within {timeout_s:.3g} s"
            ) from exc
        except (ConnectionError, OSError) as exc:
            raise ConnectionLostError(f"{self._description}: read failed: {exc}") from exc
        if not data:
            raise ConnectionLostError(f"{self._description}: connection closed by the peer")
        return data

    async def discard_input(self) -> None:
        while True:
            try:
                async with asyncio.timeout(0):  # what is buffered now, nothing more
                    data = await self._reader.read(_CHUNK)
            except (TimeoutError, ConnectionError, OSError):
                return
            if not data:
                return

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


async def open_tcp(host: str, port: int, timeout_s: float = 5.0) -> TcpClientStream:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            transport, receiver = await loop.create_connection(_Receiver, host, port)
    except TimeoutError as exc:
        raise ConnectError(
            f"tcp://{host}:{port}: connect timed out after {timeout_s:.3g} s"
        ) from exc
    except OSError as exc:
        raise ConnectError(f"tcp://{host}:{port}: cannot connect: {exc.strerror or exc}") from exc
    assert isinstance(transport, asyncio.Transport)
    return TcpClientStream(transport, receiver, host, port)
