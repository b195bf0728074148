"""One simulated RS-485 line shared by buses of different protocols (a mixed bus).

A site's line often carries Mercury meters and Modbus meters together: every device hears every
request and only the one addressed answers. :class:`SharedLine` is that line behind a
transparent TCP converter: a client connects to it as to a converter; each byte the client
sends goes to every simulated bus behind it (each listening on its own loopback port: a Mercury
230 bus, a Modbus RTU bus, …), and whatever any of them answers comes back to the client. Each
simulator drops what is not addressed to it, as a meter does.

::

    client ──TCP── SharedLine ──┬── Mercury 230 bus (addresses 1, 2)
                                └── Modbus RTU bus (units 10, 11)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from core.errors import ConfigError
from simulators.listener import TcpListener

__all__ = ["SharedLine"]

logger = logging.getLogger(__name__)

_CHUNK = 4096


class SharedLine(TcpListener):
    """Listens on ``host:port``; each client is joined to every bus in ``buses``."""

    def __init__(self, buses: Sequence[tuple[str, int]], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if not buses:
            raise ConfigError("a shared line needs at least one bus behind it")
        super().__init__("shared line", host, port)
        self.buses = list(buses)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        links: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        try:
            for host, port in self.buses:
                links.append(await asyncio.open_connection(host, port))
        except OSError as exc:
            logger.warning("shared line: a bus behind it is not listening: %s", exc)
            for _, bus_writer in links:
                bus_writer.close()
            return
        answers = [asyncio.create_task(_pump(bus_reader, [writer])) for bus_reader, _ in links]
        try:
            await _pump(reader, [bus_writer for _, bus_writer in links])
        finally:
            for task in answers:
                task.cancel()
            for task in answers:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await task
            for _, bus_writer in links:
                bus_writer.close()


async def _pump(source: asyncio.StreamReader, targets: list[asyncio.StreamWriter]) -> None:
    """Copy ``source`` to every target until it ends."""
    while data := await source.read(_CHUNK):
        for target in targets:
            target.write(data)
        for target in targets:
            await target.drain()
