"""A bus of simulated meters behind a transparent serial-to-Ethernet converter (asyncio TCP), or
on a serial pseudo-terminal.

:func:`serve_line` is the one serving routine for both: the bytes of a line go through the
shared codec's :class:`~drivers.mercury.session.ServerSession`, which ends requests by their
known lengths, so frames split over many TCP segments or pty reads work; when bytes that make no
request are followed by a quiet ``gap_s``, they are dropped, as a meter's UART drops a broken
frame at the inter-byte timeout. One request is served at a time per bus (the RS-485 line),
whichever line sent it; the answer goes back on that line.

:class:`BusServer` listens on TCP (one line per client); :class:`PtyBusServer` serves one
:class:`~simulators.serial.PtyPort`, which paces answers at the baud rate and can echo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from drivers.mercury.session import NEED_DATA, ServerSession
from drivers.transport.timing import Parity
from simulators.listener import TcpListener
from simulators.mercury230.faults import FaultOutcome
from simulators.mercury230.protocol import TRACE
from simulators.serial import PtyPort

__all__ = [
    "DEFAULT_GAP_S",
    "BusServer",
    "Line",
    "PtyBusServer",
    "RequestSource",
    "Responder",
    "serve_line",
]

logger = logging.getLogger(__name__)

#: Fallback end of a frame that matches no known request length (DOC3's 5 ms at 9600 baud is
#: far below what TCP converters and client stacks jitter, so be generous).
DEFAULT_GAP_S = 0.1
_CHUNK = 4096


class Responder(Protocol):
    """A bus as :func:`serve_line` sees it (this family's :class:`Bus`, the 200 family's)."""

    name: str

    @property
    def meters(self) -> Sequence[object]: ...

    def respond(self, request: Any) -> FaultOutcome | None: ...


BusT = TypeVar("BusT", bound=Responder)


class RequestSource(Protocol):
    """A server-role sans-IO session; ``next_event`` gives this module's ``NEED_DATA`` when
    it needs more bytes."""

    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> object: ...


class Line(Protocol):
    """Where a bus's requests come from and its answers go (a TCP client, a pty)."""

    async def receive(self, timeout_s: float | None) -> bytes:
        """Bytes in (b"" once the line is gone); :class:`TimeoutError` after ``timeout_s``."""
        ...

    async def send(self, data: bytes, delay_s: float = 0.0) -> None:
        """Bytes out, ``delay_s`` after the request."""
        ...


async def serve_line(
    bus: Responder,
    line: Line,
    lock: asyncio.Lock,
    gap_s: float,
    *,
    session_factory: Callable[[], RequestSource] = ServerSession,
) -> None:
    """Answer the requests that come on ``line`` until it is gone; ``lock`` is the bus's.
    ``session_factory`` makes the codec's server session (another family's, adapted)."""
    session = session_factory()
    pending = False
    while True:
        try:
            data = await line.receive(gap_s if pending else None)
        except TimeoutError:
            session, pending = session_factory(), False  # a gap ends a broken frame
            continue
        if not data:
            return
        if logger.isEnabledFor(TRACE):
            logger.log(TRACE, "bus %s: received %s", bus.name, data.hex(" "))
        session.receive_data(data)
        pending = True
        while (request := session.next_event()) is not NEED_DATA:
            await _answer(bus, request, line, lock)


async def _answer(bus: Responder, request: object, line: Line, lock: asyncio.Lock) -> None:
    async with lock:
        outcome = bus.respond(request)
        if outcome is None or outcome.reply is None:
            return
        if logger.isEnabledFor(TRACE):
            logger.log(TRACE, "bus %s: sending %s", bus.name, outcome.reply.hex(" "))
        await line.send(outcome.reply, outcome.delay_s)


class _TcpLine:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def receive(self, timeout_s: float | None) -> bytes:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # arrives with the data, and a closed server would go on serving.
        async with asyncio.timeout(timeout_s):
            return await self._reader.read(_CHUNK)

    async def send(self, data: bytes, delay_s: float = 0.0) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        self._writer.write(data)
        await self._writer.drain()


class BusServer(TcpListener, Generic[BusT]):
    """Serves one bus on ``host:port`` (port 0 picks a free one; see :attr:`port`);
    ``session_factory`` makes the server session of the bus's protocol family."""

    def __init__(
        self,
        bus: BusT,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        gap_s: float = DEFAULT_GAP_S,
        session_factory: Callable[[], RequestSource] = ServerSession,
    ) -> None:
        super().__init__(f"bus {bus.name}", host, port)
        self.bus = bus
        self.gap_s = gap_s
        self._session_factory = session_factory
        self._line = asyncio.Lock()

    async def start(self) -> None:
        await super().start()
        logger.info(
            "bus %s listening on %s with %d meter(s)",
            self.bus.name,
            self.listen,
            len(self.bus.meters),
            extra={"bus": self.bus.name},
        )

    def where(self) -> dict[str, Any]:
        """Where clients find the bus, for the start-up JSON."""
        return {"listen": self.listen}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        extra = {"bus": self.bus.name}
        logger.info("bus %s: client %s connected", self.bus.name, peer, extra=extra)
        try:
            await serve_line(
                self.bus,
                _TcpLine(reader, writer),
                self._line,
                self.gap_s,
                session_factory=self._session_factory,
            )
        finally:
            logger.info("bus %s: client %s gone", self.bus.name, peer, extra=extra)


class PtyBusServer(Generic[BusT]):
    """Serves one bus on a serial pseudo-terminal (see :attr:`device` after start);
    ``session_factory`` makes the server session of the bus's protocol family."""

    def __init__(
        self,
        bus: BusT,
        *,
        baud: int = 9600,
        parity: Parity = "N",
        echo: bool = False,
        gap_s: float = DEFAULT_GAP_S,
        session_factory: Callable[[], RequestSource] = ServerSession,
    ) -> None:
        self.bus = bus
        self.gap_s = gap_s
        self._session_factory = session_factory
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
        logger.info(
            "bus %s on serial pty %s at %d %s%s with %d meter(s)",
            self.bus.name,
            self.device,
            self.pty.baud,
            self.pty.parity,
            " (echo)" if self.pty.echo else "",
            len(self.bus.meters),
            extra={"bus": self.bus.name},
        )

    async def _serve(self) -> None:
        try:
            await serve_line(
                self.bus, self.pty, self._line, self.gap_s, session_factory=self._session_factory
            )
        except Exception:
            logger.exception(
                "bus %s: serial pty serving failed", self.bus.name, extra={"bus": self.bus.name}
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.pty.close()

    async def __aenter__(self) -> PtyBusServer[BusT]:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def where(self) -> dict[str, Any]:
        """Where clients find the bus, for the start-up JSON."""
        return {
            "serial": self.device,
            "baud": self.pty.baud,
            "parity": self.pty.parity,
            "echo": self.pty.echo,
        }
