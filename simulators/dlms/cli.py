"""``isu sim dlms``: one simulated SPODES meter until SIGINT/SIGTERM (docs/simulators.md).

::

    isu sim dlms --listen HOST:PORT --transport hdlc|wrapper [--server-address N] [--meters K]
        [--seed N]
        [--history-days N] [--schedule S] [--time-zone Z] [--drift-s S] [--frozen]
        [--max-info N] [--block-size N] [--fault silence|corrupt_crc|slow
        --fault-probability P --fault-delay-s S] [--control HOST:PORT] [--start T] [--speed X]
    isu sim dlms --serial-pty [--baud 9600] [--parity N|E|O] [--echo] [...]   # HDLC only

The first line on standard output has the shape ``isu sim mercury230`` prints (``protocol``,
``buses`` with ``listen`` or ``serial``/``baud``/``parity``/``echo`` and ``meters``,
``control``), plus ``transport`` and ``logical_device`` on the bus. ``simulators/cli.py``
shares the common options; :func:`add_dlms_arguments` adds the DLMS ones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import ConfigError, ConnectionLostError, TransportTimeoutError
from core.obis import EnergyKind
from core.tariffs import schedule_named
from drivers.dlms.hdlc import HdlcAddress
from simulators.control import ControlServer
from simulators.dlms.application import Application
from simulators.dlms.meter import SpodesMeter, SpodesSettings
from simulators.dlms.protocol import HdlcLine, HdlcServer, LineFaults, WrapperServer
from simulators.dlms.server import DlmsTcpServer, serve_stream
from simulators.dlms.spodes import SpodesObjects
from simulators.mercury230.clock import Clock, ScaledClock
from simulators.serial import PtyPort

__all__ = ["DlmsSimulator", "add_dlms_arguments", "run_dlms"]

logger = logging.getLogger(__name__)

FAULTS = ("silence", "corrupt_crc", "slow")
DEFAULT_PHYSICAL = 0x10
#: A meter's own answer buffer: longer answers go out as GET-with-block.
DEFAULT_BLOCK_SIZE = 1024


def add_dlms_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``isu sim dlms`` that ``isu sim`` does not share with the Mercury families."""
    parser.add_argument("--transport", choices=["hdlc", "wrapper"], default="hdlc",
                        help="dlms: HDLC (over TCP or the pty) or the IEC 62056-47 wrapper")
    parser.add_argument("--server-address", type=int, default=DEFAULT_PHYSICAL,
                        help="dlms: HDLC physical address (lower part; logical device 1)")
    parser.add_argument("--max-info", type=int, default=128,
                        help="dlms: largest HDLC information field the meter grants (segments)")
    parser.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE,
                        help="dlms: longer answers go out in GET-with-block blocks of this size")


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


