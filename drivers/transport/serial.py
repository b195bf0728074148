"""Serial byte stream (RS-485 / RS-232 adapters) on pyserial-asyncio-fast.

Two-wire RS-485 adapters often hear their own transmission: with ``echo=True`` the stream reads
back exactly what it wrote and drops it before the answer is looked at (docs/reference/mercury-
protocol.md §6.1 — on Mercury meters an echoed test-channel request looks like a valid answer,
so echo must be removed here, never guessed at by the protocol). Frame ends are found by the
protocol from lengths; the transport never waits for inter-byte gaps.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import serial
import serial_asyncio_fast

from core.errors import ConnectError, ConnectionLostError, TransportTimeoutError

__all__ = ["SerialStream", "open_serial"]

Parity = Literal["N", "E", "O"]

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
_CHUNK = 4096


def _frame_time_s(nbytes: int, baud: int) -> float:
    # 11 bit times per byte covers start, 8 data, parity and stop bits.
    return nbytes * 11 / baud


class SerialStream:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        device: str,
        baud: int,
        echo: bool,
    ):
        self._reader = reader
        self._writer = writer
        self._device = device
        self._baud = baud
        self._echo = echo
        self._pending = b""

    @property
    def description(self) -> str:
        return f"serial://{self._device}@{self._baud}"

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (serial.SerialException, OSError) as exc:
            raise ConnectionLostError(f"{self.description}: write failed: {exc}") from exc
        if self._echo:
            await self._swallow_echo(data)

    async def _swallow_echo(self, sent: bytes) -> None:
        budget_s = 0.1 + 2 * _frame_time_s(len(sent), self._baud)
        heard = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget_s
        while len(heard) < len(sent):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                heard += await asyncio.wait_for(
                    self._reader.read(len(sent) - len(heard)), remaining
                )
            except TimeoutError:
                break
        if heard != sent[: len(heard)] or len(heard) < len(sent):
            # No (complete) echo: whatever arrived belongs to the answer.
            self._pending = heard

    async def read_some(self, timeout_s: float) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        try:
            data = await asyncio.wait_for(self._reader.read(_CHUNK), timeout_s)
        except TimeoutError as exc:
            raise TransportTimeoutError(
                f"{self.description}: no data within {timeout_s:.3g} s"
            ) from exc
        except (serial.SerialException, OSError) as exc:
            raise ConnectionLostError(f"{self.description}: read failed: {exc}") from exc
        if not data:
            raise ConnectionLostError(f"{self.description}: port closed")
        return data

    async def discard_input(self) -> None:
        self._pending = b""
        while True:
            try:
                data = await asyncio.wait_for(self._reader.read(_CHUNK), 0)
            except (TimeoutError, serial.SerialException, OSError):
                return
            if not data:
                return

    async def close(self) -> None:
        self._writer.close()


async def open_serial(
    device: str, baud: int = 9600, parity: Parity = "N", echo: bool = False
) -> SerialStream:
    """Open ``device`` at ``baud`` 8 data bits, ``parity``, 1 stop bit."""
    try:
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=device,
            baudrate=baud,
            bytesize=serial.EIGHTBITS,
            parity=_PARITY[parity],
            stopbits=serial.STOPBITS_ONE,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise ConnectError(f"serial://{device}: cannot open: {exc}") from exc
    return SerialStream(reader, writer, device, baud, echo)
