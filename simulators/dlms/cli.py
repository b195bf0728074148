"""``isu sim dlms``: simulated SPODES meters until SIGINT/SIGTERM (docs/simulators.md).

::

    isu sim dlms --listen HOST:PORT --transport hdlc|wrapper [--server-address N] [--meters K]
        [--seed N]
        [--history-days N] [--schedule S] [--time-zone Z] [--drift-s S] [--frozen]
        [--max-info N] [--block-size N] [--configurator lls|hls-gmac]
        [--fault silence|corrupt_crc|slow
        --fault-probability P --fault-delay-s S] [--control HOST:PORT] [--start T] [--speed X]
    isu sim dlms --serial-pty [--baud 9600] [--parity N|E|O] [--echo] [...]   # HDLC only
    isu sim --config FILE [--control HOST:PORT]     # a fleet file with protocol = "dlms"

The first line on standard output has the shape ``isu sim mercury230`` prints (``protocol``,
``buses`` with ``listen`` or ``serial``/``baud``/``parity``/``echo`` and ``meters``,
``control``), plus ``transport`` and ``logical_device`` on each bus. ``simulators/cli.py``
shares the common options; :func:`add_dlms_arguments` adds the DLMS ones. The options make a
fleet of one bus (``fleet.py``), so the control port answers the same commands either way.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import ConfigError
from core.tariffs import schedule_named
from simulators.arguments import load_fleet_file
from simulators.dlms.config import DlmsFleetConfig
from simulators.dlms.faults import FAULT_MODES, DlmsFault
from simulators.dlms.fleet import DlmsFleet, run_fleet
from simulators.dlms.meter import SpodesMeter, SpodesSettings
from simulators.dlms.simulator import (
    CONFIGURATOR_MODES,
    DEFAULT_BLOCK_SIZE,
    DEFAULT_PHYSICAL,
    DlmsSimulator,
)
from simulators.mercury230.clock import Clock, ScaledClock
from simulators.serial import PtyPort

__all__ = ["DlmsSimulator", "add_dlms_arguments", "build_fleet", "build_simulator", "run_dlms"]

#: ``--fault`` modes a DLMS meter shows (the others are refused).
FAULTS = FAULT_MODES


def add_dlms_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``isu sim dlms`` that ``isu sim`` does not share with the Mercury families."""
    parser.add_argument("--transport", choices=["hdlc", "wrapper"], default="hdlc",
                        help="dlms: HDLC (over TCP or the pty) or the IEC 62056-47 wrapper")
    parser.add_argument("--server-address", type=int, default=DEFAULT_PHYSICAL,
                        help="dlms: HDLC physical address (lower part; logical device 1)")
    parser.add_argument("--max-info", type=int, default=128,
                        help="dlms: largest HDLC information field the meter grants (segments)")
    parser.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE,
                        help="dlms: longer answers go out in GET-with-block blocks of this size")
    parser.add_argument("--configurator", choices=CONFIGURATOR_MODES, default="lls",
                        help="dlms: the configurator's (SAP 48) authentication: LLS, or HLS-GMAC "
                             "with the Green Book test keys (docs/dlms.md)")


def _host_port(text: str, what: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _fault(args: argparse.Namespace) -> DlmsFault | None:
    mode = getattr(args, "fault", None)
    if mode is None:
        return None
    if mode not in FAULT_MODES:
        raise ConfigError(f"--fault {mode}: a DLMS meter shows {', '.join(FAULT_MODES)}")
    probability = args.fault_probability
    if not 0.0 <= probability <= 1.0 or args.fault_delay_s < 0:
        raise ConfigError("--fault-probability is 0..1 and --fault-delay-s not negative")
    # --fault-probability is for corrupt_crc (silence and slow hit every answer).
    return DlmsFault(mode, probability if mode == "corrupt_crc" else 1.0, args.fault_delay_s)


def build_simulator(args: argparse.Namespace, clock: Clock) -> DlmsSimulator:
    """The meters the options describe; :class:`ConfigError` says what is wrong."""
    if args.history_days < 0:
        raise ConfigError("--history-days must not be negative")
    if not 1 <= args.meters <= 32:
        raise ConfigError("--meters must be 1..32")
    fault = _fault(args)
    try:
        schedule = schedule_named(args.schedule)
        settings = [SpodesSettings(
            serial=f"{50000000 + args.server_address + i:08d}", seed=args.seed + i,
            history_days=args.history_days, time_zone=args.time_zone, schedule=schedule,
            drift_s=args.drift_s, frozen=args.frozen) for i in range(args.meters)]
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"isu sim dlms: {exc}") from exc
    pty = None
    if args.serial_pty:
        if args.listen != "127.0.0.1:0":
            raise ConfigError("give either --listen or --serial-pty, not both")
        pty = PtyPort(args.baud or 9600, args.parity or "N", echo=bool(args.echo))
        host, port = "127.0.0.1", 0
    else:
        if args.baud is not None or args.parity is not None or args.echo:
            raise ConfigError("--baud, --parity and --echo only go with --serial-pty")
        host, port = _host_port(args.listen, "--listen")
    simulator = DlmsSimulator(
        [SpodesMeter(each, clock=clock) for each in settings], transport=args.transport,
        host=host, port=port, pty=pty, physical=args.server_address, max_info=args.max_info,
        block_size=args.block_size or None, configurator=getattr(args, "configurator", "lls"))
    for index in range(len(simulator.meters)):
        simulator.set_fault(index, fault)
    return simulator


def build_fleet(args: argparse.Namespace, clock: Clock) -> DlmsFleet:
    """The fleet file of ``--config`` (its ``[control]`` replaced by ``--control``), or a fleet
    of the one bus the options describe; :class:`ConfigError` says what is wrong."""
    if args.config is None:
        control = None if args.control is None else _host_port(args.control, "--control")
        return DlmsFleet([build_simulator(args, clock)], control=control, clock=clock)
    return DlmsFleet.from_config(load_fleet_file(args, DlmsFleetConfig), clock=clock)


async def run_dlms(args: argparse.Namespace, clock: ScaledClock) -> int:
    """Run until SIGINT or SIGTERM; 0 after a clean stop, 1 when the setup is unusable."""
    try:
        fleet = build_fleet(args, clock)
    except ConfigError as exc:
        print(f"isu sim: {exc}", file=sys.stderr)
        return 1
    return await run_fleet(fleet)
