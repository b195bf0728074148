"""Serving a simulated SPODES meter on a byte stream or on TCP (HDLC over TCP or the wrapper).

:func:`serve_stream` feeds what the stream delivers to a sans-IO link side (``protocol.py``)
and writes its answers; a partial HDLC frame is dropped after ``inter_octet_s`` of silence,
as a meter's UART does. :class:`DlmsTcpServer` gives every TCP client a fresh link side and
application association.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from core.errors import ConnectionLostError, FrameError, TransportTimeoutError
from drivers.transport.stream import ByteStream
from drivers.transport.tcp import TcpStream
from simulators.dlms.protocol import HdlcLine, HdlcServer, WrapperServer
from simulators.listener import TcpListener

__all__ = ["DlmsTcpServer", "serve_stream"]

LinkServer = HdlcServer | HdlcLine | WrapperServer

_IDLE_S = 3600.0


async def serve_stream(stream: ByteStream, link: LinkServer, *,
                       inter_octet_s: float = 0.5) -> None:
    """Answer on ``stream`` until the peer closes it (or a wrapper frame of a wrong version)."""
    partial = False
    while True:
        try:
            data = await stream.read_some(inter_octet_s if partial else _IDLE_S)
        except TransportTimeoutError:
            if not isinstance(link, WrapperServer):
                link.drop_partial()
            partial = False
            continue
        except ConnectionLostError:
            return
        try:
            answers = link.receive_data(data)
        except FrameError:
            await stream.close()
            return
        if answers and link.faults.delay_s > 0:
            await asyncio.sleep(link.faults.delay_s)  # a slow meter
        for answer in answers:
            await stream.write(answer)
        partial = not isinstance(link, WrapperServer) and link.pending > 1


class DlmsTcpServer(TcpListener):
    """Listens on ``host:port``; ``make_link()`` builds the meter's side for each client."""

    def __init__(self, make_link: Callable[[], LinkServer], host: str = "127.0.0.1",
                 port: int = 0, *, kind: Literal["hdlc", "wrapper"] = "hdlc") -> None:
        super().__init__(f"dlms {kind} simulator", host, port)
        self.make_link = make_link
        #: The link side of the latest client, for tests that inject faults.
        self.last_link: LinkServer | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        link = self.make_link()
        self.last_link = link
        await serve_stream(TcpStream(reader, writer, str(host), int(port)), link)
