"""``isu collector --config FILE``: the edge collector from the command line."""

from __future__ import annotations

import argparse
import logging
import sys

from collector.config import load_config
from collector.service import run_collector
from core.errors import ConfigError

__all__ = ["add_collector_arguments", "run"]

logger = logging.getLogger(__name__)


def add_collector_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help="collector configuration (TOML); see deploy/collector.sample.toml",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the configuration and exit (0 when it is usable)",
    )


def run(args: argparse.Namespace) -> int:
    """0 after a clean stop (SIGINT/SIGTERM) or a good ``--check``; 2 for a configuration that
    cannot be used (as every ``isu`` command); 1 when the service fails otherwise (the queue)."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        meters = sum(len(bus.meters) for bus in config.buses)
        print(
            f"{args.config}: collector {config.collector_id}, {len(config.buses)} bus(es), "
            f"{meters} meter(s): OK"
        )
        return 0
    return run_collector(config)
