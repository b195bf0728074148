"""Control commands of a Mercury 230 fleet (the JSON-lines control port; docs/simulators.md).

Every command is a JSON object; ``cmd`` defaults to ``fault`` when a ``fault`` key is present.
``meter`` names a meter by address (number), meter id or serial (string), or ``"*"`` for all;
``bus`` (index from 0) disambiguates an address used on several buses. Answers carry
``"ok": true`` and the result, or ``"ok": false`` and ``error``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.model import format_utc
from simulators.control import CommandError, dispatch
from simulators.mercury230.faults import Fault
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.settings import parse_kind

if TYPE_CHECKING:
    from simulators.mercury230.fleet import SimulatorFleet

__all__ = ["COMMANDS", "run_command"]


def run_command(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    return dispatch(COMMANDS, fleet, document)


def _meters(fleet: SimulatorFleet, document: dict[str, Any]) -> list[SimulatedMeter]:
    if "meter" not in document:
        raise CommandError('which meter? give "meter": address, meter id, serial or "*"')
    key = document["meter"]
    bus = document.get("bus")
    if bus is not None and not (isinstance(bus, int) and 0 <= bus < len(fleet.buses)):
        raise CommandError(f"no bus {bus!r}; buses are 0..{len(fleet.buses) - 1}")
    if key == "*":
        servers = fleet.buses if bus is None else [fleet.buses[bus]]
        return [meter for server in servers for meter in server.bus.meters]
    if not isinstance(key, int | str) or isinstance(key, bool):
        raise CommandError('"meter" is an address, a meter id, a serial or "*"')
    return [fleet.meter(key, bus)]


def _list(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    return {"now": format_utc(fleet.clock()), **fleet.describe()}


def _state(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    if "meter" not in document:
        return {"states": [meter.snapshot() for meter in fleet.meters]}
    meters = _meters(fleet, document)
    if len(meters) == 1 and document["meter"] != "*":
        return {"state": meters[0].snapshot()}
    return {"states": [meter.snapshot() for meter in meters]}


def _fault(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    meters = _meters(fleet, document)
    fault = None if document.get("fault") is None else Fault.from_json(document)
    for meter in meters:
        meter.fault = fault
    return {
        "meters": [meter.meter_id for meter in meters],
        "fault": None if fault is None else fault.as_json(),
    }


def _set_register(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    kind = parse_kind(str(document["kind"]))
    zone, wh = int(document["zone"]), int(document["wh"])
    meters = _meters(fleet, document)
    for meter in meters:
        meter.set_register(kind, zone, wh)
    return {"meters": [meter.meter_id for meter in meters]}


def _pin(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    values = document.get("values")
    if not isinstance(values, dict):
        raise CommandError('"values" is an object of instant values, e.g. {"u1": "241.28"}')
    meters = _meters(fleet, document)
    for meter in meters:
        meter.pin_instant(**{str(name): str(value) for name, value in values.items()})
    return {"meters": [meter.meter_id for meter in meters]}


def _unpin(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    meters = _meters(fleet, document)
    for meter in meters:
        meter.unpin_instant()
    return {"meters": [meter.meter_id for meter in meters]}


def _freeze(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    meters = _meters(fleet, document)
    for meter in meters:
        meter.freeze()
    return {"meters": [meter.meter_id for meter in meters]}


def _event(method: str) -> Callable[[SimulatorFleet, dict[str, Any]], dict[str, Any]]:
    def run(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
        duration_s = float(document.get("seconds", 60))
        meters = _meters(fleet, document)
        for meter in meters:
            getattr(meter, method)(duration_s)
        return {"meters": [meter.meter_id for meter in meters]}

    return run


def _correct_clock(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    delta_s = float(document["delta_s"])
    meters = _meters(fleet, document)
    done = {meter.meter_id: meter.correct_clock(delta_s) for meter in meters}
    return {"corrected": done}


def _advance(fleet: SimulatorFleet, document: dict[str, Any]) -> dict[str, Any]:
    advance = getattr(fleet.clock, "advance", None)
    if advance is None:
        raise CommandError("this fleet runs on a clock that cannot jump")
    seconds = float(document.get("seconds", 0))
    return {"now": format_utc(advance(seconds))}


COMMANDS: dict[str, Callable[[SimulatorFleet, dict[str, Any]], dict[str, Any]]] = {
    "list": _list,
    "state": _state,
    "fault": _fault,
    "set_register": _set_register,
    "pin": _pin,
    "unpin": _unpin,
    "freeze": _freeze,
    "advance": _advance,
    "power_failure": _event("power_failure"),
    "open_cover": _event("open_cover"),
    "magnetic_field": _event("magnetic_field"),
    "correct_clock": _correct_clock,
}
