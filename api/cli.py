"""``isu api --config FILE``: run the HTTP API under uvicorn until SIGINT or SIGTERM.

The ``isu`` command wires this in with :func:`add_api_arguments` and :func:`run`;
``python -m api --config FILE`` does the same on its own.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from api.app import create_app
from api.config import ApiConfig, load_api_config
from core.errors import ConfigError, IsuError

__all__ = ["add_api_arguments", "run", "serve"]

logger = logging.getLogger(__name__)


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE",
        help="TOML configuration ([http], [database]; see deploy/api.sample.toml)",
    )


def serve(config: ApiConfig) -> None:
    """Serve the API on ``config.http`` until a signal stops it.

    Raises :class:`ConfigError` when the DSN cannot be read or the server cannot start (the
    address is taken, for instance; uvicorn has logged why).
    """
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.http.host,
            port=config.http.port,
            log_config=None,  # keep the process's logging; uvicorn's loggers propagate to it
            lifespan="on",
            server_header=False,
        )
    )
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits the process when it cannot start
        raise ConfigError(
            f"the API could not start on {config.http.host}:{config.http.port}"
        ) from exc


def _ensure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def run(args: argparse.Namespace) -> int:
    """Exit status 1 when the configuration or the start failed, else 0.

    After SIGTERM or SIGINT uvicorn shuts down cleanly and then re-raises the signal, so the
    process ends by that signal (the Unix convention; systemd counts SIGTERM as a clean stop).
    """
    _ensure_logging()
    try:
        serve(load_api_config(args.config))
    except IsuError as exc:
        print(f"isu api: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="isu api", description="Run the HTTP API.")
    add_api_arguments(parser)
    return run(parser.parse_args(argv))
