"""Serial byte stream (RS-485 / RS-232 adapters) on pyserial-asyncio-fast.

Timing comes from the baud rate (``drivers.transport.timing``; docs/transports.md):

- ``write`` returns once the bytes are handed to the port, long before they have left the line
  at a slow rate, so ``read_some`` starts counting its ``timeout_s`` only when the last byte
  written has gone out: the caller's answer wait means the same at 300 baud as at 115200.
- Two-wire RS-485 adapters often hear their own transmission: with ``echo=True`` the stream
  reads back exactly what it wrote, within :func:`~drivers.transport.timing.echo_budget_s`, and
  drops it before the answer is looked at (docs/reference/mercury-protocol.md §6.1 — on
  Mercury meters an echoed test-channel request looks like a valid answer, so echo must be
  removed here, never guessed at by the protocol).
- Waits use ``asyncio.timeout``, not ``asyncio.wait_for``: on Python 3.11 the latter can
  swallow a cancellation that arrives together with the data, and a stopped collector's bus
  task would go on polling.
- Frame ends are found by the protocol from lengths; the transport never waits for inter-byte
  gaps. :func:`read_until_gap` is the fallback for protocols without lengths, with a gap no
  shorter than a USB adapter can show (:attr:`SerialStream.gap_s`).
"""

from __future__ import annotations

import asyncio

import serial
import serial_asyncio_fast

from core.errors import ConnectError, ConnectionLostError, TransportTimeoutError
from drivers.transport.stream import ByteStream
from drivers.transport.timing import (
    ADAPTER_LATENCY_S,
    LineTiming,
    Parity,
    echo_budget_s,
    line_timing,
)

__all__ = ["Parity", "SerialStream", "open_serial", "read_until_gap"]

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
_CHUNK = 4096
#: ``read_until_gap`` gives up on a frame that never pauses (a babbling line).
_MAX_FRAME = 65536


class SerialStream:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        device: str,
        baud: int,
        echo: bool,
        parity: Parity = "N",
    ):
        self._reader = reader
        self._writer = writer
        self._device = device
        self._echo = echo
        self._pending = b""
        self._timing = line_timing(baud, parity=parity)
        self._sent_until = 0.0  # loop time when the last written byte leaves the line

    @property
    def description(self) -> str:
        return f"serial://{self._device}@{self._timing.baud}"

    @property
    def timing(self) -> LineTiming:
        """The line's timing figures (byte time, frame gap, recommended answer wait)."""
        return self._timing

    @property
    def gap_s(self) -> float:
        """The silence :func:`read_until_gap` should take for the end of a frame."""
        return max(self._timing.frame_gap_s, 2 * ADAPTER_LATENCY_S)

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self._sent_until)
        self._sent_until = start + self._timing.wire_time_s(len(data))
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (serial.SerialException, OSError) as exc:
            raise ConnectionLostError(f"{self.description}: write failed: {exc}") from exc
        if self._echo:
            await self._swallow_echo(data)

    async def _swallow_echo(self, sent: bytes) -> None:
        timing = self._timing
        budget_s = echo_budget_s(len(sent), timing.baud, timing.parity)
        heard = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget_s
        while len(heard) < len(sent):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    chunk = await self._reader.read(len(sent) - len(heard))
            except TimeoutError:
                break
            except (serial.SerialException, OSError) as exc:
                raise ConnectionLostError(f"{self.description}: read failed: {exc}") from exc
            if not chunk:
                break
            heard += chunk
        if heard != sent:
            # No (complete) echo: whatever arrived belongs to the answer.
            self._pending = self._pending + heard

    def _still_sending_s(self) -> float:
        return max(0.0, self._sent_until - asyncio.get_running_loop().time())

    async def read_some(self, timeout_s: float) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        wait_s = timeout_s + self._still_sending_s()
        try:
            async with asyncio.timeout(wait_s):
                data = await self._reader.read(_CHUNK)
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
                async with asyncio.timeout(0):  # what is buffered now, nothing more
                    data = await self._reader.read(_CHUNK)
            except (TimeoutError, serial.SerialException, OSError):
                return
            if not data:
                return

    async def close(self) -> None:
        self._writer.close()


async def read_until_gap(stream: ByteStream, timeout_s: float, gap_s: float) -> bytes:
    """One frame ended by silence: the first byte within ``timeout_s``, then bytes until the
    line stays quiet for ``gap_s``. Only for protocols whose frames carry no length; USB
    adapters hide gaps under ~16 ms, so ``gap_s`` below that cannot work reliably."""
    frame = await stream.read_some(timeout_s)
    while len(frame) < _MAX_FRAME:
        try:
            frame += await stream.read_some(gap_s)
        except TransportTimeoutError:
            return frame
    return frame


async def open_serial(
    device: str, baud: int = 9600, parity: Parity = "N", echo: bool = False
) -> SerialStream:
    """Open ``device`` at ``baud`` 8 data bits, ``parity``, 1 stop bit."""
    if baud <= 0:
        raise ConnectError(f"serial://{device}: baud must be positive, not {baud}")
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
    return SerialStream(reader, writer, device, baud, echo, parity)
