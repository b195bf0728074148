"""``isu sim``: run simulated meters until SIGINT/SIGTERM (DESIGN §6; docs/simulators.md).

::

    isu sim mercury230 --listen HOST:PORT [--address N] [--meters K] [--seed N] [...]
    isu sim mercury230 --serial-pty [--baud 9600] [--parity N] [--echo] [...]
    isu sim mercury200 --serial-pty [--baud 9600] [--parity N] [--echo] [...]
    isu sim dlms --listen HOST:PORT --transport hdlc|wrapper [--server-address N] [...]
    isu sim dlms --serial-pty [--baud 9600] [--parity N] [--echo] [...]
    isu sim modbus --listen HOST:PORT --map NAME|FILE [--framing tcp|rtu] [--address N] [...]
    isu sim --config FILE [--control HOST:PORT]    # protocol = "mercury230", "mercury200",
                                                   # "dlms", "modbus"

The first line on standard output is one JSON object saying where the fleet listens (ports
chosen for port 0 and pseudo-terminal devices included); logs go to standard error. Both forms
build the same validated fleet description, so an option means what the fleet file's key of the
same name means.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.config import format_validation_error
from core.errors import ConfigError
from core.tariffs import SINGLE_RATE, THREE_ZONE, TWO_ZONE
from simulators.arguments import DEFAULT_LISTEN, line_keys, load_fleet_file
from simulators.dlms.cli import add_dlms_arguments, run_dlms
from simulators.lifecycle import run_until_signal
from simulators.mercury200.cli import add_mercury200_arguments, run_mercury200
from simulators.mercury230.clock import ScaledClock
from simulators.mercury230.config import FleetConfig
from simulators.mercury230.faults import FaultMode
from simulators.mercury230.fleet import SerialFleetConfig, SimulatorFleet
from simulators.mercury230.settings import PasswordEncoding
from simulators.modbus.cli import add_modbus_arguments, run_modbus

__all__ = ["add_sim_arguments", "build_fleet_config", "run_sim"]

PROTOCOLS = ("mercury230", "mercury200", "dlms", "modbus")


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "protocol", nargs="?", choices=PROTOCOLS, help="simulate one bus of this protocol"
    )
    parser.add_argument("--config", type=Path, help="a fleet file (TOML); see deploy/sim/")
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, help="HOST:PORT of the bus (port 0: pick a free one)"
    )
    parser.add_argument(
        "--serial-pty",
        action="store_true",
        help="serve the bus on a serial pseudo-terminal instead (its device is in the JSON)",
    )
    parser.add_argument("--baud", type=int, help="line speed of --serial-pty (default 9600)")
    parser.add_argument(
        "--parity", choices=["N", "E", "O"], help="parity of --serial-pty (default N)"
    )
    parser.add_argument(
        "--echo", action="store_true", help="--serial-pty echoes requests (RS-485 adapter)"
    )
    parser.add_argument("--address", type=int, default=1, help="network address of the first meter")
    parser.add_argument("--meters", type=int, default=1, help="meters at consecutive addresses")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first meter's load")
    parser.add_argument("--history-days", type=int, default=7, help="days of history at start")
    parser.add_argument(
        "--password-encoding", choices=[e.value for e in PasswordEncoding], default="binary"
    )
    parser.add_argument("--password1", default="111111", help="level-1 password (bench use)")
    parser.add_argument("--password2", default="222222", help="level-2 password (bench use)")
    parser.add_argument(
        "--schedule",
        choices=[s.name for s in (SINGLE_RATE, TWO_ZONE, THREE_ZONE)],
        default=TWO_ZONE.name,
    )
    parser.add_argument("--time-zone", default="Europe/Moscow", help="the meters' local zone")
    parser.add_argument("--drift-s", type=float, default=0.0, help="meter clock minus true time")
    parser.add_argument("--one-direction", action="store_true", help="mask A- and R- (FF FF FF FF)")
    parser.add_argument(
        "--frozen", action="store_true", help="no load: registers stay where they start"
    )
    parser.add_argument("--fault", choices=[*(mode.value for mode in FaultMode), "exception"])
    parser.add_argument("--fault-probability", type=float, default=1.0)
    parser.add_argument("--fault-delay-s", type=float, default=3.0, help="for --fault slow")
    parser.add_argument("--control", metavar="HOST:PORT", help="JSON-lines control port")
    parser.add_argument("--start", help="simulated start time, ISO 8601 with offset")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (0: frozen)"
    )
    parser.add_argument(
        "--firmware", default="9.0.0", help="X.Y.Z; below 9 the profile pointer is a byte address"
    )
    parser.add_argument(
        "--profile-period-min", type=int, default=30, help="load profile period (0: no profile)"
    )
    parser.add_argument(
        "--extended-archives", action="store_true", help="serve the 18h day and month archives"
    )
    add_mercury200_arguments(parser)  # --model, --battery-v
    add_dlms_arguments(parser)  # --transport, --server-address, --max-info, --block-size
    add_modbus_arguments(parser)  # --map, --framing, --fault-code


def build_fleet_config(args: argparse.Namespace) -> FleetConfig:
    """The fleet the arguments describe; :class:`ConfigError` says what is wrong."""
    if args.config is not None:
        return load_fleet_file(args, SerialFleetConfig)
    if args.protocol is None:
        raise ConfigError("give a protocol (mercury230, mercury200, dlms, modbus) or --config FILE")
    if not 1 <= args.meters <= 240:
        raise ConfigError("--meters must be 1..240")
    meter: dict[str, Any] = {
        "history_days": args.history_days,
        "password_encoding": args.password_encoding,
        "password1": args.password1,
        "password2": args.password2,
        "schedule": args.schedule,
        "time_zone": args.time_zone,
        "drift_s": args.drift_s,
        "frozen": args.frozen,
        "firmware": args.firmware,
        "profile_period_min": args.profile_period_min,
        "extended_archives": args.extended_archives,
    }
    if args.one_direction:
        meter["energy_kinds"] = ["A+", "R+"]
    if args.fault is not None:
        meter["fault"] = {
            "mode": args.fault,
            "probability": args.fault_probability,
            "delay_s": args.fault_delay_s,
        }
    bus: dict[str, Any] = {
        **line_keys(args),
        "meter": [{**meter, "address": args.address + i} for i in range(args.meters)],
    }
    document: dict[str, Any] = {"protocol": args.protocol, "seed": args.seed, "bus": [bus]}
    if args.control is not None:
        document["control"] = {"listen": args.control}
    try:
        return SerialFleetConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "isu sim")) from exc


def _file_protocol(path: Path) -> object:
    """The ``protocol`` key of a fleet file (``None`` when unreadable: the loader says why)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("protocol")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _clock(args: argparse.Namespace) -> ScaledClock:
    start = None
    if args.start is not None:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError as exc:
            raise ConfigError(f"--start {args.start!r} is not ISO 8601") from exc
        if start.tzinfo is None:
            raise ConfigError("--start needs an offset (2024-03-01T12:00:00+03:00 or …Z)")
    if args.speed < 0:
        raise ConfigError("--speed must not be negative")
    return ScaledClock(start, args.speed)


async def run_sim(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM; 0 after a clean stop, 1 when the setup is unusable."""
    if args.config is None and args.protocol == "mercury200":
        return await run_mercury200(args)
    dlms_file = args.config is not None and _file_protocol(args.config) == "dlms"
    if dlms_file or (args.config is None and args.protocol == "dlms"):
        try:
            clock = _clock(args)
        except ConfigError as exc:
            print(f"isu sim: {exc}", file=sys.stderr)
            return 1
        return await run_dlms(args, clock)  # refuses a protocol given with a file as well
    modbus_file = args.config is not None and _file_protocol(args.config) == "modbus"
    if modbus_file or (args.config is None and args.protocol == "modbus"):
        try:
            clock = _clock(args)
        except ConfigError as exc:
            print(f"isu sim: {exc}", file=sys.stderr)
            return 1
        return await run_modbus(args, clock)  # refuses a protocol given with a file as well
    if args.config is not None and _file_protocol(args.config) == "mercury200":
        return await run_mercury200(args)  # refuses a protocol given as well
    return await run_until_signal(
        lambda: SimulatorFleet.from_config(build_fleet_config(args), clock=_clock(args)))
