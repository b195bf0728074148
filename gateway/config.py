"""The gateway's TOML configuration (``isu gateway --config FILE``; sample in ``deploy/``).

Secrets come only from files or the environment (``password_file`` / ``password_env``,
``dsn_file`` / ``dsn_env``); a ``dsn`` written in the file itself is accepted for a password-less
DSN (libpq's ``PGPASSFILE`` / ``PGPASSWORD`` then supply the password). Secrets are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from core.config import ConfigModel, load_toml, read_secret
from core.errors import ConfigError
from core.messages import TOPIC_ROOT
from core.model import ID_PATTERN
from core.validation import DEFAULT_MAX_FUTURE_S
from timeseries.retention import RetentionConfig

__all__ = [
    "BatchConfig",
    "DatabaseConfig",
    "GatewayConfig",
    "MetricsConfig",
    "MqttConfig",
    "ValidationConfig",
    "load_gateway_config",
    "parse_listen",
]

_CLIENT_ID = r"^[A-Za-z0-9._-]{1,64}$"
_GROUP = r"^[A-Za-z0-9._-]{1,64}$"


def _at_most_one(values: Mapping[str, object], section: str) -> None:
    given = [name for name, value in values.items() if value is not None]
    if len(given) > 1:
        raise ValueError(f"[{section}] takes only one of {', '.join(given)}")


class MqttConfig(ConfigModel):
    """``[mqtt]``: the broker, a stable client id for the persistent session, credentials."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(default="isu-gateway", pattern=_CLIENT_ID)
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    shared_group: str | None = Field(default=None, pattern=_GROUP)
    collectors: tuple[Annotated[str, Field(pattern=ID_PATTERN)], ...] = ()
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    session_expiry_s: int = Field(default=86_400, ge=60, le=0xFFFF_FFFF)
    receive_maximum: int = Field(default=1000, ge=1, le=65535)
    reconnect_min_s: int = Field(default=1, ge=1, le=3600)
    reconnect_max_s: int = Field(default=60, ge=1, le=3600)
    tls: bool = False
    tls_ca_file: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        _at_most_one({"password_file": self.password_file, "password_env": self.password_env},
                     "mqtt")
        if (self.password_file or self.password_env) and not self.username:
            raise ValueError("[mqtt] a password needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("[mqtt] reconnect_max_s is below reconnect_min_s")
        return self

    @property
    def topic_filters(self) -> list[str]:
        """What to subscribe: every data topic (or only the listed collectors'), shared between
        gateways when grouped."""
        if self.collectors:
            topics = [f"{TOPIC_ROOT}/{collector}/+/+" for collector in self.collectors]
        else:
            topics = [f"{TOPIC_ROOT}/+/+/+"]
        if self.shared_group:
            return [f"$share/{self.shared_group}/{topic}" for topic in topics]
        return topics

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.tls_ca_file is not None

    def read_password(self) -> str | None:
        return read_secret(self.password_file, self.password_env, "[mqtt] password")


class DatabaseConfig(ConfigModel):
    """``[database]``: exactly one of ``dsn``, ``dsn_file``, ``dsn_env``."""

    dsn: SecretStr | None = None
    dsn_file: Path | None = None
    dsn_env: str | None = None
    pool_max_size: int = Field(default=4, ge=1, le=100)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    retry_min_s: float = Field(default=0.5, gt=0, le=60)
    retry_max_s: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseConfig:
        sources = {"dsn": self.dsn, "dsn_file": self.dsn_file, "dsn_env": self.dsn_env}
        _at_most_one(sources, "database")
        if all(value is None for value in sources.values()):
            raise ValueError("[database] needs dsn, dsn_file or dsn_env")
        if self.retry_max_s < self.retry_min_s:
            raise ValueError("[database] retry_max_s is below retry_min_s")
        return self

    def beside(self, folder: Path) -> DatabaseConfig:
        """This section with a relative ``dsn_file`` taken from ``folder`` (the config file's)."""
        if self.dsn_file is None or self.dsn_file.is_absolute():
            return self
        return self.model_copy(update={"dsn_file": folder / self.dsn_file})

    def read_dsn(self) -> str:
        if self.dsn is not None:
            return self.dsn.get_secret_value()
        value = read_secret(self.dsn_file, self.dsn_env, "[database] dsn")
        if not value:
            raise ConfigError("[database] dsn: the file or variable is empty")
        return value


class BatchConfig(ConfigModel):
    """``[batch]``: a batch is written when it is full or its first message is this old;
    ``writers`` batches are written at the same time, each on its own connection."""

    max_messages: int = Field(default=500, ge=1, le=10_000)
    max_delay_ms: int = Field(default=200, ge=1, le=60_000)
    writers: int = Field(default=2, ge=1, le=16)

    @property
    def max_delay_s(self) -> float:
        return self.max_delay_ms / 1000


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


class MetricsConfig(ConfigModel):
    """``[metrics]``: Prometheus ``/metrics`` on ``listen`` (``host:port``); off when absent."""

    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @property
    def address(self) -> tuple[str, int] | None:
        return parse_listen(self.listen) if self.listen else None


class ValidationConfig(ConfigModel):
    """``[validation]``: the policy limits of the rules in ``core.validation``, applied on receipt
    and again by ``isu deadletter replay``."""

    #: A reading's ``ts`` or ``read_at`` may be at most this far after the moment it was received.
    max_future_s: int = Field(default=DEFAULT_MAX_FUTURE_S, ge=0, le=86_400)


class GatewayConfig(ConfigModel):
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    database: DatabaseConfig
    batch: BatchConfig = Field(default_factory=BatchConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    @model_validator(mode="after")
    def _pool_fits_writers(self) -> GatewayConfig:
        if self.database.pool_max_size < self.batch.writers:
            raise ValueError(
                "database.pool_max_size must be at least batch.writers "
                f"({self.database.pool_max_size} < {self.batch.writers})"
            )
        return self

    @model_validator(mode="after")
    def _window_fits_batch(self) -> GatewayConfig:
        # With manual acknowledgement the broker sends at most receive_maximum unacknowledged
        # messages: a smaller window than a batch would cap every batch below max_messages.
        if self.mqtt.protocol == "5" and self.mqtt.receive_maximum < self.batch.max_messages:
            raise ValueError(
                "mqtt.receive_maximum must be at least batch.max_messages "
                f"({self.mqtt.receive_maximum} < {self.batch.max_messages})"
            )
        return self


def load_gateway_config(path: str | Path) -> GatewayConfig:
    """Read and validate a gateway TOML file; :class:`ConfigError` names what is wrong.

    Relative ``password_file`` and ``dsn_file`` paths are taken from the file's folder, as the
    API's configuration does, so a command works the same from any directory."""
    path = Path(path)
    config = load_toml(path, GatewayConfig)
    updates: dict[str, ConfigModel] = {"database": config.database.beside(path.parent)}
    password_file = config.mqtt.password_file
    if password_file is not None and not password_file.is_absolute():
        updates["mqtt"] = config.mqtt.model_copy(
            update={"password_file": path.parent / password_file}
        )
    return config.model_copy(update=updates)
