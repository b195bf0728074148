"""A scripted Modbus peer on an in-memory stream, framed by pymodbus in the server role, and
small register maps written for the tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
)

from drivers.transport.memory import MemoryStream, memory_pair

#: What the peer does with one decoded request: an answer PDU, raw bytes to send instead of a
#: frame, or None (silence).
Handler = Callable[[ModbusPDU], ModbusPDU | bytes | None]

MAP_HEADER = """
[model]
name = "{name}"
manufacturer = "Test"
model = "T-1"
function = {function}
max_registers = {max_registers}
max_gap = {max_gap}
"""


def write_map(directory: Path, name: str, points: str, *, function: int = 3,
              max_registers: int = 125, max_gap: int = 0, extra: str = "") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(MAP_HEADER.format(name=name, function=function, max_registers=max_registers,
                                      max_gap=max_gap) + extra + points, encoding="utf-8")
    return path


def registers_answer(request: ModbusPDU, registers: list[int]) -> ModbusPDU:
    kind = ReadInputRegistersResponse if request.function_code == 4 else \
        ReadHoldingRegistersResponse
    return kind(registers=registers, dev_id=request.dev_id,
                transaction_id=request.transaction_id)


def exception_answer(request: ModbusPDU, code: int) -> ModbusPDU:
    answer = ExceptionResponse(request.function_code, code)
    answer.dev_id = request.dev_id
    answer.transaction_id = request.transaction_id
    return answer


class ScriptedPeer:
    """Answers each request the client end sends with ``handler``'s answer."""

    def __init__(self, handler: Handler, framing: str = "rtu") -> None:
        self.handler = handler
        self.framer = (FramerSocket if framing == "tcp" else FramerRTU)(DecodePDU(is_server=True))
        self.requests: list[ModbusPDU] = []

    async def serve(self, stream: MemoryStream) -> None:
        buffer = b""
        while True:
            buffer += await stream.read_some(3600)
            used, dev_id, tid, pdu_bytes = self.framer.decode(buffer)
            if not used:
                continue
            buffer = buffer[used:]
            request = self.framer.decoder.decode(pdu_bytes)
            assert request is not None
            request.dev_id, request.transaction_id = dev_id, tid
            self.requests.append(request)
            answer = self.handler(request)
            if answer is None:
                continue
            await stream.write(answer if isinstance(answer, bytes)
                               else self.framer.buildFrame(answer))


@contextlib.asynccontextmanager
async def scripted(handler: Handler, framing: str = "rtu",
                   name: str = "modbus") -> AsyncIterator[tuple[MemoryStream, ScriptedPeer]]:
    client, server = memory_pair(name)
    peer = ScriptedPeer(handler, framing)
    task = asyncio.create_task(peer.serve(server))
    try:
        yield client, peer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
