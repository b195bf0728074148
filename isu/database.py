"""Which database an administrative command (``isu registry``, ``isu api-key``…) works on.

``--config FILE`` names the gateway's or the API's TOML file; its ``[database]`` section is read
with the gateway's rules (exactly one of ``dsn``, ``dsn_file``, ``dsn_env``; a relative
``dsn_file`` is taken from the file's folder). Without it, ``$ISU_DATABASE_DSN`` is used.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from core.config import format_validation_error
from core.errors import ConfigError
from gateway.config import DatabaseConfig

__all__ = ["DSN_ENV", "add_database_argument", "database_dsn"]

DSN_ENV = "ISU_DATABASE_DSN"


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"the gateway's or the API's TOML file, for its [database] (default: ${DSN_ENV})",
    )


def database_dsn(config: Path | None) -> str:
    """The DSN; :class:`ConfigError` names the file, the key or the variable that is wrong."""
    if config is None:
        dsn = os.environ.get(DSN_ENV, "").strip()
        if not dsn:
            raise ConfigError(f"no database: give --config FILE or set ${DSN_ENV}")
        return dsn
    try:
        document = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{config}: no such configuration file") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{config}: cannot be read: {exc}") from exc
    section = document.get("database")
    if not isinstance(section, dict):
        raise ConfigError(f"{config}: has no [database] section")
    try:
        database = DatabaseConfig.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"{config} [database]")) from exc
    return database.beside(config.parent).read_dsn()
