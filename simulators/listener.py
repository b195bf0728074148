"""The TCP listening socket shared by the simulators' servers (a bus, the control port).

It owns what every such server needs: the real port after ``port=0``, start-up errors as
:class:`~core.errors.ConfigError`, one task per client, and a close that ends them all. A
subclass says what to do with one client in :meth:`TcpListener.handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Self

from core.errors import ConfigError

__all__ = ["TcpListener"]

logger = logging.getLogger(__name__)


class TcpListener:
    """Listens on ``host:port`` (port 0 picks a free one; see :attr:`port`)."""

    def __init__(self, what: str, host: str, port: int, *, limit: int | None = None) -> None:
        self.what = what
        self.host = host
        self._requested_port = port
        self._limit = limit
        self._server: asyncio.Server | None = None
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
        options = {} if self._limit is None else {"limit": self._limit}
        try:
            self._server = await asyncio.start_server(
                self._accept, self.host, self._requested_port, **options
            )
        except OSError as exc:
            raise ConfigError(
                f"{self.what}: cannot listen on {self.host}:{self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from exc

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

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client until it leaves; connection errors end it quietly."""
        raise NotImplementedError

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        peer = writer.get_extra_info("peername")
        try:
            await self.handle(reader, writer)
        except (ConnectionError, OSError) as exc:
            logger.info("%s: client %s dropped: %s", self.what, peer, exc)
        except asyncio.CancelledError:
            # Closing the server ends its clients' tasks; a connection task that ends by
            # cancellation would make asyncio log the CancelledError as an error.
            logger.debug("%s: client %s closed with the server", self.what, peer)
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()
