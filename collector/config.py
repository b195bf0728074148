"""The collector's configuration: one TOML file, validated once at start-up.

Buses carry their meters (``[[bus]]`` with nested ``[[bus.meter]]``) so that the one-request-
in-flight rule of a physical bus follows from the file's shape. A meter's ``protocol`` is looked
up in the driver registry while the file is validated, so an unknown protocol is a
:class:`~core.errors.ConfigError` that names its key. Secrets are never in the file: a password
comes from ``password_file`` or ``password_env`` and is read by :func:`read_secret` at start-up.
The full reference is ``docs/collector.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from collector.plan import StreamPlan, parse_plan_entry
from core.config import ConfigModel, TimeZoneName, load_toml
from core.config import read_secret as read_file_or_env
from core.errors import ConfigError
from core.model import ID_PATTERN, Stream
from core.registers import Capacity
from drivers.base import available_protocols, corrects_clock, supported_streams

__all__ = [
    "BusConfig",
    "CollectorConfig",
    "MeterConfig",
    "MetricsConfig",
    "MqttConfig",
    "PollConfig",
    "QueueConfig",
    "SerialBusConfig",
    "TcpBusConfig",
    "load_config",
    "read_secret",
]

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
Seconds = Annotated[float, Field(gt=0)]


class _SecretSource(ConfigModel):
    """Where a password comes from; at most one of the two."""

    password_file: Path | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _one_source(self) -> _SecretSource:
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("give password_file or password_env, not both")
        return self


def read_secret(source: _SecretSource, what: str) -> SecretStr | None:
    """The password named by ``source`` (``None`` when it names none); errors name ``what`` and
    the file or variable, never the secret."""
    key = "password_file" if source.password_file is not None else "password_env"
    value = read_file_or_env(source.password_file, source.password_env, f"{what}: {key}")
    return None if value is None else SecretStr(value)


class MqttConfig(_SecretSource):
    host: str = Field(min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    #: Defaults to the collector id (DESIGN §4: one username per collector, equal to its id).
    username: str | None = None
    keepalive_s: int = Field(default=60, ge=5, le=65535)
    tls: bool = False
    ca_file: Path | None = None
    #: Messages published and not yet confirmed by PUBACK at any one time.
    max_inflight: int = Field(default=20, ge=1, le=1000)
    #: Waiting for a CONNACK, SUBACK or PUBACK longer than this drops the connection.
    timeout_s: Seconds = 10.0
    reconnect_initial_s: Seconds = 1.0
    reconnect_max_s: Seconds = 60.0

    @model_validator(mode="after")
    def _ca_needs_tls(self) -> MqttConfig:
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file is set but tls is false")
        return self


class QueueConfig(ConfigModel):
    #: The SQLite file of the on-disk queue; its folder is created if missing.
    path: Path
    #: A message unacknowledged by the gateway this long after its last publish is sent again.
    ack_timeout_s: Seconds = 60.0
    #: The queue's bound: a warning at 80 %, an error at the bound (messages are still kept).
    max_messages: int = Field(default=1_000_000, ge=1)


class PollConfig(ConfigModel):
    #: How often each meter is read, unless the meter sets its own ``period_s``.
    period_s: Seconds = 60.0
    #: A failing meter is retried after its period, then twice that, …, at most this long.
    backoff_max_s: Seconds = 900.0
    #: A bus whose port cannot be opened is retried after this, doubling up to the maximum.
    reconnect_initial_s: Seconds = 1.0
    reconnect_max_s: Seconds = 60.0


class MeterConfig(_SecretSource):
    id: Identifier
    protocol: str
    address: int = Field(ge=0)
    level: int | None = Field(default=None, ge=0)
    password_encoding: Literal["binary", "ascii"] | None = None
    time_zone: TimeZoneName = "Europe/Moscow"
    streams: tuple[Stream, ...] = (Stream.CURRENT, Stream.INSTANT)
    period_s: Seconds | None = None
    #: Protocol-specific settings passed to the driver as they are (``[bus.meter.options]``);
    #: the driver checks them when the collector starts.
    options: dict[str, Any] = Field(default_factory=dict)
    #: Register capacity («значность», integer and fraction digits, e.g. "6.2"): a register
    #: that goes back without rolling over at it is marked ``invalid``. Without it, any
    #: decrease is.
    capacity: str | None = None
    #: ``never`` leaves the meter's clock alone; ``correct`` moves it, within the protocol's
    #: limit, when the drift measured by the ``clock`` stream exceeds ``clock_threshold_s``.
    #: When each stream is read: seconds (aligned to local time) or, for daily and monthly, a
    #: local time "HH:MM" (collector/plan.py); streams not named are read every ``period_s``.
    plan: dict[Stream, float | str] = Field(default_factory=dict)
    clock_policy: Literal["never", "correct"] = "never"
    clock_threshold_s: float = Field(default=10.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _options_once(self) -> MeterConfig:
        for key in ("level", "password_encoding"):
            if key in self.options:
                raise ValueError(f"set {key} on the meter, not in its options")
        return self

    @field_validator("capacity")
    @classmethod
    def _capacity_digits(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Capacity.parse(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _plan_fits(self) -> MeterConfig:
        for stream, value in self.plan.items():
            if stream not in self.streams:
                raise ValueError(f"plan.{stream.value}: the stream is not in streams")
            parse_plan_entry(stream, value)
        return self

    def stream_plans(self) -> dict[Stream, StreamPlan]:
        return {stream: parse_plan_entry(stream, value) for stream, value in self.plan.items()}

    @model_validator(mode="after")
    def _clock_policy_possible(self) -> MeterConfig:
        if self.clock_policy == "correct":
            if Stream.CLOCK not in self.streams:
                raise ValueError('clock_policy = "correct" needs the clock stream in streams')
            if not corrects_clock(self.protocol):
                raise ValueError(f"protocol {self.protocol} cannot correct a meter's clock")
        return self

    @model_validator(mode="after")
    def _streams_supported(self) -> MeterConfig:
        unsupported = [s.value for s in self.streams if s not in supported_streams(self.protocol)]
        if unsupported:
            raise ValueError(
                f"protocol {self.protocol} cannot read {', '.join(unsupported)} (yet); "
                f"it reads {', '.join(sorted(s.value for s in supported_streams(self.protocol)))}"
            )
        return self

    def driver_options(self) -> dict[str, Any]:
        """What the driver gets as ``MeterEndpoint.options``."""
        options = dict(self.options)
        if self.level is not None:
            options["level"] = self.level
        if self.password_encoding is not None:
            options["password_encoding"] = self.password_encoding
        return options

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        known = available_protocols()
        if value not in known:
            raise ValueError(f"unknown protocol {value!r}; known: {', '.join(known) or 'none'}")
        return value

    @field_validator("streams")
    @classmethod
    def _distinct_streams(cls, value: tuple[Stream, ...]) -> tuple[Stream, ...]:
        if not value:
            raise ValueError("at least one stream is needed")
        if len(set(value)) != len(value):
            raise ValueError("a stream is listed twice")
        return value


class _BusBase(ConfigModel):
    name: Identifier
    #: How long the driver waits for one answer.
    timeout_s: Seconds = 2.0
    #: The whole of one meter's ``read()`` must finish within this; a hung read frees the bus.
    read_deadline_s: Seconds = 120.0
    #: Quiet time after each meter's read, for slow RS-485 converters.
    pause_s: float = Field(default=0.0, ge=0)
    meters: list[MeterConfig] = Field(default_factory=list, alias="meter")


class TcpBusConfig(_BusBase):
    transport: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    connect_timeout_s: Seconds = 5.0
    #: The converter's serial line (speed and parity), for the bus efficiency metric only.
    baud: int | None = Field(default=None, gt=0)
    parity: Literal["N", "E", "O"] = "N"

    @property
    def where(self) -> str:
        return f"tcp://{self.host}:{self.port}"


class SerialBusConfig(_BusBase):
    transport: Literal["serial"]
    device: str = Field(min_length=1)
    baud: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    #: The adapter hears its own transmission (two-wire RS-485 without echo suppression).
    echo: bool = False

    @property
    def where(self) -> str:
        return f"serial://{self.device}?baud={self.baud}&parity={self.parity}"


BusConfig = Annotated[TcpBusConfig | SerialBusConfig, Field(discriminator="transport")]


class MetricsConfig(ConfigModel):
    #: ``host:port`` of the Prometheus ``/metrics`` endpoint.
    listen: str = Field(pattern=r"^[^\s:]*:\d{1,5}$")

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host or "0.0.0.0", int(port)  # noqa: S104 - an empty host means every interface


class CollectorConfig(ConfigModel):
    collector_id: Identifier
    mqtt: MqttConfig
    queue: QueueConfig
    poll: PollConfig = PollConfig()
    metrics: MetricsConfig | None = None
    buses: list[BusConfig] = Field(default_factory=list, alias="bus")

    @model_validator(mode="after")
    def _unique_names(self) -> CollectorConfig:
        buses: set[str] = set()
        meters: dict[str, str] = {}
        for bus in self.buses:
            if bus.name in buses:
                raise ValueError(f"bus name {bus.name!r} is used twice")
            buses.add(bus.name)
            for meter in bus.meters:
                if meter.id in meters:
                    raise ValueError(
                        f"meter id {meter.id!r} is on bus {meters[meter.id]!r} and on bus "
                        f"{bus.name!r}; meter ids must be unique in a collector"
                        if meters[meter.id] != bus.name
                        else f"meter id {meter.id!r} appears twice on bus {bus.name!r}"
                    )
                meters[meter.id] = bus.name
        return self

    @model_validator(mode="after")
    def _username_is_the_id(self) -> CollectorConfig:
        # The broker's ACL (deploy/mosquitto/acl, DESIGN §4) lets a user write only under
        # isu/v1/<username>/: any other name would see every publish refused.
        if self.mqtt.username is not None and self.mqtt.username != self.collector_id:
            raise ValueError(f"mqtt.username {self.mqtt.username!r} differs from collector_id "
                             f"{self.collector_id!r}: the broker's ACL lets a collector publish "
                             "only under its own id (leave username out; docs/broker.md)")
        return self

    @property
    def mqtt_username(self) -> str:
        return self.mqtt.username or self.collector_id

    def period_of(self, meter: MeterConfig) -> float:
        return meter.period_s if meter.period_s is not None else self.poll.period_s


def load_config(path: str | Path) -> CollectorConfig:
    """Read and validate a collector file; :class:`ConfigError` names the key that is wrong."""
    return load_toml(path, CollectorConfig)
