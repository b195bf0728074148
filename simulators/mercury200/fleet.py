"""A running set of Mercury 200 buses with an optional control port (DESIGN §6 ``isu sim``).

::

    Fleet200 ─┬─ BusServer200 (TCP) or PtyBusServer200 (serial pty) ── Bus200 ── meters × K
              └─ ControlServer (JSON lines, simulators/control.py)

:meth:`Fleet200.from_config` builds it from a fleet file (:class:`~.config.Fleet200Config`).

Control commands (JSON lines, ``simulators.control``): ``{"cmd": "state"}`` → every meter's
state; ``{"cmd": "fault", "address": A, "fault": "silence", "probability": 1}`` and
``{"cmd": "clear_fault", "address": A}``; ``{"cmd": "event", "address": A, "event":
"cover_open"}`` stamps a last event (power_off, power_on, cover_open, cover_close) now.
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError
from simulators.control import ControlServer
from simulators.mercury200.config import Bus200Config, Fleet200Config
from simulators.mercury200.meter import SimulatedMeter200
from simulators.mercury200.protocol import Bus200
from simulators.mercury200.server import BusServer200, PtyBusServer200
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.config import parse_listen
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.load import ConstantLoad

__all__ = ["Fleet200", "Server200", "bus_server"]

Server200 = BusServer200 | PtyBusServer200


def bus_server(bus: Bus200, config: Bus200Config) -> Server200:
    """The server of ``bus`` on the line ``config`` describes (TCP port or serial pty)."""
    if config.serial_pty:
        return PtyBusServer200(bus, baud=config.baud, parity=config.parity, echo=config.echo,
                               gap_s=config.gap_s)
    host, port = parse_listen(config.listen)
    return BusServer200(bus, host, port, gap_s=config.gap_s)


class Fleet200:
    def __init__(self, buses: list[Server200], control: ControlServer | None = None) -> None:
        self.buses = buses
        self.control = control

    @classmethod
    def with_control(cls, buses: list[Server200], host: str, port: int) -> Fleet200:
        fleet = cls(buses)
        fleet.control = ControlServer(fleet.command, host, port)
        return fleet

    @classmethod
    def from_config(cls, config: Fleet200Config, *, clock: Clock = system_clock) -> Fleet200:
        """The fleet a validated fleet file describes; :class:`ConfigError` for what the
        schema cannot see (two meters at one address, a serial a model cannot have)."""
        servers: list[Server200] = []
        seed = config.seed
        for index, bus_config in enumerate(config.bus):
            meters = []
            for position, meter_config in enumerate(bus_config.meter):
                try:
                    settings = meter_config.to_settings(default_seed=seed)
                except (ConfigError, ValueError) as exc:
                    raise ConfigError(f"bus {index + 1} meter {position + 1}: {exc}") from exc
                seed += 1
                load = ConstantLoad() if meter_config.frozen else None
                meters.append(SimulatedMeter200(settings, clock=clock, load=load))
            bus = Bus200(meters, name=bus_config.name or f"bus-{index + 1}")
            servers.append(bus_server(bus, bus_config))
        if config.control is None:
            return cls(servers)
        return cls.with_control(servers, *parse_listen(config.control.listen))

    async def start(self) -> None:
        started: list[Server200 | ControlServer] = []
        try:
            for server in [*self.buses, *([self.control] if self.control else [])]:
                await server.start()
                started.append(server)
        except BaseException:
            for server in started:
                await server.close()
            raise

    async def close(self) -> None:
        for server in [*self.buses, *([self.control] if self.control else [])]:
            await server.close()

    def describe(self) -> dict[str, Any]:
        """Where the fleet listens: the first line ``isu sim mercury200`` prints (``listen``
        for a TCP bus; ``serial``, ``baud``, ``parity``, ``echo`` for a bus on a pty)."""
        return {
            "protocol": "mercury200",
            "buses": [
                {"name": server.bus.name, **server.where(), "meters": server.bus.describe()}
                for server in self.buses
            ],
            "control": None if self.control is None else self.control.listen,
        }

    def meters(self) -> list[SimulatedMeter200]:
        return [meter for server in self.buses for meter in server.bus.meters]

    def command(self, document: dict[str, Any]) -> dict[str, Any]:
        """Run one control command; never raises."""
        cmd = document.get("cmd")
        try:
            if cmd == "state":
                return {"ok": True, "meters": [meter.snapshot() for meter in self.meters()]}
            meter = self._meter(document.get("address"))
            if cmd == "fault":
                fault = Fault.from_json(document)
                if fault.mode is FaultMode.INTERNAL_ERROR:
                    raise ValueError("the Mercury 200 family has no status answer")
                meter.fault = fault
            elif cmd == "clear_fault":
                meter.fault = None
            elif cmd == "event":
                meter.record_event(str(document.get("event")))
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True}

    def _meter(self, address: object) -> SimulatedMeter200:
        for meter in self.meters():
            if meter.address == address:
                return meter
        raise ValueError(f"no meter at address {address!r}")
