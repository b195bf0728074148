"""The fleet file of ``isu sim --config FILE`` for Modbus meters (``protocol = "modbus"``): buses on
TCP ports (Modbus TCP or RTU framing) or serial pseudo-terminals (RTU), and their units.

::

    protocol = "modbus"
    seed = 1                        # units without their own seed count up from here
    [control]
    listen = "127.0.0.1:0"
    [[bus]]
    listen = "127.0.0.1:1502"       # or: serial_pty = true, baud, parity, echo (RTU)
    framing = "tcp"                 # "rtu": RTU frames over TCP (a transparent converter)
    map = "eastron-sdm630"          # the units' map unless their own
    units = 100                     # units 1..100; [[bus.unit]] entries describe others
    [[bus.unit]]
    unit = 7                        # within 1..units: this one instead of the generated one
    fault = { mode = "exception", code = 6, probability = 0.5 }

Validated once at start-up (frozen models, unknown keys are errors naming the key); the maps
themselves are loaded when the fleet is built (``fleet.py``). Every key and its default:
docs/simulators.md, "Modbus".
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from core.config import ConfigModel, TimeZoneName
from core.tariffs import schedule_named
from simulators.mercury230.config import ControlConfig, LineConfig
from simulators.modbus.faults import EXCEPTION_CODES, FaultMode, ModbusFault
from simulators.modbus.meter import default_serial
from simulators.modbus.unit import unit_range

__all__ = ["ModbusBusConfig", "ModbusFaultConfig", "ModbusFleetConfig", "ModbusUnitConfig"]


class ModbusFaultConfig(ConfigModel):
    """``exception`` (``code``), ``silence`` or ``slow`` (``delay_s``), on a share
    ``probability`` of the requests, optionally only those touching ``registers``."""

    mode: FaultMode
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    code: int = 4
    delay_s: float = Field(default=3.0, ge=0.0, le=600.0)
    registers: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _keys_of_the_mode(self) -> Self:
        given = self.model_fields_set
        if "code" in given and self.mode != "exception":
            raise ValueError("code goes with mode = \"exception\" only")
        if "delay_s" in given and self.mode != "slow":
            raise ValueError("delay_s goes with mode = \"slow\" only")
        if self.code not in EXCEPTION_CODES:
            raise ValueError(f"code {self.code}: one of {', '.join(map(str, EXCEPTION_CODES))}")
        if self.registers is not None and not 0 <= self.registers[0] <= self.registers[1] <= 65535:
            raise ValueError("registers = [first, last] within 0..65535")
        return self

    def to_fault(self) -> ModbusFault:
        return ModbusFault(self.mode, self.probability, self.code, self.delay_s, self.registers)


class ModbusUnitConfig(ConfigModel):
    """One simulated unit; everything but the map (when the bus has none) has a default."""

    #: Unit id; default: one above the highest so far on the bus (``units`` included), so 1
    #: for the first entry of a bus without ``units``.
    unit: int | None = Field(default=None, ge=1, le=255)
    #: A shipped map's name or a map file; default: the bus's ``map``.
    map: str | None = Field(default=None, min_length=1)
    seed: int | None = None
    time_zone: TimeZoneName = "Europe/Moscow"
    schedule: str = "two-zone"
    frozen: bool = False
    mean_power_kw: float | None = Field(default=None, ge=0.0, le=100_000.0)
    serial: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    meter_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    fault: ModbusFaultConfig | None = None

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        schedule_named(value)
        return value


class ModbusBusConfig(LineConfig):
    """A line on a TCP port (``listen``) or a serial pty (``serial_pty = true``, ``baud``,
    ``parity``, ``echo``; RTU framing), with ``units = N`` of ``map`` and/or ``[[bus.unit]]``."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    #: ``tcp`` (MBAP) or ``rtu``; default ``rtu`` on a serial pty, ``tcp`` on a TCP port.
    framing: Literal["tcp", "rtu"] | None = None
    map: str | None = Field(default=None, min_length=1)
    #: Units 1..N of the bus's map, default settings (fleets of hundreds).
    units: int = Field(default=0, ge=0, le=247)
    unit: tuple[ModbusUnitConfig, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.serial_pty and self.framing == "tcp":
            raise ValueError("a serial line carries framing = \"rtu\", not tcp")
        if self.units and self.map is None:
            raise ValueError("units = N needs the bus's map")
        if not self.units and not self.unit:
            raise ValueError("a bus has units = N or at least one [[bus.unit]]")
        allowed = unit_range(self.line_framing)
        taken: dict[int, int] = {}
        for position, (unit_id, entry) in enumerate(self._explicit()):
            where = f"unit.{position}"
            if entry.map is None and self.map is None:
                raise ValueError(f"{where}.map: required (the bus has no map)")
            if unit_id not in allowed:
                raise ValueError(f"{where}.unit: {unit_id} is outside {allowed[0]}..{allowed[-1]} "
                                 f"({self.line_framing} framing)")
            if unit_id in taken:
                raise ValueError(f"{where}.unit: {unit_id} is unit.{taken[unit_id]}'s already")
            taken[unit_id] = position
        return self

    @property
    def line_framing(self) -> Literal["tcp", "rtu"]:
        if self.framing is not None:
            return self.framing
        return "rtu" if self.serial_pty else "tcp"

    def _explicit(self) -> list[tuple[int, ModbusUnitConfig]]:
        out: list[tuple[int, ModbusUnitConfig]] = []
        for entry in self.unit:
            unit_id = entry.unit if entry.unit is not None else \
                max([self.units, *(taken for taken, _ in out)]) + 1
            out.append((unit_id, entry))
        return out

    def entries(self) -> list[tuple[int, ModbusUnitConfig]]:
        """Every unit of the bus by id: 1..units (replaced by a ``[[bus.unit]]`` of the same
        id), then the other ``[[bus.unit]]`` entries."""
        explicit = dict(self._explicit())
        generated = [(unit_id, explicit.pop(unit_id, _DEFAULT_UNIT))
                     for unit_id in range(1, self.units + 1)]
        return generated + list(explicit.items())


_DEFAULT_UNIT = ModbusUnitConfig()


class ModbusFleetConfig(ConfigModel):
    protocol: Literal["modbus"]
    #: Seed of the first unit; later units without their own seed count up from it.
    seed: int = 0
    control: ControlConfig | None = None
    bus: tuple[ModbusBusConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: dict[str, str] = {}
        for index, bus in enumerate(self.bus):
            for unit_id, entry in bus.entries():
                ident = entry.meter_id or f"modbus-{entry.serial or default_serial(index, unit_id)}"
                where = f"bus.{index} unit {unit_id}"
                if ident in seen:
                    raise ValueError(f"{where}: meter id {ident!r} is {seen[ident]}'s already")
                seen[ident] = where
        return self