class DlmsSimulator:
    """One simulated SPODES meter served on TCP (HDLC or the wrapper) or on a serial pty."""

    def __init__(self, meter: SpodesMeter | Sequence[SpodesMeter], *, transport: str = "hdlc",
                 host: str = "127.0.0.1", port: int = 0, pty: PtyPort | None = None,
                 physical: int = DEFAULT_PHYSICAL, max_info: int = 128,
                 block_size: int | None = DEFAULT_BLOCK_SIZE,
                 faults: Callable[[], LineFaults] = LineFaults) -> None:
        self.meters = [meter] if isinstance(meter, SpodesMeter) else list(meter)
        if transport not in ("hdlc", "wrapper"):
            raise ConfigError(f"transport {transport!r}: hdlc or wrapper")
        if pty is not None and transport != "hdlc":
            raise ConfigError("a serial line carries HDLC, not the wrapper")
        if not self.meters or (transport == "wrapper" and len(self.meters) > 1):
            raise ConfigError("the wrapper serves one meter; several share an HDLC line")
        if not 0x10 <= physical <= 0x3FFF - len(self.meters) + 1:
            raise ConfigError(f"--server-address {physical}: the meters' addresses are 16..16383")
        if not 32 <= max_info <= 2030:
            raise ConfigError(f"--max-info {max_info}: 32..2030")
        #: The first meter (the only one but on a multi-drop line).
        self.meter = self.meters[0]
        self.objects = [SpodesObjects(m) for m in self.meters]
        self.transport = transport
        self.physical = physical
        self.max_info = max_info
        self.block_size = block_size
        self.make_faults = faults
        self.pty = pty
        self.tcp = None if pty is not None else DlmsTcpServer(
            self.make_link, host, port, kind="hdlc" if transport == "hdlc" else "wrapper")
        self._pty_task: asyncio.Task[None] | None = None

    @property
    def addresses(self) -> list[int]:
        """HDLC physical addresses of the meters, in order."""
        return [self.physical + index for index in range(len(self.meters))]

    def make_link(self) -> HdlcServer | HdlcLine | WrapperServer:
        servers: list[HdlcServer] = []
        for meter, objects, address in zip(self.meters, self.objects, self.addresses,
                                           strict=True):
            application = Application(objects, block_size=self.block_size)
            faults = self.make_faults()
            faults.supply = meter
            faults.restarted()  # failures before this connection are history
            if self.transport == "wrapper":
                return WrapperServer(application, faults=faults)
            servers.append(HdlcServer(application, HdlcAddress.server(1, address),
                                      max_info=self.max_info, faults=faults))
        return servers[0] if len(servers) == 1 else HdlcLine(servers)

    async def start(self) -> None:
        if self.tcp is not None:
            await self.tcp.start()
            return
        assert self.pty is not None
        await self.pty.open()
        link = self.make_link()
        self._pty_task = asyncio.create_task(serve_stream(_PtyStream(self.pty), link),
                                             name=f"dlms pty {self.pty.device}")

    async def close(self) -> None:
        if self.tcp is not None:
            await self.tcp.close()
        if self._pty_task is not None:
            self._pty_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pty_task
        if self.pty is not None:
            await self.pty.close()

    def describe(self, control: str | None = None) -> dict[str, Any]:
        where: dict[str, Any]
        if self.pty is not None:
            where = {"serial": self.pty.device, "baud": self.pty.baud,
                     "parity": self.pty.parity, "echo": self.pty.echo}
        else:
            assert self.tcp is not None
            where = {"listen": self.tcp.listen}
        return {
            "protocol": "dlms",
            "buses": [{
                "name": "bus-1", **where, "transport": self.transport, "logical_device": 1,
                "meters": [{"address": address, "serial": meter.settings.serial,
                            "meter_id": f"dlms-{meter.settings.serial}"}
                           for address, meter in zip(self.addresses, self.meters, strict=True)],
            }],
            "control": control,
        }

    def command(self, document: dict[str, Any]) -> dict[str, Any]:
        """The control port's commands (docs/simulators.md, "DLMS"); never raises. ``meter``
        (an HDLC address) picks one meter; without it events reach every meter."""
        name = document.get("cmd")
        try:
            seconds = float(document.get("seconds", 60))
            chosen = self._chosen(document.get("meter"))
            if name == "state":
                if "meter" in document:
                    return {"ok": True, "state": self.state(chosen[0])}
                return {"ok": True, "states": [self.state(meter) for meter in chosen]}
            if name == "advance":
                advance = getattr(self.meter.clock, "advance", None)
                if advance is None:
                    return {"ok": False, "error": "this clock cannot be advanced"}
                advance(seconds)
                return {"ok": True, "now": self.meter.now().isoformat()}
            actions: dict[str, Callable[[SpodesMeter], None]] = {
                "power_failure": lambda meter: meter.power_failure(seconds),
                "open_cover": SpodesMeter.open_cover,
                "open_case": SpodesMeter.open_case,
                "magnetic_field": lambda meter: meter.magnetic_field(seconds),
            }
            action = actions.get(str(name))
            if action is None:
                return {"ok": False, "error": f"unknown command {name!r}"}
            for meter in chosen:
                action(meter)
        except (TypeError, ValueError, LookupError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "meters": [self.addresses[self.meters.index(m)] for m in chosen]}

    def _chosen(self, address: object) -> list[SpodesMeter]:
        if address is None:
            return self.meters
        if not isinstance(address, int) or address not in self.addresses:
            raise LookupError(f"no meter at address {address!r}")
        return [self.meters[self.addresses.index(address)]]

    @staticmethod
    def state(meter: SpodesMeter) -> dict[str, Any]:
        return {
            "serial": meter.settings.serial,
            "true_time": meter.now().isoformat(),
            "meter_time": meter.meter_time().isoformat(),
            "powered": meter.powered(),
            "registers": {kind.label: {("sum" if z == 0 else f"T{z}"): meter.register(kind, z)
                                       for z in range(5)} for kind in EnergyKind},
            "load_profile_entries": len(meter.load_profile),
            "journals": {str(n): len(entries) for n, entries in meter.journals.items()},
        }


