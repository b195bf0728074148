"""A fleet of simulated Mercury 230 meters: buses on TCP ports or serial pseudo-terminals, plus an
optional control port.

In-process use (tests)::

    clock = ManualClock()
    meters = make_meters(first_address=1, count=3, clock=clock, seed=7)
    async with SimulatorFleet.single_bus(meters) as fleet:
        port = fleet.buses[0].port
        fleet.meter(2).registers()
        clock.advance(900)

``isu sim --config FILE`` builds the same from a :class:`~.config.FleetConfig`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from pydantic import Field

from core.errors import ConfigError
from simulators.control import ControlServer
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.commands import run_command
from simulators.mercury230.config import (
    FleetConfig,
    LineConfig,
    Listen,
    SimBusConfig,
    SimMeterConfig,
    parse_listen,
)
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.protocol import Bus
from simulators.mercury230.server import DEFAULT_GAP_S, BusServer, PtyBusServer
from simulators.mercury230.settings import MeterSettings

__all__ = [
    "SerialFleetConfig",
    "SerialSimBusConfig",
    "SimulatorFleet",
    "default_serial",
    "make_meters",
    "meter_from_config",
]

logger = logging.getLogger(__name__)


def default_serial(bus_index: int, address: int) -> str:
    """A unique eight-digit serial for a meter configured without one."""
    return f"{30_000_000 + bus_index * 1000 + address:08d}"


def make_meters(
    first_address: int = 1,
    count: int = 1,
    *,
    clock: Clock = system_clock,
    seed: int = 0,
    frozen: bool = False,
    **settings: Any,
) -> list[SimulatedMeter]:
    """``count`` meters at consecutive addresses; ``settings`` go to every :class:`MeterSettings`.

    Seeds count up from ``seed``; serials are :func:`default_serial` of bus 0. ``frozen`` stops
    their load, so their registers stay put (and can be pinned with ``set_register``).
    """
    meters = []
    for offset in range(count):
        address = first_address + offset
        meter_settings = MeterSettings(
            **{"serial": default_serial(0, address), **settings},
            address=address,
            seed=seed + offset,
        )
        meter = SimulatedMeter(meter_settings, clock=clock)
        if frozen:
            meter.freeze()
        meters.append(meter)
    return meters


def meter_from_config(
    config: SimMeterConfig, *, bus_index: int, position: int, seed: int, clock: Clock
) -> SimulatedMeter:
    address = config.address if config.address is not None else position + 1
    serial = default_serial(bus_index, address)
    try:
        settings = config.to_settings(default_serial=serial, default_seed=seed)
    except ValueError as exc:
        raise ConfigError(f"bus {bus_index} meter {position + 1}: {exc}") from exc
    if config.address is None and config.serial is None:
        settings = replace(settings, address=address)
    meter = SimulatedMeter(settings, clock=clock)
    if config.frozen:
        meter.freeze()
    if config.fault is not None:
        meter.fault = config.fault.to_fault()
    return meter


class SerialSimBusConfig(LineConfig, SimBusConfig):
    """A bus on a TCP port (``listen``) or on a serial pseudo-terminal (``serial_pty = true``,
    at ``baud`` and ``parity``, ``echo`` like a two-wire RS-485 adapter)."""

    listen: Listen = "127.0.0.1:0"


class SerialFleetConfig(FleetConfig):
    """The fleet file, whose buses may be on serial pseudo-terminals (what ``isu sim`` reads)."""

    bus: tuple[SerialSimBusConfig, ...] = Field(min_length=1)


def _server(bus: Bus, config: SimBusConfig) -> BusServer[Bus] | PtyBusServer[Bus]:
    if isinstance(config, SerialSimBusConfig) and config.serial_pty:
        return PtyBusServer(
            bus, baud=config.baud, parity=config.parity, echo=config.echo, gap_s=config.gap_s
        )
    host, port = parse_listen(config.listen)
    return BusServer(bus, host, port, gap_s=config.gap_s)


class SimulatorFleet:
    """Buses and an optional control port, started and stopped together."""

    protocol = "mercury230"

    def __init__(
        self,
        buses: Sequence[BusServer[Bus] | PtyBusServer[Bus]],
        *,
        control: tuple[str, int] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.buses = list(buses)
        self.clock = clock
        self.control = None if control is None else ControlServer(self.command, *control)
        self._started = False

    @classmethod
    def single_bus(
        cls,
        meters: Iterable[SimulatedMeter],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        control: tuple[str, int] | None = None,
        gap_s: float = DEFAULT_GAP_S,
    ) -> SimulatorFleet:
        meters = list(meters)
        clock = meters[0].clock if meters else system_clock
        bus = BusServer(Bus(meters, name="bus-1"), host, port, gap_s=gap_s)
        return cls([bus], control=control, clock=clock)

    @classmethod
    def from_config(cls, config: FleetConfig, *, clock: Clock = system_clock) -> SimulatorFleet:
        servers = []
        seed = config.seed
        for bus_index, bus_config in enumerate(config.bus):
            name = bus_config.name or f"bus-{bus_index + 1}"
            bus = Bus([], name=name)
            for position, meter_config in enumerate(bus_config.meter):
                meter = meter_from_config(
                    meter_config, bus_index=bus_index, position=position, seed=seed, clock=clock
                )
                seed += 1
                try:
                    bus.add(meter)
                except ValueError as exc:
                    raise ConfigError(str(exc)) from exc
            servers.append(_server(bus, bus_config))
        control = None if config.control is None else parse_listen(config.control.listen)
        return cls(servers, control=control, clock=clock)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            for server in self.buses:
                await server.start()
            if self.control is not None:
                await self.control.start()
        except BaseException:
            await self.close()
            raise
        self._started = True
        logger.info(
            "%d simulated meter(s) on %d bus(es), control %s",
            len(self.meters),
            len(self.buses),
            "off" if self.control is None else self.control.listen,
        )

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
        for server in self.buses:
            await server.close()
        self._started = False

    async def __aenter__(self) -> SimulatorFleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- meters --------------------------------------------------------------------------------

    @property
    def meters(self) -> list[SimulatedMeter]:
        return [meter for server in self.buses for meter in server.bus.meters]

    def meter(self, key: int | str, bus: int | None = None) -> SimulatedMeter:
        """A meter by network address (``int``; ``bus`` index when addresses repeat), meter id
        or serial number. ``KeyError`` when there is none or the key is ambiguous."""
        servers = self.buses if bus is None else [self.buses[bus]]
        candidates = [meter for server in servers for meter in server.bus.meters]
        if isinstance(key, int) and not isinstance(key, bool):
            found = [meter for meter in candidates if meter.address == key]
        else:
            found = [meter for meter in candidates if key in (meter.meter_id, meter.serial)]
        if len(found) != 1:
            problem = "no meter" if not found else f"{len(found)} meters"
            raise KeyError(f"{problem} match {key!r}" + ("" if bus is None else f" on bus {bus}"))
        return found[0]

    def describe(self) -> dict[str, Any]:
        """Where the fleet listens: the first line ``isu sim`` prints (``listen`` for a TCP bus;
        ``serial``, ``baud``, ``parity``, ``echo`` for a bus on a pseudo-terminal)."""
        return {
            "protocol": self.protocol,
            "buses": [
                {
                    "name": server.bus.name,
                    **server.where(),
                    "meters": [
                        {
                            "address": meter.address,
                            "serial": meter.serial,
                            "meter_id": meter.meter_id,
                        }
                        for meter in server.bus.meters
                    ],
                }
                for server in self.buses
            ],
            "control": None if self.control is None else self.control.listen,
        }

    def command(self, document: dict[str, Any]) -> dict[str, Any]:
        """Run one control command (docs/simulators.md); never raises."""
        return run_command(self, document)
