"""Addresses of the local services started by ``deploy/local/services.sh``.

The script writes ``.local/services.json`` at the top of the checkout (or where
``ISU_SERVICES_FILE`` points)::

    {"mqtt": {"host": "127.0.0.1", "port": 18830},
     "postgres": {"host": "127.0.0.1", "port": 15432, "user": "postgres", "dbname": "isu",
                  "dsn": "postgresql://postgres@127.0.0.1:15432/isu"}}

The demo and the tests read it; production services take their addresses from their own
configuration files instead.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ConfigError

__all__ = [
    "LocalServices",
    "MqttAddress",
    "PostgresAddress",
    "free_port",
    "load_local_services",
    "services_file",
]


class MqttAddress(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int


class PostgresAddress(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    user: str
    dbname: str
    dsn: str

    def dsn_for(self, dbname: str) -> str:
        """The DSN of another database on the same server."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"


class LocalServices(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    mqtt: MqttAddress
    postgres: PostgresAddress


def services_file(start: Path | None = None) -> Path:
    """Where the services file is: ``$ISU_SERVICES_FILE``, else ``.local/services.json`` of the
    checkout that contains ``start`` (default: the current directory)."""
    override = os.environ.get("ISU_SERVICES_FILE")
    if override:
        return Path(override)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "deploy" / "local").is_dir():
            return folder / ".local" / "services.json"
    return here / ".local" / "services.json"


def load_local_services(path: Path | None = None) -> LocalServices:
    path = path or services_file()
    try:
        return LocalServices.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no local services file; run deploy/local/services.sh start"
        ) from exc
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"{path}: unreadable local services file: {exc}") from exc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (for the demo, the benches and the tests' own servers)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
