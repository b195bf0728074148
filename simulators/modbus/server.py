"""One bus of simulated Modbus units on pymodbus's server (its ``SimDevice`` API).

::

    ModbusBus ── pymodbus ModbusTcpServer (MBAP, or RTU framing over TCP) ── SimDevice per unit
              └─ or PtyPort ⇄ relay ⇄ the same server, RTU-framed on 127.0.0.1 (pacing: the pty's)

Each unit is a ``SimDevice`` (``unit.py``) whose ``action`` answers as the device would. A unit
id no unit has falls to a catch-all device 0 that never answers, as an absent unit on a line.
pymodbus's request handler is replaced by one that sends each answer with its own request's
unit id and transaction (:class:`_RequestHandler`), so that a slow unit's late answer is its
own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal, Self

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from core.errors import ConfigError
from simulators.modbus.unit import ModbusUnit, unit_range
from simulators.serial import PtyPort

__all__ = ["FRAMINGS", "ModbusBus"]

logger = logging.getLogger(__name__)

Framing = Literal["tcp", "rtu"]
FRAMINGS = ("tcp", "rtu")
_RELAY_CHUNK = 4096


async def _absent(*_args: Any) -> ExcCodes | None:
    raise NoSuchIdException("no such unit on this bus")


def _absent_device() -> SimDevice:
    """Device 0: pymodbus's fallback for unit ids it lacks. Spans every address, so that each
    request reaches :func:`_absent` and goes unanswered."""
    bits = SimData(address=0, values=[0] * 4096, datatype=DataType.BITS)
    registers = SimData(address=0, count=65536, values=0, datatype=DataType.REGISTERS)
    return SimDevice(id=0, simdata=([bits], [bits], [registers], [registers]), action=_absent)


class _RequestHandler(ServerRequestHandler):
    """pymodbus's handler of one connection, but an answer goes out with the unit id and
    transaction of the request it answers: pymodbus 3.16 reads them from ``last_pdu`` again
    after the datastore's await, so a ``slow`` unit's late answer would carry those of whatever
    request came in meanwhile (another unit's, on a shared RTU line)."""

    async def handle_request(self) -> None:
        request, addr = self.last_pdu, self.last_addr
        if not request:
            return
        try:
            response = await request.datastore_update(self.server.context, request.dev_id)
        except NoSuchIdException:
            return  # a silent or absent unit: the client times out
        except Exception:  # as pymodbus: the device failed
            logger.exception("modbus simulator: request %s failed", request)
            response = ExceptionResponse(request.function_code, ExcCodes.DEVICE_FAILURE)
        response.transaction_id = request.transaction_id
        response.dev_id = request.dev_id
        self.server_send(response, addr)  # type: ignore[no-untyped-call]


class _Server(ModbusTcpServer):
    def callback_new_connection(self) -> ServerRequestHandler:
        return _RequestHandler(  # type: ignore[no-untyped-call]
            self, self.trace_packet, self.trace_pdu, self.trace_connect)


class ModbusBus:
    """Units on one line: a TCP port (Modbus TCP or RTU framing) or a serial pty (RTU)."""

    def __init__(self, units: Sequence[ModbusUnit], *, framing: str = "tcp",
                 host: str = "127.0.0.1", port: int = 0, pty: PtyPort | None = None,
                 name: str = "bus-1") -> None:
        self.units = list(units)
        self.name = name
        if framing not in FRAMINGS:
            raise ConfigError(f"{name}: framing {framing!r}: tcp or rtu")
        if pty is not None and framing != "rtu":
            raise ConfigError(f"{name}: a serial line carries RTU framing, not Modbus TCP")
        if not self.units:
            raise ConfigError(f"{name}: a bus has at least one unit")
        allowed = unit_range(framing)
        seen: set[int] = set()
        for unit in self.units:
            if unit.unit not in allowed:
                raise ConfigError(f"{name}: unit id {unit.unit} is outside "
                                  f"{allowed[0]}..{allowed[-1]} ({framing})")
            if unit.unit in seen:
                raise ConfigError(f"{name}: unit id {unit.unit} is used twice")
            seen.add(unit.unit)
        self.framing = framing
        self.host, self.port = host, port
        self.pty = pty
        self.server: _Server | None = None
        self._relay: asyncio.Task[None] | None = None

    @property
    def listen(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def unit(self, unit_id: int) -> ModbusUnit:
        for unit in self.units:
            if unit.unit == unit_id:
                return unit
        raise KeyError(f"{self.name}: no unit {unit_id}")

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        devices = [unit.device() for unit in self.units] + [_absent_device()]
        on_pty = self.pty is not None
        host, port = ("127.0.0.1", 0) if on_pty else (self.host, self.port)
        framer = FramerType.SOCKET if self.framing == "tcp" else FramerType.RTU
        self.server = _Server(context=devices, framer=framer, address=(host, port),
                              ignore_missing_devices=True)
        try:
            await self.server.serve_forever(background=True)
        except RuntimeError as exc:
            self.server = None
            raise ConfigError(f"modbus {self.name}: cannot listen on {host}:{port}") from exc
        bound = int(self.server.transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        if self.pty is None:
            self.port = bound
            return
        await self.pty.open()
        self._relay = asyncio.create_task(self._serve_pty(bound), name=f"modbus {self.name} pty")

    async def close(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
            self._relay = None
        if self.pty is not None:
            await self.pty.close()
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    async def _serve_pty(self, port: int) -> None:
        """Relay the pty's bytes to the RTU-framed server on ``port`` and its answers back,
        which the pty sends at the line's pace."""
        assert self.pty is not None
        pty = self.pty
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def requests() -> None:
            while data := await pty.receive(None):
                writer.write(data)
                await writer.drain()

        upstream = asyncio.create_task(requests())
        try:
            while data := await reader.read(_RELAY_CHUNK):
                await pty.send(data)
        finally:
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await upstream
            writer.close()

    # -- description ---------------------------------------------------------------------------

    def describe_bus(self) -> dict[str, Any]:
        """This bus in the start-up JSON: ``listen``, or ``serial``/``baud``/``parity``/``echo``
        for a pty; the framing and the units."""
        where: dict[str, Any]
        if self.pty is not None:
            where = {"serial": self.pty.device, "baud": self.pty.baud,
                     "parity": self.pty.parity, "echo": self.pty.echo}
        else:
            where = {"listen": self.listen}
        return {"name": self.name, **where, "framing": self.framing,
                "units": [{"unit": unit.unit, "map": unit.meter.register_map.model.name,
                           "serial": unit.meter.serial, "meter_id": unit.meter_id}
                          for unit in self.units]}