def _host_port(text: str, what: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _faults(args: argparse.Namespace) -> Callable[[], LineFaults]:
    mode = getattr(args, "fault", None)
    if mode is None:
        return LineFaults
    if mode not in FAULTS:
        raise ConfigError(f"--fault {mode}: a DLMS meter shows {', '.join(FAULTS)}")
    probability = args.fault_probability
    if not 0.0 <= probability <= 1.0 or args.fault_delay_s < 0:
        raise ConfigError("--fault-probability is 0..1 and --fault-delay-s not negative")

    def make() -> LineFaults:
        faults = LineFaults()
        if mode == "silence":
            faults.silent = True
        elif mode == "corrupt_crc":
            faults.corrupt_share = probability
        else:
            faults.delay_s = args.fault_delay_s
        return faults

    return make


def build_simulator(args: argparse.Namespace, clock: Clock) -> DlmsSimulator:
    """The meter the options describe; :class:`ConfigError` says what is wrong."""
    if args.history_days < 0:
        raise ConfigError("--history-days must not be negative")
    if not 1 <= args.meters <= 32:
        raise ConfigError("--meters must be 1..32")
    try:
        schedule = schedule_named(args.schedule)
        settings = [SpodesSettings(
            serial=f"{50000000 + args.server_address + i:08d}", seed=args.seed + i,
            history_days=args.history_days, time_zone=args.time_zone, schedule=schedule,
            drift_s=args.drift_s, frozen=args.frozen) for i in range(args.meters)]
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"isu sim dlms: {exc}") from exc
    pty = None
    if args.serial_pty:
        if args.listen != "127.0.0.1:0":
            raise ConfigError("give either --listen or --serial-pty, not both")
        pty = PtyPort(args.baud or 9600, args.parity or "N", echo=bool(args.echo))
        host, port = "127.0.0.1", 0
    else:
        if args.baud is not None or args.parity is not None or args.echo:
            raise ConfigError("--baud, --parity and --echo only go with --serial-pty")
        host, port = _host_port(args.listen, "--listen")
    return DlmsSimulator(
        [SpodesMeter(each, clock=clock) for each in settings], transport=args.transport,
        host=host, port=port,
        pty=pty, physical=args.server_address, max_info=args.max_info,
        block_size=args.block_size or None, faults=_faults(args))


async def run_dlms(args: argparse.Namespace, clock: ScaledClock) -> int:
    """Run until SIGINT or SIGTERM; 0 after a clean stop, 1 when the setup is unusable."""
    control: ControlServer | None = None
    try:
        simulator = build_simulator(args, clock)
        await simulator.start()
        if args.control is not None:
            host, port = _host_port(args.control, "--control")
            control = ControlServer(simulator.command, host, port)
            try:
                await control.start()
            except ConfigError:
                await simulator.close()
                raise
    except ConfigError as exc:
        print(f"isu sim: {exc}", file=sys.stderr)
        return 1
    try:
        print(json.dumps(simulator.describe(None if control is None else control.listen)),
              flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        if control is not None:
            await control.close()
        await simulator.close()
    return 0
