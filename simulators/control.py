"""The simulators' control port: JSON lines over TCP, one command per line, one answer per line.

The commands themselves belong to the fleet (``simulators.mercury230.fleet``, documented in
docs/simulators.md); this module only frames them. A line that is not a JSON object gets
``{"ok": false, "error": ...}``; the connection stays open for the next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from core.errors import ConfigError

__all__ = ["CommandHandler", "ControlServer"]

logger = logging.getLogger(__name__)

#: Takes one decoded command, returns the answer object (``ok`` plus the result or ``error``).
CommandHandler = Callable[[dict[str, Any]], dict[str, Any]]

_MAX_LINE = 64 * 1024


class ControlServer:
    def __init__(self, handler: CommandHandler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self.host = host
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def listen(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._accept, self.host, self._requested_port, limit=_MAX_LINE
            )
        except OSError as exc:
            raise ConfigError(
                f"control port: cannot listen on {self.host}:{self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from exc
        logger.info("control port listening on %s", self.listen)

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

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while line := await reader.readline():
                if not line.strip():
                    continue
                writer.write(json.dumps(self._run(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError, ValueError) as exc:
            # ValueError: a line beyond the stream limit.
            logger.info("control client dropped: %s", exc)
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()

    def _run(self, line: bytes) -> dict[str, Any]:
        try:
            command = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"ok": False, "error": f"not JSON: {exc}"}
        if not isinstance(command, dict):
            return {"ok": False, "error": "a command is a JSON object"}
        logger.debug("control command %s", command.get("cmd", "fault"))
        return self._handler(command)
