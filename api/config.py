"""Configuration of ``isu api``: one TOML file, validated once at start-up.

::

    time_zone = "Europe/Moscow"          # fallback for a meter whose own zone is unknown
    key_cache_s = 30                     # an API key in force is re-checked after this long

    [http]
    host = "127.0.0.1"
    port = 8080

    [database]
    dsn_file = "/etc/isu/api.dsn"        # or dsn = "postgresql://…"; relative to this file
    max_connections = 10

The DSN may carry a password, so it is a secret: it is never logged nor shown in errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from core.config import ConfigModel, TimeZoneName, load_toml, read_secret

__all__ = ["DEFAULT_TIME_ZONE", "ApiConfig", "DatabaseConfig", "HttpConfig", "load_api_config"]

#: The object time zone when nothing else is known (DESIGN §3).
DEFAULT_TIME_ZONE = "Europe/Moscow"


class HttpConfig(ConfigModel):
    """Where the HTTP server listens; port 0 takes any free port."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)


class DatabaseConfig(ConfigModel):
    """The TimescaleDB the gateway fills (a read replica serves as well)."""

    dsn: SecretStr | None = None
    dsn_file: Path | None = None
    #: The primary, for the API's one write (the ATS 80020 export's message counter) when
    #: ``dsn`` is a read replica (docs/scale-out.md); without it that write goes to ``dsn``.
    primary_dsn: SecretStr | None = None
    primary_dsn_file: Path | None = None
    min_connections: int = Field(default=1, ge=0, le=100)
    max_connections: int = Field(default=10, ge=1, le=100)
    #: How long a request waits for a pooled connection before it is answered 503.
    acquire_timeout_s: float = Field(default=3.0, gt=0, le=60)
    #: The server aborts a statement running longer than this.
    statement_timeout_s: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.dsn is None) == (self.dsn_file is None):
            raise ValueError("give exactly one of dsn and dsn_file")
        if self.primary_dsn is not None and self.primary_dsn_file is not None:
            raise ValueError("give at most one of primary_dsn and primary_dsn_file")
        if self.min_connections > self.max_connections:
            raise ValueError("min_connections exceeds max_connections")
        return self

    def resolved_dsn(self) -> str:
        """The DSN itself, read from ``dsn_file`` when that is how it is given."""
        if self.dsn is not None:
            return self.dsn.get_secret_value()
        value = read_secret(self.dsn_file, None, "database.dsn_file")
        assert value is not None  # guaranteed by _one_source
        return value

    def resolved_primary_dsn(self) -> str | None:
        """The primary's DSN for the API's writes, or ``None`` when they go to ``dsn``."""
        if self.primary_dsn is not None:
            return self.primary_dsn.get_secret_value()
        return read_secret(self.primary_dsn_file, None, "database.primary_dsn_file")


class ApiConfig(ConfigModel):
    """The whole ``isu api`` configuration."""

    http: HttpConfig = HttpConfig()
    database: DatabaseConfig
    time_zone: TimeZoneName = DEFAULT_TIME_ZONE
    #: How long a key found in force is trusted without asking the database again; a revoked
    #: key stops working within this time. 0 checks every request.
    key_cache_s: float = Field(default=30.0, ge=0, le=3600)


def load_api_config(path: str | Path) -> ApiConfig:
    """Read and validate ``path``; a relative ``dsn_file`` is taken from the file's folder.

    Raises :class:`ConfigError` saying what is wrong, including an unreadable ``dsn_file``.
    """
    path = Path(path)
    config = load_toml(path, ApiConfig)
    relative = {key: path.parent / value for key in ("dsn_file", "primary_dsn_file")
                if (value := getattr(config.database, key)) is not None
                and not value.is_absolute()}
    if relative:
        database = config.database.model_copy(update=relative)
        config = config.model_copy(update={"database": database})
    config.database.resolved_dsn()
    config.database.resolved_primary_dsn()
    return config
