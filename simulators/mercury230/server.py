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
import logging

from drivers.mercury.request import Request
from drivers.mercury.session import NEED_DATA, ServerSession
from simulators.listener import TcpListener
from simulators.mercury230.protocol import TRACE, Bus

__all__ = ["DEFAULT_GAP_S", "BusServer"]

logger = logging.getLogger(__name__)

#: Fallback end of a frame that matches no known request length (DOC3's 5 ms at 9600 baud is
#: far below what TCP converters and client stacks jitter, so be generous).
DEFAULT_GAP_S = 0.1
_CHUNK = 4096


class BusServer(TcpListener):
    """Serves one :class:`Bus` on ``host:port`` (port 0 picks a free one; see :attr:`port`)."""

    def __init__(
        self, bus: Bus, host: str = "127.0.0.1", port: int = 0, *, gap_s: float = DEFAULT_GAP_S
    ) -> None:
        super().__init__(f"bus {bus.name}", host, port)
        self.bus = bus
        self.gap_s = gap_s
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

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        extra = {"bus": self.bus.name}
        logger.info("bus %s: client %s connected", self.bus.name, peer, extra=extra)
        try:
            await self._serve(reader, writer)
        finally:
            logger.info("bus %s: client %s gone", self.bus.name, peer, extra=extra)

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
