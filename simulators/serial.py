"""A simulated serial line on a pseudo-terminal: the meters' end of an RS-485 bus (no protocol).

The simulator keeps the master side of a pty pair; a client opens the slave device
(``/dev/pts/N``) as it would open ``/dev/ttyUSB0`` — ``open_serial``, ``isu read --serial``,
the collector. A pty moves bytes instantly, so the port paces them as a line at ``baud``:

- **requests**: the bytes a client writes arrive at once, but the line is taken to carry them
  at the baud rate from the moment they came; an answer starts no earlier than the end of the
  request on the wire, plus the silence by which a meter recognises the end of a frame (the
  inter-byte timeout of the baud table), plus the meter's own delay;
- **answers** are written byte by byte no faster than the line allows (11 bit times per byte
  with parity, 10 without; ``drivers.transport.timing``);
- **echo** (``echo=True``): every byte the client writes comes back first, paced as it goes
  out, as a two-wire RS-485 adapter that hears itself.

The port holds the slave open itself, so the master never reads EIO while no client is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty

from core.errors import ConfigError
from drivers.transport.timing import LineTiming, Parity, line_timing

__all__ = ["PtyPort"]

logger = logging.getLogger(__name__)

_CHUNK = 4096
_FULL_RETRY_S = 0.005  # the client's input buffer is full: try again shortly
_EPSILON = 1e-6  # of a byte time: the loop may wake a hair before the time asked for


class PtyPort:
    """The master side of a pseudo-terminal pair, behaving like a serial line at ``baud``."""

    def __init__(self, baud: int = 9600, parity: Parity = "N", *, echo: bool = False) -> None:
        try:
            self.timing: LineTiming = line_timing(baud, parity=parity)
        except ValueError as exc:
            raise ConfigError(f"serial pty: {exc}") from exc
        self.echo = echo
        self._master = -1
        self._slave = -1
        self._device = ""
        self._reader: asyncio.StreamReader | None = None
        self._outgoing: asyncio.Queue[tuple[bytes, float, asyncio.Future[None] | None]] = (
            asyncio.Queue()
        )
        self._sender: asyncio.Task[None] | None = None
        self._received_until = 0.0  # loop time when the last request byte is off the line
        self._sent_until = 0.0  # loop time when the last byte written is off the line

    @property
    def device(self) -> str:
        """The slave device clients open (``/dev/pts/N``), after :meth:`open`."""
        return self._device

    @property
    def baud(self) -> int:
        return self.timing.baud

    @property
    def parity(self) -> Parity:
        return self.timing.parity

    async def open(self) -> None:
        try:
            master, slave = os.openpty()
        except OSError as exc:
            raise ConfigError(f"serial pty: cannot open a pseudo-terminal: {exc}") from exc
        self._master, self._slave = master, slave
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._device = os.ttyname(slave)
        self._reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable)
        self._sender = asyncio.create_task(self._send_loop(), name=f"pty {self._device}")

    async def close(self) -> None:
        if self._master < 0:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._master)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        if self._reader is not None:
            self._reader.feed_eof()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1

    async def receive(self, timeout_s: float | None) -> bytes:
        """Bytes the client wrote (b"" once closed); :class:`TimeoutError` after ``timeout_s``."""
        if self._reader is None:
            raise RuntimeError("serial pty: receive() before open()")
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # arrives with the data, and a closed server would go on serving.
        async with asyncio.timeout(timeout_s):
            return await self._reader.read(_CHUNK)

    async def send(self, data: bytes, delay_s: float = 0.0) -> None:
        """Answer ``data`` at the baud rate, once the request has left the line, the frame-end
        silence has passed and ``delay_s`` more."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        start_at = self._received_until + self.timing.inter_byte_timeout_s + delay_s
        self._outgoing.put_nowait((data, start_at, done))
        await done

    # -- the line ------------------------------------------------------------------------------

    def _readable(self) -> None:
        reader = self._reader
        if reader is None:
            return
        try:
            data = os.read(self._master, _CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            logger.warning("serial pty %s: read failed: %s", self._device, exc)
            asyncio.get_running_loop().remove_reader(self._master)
            reader.feed_eof()
            return
        if not data:
            return
        now = asyncio.get_running_loop().time()
        started = max(now, self._received_until)
        self._received_until = started + self.timing.wire_time_s(len(data))
        if self.echo:
            # Queued before the answer can be: an adapter echoes as the request goes out.
            self._outgoing.put_nowait((data, started, None))
        reader.feed_data(data)

    async def _send_loop(self) -> None:
        while True:
            data, not_before, done = await self._outgoing.get()
            try:
                await self._paced_write(data, not_before)
            except OSError as exc:
                logger.warning("serial pty %s: write failed: %s", self._device, exc)
                if done is not None and not done.done():
                    done.set_exception(ConnectionError(str(exc)))
                continue
            if done is not None and not done.done():
                done.set_result(None)

    async def _paced_write(self, data: bytes, not_before: float) -> None:
        loop = asyncio.get_running_loop()
        byte_s = self.timing.byte_time_s
        # Never in the past: a meter that took long to compute its answer starts it late.
        start = max(not_before, self._sent_until, loop.time())
        self._sent_until = start + len(data) * byte_s
        sent = 0
        while sent < len(data):
            # Byte i may leave only once it is completely on the wire: start + (i + 1) bytes.
            due = min(len(data), int((loop.time() - start) / byte_s + _EPSILON))
            if due <= sent:
                await asyncio.sleep(start + (sent + 1) * byte_s - loop.time())
                continue
            try:
                sent += os.write(self._master, data[sent:due])
            except BlockingIOError:
                await asyncio.sleep(_FULL_RETRY_S)
