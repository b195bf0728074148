"""A bus of simulated meters behind a transparent serial-to-Ethernet converter (asyncio TCP).

One listening socket per bus. Each client's bytes go through the shared codec's
:class:`~drivers.mercury.session.ServerSession`, which ends requests by their known lengths, so
frames split over many TCP segments work; when bytes that make no request are followed by a
quiet ``gap_s``, they are dropped, as a meter's UART drops a broken frame at the inter-byte
timeout. One request is served at a time per bus (the RS-485 line), whichever client sent it;
the answer goes back to that client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from core.errors import ConfigError
from drivers.mercury.request import Request
from drivers.mercury.session import NEED_DATA, ServerSession
from simulators.mercury230.protocol import TRACE, Bus

__all__ = ["DEFAULT_GAP_S", "BusServer"]

logger = logging.getLogger(__name__)

#: Fallback end of a frame that matches no known request length (DOC3's 5 ms at 9600 baud is
#: far below what TCP converters and client stacks jitter, so be generous).
DEFAULT_GAP_S = 0.1
_CHUNK = 4096


class BusServer:
    """Serves one :class:`Bus` on ``host:port`` (port 0 picks a free one; see :attr:`port`)."""

    def __init__(
        self, bus: Bus, host: str = "127.0.0.1", port: int = 0, *, gap_s: float = DEFAULT_GAP_S
    ) -> None:
        self.bus = bus
        self.host = host
        self._requested_port = port
        self.gap_s = gap_s
        self._server: asyncio.Server | None = None
        self._line = asyncio.Lock()
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port actually listened on (after :meth:`start`)."""
        if self._server is None:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def listen(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._accept, self.host, self._requested_port)
        except OSError as exc:
            raise ConfigError(
                f"bus {self.bus.name}: cannot listen on {self.host}:{self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from exc
        logger.info(
            "bus %s listening on %s with %d meter(s)",
            self.bus.name,
            self.listen,
            len(self.bus.meters),
            extra={"bus": self.bus.name},
        )

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> BusServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        peer = writer.get_extra_info("peername")
        logger.info(
            "bus %s: client %s connected", self.bus.name, peer, extra={"bus": self.bus.name}
        )
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError) as exc:
            logger.info("bus %s: client %s dropped: %s", self.bus.name, peer, exc)
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()
            logger.info("bus %s: client %s gone", self.bus.name, peer, extra={"bus": self.bus.name})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ServerSession()
        pending = False
        while True:
            try:
                data = await asyncio.wait_for(reader.read(_CHUNK), self.gap_s if pending else None)
            except TimeoutError:
                session, pending = ServerSession(), False  # a gap ends a broken frame
                continue
            if not data:
                return
            if logger.isEnabledFor(TRACE):
                logger.log(TRACE, "bus %s: received %s", self.bus.name, data.hex(" "))
            session.receive_data(data)
            pending = True
            while (request := session.next_event()) is not NEED_DATA:
                await self._answer(request, writer)

    async def _answer(self, request: Request, writer: asyncio.StreamWriter) -> None:
        async with self._line:
            outcome = self.bus.respond(request)
            if outcome is None or outcome.reply is None:
                return
            if outcome.delay_s:
                await asyncio.sleep(outcome.delay_s)
            if logger.isEnabledFor(TRACE):
                logger.log(TRACE, "bus %s: sending %s", self.bus.name, outcome.reply.hex(" "))
            writer.write(outcome.reply)
            await writer.drain()
