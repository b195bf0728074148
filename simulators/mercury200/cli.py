"""``isu sim mercury200``: a bus of simulated Mercury 200-family meters until SIGINT/SIGTERM.

::

    isu sim mercury200 --listen HOST:PORT --address N [--meters K] [--model 206|200.02|201|203]
        [--seed N] [--history-days N] [--schedule S] [--time-zone Z] [--drift-s S] [--frozen]
        [--fault MODE --fault-probability P --fault-delay-s S] [--control HOST:PORT]
        [--start T] [--speed X]
    isu sim mercury200 --serial-pty [--baud 9600] [--parity N|E|O] [--echo] [...]
    isu sim --config FILE [--control HOST:PORT]      # a fleet file with protocol = "mercury200"

The first line on standard output is the same JSON object as ``isu sim mercury230`` prints
(``protocol``, ``buses`` with ``name``, ``listen`` or ``serial``/``baud``/``parity``/``echo``,
``meters``; ``control``). The options build the same validated :class:`Fleet200Config` as a
fleet file (simulators/mercury200/config.py). ``--address`` is
the four-byte address of the first meter; its serial is the address (so a 200.02 takes at
most six digits); further meters take consecutive addresses. ``simulators/cli.py`` shares
most options; :func:`add_mercury200_arguments` adds the rest (``shared=False``: all of them,
for ``python -m simulators.mercury200.cli``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.config import format_validation_error
from core.errors import ConfigError
from core.tariffs import SINGLE_RATE, THREE_ZONE, TWO_ZONE
from drivers.mercury.m200.frame import MeterModel
from simulators.arguments import line_keys, load_fleet_file
from simulators.lifecycle import run_until_signal
from simulators.mercury200.config import Fleet200Config
from simulators.mercury200.fleet import Fleet200
from simulators.mercury230.clock import ScaledClock
from simulators.mercury230.faults import FaultMode

__all__ = [
    "add_mercury200_arguments",
    "build_fleet",
    "build_fleet_config",
    "main",
    "run_mercury200",
]

_FAULTS = [mode.value for mode in FaultMode if mode is not FaultMode.INTERNAL_ERROR]


def add_mercury200_arguments(parser: argparse.ArgumentParser, *, shared: bool = True) -> None:
    """Options of ``isu sim mercury200``; with ``shared`` only those ``isu sim`` lacks."""
    parser.add_argument("--model", choices=[m.value for m in MeterModel], default="206",
                        help="mercury200: 200.02 addresses by 6 serial digits, others by 8")
    parser.add_argument("--battery-v", default="3.05", help="mercury200: battery voltage")
    if shared:
        return
    parser.add_argument("--config", type=Path, help="a mercury200 fleet file (TOML)")
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any)")
    parser.add_argument("--serial-pty", action="store_true",
                        help="serve the bus on a serial pty (its device is in the JSON)")
    parser.add_argument("--baud", type=int, help="line speed of --serial-pty (default 9600)")
    parser.add_argument("--parity", choices=["N", "E", "O"], help="--serial-pty parity (N)")
    parser.add_argument("--echo", action="store_true", help="--serial-pty echoes requests")
    parser.add_argument("--address", type=int, default=1, help="address of the first meter")
    parser.add_argument("--meters", type=int, default=1, help="meters at consecutive addresses")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--history-days", type=int, default=7)
    parser.add_argument("--schedule", default=TWO_ZONE.name,
                        choices=[s.name for s in (SINGLE_RATE, TWO_ZONE, THREE_ZONE)])
    parser.add_argument("--time-zone", default="Europe/Moscow")
    parser.add_argument("--drift-s", type=float, default=0.0)
    parser.add_argument("--frozen", action="store_true", help="no load: registers stay put")
    parser.add_argument("--fault", choices=_FAULTS)
    parser.add_argument("--fault-probability", type=float, default=1.0)
    parser.add_argument("--fault-delay-s", type=float, default=3.0)
    parser.add_argument("--control", metavar="HOST:PORT")
    parser.add_argument("--start", help="simulated start time, ISO 8601 with offset")
    parser.add_argument("--speed", type=float, default=1.0)


def _host_port(text: str, what: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _clock(args: argparse.Namespace) -> ScaledClock:
    start = None
    if getattr(args, "start", None) is not None:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError as exc:
            raise ConfigError(f"--start {args.start!r} is not ISO 8601") from exc
        if start.tzinfo is None:
            raise ConfigError("--start needs an offset")
    if args.speed < 0:
        raise ConfigError("--speed must not be negative")
    return ScaledClock(start, args.speed)


def build_fleet_config(args: argparse.Namespace) -> Fleet200Config:
    """The fleet file (``--config``) or the fleet the options describe, validated the same
    way, so an option means what the fleet file's key of the same name means."""
    if getattr(args, "config", None) is not None:
        if getattr(args, "control", None) is not None:
            _host_port(args.control, "--control")
        return load_fleet_file(args, Fleet200Config)
    if not 1 <= args.meters <= 250:
        raise ConfigError("--meters must be 1..250")
    try:
        model = MeterModel(getattr(args, "model", "206"))
    except ValueError as exc:
        raise ConfigError(f"isu sim mercury200: {exc}") from exc
    limit = 10 ** model.serial_digits
    if not args.address >= 0 or args.address + args.meters > limit:
        raise ConfigError(f"--address: a {model} address is the serial's last "
                          f"{model.serial_digits} digits (0..{limit - 1})")
    try:
        battery = Decimal(getattr(args, "battery_v", "3.05"))
    except InvalidOperation as exc:
        raise ConfigError("--battery-v is not a number") from exc
    meter: dict[str, Any] = {
        "model": model.value, "schedule": args.schedule, "time_zone": args.time_zone,
        "drift_s": args.drift_s, "history_days": args.history_days, "frozen": args.frozen,
        "battery_v": str(battery),
    }
    if args.fault is not None:
        meter["fault"] = {"mode": args.fault, "probability": args.fault_probability,
                          "delay_s": args.fault_delay_s}
    line = line_keys(args)
    if "listen" in line:
        _host_port(line["listen"], "--listen")
    bus: dict[str, Any] = {
        **line,
        "meter": [{**meter, "serial": args.address + i, "seed": args.seed + i}
                  for i in range(args.meters)],
    }
    document: dict[str, Any] = {"protocol": "mercury200", "seed": args.seed, "bus": [bus]}
    if args.control is not None:
        _host_port(args.control, "--control")
        document["control"] = {"listen": args.control}
    try:
        return Fleet200Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "isu sim mercury200")) from exc


def build_fleet(args: argparse.Namespace, clock: ScaledClock | None = None) -> Fleet200:
    """The fleet the arguments describe; :class:`ConfigError` says what is wrong."""
    config = build_fleet_config(args)
    return Fleet200.from_config(config, clock=clock if clock is not None else _clock(args))


async def run_mercury200(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM; 0 after a clean stop, 1 when the setup is unusable."""
    return await run_until_signal(lambda: build_fleet(args))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.mercury200.cli")
    add_mercury200_arguments(parser, shared=False)
    return asyncio.run(run_mercury200(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
