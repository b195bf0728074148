"""A bus of simulated Mercury 200-family meters behind a transparent TCP converter, or on a
serial pseudo-terminal.

::

    client bytes → ServerSession (ends requests by their known length) → Bus200.respond → reply

Frames split over TCP segments or pty reads work; bytes that make no request are dropped after
a quiet ``gap_s``, as a meter's UART drops a broken frame after 5–6 byte-times of silence (§2).
One request is served at a time (the RS-485 line), the answer going back to the line that asked.

Both servers run the 230 simulator's line loop (:func:`simulators.mercury230.server.serve_line`),
given this family's session through :class:`RequestSource200`; :class:`PtyBusServer200` serves
one :class:`~simulators.serial.PtyPort` (paced at the baud, optional echo).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from drivers.mercury.m200.frame import Request
from drivers.mercury.m200.session import NEED_DATA, ServerSession
from drivers.mercury.session import NEED_DATA as LINE_NEED_DATA
from drivers.mercury.session import NeedData as LineNeedData
from drivers.transport.timing import Parity
from simulators.listener import TcpListener
from simulators.mercury200.protocol import Bus200
from simulators.mercury230.server import serve_line
from simulators.serial import PtyPort

__all__ = ["DEFAULT_GAP_S", "BusServer200", "PtyBusServer200", "RequestSource200"]

logger = logging.getLogger(__name__)

DEFAULT_GAP_S = 0.1
_CHUNK = 4096


class RequestSource200:
    """This family's :class:`ServerSession` as :func:`serve_line` expects a session (its
    ``NEED_DATA`` is the 230 codec's sentinel)."""

    def __init__(self) -> None:
        self._session = ServerSession()

    def receive_data(self, data: bytes) -> None:
        self._session.receive_data(data)

    def next_event(self) -> Request | LineNeedData:
        event = self._session.next_event()
        return LINE_NEED_DATA if event is NEED_DATA else event


class BusServer200(TcpListener):
    """Serves one :class:`Bus200` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self, bus: Bus200, host: str = "127.0.0.1", port: int = 0, *, gap_s: float = DEFAULT_GAP_S
    ) -> None:
        super().__init__(f"bus {bus.name}", host, port)
        self.bus = bus
        self.gap_s = gap_s
        self._line = asyncio.Lock()

    async def start(self) -> None:
        await super().start()
        logger.info("mercury200 bus %s listening on %s with %d meter(s)", self.bus.name,
                    self.listen, len(self.bus.meters), extra={"bus": self.bus.name})

    def where(self) -> dict[str, Any]:
        """Where clients find the bus, for the start-up JSON."""
        return {"listen": self.listen}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_line(self.bus, _TcpLine(reader, writer), self._line, self.gap_s,
                         session_factory=RequestSource200)


class _TcpLine:
    """One client's connection as :func:`serve_line` sees a line."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def receive(self, timeout_s: float | None) -> bytes:
        return await asyncio.wait_for(self._reader.read(_CHUNK), timeout_s)

    async def send(self, data: bytes, delay_s: float = 0.0) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        self._writer.write(data)
        await self._writer.drain()


class PtyBusServer200:
    """Serves one :class:`Bus200` on a serial pseudo-terminal (:attr:`device` after start)."""

    def __init__(
        self,
        bus: Bus200,
        *,
        baud: int = 9600,
        parity: Parity = "N",
        echo: bool = False,
        gap_s: float = DEFAULT_GAP_S,
    ) -> None:
        self.bus = bus
        self.gap_s = gap_s
        self.pty = PtyPort(baud, parity, echo=echo)
        self._line = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def device(self) -> str:
        """The slave device (``/dev/pts/N``) a client opens as its serial port."""
        return self.pty.device

    async def start(self) -> None:
        await self.pty.open()
        self._task = asyncio.create_task(self._serve(), name=f"bus {self.bus.name}")
        logger.info("mercury200 bus %s on serial pty %s at %d %s%s with %d meter(s)",
                    self.bus.name, self.device, self.pty.baud, self.pty.parity,
                    " (echo)" if self.pty.echo else "", len(self.bus.meters),
                    extra={"bus": self.bus.name})

    async def _serve(self) -> None:
        try:
            await serve_line(self.bus, self.pty, self._line, self.gap_s,
                             session_factory=RequestSource200)
        except Exception:
            logger.exception("mercury200 bus %s: serial pty serving failed", self.bus.name,
                             extra={"bus": self.bus.name})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.pty.close()

    async def __aenter__(self) -> PtyBusServer200:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def where(self) -> dict[str, Any]:
        """Where clients find the bus, for the start-up JSON."""
        return {"serial": self.device, "baud": self.pty.baud, "parity": self.pty.parity,
                "echo": self.pty.echo}
