"""``isu sim modbus``: simulated Modbus meters until SIGINT/SIGTERM (docs/simulators.md, "Modbus").

::

    isu sim modbus --listen HOST:PORT --map NAME|FILE [--framing tcp|rtu] [--address N]
        [--meters K] [--seed N] [--schedule S] [--time-zone Z] [--frozen]
        [--fault exception|silence|slow --fault-code N --fault-probability P --fault-delay-s S]
        [--control HOST:PORT] [--start T] [--speed X]
    isu sim modbus --serial-pty [--baud 9600] [--parity N|E|O] [--echo] --map ...   # RTU
    isu sim --config FILE [--control HOST:PORT]     # a fleet file with protocol = "modbus"

The first line on standard output has the shape the other protocols print (``protocol``,
``buses`` with ``listen`` or ``serial``/``baud``/``parity``/``echo``, ``control``), with
``framing`` and ``units`` on each bus. ``simulators/cli.py`` shares the common options;
:func:`add_modbus_arguments` adds ``--map``, ``--framing`` and ``--fault-code``. The options
make the same validated fleet description a fleet file does (one bus), so they mean what the
file's keys of the same name mean, and the control port answers the same commands.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError
from drivers.modbus.maps import load_map
from simulators.arguments import line_keys, load_fleet_file
from simulators.lifecycle import run_until_signal
from simulators.mercury230.clock import Clock, ScaledClock
from simulators.modbus.config import ModbusFleetConfig
from simulators.modbus.faults import FAULT_MODES
from simulators.modbus.fleet import ModbusFleet
from simulators.modbus.unit import unit_range

__all__ = ["add_modbus_arguments", "build_fleet", "build_fleet_config", "run_modbus"]



def add_modbus_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``isu sim modbus`` that the other protocols do not share."""
    parser.add_argument("--map", help="modbus: the units' register map (a shipped map's name, "
                                      "e.g. eastron-sdm630, or a map file)")
    parser.add_argument("--framing", choices=["tcp", "rtu"],
                        help="modbus: Modbus TCP (MBAP) or RTU frames over TCP (default tcp; "
                             "rtu on --serial-pty)")
    parser.add_argument("--fault-code", type=int, default=4,
                        help="modbus: the exception code of --fault exception (default 4)")


def _fault(args: argparse.Namespace) -> dict[str, Any] | None:
    mode = getattr(args, "fault", None)
    if mode is None:
        return None
    if mode not in FAULT_MODES:
        raise ConfigError(f"--fault {mode}: a Modbus unit shows {', '.join(FAULT_MODES)}")
    fault: dict[str, Any] = {"mode": mode, "probability": args.fault_probability}
    if mode == "exception":
        fault["code"] = args.fault_code
    if mode == "slow":
        fault["delay_s"] = args.fault_delay_s
    return fault


def _line(args: argparse.Namespace) -> dict[str, Any]:
    if args.serial_pty and args.framing == "tcp":
        raise ConfigError("--serial-pty carries RTU framing, not --framing tcp")
    return line_keys(args)


def build_fleet_config(args: argparse.Namespace) -> ModbusFleetConfig:
    """The fleet file of ``--config`` (its ``[control]`` replaced by ``--control``), or the one
    bus the options describe; :class:`ConfigError` says in one line what is wrong."""
    if args.config is not None:
        return load_fleet_file(args, ModbusFleetConfig)
    if not args.map:
        raise ConfigError("isu sim modbus needs --map (a shipped map's name or a map file)")
    try:
        load_map(args.map)
    except ConfigError as exc:
        raise ConfigError(f"--map: {exc}") from exc
    framing = args.framing or ("rtu" if args.serial_pty else "tcp")
    allowed = unit_range(framing)
    if not 1 <= args.meters <= len(allowed):
        raise ConfigError(f"--meters must be 1..{len(allowed)}")
    last = args.address + args.meters - 1
    if args.address not in allowed or last not in allowed:
        raise ConfigError(f"--address {args.address} with --meters {args.meters}: unit ids are "
                          f"{allowed[0]}..{allowed[-1]} with {framing} framing")
    unit: dict[str, Any] = {"schedule": args.schedule, "time_zone": args.time_zone,
                            "frozen": args.frozen}
    fault = _fault(args)
    if fault is not None:
        unit["fault"] = fault
    bus = {**_line(args), "framing": framing, "map": args.map,
           "unit": [{**unit, "unit": args.address + i} for i in range(args.meters)]}
    document: dict[str, Any] = {"protocol": "modbus", "seed": args.seed, "bus": [bus]}
    if args.control is not None:
        document["control"] = {"listen": args.control}
    return _validated(document)


def _validated(document: dict[str, Any]) -> ModbusFleetConfig:
    """The options' fleet; a problem is named by its option (``--time-zone: …``), on one line."""
    try:
        return ModbusFleetConfig.model_validate(document)
    except ValidationError as exc:
        places = [error["loc"] for error in exc.errors()]
        problems = []
        for error in exc.errors():
            loc = error["loc"]
            if any(len(other) > len(loc) and other[:len(loc)] == loc for other in places):
                continue  # pydantic's echo of a deeper error ("bus: at least 1 item")
            keys = [part for part in loc if isinstance(part, str)]
            message = error["msg"]
            if keys and keys[-1] == "listen" and error["type"] == "string_pattern_mismatch":
                message = "HOST:PORT expected"
            if "fault" in keys:  # fault.delay_s is --fault-delay-s
                keys = ["-".join(k for k in keys[keys.index("fault"):] if k != "mode")]
            elif keys[:1] == ["control"]:
                keys = ["control"]
            option = f"--{keys[-1].replace('_', '-')}" if keys else "isu sim modbus"
            problems.append(f"{option}: {message}")
        raise ConfigError("; ".join(problems)) from exc


def build_fleet(args: argparse.Namespace, clock: Clock) -> ModbusFleet:
    return ModbusFleet.from_config(build_fleet_config(args), clock=clock)


async def run_modbus(args: argparse.Namespace, clock: ScaledClock) -> int:
    """Run until SIGINT or SIGTERM; 0 after a clean stop, 1 when the setup is unusable."""
    return await run_until_signal(lambda: build_fleet(args, clock))
