"""A running set of Mercury 200 buses with an optional control port (DESIGN §6 ``isu sim``).

::

    Fleet200 ─┬─ BusServer200 (TCP) ── Bus200 ── SimulatedMeter200 × K
              └─ ControlServer (JSON lines, simulators/control.py)

Control commands (JSON lines, ``simulators.control``): ``{"cmd": "state"}`` → every meter's
state; ``{"cmd": "fault", "address": A, "fault": "silence", "probability": 1}`` and
``{"cmd": "clear_fault", "address": A}``; ``{"cmd": "event", "address": A, "event":
"cover_open"}`` stamps a last event (power_off, power_on, cover_open, cover_close) now.
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError
from simulators.control import ControlServer
from simulators.listener import TcpListener
from simulators.mercury200.meter import SimulatedMeter200
from simulators.mercury200.server import BusServer200
from simulators.mercury230.faults import Fault, FaultMode

__all__ = ["Fleet200"]


class Fleet200:
    def __init__(self, buses: list[BusServer200], control: ControlServer | None = None) -> None:
        self.buses = buses
        self.control = control

    @classmethod
    def with_control(cls, buses: list[BusServer200], host: str, port: int) -> Fleet200:
        fleet = cls(buses)
        fleet.control = ControlServer(fleet.command, host, port)
        return fleet

    async def start(self) -> None:
        started: list[TcpListener] = []
        try:
            for server in [*self.buses, *([self.control] if self.control else [])]:
                await server.start()
                started.append(server)
        except ConfigError:
            for server in started:
                await server.close()
            raise

    async def close(self) -> None:
        for server in [*self.buses, *([self.control] if self.control else [])]:
            await server.close()

    def describe(self) -> dict[str, Any]:
        """Where the fleet listens: the first line ``isu sim mercury200`` prints."""
        return {
            "protocol": "mercury200",
            "buses": [
                {"name": server.bus.name, "listen": server.listen, "meters": server.bus.describe()}
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
