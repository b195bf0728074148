"""The simulators' control port: JSON lines over TCP, one command per line, one answer per line.

The commands themselves belong to the fleet (``simulators.mercury230.commands``,
``simulators.mercury200.fleet``, ``simulators.dlms.commands``; documented in
docs/simulators.md); this module only frames them. A line that is not a JSON object gets
``{"ok": false, "error": ...}``; the connection stays open for the next command.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from simulators.listener import TcpListener

__all__ = ["CommandError", "CommandHandler", "ControlServer", "dispatch"]

logger = logging.getLogger(__name__)

#: Takes one decoded command, returns the answer object (``ok`` plus the result or ``error``).
CommandHandler = Callable[[dict[str, Any]], dict[str, Any]]

FleetT = TypeVar("FleetT")


class CommandError(Exception):
    """A command that cannot be run; its message goes back to the client."""


def dispatch(commands: Mapping[str, Callable[[FleetT, dict[str, Any]], dict[str, Any]]],
             fleet: FleetT, document: dict[str, Any]) -> dict[str, Any]:
    """Run the command ``document`` names (``cmd``; a bare ``fault`` key means the ``fault``
    command) on ``fleet``; never raises: ``{"ok": true, …result}`` or ``{"ok": false,
    "error": …}`` for an unknown command, a :class:`CommandError` or a bad value."""
    name = document.get("cmd", "fault" if "fault" in document else None)
    handler = commands.get(name) if isinstance(name, str) else None
    if handler is None:
        return {"ok": False, "error": f"unknown command {name!r}; known: {', '.join(commands)}"}
    try:
        return {"ok": True, **handler(fleet, document)}
    except (CommandError, LookupError, ValueError, TypeError, ArithmeticError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return {"ok": False, "error": str(message)}

_MAX_LINE = 64 * 1024


class ControlServer(TcpListener):
    def __init__(self, handler: CommandHandler, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__("control port", host, port, limit=_MAX_LINE)
        self._handler = handler

    async def start(self) -> None:
        await super().start()
        logger.info("control port listening on %s", self.listen)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if not line.strip():
                    continue
                writer.write(json.dumps(self._run(line)).encode() + b"\n")
                await writer.drain()
        except ValueError as exc:
            # A line beyond the stream limit.
            logger.info("control client dropped: %s", exc)

    def _run(self, line: bytes) -> dict[str, Any]:
        try:
            command = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"ok": False, "error": f"not JSON: {exc}"}
        if not isinstance(command, dict):
            return {"ok": False, "error": "a command is a JSON object"}
        logger.debug("control command %s", command.get("cmd", "fault"))
        return self._handler(command)
