"""One line of simulated SPODES meters: HDLC on TCP or on a serial pty, or the wrapper on TCP.

::

    DlmsSimulator ── DlmsTcpServer (a fresh link side per client) or PtyPort ── serve_stream
                     └─ HdlcServer × K (on a _Line when K > 1) or WrapperServer
                        └─ Application (levels and secrets per meter) ── SpodesObjects ── meter

Faults set at run time (:meth:`DlmsSimulator.set_fault`, the control port) reach the links
already open as well as the next ones. ``isu sim dlms`` builds one (``cli.py``); a fleet file
builds one per bus (``fleet.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal, Self

from core.errors import ConfigError, ConnectionLostError, TransportTimeoutError
from drivers.dlms.hdlc import HdlcAddress
from drivers.transport.tcp import TcpStream
from simulators.dlms.application import Application, Level, default_levels, gmac_server
from simulators.dlms.commands import run_command
from simulators.dlms.faults import DlmsFault
from simulators.dlms.meter import SpodesMeter
from simulators.dlms.protocol import HdlcLine, HdlcServer, LineFaults, WrapperServer
from simulators.dlms.server import DlmsTcpServer, serve_stream
from simulators.dlms.spodes import SpodesObjects
from simulators.serial import PtyPort

__all__ = [
    "CONFIGURATOR_MODES",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_INTER_OCTET_S",
    "DEFAULT_PHYSICAL",
    "DlmsSimulator",
    "client_levels",
]

DEFAULT_PHYSICAL = 0x10
#: A meter's own answer buffer: longer answers go out as GET-with-block.
DEFAULT_BLOCK_SIZE = 1024
#: Silence after which a partial HDLC frame is dropped, as a meter's UART does.
DEFAULT_INTER_OCTET_S = 0.5
READER = 32
CONFIGURATOR = 48
#: The configurator's (SAP 48) authentication: LLS, or HLS-GMAC with the test keys.
CONFIGURATOR_MODES = ("lls", "hls-gmac")

Link = HdlcServer | HdlcLine | WrapperServer


def client_levels(reader: bytes | None = None, configurator: bytes | None = None, *,
                  hls_gmac_serial: str | None = None) -> dict[int, Level]:
    """The application's client levels with the LLS secret of the reader (SAP 32) and of the
    configurator (SAP 48) replaced where given; with ``hls_gmac_serial`` the configurator uses
    HLS-GMAC with the test keys and that serial's system title instead of LLS."""
    hls = None if hls_gmac_serial is None else gmac_server(hls_gmac_serial)
    levels = default_levels(hls)
    for sap, secret in ((READER, reader), (CONFIGURATOR, configurator)):
        if secret is not None and levels[sap].hls is None:
            levels[sap] = replace(levels[sap], secret=secret)
    return levels


