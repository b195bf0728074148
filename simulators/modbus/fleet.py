"""A fleet of simulated Modbus meters: one :class:`ModbusBus` per line and an optional control port,
started and stopped together (``isu sim --config FILE`` with ``protocol = "modbus"``, and
``isu sim modbus`` as a fleet of one bus).

::

    ModbusFleet ─┬─ ModbusBus (Modbus TCP, RTU over TCP, or RTU on a serial pty) ── units × K
                 └─ ControlServer (JSON lines, simulators/control.py → commands.py)

In-process use (tests)::

    config = load_toml("deploy/sim/modbus.sample.toml", ModbusFleetConfig)
    async with ModbusFleet.from_config(config, clock=ManualClock()) as fleet:
        fleet.describe()["buses"][0]["listen"]
        fleet.unit(3).meter.value_of("1.0.1.8.0.255")
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError
from core.tariffs import schedule_named
from drivers.modbus.maps import RegisterMap, load_map
from simulators.lifecycle import BusFleet
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.config import parse_listen
from simulators.modbus.commands import run_command
from simulators.modbus.config import ModbusBusConfig, ModbusFleetConfig
from simulators.modbus.meter import ModbusMeter, default_serial
from simulators.modbus.server import ModbusBus
from simulators.modbus.unit import ModbusUnit
from simulators.serial import PtyPort

__all__ = ["ModbusFleet", "bus_from_config"]

def bus_from_config(config: ModbusBusConfig, *, bus_index: int, seed: int,
                    clock: Clock) -> ModbusBus:
    """The line ``config`` describes, its units seeded from ``seed`` on (unless their own);
    :class:`ConfigError` names the key of a map that cannot be loaded or a bad unit."""
    maps: dict[str, RegisterMap] = {}
    units = []
    for position, (unit_id, entry) in enumerate(config.entries()):
        reference = entry.map or config.map
        assert reference is not None  # the config checked it
        where = f"bus.{bus_index} unit {unit_id} map" if entry.map else f"bus.{bus_index}.map"
        try:
            register_map = maps.get(reference) or load_map(reference)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        maps[reference] = register_map
        try:
            meter = ModbusMeter(register_map, unit_id, clock=clock,
                                seed=entry.seed if entry.seed is not None else seed + position,
                                time_zone=entry.time_zone, schedule=schedule_named(entry.schedule),
                                frozen=entry.frozen, mean_power_kw=entry.mean_power_kw,
                                serial=entry.serial or default_serial(bus_index, unit_id))
        except (ValueError, LookupError) as exc:
            raise ConfigError(f"bus.{bus_index} unit {unit_id}: {exc}") from exc
        units.append(ModbusUnit(meter, meter_id=entry.meter_id,
                                fault=None if entry.fault is None else entry.fault.to_fault()))
    pty = None
    host, port = "127.0.0.1", 0
    if config.serial_pty:
        pty = PtyPort(config.baud, config.parity, echo=config.echo)
    else:
        host, port = parse_listen(config.listen)
    return ModbusBus(units, framing=config.line_framing, host=host, port=port, pty=pty,
                     name=config.name or f"bus-{bus_index + 1}")


class ModbusFleet(BusFleet[ModbusBus]):
    """Lines of Modbus units and an optional control port, started and stopped together."""

    protocol = "modbus"

    def bus_clock(self, bus: ModbusBus) -> Clock:
        return bus.units[0].meter.clock

    @classmethod
    def from_config(cls, config: ModbusFleetConfig, *,
                    clock: Clock = system_clock) -> ModbusFleet:
        """The fleet a validated fleet file describes; :class:`ConfigError` for what the
        schema cannot see (maps, serials that do not fit)."""
        buses = []
        seed = config.seed
        for index, bus_config in enumerate(config.bus):
            bus = bus_from_config(bus_config, bus_index=index, seed=seed, clock=clock)
            buses.append(bus)
            seed += len(bus.units)
        control = None if config.control is None else parse_listen(config.control.listen)
        return cls(buses, control=control, clock=clock)

    def summary(self) -> str:
        return f"{len(self.units)} simulated Modbus unit(s)"

    # -- units and control ---------------------------------------------------------------------

    @property
    def units(self) -> list[ModbusUnit]:
        return [unit for bus in self.buses for unit in bus.units]

    def unit(self, key: int | str, bus: int | None = None) -> ModbusUnit:
        """A unit by unit id (``bus`` index when ids repeat), meter id or serial; ``KeyError``
        when there is none or the key is ambiguous."""
        lines = self.buses if bus is None else [self.buses[bus]]
        found = [unit for line in lines for unit in line.units
                 if (unit.unit == key if isinstance(key, int)
                     else key in (unit.meter_id, unit.meter.serial))]
        if len(found) != 1:
            problem = "no unit" if not found else f"{len(found)} units"
            raise KeyError(f"{problem} match {key!r}" + ("" if bus is None else f" on bus {bus}"))
        return found[0]

    def command(self, document: dict[str, Any]) -> dict[str, Any]:
        """Run one control command (docs/simulators.md, "Modbus"); never raises."""
        return run_command(self.buses, document, clock=self.clock, describe=self.describe)
