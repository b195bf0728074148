"""The ``isu`` command (DESIGN §6). It may import every part of the product; nothing imports it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from core.errors import ConfigError
from core.logs import configure_logging

__all__ = ["build_parser", "main"]


def _add_read(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from isu.read import add_read_arguments

    parser = sub.add_parser("read", help="one-shot read of any meter")
    add_read_arguments(parser)
    parser.set_defaults(handler=_run_read)


def _run_read(args: argparse.Namespace) -> int:
    from isu.read import run_read

    return asyncio.run(run_read(args))


def _add_sim(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from simulators.cli import add_sim_arguments

    parser = sub.add_parser("sim", help="simulated meters over TCP, one or a fleet from a file")
    add_sim_arguments(parser)
    parser.set_defaults(handler=_run_sim)


def _run_sim(args: argparse.Namespace) -> int:
    from simulators.cli import run_sim

    return asyncio.run(run_sim(args))


def _add_collector(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from collector.cli import add_collector_arguments, run

    parser = sub.add_parser("collector", help="the edge collector")
    add_collector_arguments(parser)
    parser.set_defaults(handler=run)


def _add_gateway(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gateway.cli import add_gateway_arguments, run

    parser = sub.add_parser("gateway", help="MQTT to TimescaleDB ingest")
    add_gateway_arguments(parser)
    parser.set_defaults(handler=run)


def _add_api(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from api.cli import add_api_arguments, run

    parser = sub.add_parser("api", help="the HTTP API")
    add_api_arguments(parser)
    parser.set_defaults(handler=run)


def _add_registry(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from isu.registry import add_registry_arguments, run_registry

    parser = sub.add_parser("registry", help="load or update the object tree (JSON or CSV)")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run_registry)


def _add_deadletter(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gateway.deadletter_cli import add_deadletter_arguments, run_deadletter

    parser = sub.add_parser("deadletter", help="inspect and re-ingest dead-lettered messages")
    add_deadletter_arguments(parser)
    parser.set_defaults(handler=run_deadletter)


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from isu.demo import add_demo_arguments, run_demo

    parser = sub.add_parser("demo", help="a whole simulated site end to end on the local services")
    add_demo_arguments(parser)
    parser.set_defaults(handler=run_demo)


_COMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_read,
    _add_sim,
    _add_collector,
    _add_gateway,
    _add_api,
    _add_registry,
    _add_deadletter,
    _add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isu",
        description="isu-gateway: telemetry collector and gateway for intelligent metering systems",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help="TRACE, DEBUG, INFO (default, or $ISU_LOG_LEVEL), WARNING, ERROR",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"isu {args.command}: {exc}", file=sys.stderr)
        return 2 if args.command != "read" else 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
