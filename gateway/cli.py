"""``isu gateway --config FILE``: the MQTT → TimescaleDB ingest as a service.

Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 when the gateway cannot run, 2 for a
configuration that cannot be used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import ConfigError
from gateway.config import load_gateway_config
from gateway.service import run_gateway

__all__ = ["add_gateway_arguments", "run"]

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_gateway_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", required=True, type=Path, metavar="FILE",
        help="gateway TOML configuration (see deploy/gateway.sample.toml)",
    )
    parser.add_argument(
        "--check", action="store_true",
        help="validate the configuration and its secret files, then exit",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)  # no-op if `isu` configured it
    try:
        config = load_gateway_config(args.config)
        if args.check:
            config.mqtt.read_password()
            config.database.read_dsn()
    except ConfigError as exc:
        print(f"isu gateway: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: ok")
        return 0
    return run_gateway(config)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m gateway.cli``) until ``isu`` wires the sub-command."""
    parser = argparse.ArgumentParser(prog="isu gateway", description=__doc__.splitlines()[0])
    add_gateway_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