@dataclass(slots=True)
class _Line(HdlcLine):
    """An :class:`HdlcLine` whose ``faults.delay_s`` is that of the meter that answered last,
    so a ``slow`` meter delays only its own answers on a shared line."""

    _answered: LineFaults = field(default_factory=LineFaults)

    def receive_data(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        delay_s = 0.0
        for server in self.servers:
            answers = server.receive_data(data)
            if answers:
                delay_s = max(delay_s, server.faults.delay_s)
            out.extend(answers)
        self._answered.delay_s = delay_s
        return out

    @property
    def faults(self) -> LineFaults:
        return self._answered


class _PtyStream:
    """A :class:`~simulators.serial.PtyPort` as the byte stream ``serve_stream`` reads."""

    def __init__(self, port: PtyPort) -> None:
        self.port = port

    @property
    def description(self) -> str:
        return f"serial pty {self.port.device}"

    async def write(self, data: bytes) -> None:
        await self.port.send(data)

    async def read_some(self, timeout_s: float) -> bytes:
        try:
            data = await self.port.receive(timeout_s)
        except TimeoutError as exc:
            raise TransportTimeoutError(f"{self.description}: silent") from exc
        if not data:
            raise ConnectionLostError(f"{self.description}: closed")
        return data

    async def discard_input(self) -> None:
        return None

    async def close(self) -> None:
        return None


class _Listener(DlmsTcpServer):
    """The TCP side: each client gets a fresh link, forgotten when the client leaves."""

    def __init__(self, simulator: DlmsSimulator, host: str, port: int,
                 kind: Literal["hdlc", "wrapper"]) -> None:
        super().__init__(simulator.make_link, host, port, kind=kind)
        self.simulator = simulator

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        link = self.make_link()
        self.last_link = link
        try:
            await serve_stream(TcpStream(reader, writer, str(host), int(port)), link,
                               inter_octet_s=self.simulator.inter_octet_s)
        finally:
            self.simulator.forget(link)


class DlmsSimulator:
    """Simulated SPODES meters on one line: TCP (HDLC or the wrapper) or a serial pty (HDLC).

    ``addresses`` lists the meters' HDLC physical addresses (default: consecutive from
    ``physical``); ``levels`` gives each meter its client levels and secrets (default, or
    ``None`` for a meter: the application's, ``DEFAULT_SECRETS``; ``configurator="hls-gmac"``:
    HLS-GMAC with the test keys for SAP 48 instead of LLS); ``faults`` makes each
    connection's :class:`LineFaults` (tests inject counters there), on which a meter's
    :class:`DlmsFault` (:meth:`set_fault`) is then shown.
    """

    def __init__(self, meter: SpodesMeter | Sequence[SpodesMeter], *, transport: str = "hdlc",
                 host: str = "127.0.0.1", port: int = 0, pty: PtyPort | None = None,
                 physical: int = DEFAULT_PHYSICAL, addresses: Sequence[int] | None = None,
                 max_info: int = 128, block_size: int | None = DEFAULT_BLOCK_SIZE,
                 faults: Callable[[], LineFaults] = LineFaults, name: str = "bus-1",
                 meter_ids: Sequence[str] | None = None,
                 levels: Sequence[Mapping[int, Level] | None] | None = None,
                 inter_octet_s: float = DEFAULT_INTER_OCTET_S,
                 configurator: str = "lls") -> None:
        self.meters = [meter] if isinstance(meter, SpodesMeter) else list(meter)
        count = len(self.meters)
        if transport not in ("hdlc", "wrapper"):
            raise ConfigError(f"transport {transport!r}: hdlc or wrapper")
        if pty is not None and transport != "hdlc":
            raise ConfigError("a serial line carries HDLC, not the wrapper")
        if not self.meters or (transport == "wrapper" and count > 1):
            raise ConfigError("the wrapper serves one meter; several share an HDLC line")
        if addresses is None:
            if not 0x10 <= physical <= 0x3FFF - count + 1:
                raise ConfigError(
                    f"--server-address {physical}: the meters' addresses are 16..16383")
            addresses = [physical + index for index in range(count)]
        if len(addresses) != count or len(set(addresses)) != count:
            raise ConfigError(f"{name}: one distinct HDLC address per meter")
        if any(not 0x10 <= address <= 0x3FFF for address in addresses):
            raise ConfigError(f"{name}: the meters' HDLC addresses are 16..16383")
        if not 32 <= max_info <= 2030:
            raise ConfigError(f"--max-info {max_info}: 32..2030")
        if configurator not in CONFIGURATOR_MODES:
            raise ConfigError(f"configurator {configurator!r}: {', '.join(CONFIGURATOR_MODES)}")
        #: The first meter (the only one but on a multi-drop line).
        self.meter = self.meters[0]
        #: HDLC physical addresses of the meters, in order.
        self.addresses = list(addresses)
        self.physical = self.addresses[0]
        self.name = name
        self.meter_ids = (list(meter_ids) if meter_ids is not None
                          else [f"dlms-{m.settings.serial}" for m in self.meters])
        self.configurator = configurator
        if levels is None and configurator == "hls-gmac":
            # One HLS side per meter: its invocation counter goes on across connections.
            levels = [default_levels(gmac_server(m.settings.serial)) for m in self.meters]
        #: Each meter's client levels (``None``: the application's defaults).
        self.levels: list[Mapping[int, Level] | None] = (
            list(levels) if levels is not None else [None] * count)
        if len(self.meter_ids) != count or len(self.levels) != count:
            raise ConfigError(f"{name}: one meter id and one set of levels per meter")
        self.objects = [SpodesObjects(m) for m in self.meters]
        self.transport = transport
        self.max_info = max_info
        self.block_size = block_size
        self.inter_octet_s = inter_octet_s
        self.make_faults = faults
        #: The standing fault of each meter (``None``: it behaves).
        self.faults: list[DlmsFault | None] = [None] * count
        self._live: list[tuple[Link, list[LineFaults]]] = []
        self.pty = pty
        self.tcp = None if pty is not None else _Listener(
            self, host, port, "hdlc" if transport == "hdlc" else "wrapper")
        self._pty_task: asyncio.Task[None] | None = None

    # -- links ---------------------------------------------------------------------------------

    def make_link(self) -> Link:
        """A fresh link side (one connection's): one meter, or all of them on an HDLC line."""
        servers: list[HdlcServer] = []
        per_meter: list[LineFaults] = []
        for index, (meter, objects, address) in enumerate(
                zip(self.meters, self.objects, self.addresses, strict=True)):
            levels = self.levels[index]
            application = (Application(objects, block_size=self.block_size) if levels is None
                           else Application(objects, levels=dict(levels),
                                            block_size=self.block_size))
            faults = self.make_faults()
            faults.supply = meter
            faults.restarted()  # failures before this connection are history
            fault = self.faults[index]
            if fault is not None:
                faults.rng = random.Random(meter.settings.seed)
                fault.apply(faults)
            per_meter.append(faults)
            if self.transport == "wrapper":
                wrapper = WrapperServer(application, faults=faults)
                self._live.append((wrapper, per_meter))
                return wrapper
            servers.append(HdlcServer(application, HdlcAddress.server(1, address),
                                      max_info=self.max_info, faults=faults))
        link: Link = servers[0] if len(servers) == 1 else _Line(servers)
        self._live.append((link, per_meter))
        return link

    def forget(self, link: Link) -> None:
        """The connection of ``link`` has ended: faults set later need not reach it."""
        self._live = [entry for entry in self._live if entry[0] is not link]

    def set_fault(self, index: int, fault: DlmsFault | None) -> None:
        """Give meter ``index`` a standing fault (``None`` clears it), open links included."""
        self.faults[index] = fault
        for _, per_meter in self._live:
            if fault is None:
                DlmsFault.clear(per_meter[index])
            else:
                fault.apply(per_meter[index])

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.tcp is not None:
            await self.tcp.start()
            return
        assert self.pty is not None
        await self.pty.open()
        link = self.make_link()
        self._pty_task = asyncio.create_task(
            serve_stream(_PtyStream(self.pty), link, inter_octet_s=self.inter_octet_s),
            name=f"dlms pty {self.pty.device}")

    async def close(self) -> None:
        if self.tcp is not None:
            await self.tcp.close()
        if self._pty_task is not None:
            self._pty_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pty_task
            self._pty_task = None
        if self.pty is not None:
            await self.pty.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    # -- description and control ---------------------------------------------------------------

    def describe_bus(self) -> dict[str, Any]:
        """This line in the start-up JSON: ``listen``, or ``serial``/``baud``/``parity``/``echo``
        for a pty; the transport, the logical device and the meters."""
        where: dict[str, Any]
        if self.pty is not None:
            where = {"serial": self.pty.device, "baud": self.pty.baud,
                     "parity": self.pty.parity, "echo": self.pty.echo}
        else:
            assert self.tcp is not None
            where = {"listen": self.tcp.listen}
        return {
            "name": self.name, **where, "transport": self.transport, "logical_device": 1,
            "meters": [{"address": address, "serial": meter.settings.serial, "meter_id": ident}
                       for address, meter, ident in zip(self.addresses, self.meters,
                                                        self.meter_ids, strict=True)],
        }

    def describe(self, control: str | None = None) -> dict[str, Any]:
        """The start-up JSON of ``isu sim dlms`` (this line alone)."""
        return {"protocol": "dlms", "buses": [self.describe_bus()], "control": control}

    def command(self, document: dict[str, Any]) -> dict[str, Any]:
        """One control command on this line's meters (docs/simulators.md, "DLMS")."""
        return run_command([self], document, clock=self.meter.clock, describe=self.describe)
