"""Control commands of simulated SPODES meters (the JSON-lines control port; docs/simulators.md).

The commands and their keys are those of the Mercury 230 fleet (``simulators.mercury230
.commands``) where a SPODES meter has the same thing, plus ``open_case`` and ``access_denied``.
``meter`` names a meter by HDLC address (a number), meter id or serial (strings), or ``"*"``;
without ``meter`` a command reaches every meter (as ``isu sim dlms`` always did). ``bus`` (index
from 0) limits it to one bus, and tells apart an address used on several. Answers name the
meters reached by HDLC address (``meters``), carry ``"ok": true`` and the result, or
``"ok": false`` and ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.model import format_utc
from core.obis import EnergyKind
from simulators.control import CommandError, dispatch
from simulators.dlms.faults import DlmsFault
from simulators.dlms.meter import SpodesMeter
from simulators.dlms.spodes import SHIFT_LIMIT_S
from simulators.mercury230.clock import Clock
from simulators.mercury230.load import ConstantLoad
from simulators.mercury230.settings import parse_kind

if TYPE_CHECKING:
    from simulators.dlms.simulator import DlmsSimulator

__all__ = ["COMMANDS", "run_command"]


@dataclass(frozen=True, slots=True)
class _Fleet:
    buses: Sequence[DlmsSimulator]
    clock: Clock
    describe: Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Target:
    """One meter: its line and its position there."""

    bus: DlmsSimulator
    index: int

    @property
    def meter(self) -> SpodesMeter:
        return self.bus.meters[self.index]

    @property
    def address(self) -> int:
        return self.bus.addresses[self.index]

    @property
    def meter_id(self) -> str:
        return self.bus.meter_ids[self.index]


Handler = Callable[[_Fleet, dict[str, Any]], dict[str, Any]]


def run_command(buses: Sequence[DlmsSimulator], document: dict[str, Any], *, clock: Clock,
                describe: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one command on the meters of ``buses``; never raises. ``describe`` gives the
    start-up JSON (``list``), ``clock`` is the meters' clock (``advance``)."""
    return dispatch(COMMANDS, _Fleet(buses, clock, describe), document)


def _targets(fleet: _Fleet, document: dict[str, Any]) -> list[_Target]:
    bus = document.get("bus")
    if bus is not None and not (isinstance(bus, int) and not isinstance(bus, bool)
                                and 0 <= bus < len(fleet.buses)):
        raise CommandError(f"no bus {bus!r}; buses are 0..{len(fleet.buses) - 1}")
    lines = fleet.buses if bus is None else [fleet.buses[bus]]
    every = [_Target(line, index) for line in lines for index in range(len(line.meters))]
    key = document.get("meter")
    if key is None or key == "*":
        return every
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise CommandError('"meter" is an HDLC address, a meter id, a serial or "*"')
    if isinstance(key, int):
        found = [target for target in every if target.address == key]
        what = f"address {key}"
    else:
        found = [t for t in every if key in (t.meter_id, t.meter.settings.serial)]
        what = repr(key)
    if not found:
        raise CommandError(f"no meter at {what}" + ("" if bus is None else f" on bus {bus}"))
    if len(found) > 1:
        raise CommandError(f"{len(found)} meters match {what}: add \"bus\"")
    return found


def _addresses(targets: list[_Target]) -> dict[str, Any]:
    return {"meters": [target.address for target in targets]}


def _snapshot(target: _Target) -> dict[str, Any]:
    meter = target.meter
    fault = target.bus.faults[target.index]
    return {
        "meter_id": target.meter_id,
        "address": target.address,
        "bus": target.bus.name,
        "serial": meter.settings.serial,
        "true_time": meter.now().isoformat(),
        "meter_time": meter.meter_time().isoformat(),
        "drift_s": meter.drift_s,
        "powered": meter.powered(),
        "fault": None if fault is None else fault.as_json(),
        "registers": {kind.label: {("sum" if z == 0 else f"T{z}"): meter.register(kind, z)
                                   for z in range(5)} for kind in EnergyKind},
        "load_profile_entries": len(meter.load_profile),
        "journals": {str(n): len(entries) for n, entries in meter.journals.items()},
        "tamper": {name: counter.count for name, counter in meter.tamper.items()},
    }


def _list(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    return {"now": format_utc(fleet.clock()), **fleet.describe()}


def _state(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    targets = _targets(fleet, document)
    if document.get("meter") not in (None, "*"):
        return {"state": _snapshot(targets[0])}
    return {"states": [_snapshot(target) for target in targets]}


def _fault(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    fault = None if document.get("fault") is None else DlmsFault.from_json(document)
    targets = _targets(fleet, document)
    for target in targets:
        target.bus.set_fault(target.index, fault)
    return {**_addresses(targets), "fault": None if fault is None else fault.as_json()}


def _set_register(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    kind = parse_kind(str(document["kind"]))
    zone, wh = int(document["zone"]), int(document["wh"])
    targets = _targets(fleet, document)
    for target in targets:
        target.meter.set_register(kind, zone, wh)
    return _addresses(targets)


def _freeze(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    targets = _targets(fleet, document)
    for target in targets:
        target.meter.load = ConstantLoad()
    return _addresses(targets)


def _advance(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    advance = getattr(fleet.clock, "advance", None)
    if advance is None:
        raise CommandError("this clock cannot be advanced")
    return {"now": format_utc(advance(float(document.get("seconds", 0))))}


def _event(action: Callable[[SpodesMeter, float], None]) -> Handler:
    def run(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
        duration_s = float(document.get("seconds", 60))
        targets = _targets(fleet, document)
        for target in targets:
            action(target.meter, duration_s)
        return _addresses(targets)

    return run


def _correct_clock(fleet: _Fleet, document: dict[str, Any]) -> dict[str, Any]:
    delta_s = round(float(document["delta_s"]))
    if abs(delta_s) > SHIFT_LIMIT_S:
        raise CommandError(f"delta_s {delta_s}: a SPODES meter shifts its clock by at most "
                           f"±{SHIFT_LIMIT_S} s")
    targets = _targets(fleet, document)
    for target in targets:
        target.meter.shift_time(delta_s)
    return {"corrected": {target.meter_id: True for target in targets}}


COMMANDS: dict[str, Handler] = {
    "list": _list,
    "state": _state,
    "fault": _fault,
    "set_register": _set_register,
    "freeze": _freeze,
    "advance": _advance,
    "power_failure": _event(lambda meter, seconds: meter.power_failure(seconds)),
    "open_cover": _event(lambda meter, _: meter.open_cover()),
    "open_case": _event(lambda meter, _: meter.open_case()),
    "magnetic_field": _event(lambda meter, seconds: meter.magnetic_field(seconds)),
    "access_denied": _event(lambda meter, _: meter.access_denied()),
    "correct_clock": _correct_clock,
}
