"""TCP byte stream, as to a transparent serial-to-Ethernet converter (raw bytes, no MBAP)."""

from __future__ import annotations

import asyncio
import contextlib

from core.errors import ConnectError, ConnectionLostError, TransportTimeoutError

__all__ = ["TcpStream", "open_tcp"]

_CHUNK = 4096


class TcpStream:
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
            data = await asyncio.wait_for(self._reader.read(_CHUNK), timeout_s)
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
                data = await asyncio.wait_for(self._reader.read(_CHUNK), 0)
            except (TimeoutError, ConnectionError, OSError):
                return
            if not data:
                return

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


async def open_tcp(host: str, port: int, timeout_s: float = 5.0) -> TcpStream:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except TimeoutError as exc:
        raise ConnectError(
            f"tcp://{host}:{port}: connect timed out after {timeout_s:.3g} s"
        ) from exc
    except OSError as exc:
        raise ConnectError(f"tcp://{host}:{port}: cannot connect: {exc.strerror or exc}") from exc
    return TcpStream(reader, writer, host, port)
