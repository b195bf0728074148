"""The ``isu`` command (DESIGN §6). It may import every part of the product; nothing imports it.

Every command is listed in ``isu --help``, but only the command being run is imported and given
its arguments: ``isu gateway`` does not load the API, the simulators or the drivers, so a service
restarts in a fraction of the time on small site hardware.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import ConfigError
from core.logs import configure_logging

__all__ = ["build_parser", "main"]


def _read(parser: argparse.ArgumentParser) -> None:
    from isu.read import add_read_arguments

    add_read_arguments(parser)
    parser.set_defaults(handler=_run_read)


def _run_read(args: argparse.Namespace) -> int:
    from isu.read import run_read

    return asyncio.run(run_read(args))


def _sim(parser: argparse.ArgumentParser) -> None:
    from simulators.cli import add_sim_arguments

    add_sim_arguments(parser)
    parser.set_defaults(handler=_run_sim)


def _run_sim(args: argparse.Namespace) -> int:
    from simulators.cli import run_sim

    return asyncio.run(run_sim(args))


def _collector(parser: argparse.ArgumentParser) -> None:
    from collector.cli import add_collector_arguments, run

    add_collector_arguments(parser)
    parser.set_defaults(handler=run)


def _gateway(parser: argparse.ArgumentParser) -> None:
    from gateway.cli import add_gateway_arguments, run

    add_gateway_arguments(parser)
    parser.set_defaults(handler=run)


def _api(parser: argparse.ArgumentParser) -> None:
    from api.cli import add_api_arguments, run

    add_api_arguments(parser)
    parser.set_defaults(handler=run)


def _registry(parser: argparse.ArgumentParser) -> None:
    from isu.registry import add_registry_arguments, run_registry

    add_registry_arguments(parser)
    parser.set_defaults(handler=run_registry)


def _apikey(parser: argparse.ArgumentParser) -> None:
    from isu.apikey import add_apikey_arguments, run_apikey

    add_apikey_arguments(parser)
    parser.set_defaults(handler=run_apikey)


def _mqtt_user(parser: argparse.ArgumentParser) -> None:
    from isu.mqtt_users import add_mqtt_user_arguments, run_mqtt_user

    add_mqtt_user_arguments(parser)
    parser.set_defaults(handler=run_mqtt_user)


def _migrate(parser: argparse.ArgumentParser) -> None:
    from isu.migrate import add_migrate_arguments, run_migrate

    add_migrate_arguments(parser)
    parser.set_defaults(handler=run_migrate)


def _deadletter(parser: argparse.ArgumentParser) -> None:
    from gateway.deadletter_cli import add_deadletter_arguments, run_deadletter

    add_deadletter_arguments(parser)
    parser.set_defaults(handler=run_deadletter)


def _demo(parser: argparse.ArgumentParser) -> None:
    from isu.demo import add_demo_arguments, run_demo

    add_demo_arguments(parser)
    parser.set_defaults(handler=run_demo)


@dataclass(frozen=True, slots=True)
class _Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]  # imports the command, adds arguments


_COMMANDS = (
    _Command("read", "one-shot read of any meter", _read),
    _Command("sim", "simulated meters over TCP, one or a fleet from a file", _sim),
    _Command("collector", "the edge collector", _collector),
    _Command("gateway", "MQTT to TimescaleDB ingest", _gateway),
    _Command("api", "the HTTP API", _api),
    _Command("registry", "load or update the object tree (JSON or CSV)", _registry),
    _Command("migrate", "apply the database migrations of this release, or list them", _migrate),
    _Command("api-key", "create, revoke or list the HTTP API's keys", _apikey),
    _Command("mqtt-user", "create, delete or list users in the broker's password file", _mqtt_user),
    _Command("deadletter", "inspect and re-ingest dead-lettered messages", _deadletter),
    _Command("demo", "a whole simulated site end to end on the local services", _demo),
)
_NAMES = {command.name for command in _COMMANDS}


def _command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs: its first word that is not the global option or its value."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in _NAMES else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: only the command it names is configured. Without ``argv``,
    every command is (for tests and documentation)."""
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
    chosen = None if argv is None else _command_named(argv)
    for command in _COMMANDS:
        command_parser = sub.add_parser(command.name, help=command.help)
        if argv is None or command.name == chosen:
            command.configure(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
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
