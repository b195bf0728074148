"""A bus of simulated Mercury 200-family meters behind a transparent TCP converter.

::

    client bytes → ServerSession (ends requests by their known length) → Bus200.respond → reply

Frames split over TCP segments work; bytes that make no request are dropped after a quiet
``gap_s``, as a meter's UART drops a broken frame after 5–6 byte-times of silence (§2). One
request is served at a time (the RS-485 line), the answer going back to the client that asked.
"""

from __future__ import annotations

import asyncio
import logging

from drivers.mercury.m200.frame import Request
from drivers.mercury.m200.session import NEED_DATA, ServerSession
from simulators.listener import TcpListener
from simulators.mercury200.protocol import Bus200

__all__ = ["DEFAULT_GAP_S", "BusServer200"]

logger = logging.getLogger(__name__)

DEFAULT_GAP_S = 0.1
_CHUNK = 4096


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

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ServerSession()
        pending = False
        while True:
            try:
                data = await asyncio.wait_for(reader.read(_CHUNK), self.gap_s if pending else None)
            except TimeoutError:
                session.clear()  # a gap ends a broken frame
                pending = False
                continue
            if not data:
                return
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
            writer.write(outcome.reply)
            await writer.drain()
