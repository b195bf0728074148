"""Control commands of simulated Modbus meters (the JSON-lines control port; docs/simulators.md).

The conventions are those of the DLMS fleet (``simulators.dlms.commands``): ``meter`` (or
``unit``) names a unit by unit id (a number), meter id or serial (strings), or ``"*"``; without
it a command reaches every unit. ``bus`` (index from 0) limits it to one bus and tells apart a
unit id used on several. Answers name the units reached by unit id (``units``), carry
``"ok": true`` and the result, or ``"ok": false`` and ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.model import format_utc
from simulators.control import CommandError, dispatch
from simulators.mercury230.clock import Clock
from simulators.modbus.faults import ModbusFault

if TYPE_CHECKING:
    from simulators.modbus.server import ModbusBus
    from simulators.modbus.unit import ModbusUnit

__all__ = ["COMMANDS", "run_command"]


@dataclass(frozen=True, slots=True)
class _Fleet:
    buses: Sequence[ModbusBus]
    clock: Clock
    describe: Callable[[], dict[str, Any]]


Handler = Callable[[_Fleet, dict[str, Any]], dict[str, Any]]


def run_command(buses: Sequence[ModbusBus], document: dict[str, Any], *, clock: Clock,
                describe: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one command on the units of ``buses``; never raises. ``describe`` gives the
    start-up JSON (``list``), ``clock`` is the units' clock (``advance``)."""
    return dispatch(COMMANDS, _Fleet(buses, clock, describe), document)


def _targets(fleet: _Fleet, document: dict[str, Any]) -> list[tuple[ModbusBus, ModbusUnit]]:
    bus = document.get("bus")
    if bus is not None and not (isinstance(bus, int) and not isinstance(bus, bool)
                                and 0 <= bus < len(fleet.buses)):
        raise CommandError(f"no bus {bus!r}; buses are 0..{len(fleet.buses) - 1}")
    lines = fleet.buses if bus is None else [fleet.buses[bus]]
    every = [(line, unit) for line in lines for unit in line.units]
    key = document.get("meter", document.get("unit"))
    if key is None or key == "*":
        return every
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise CommandError('"meter" is a unit id, a meter id, a serial or "*"')
    if isinstance(key, int):
        found = [(line, unit) for line, unit in every if unit.unit == key]
        what = f"unit {key}"
    else:
        found = [(line, unit) for line, unit in every
                 if key in (unit.meter_id, unit.meter.serial)]
        what = repr(key)
    if not found:
        raise CommandError(f"no {what}" + ("" if bus is None else f" on bus {bus}"))
    if len(found) > 1:
        raise CommandError(f"{len(found)} units match {what}: add \"bus\"")
    return found


def _units(targets: list[tuple[ModbusBus, ModbusUnit]]) -> dict[str, Any]:
    return {"units": [unit.unit for _, unit in targets]}


def _snapshot(bus: ModbusBus, unit: ModbusUnit) -> dict[str, Any]:
    return {"meter_id": unit.meter_id, "bus": bus.name, **unit.meter.snapshot(),
            "fault": None if unit.fault is None else unit.fault.as_json(), **unit.counters()}


def _list(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    return {"now": format_utc(fleet.clock()), **fleet.describe()}


def _state(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    targets = _targets(fleet, document)
    if document.get("meter", document.get("unit")) not in (None, "*"):
        return {"state": _snapshot(*targets[0])}
    return {"states": [_snapshot(*target) for target in targets]}


def _fault(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    fault = None if document.get("fault") is None else ModbusFault.from_json(document)
    targets = _targets(fleet, document)
    for _, unit in targets:
        unit.fault = fault
    return {**_units(targets), "fault": None if fault is None else fault.as_json()}


def _set(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    point = document.get("point")
    if not isinstance(point, str):
        raise CommandError('"point" is an OBIS code or an info field of the map')
    raw = document.get("value")
    value = None if raw is None else Decimal(str(raw))
    force = document.get("force", False) is True
    targets = _targets(fleet, document)
    for _, unit in targets:
        unit.meter.set_value(point, value, force=force)
    return {**_units(targets),
            "values": {str(unit.unit): format(unit.meter.value_of(point), "f")
                       for _, unit in targets}}


def _freeze(frozen: bool) -> Handler:
    def run(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
        targets = _targets(fleet, document)
        for _, unit in targets:
            unit.meter.update()  # energy so far is booked
            unit.meter.frozen = frozen
        return _units(targets)

    return run


def _reset(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    targets = _targets(fleet, document)
    for _, unit in targets:
        unit.requests = unit.answered = unit.refused = unit.silenced = 0
    return _units(targets)


def _advance(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    advance = getattr(fleet.clock, "advance", None)
    if advance is None:
        raise CommandError("this clock cannot be advanced")
    return {"now": format_utc(advance(float(document.get("seconds", 0))))}


COMMANDS: dict[str, Handler] = {
    "list": _list,
    "state": _state,
    "fault": _fault,
    "set": _set,
    "freeze": _freeze(True),
    "unfreeze": _freeze(False),
    "reset_counters": _reset,
    "advance": _advance,
}
