"""The fleet file of ``isu sim --config FILE``: buses (one listening port each) and their meters.

::

    [control]                     # optional JSON-lines control port
    listen = "127.0.0.1:40100"

    [[bus]]
    listen = "127.0.0.1:40001"    # port 0 picks a free port
    [[bus.meter]]
    serial = "40680048"           # the address defaults to the serial's rule (48 here)
    seed = 1
    fault = { mode = "slow", probability = 0.2, delay_s = 2.5 }

Validated once at start-up (frozen models, unknown keys are errors); see docs/simulators.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from core.config import ConfigModel
from core.obis import EnergyKind
from core.tariffs import schedule_named
from drivers.transport.timing import Parity
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.settings import MeterSettings, PasswordEncoding, parse_kind

__all__ = [
    "ControlConfig",
    "FaultConfig",
    "FleetConfig",
    "SimBusConfig",
    "SimMeterConfig",
    "parse_listen",
]

Listen = Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$")]


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) to its parts; port 0 means "pick a free one"."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r}: HOST:PORT expected")
    return host.strip("[]"), int(port)


class FaultConfig(ConfigModel):
    mode: FaultMode
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    delay_s: float = Field(default=3.0, ge=0.0)
    drop_bytes: int = Field(default=2, ge=1)

    def to_fault(self) -> Fault:
        return Fault(self.mode, self.probability, self.delay_s, self.drop_bytes)


class SimMeterConfig(ConfigModel):
    """One simulated meter; everything but the identity has the factory default."""

    address: int | None = Field(default=None, ge=1, le=0xF0)
    serial: str | None = Field(default=None, pattern=r"^\d{8}$")
    meter_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    model: str = "Mercury 230 ART-01"
    manufactured: date = date(2020, 1, 22)
    firmware: str = Field(default="9.0.0", pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,3}$")
    kn: int = Field(default=1, ge=1, le=0xFFFF)
    kt: int = Field(default=1, ge=1, le=0xFFFF)
    password1: SecretStr = SecretStr("111111")
    password2: SecretStr = SecretStr("222222")
    password_encoding: PasswordEncoding = PasswordEncoding.BINARY
    energy_kinds: tuple[str, ...] = ("A+", "A-", "R+", "R-")
    schedule: str = "two-zone"
    time_zone: str = "Europe/Moscow"
    drift_s: float = 0.0
    summer_season: bool = False
    history_days: int = Field(default=7, ge=0, le=3660)
    seed: int | None = None
    mean_power_kw: float | None = Field(default=None, ge=0.0)
    export_peak_kw: float = Field(default=0.0, ge=0.0)
    frozen: bool = False
    extended_archives: bool = False
    #: Main profile period T in minutes (dividing the hour); 0 = no profile.
    profile_period_min: int = Field(default=30, ge=0, le=60)
    #: The meter's own processing time before it answers, seconds.
    answer_delay_s: float = Field(default=0.0, ge=0.0, le=10.0)
    fault: FaultConfig | None = None

    @field_validator("energy_kinds")
    @classmethod
    def _known_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for label in value:
            parse_kind(label)
        return value

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        schedule_named(value)
        return value

    def to_settings(self, *, default_serial: str, default_seed: int) -> MeterSettings:
        """The meter's settings; ``ValueError`` says what a Mercury 230 cannot be."""
        major, minor, patch = (int(part) for part in self.firmware.split("."))
        kinds: frozenset[EnergyKind] = frozenset(parse_kind(label) for label in self.energy_kinds)
        return MeterSettings(
            serial=self.serial or default_serial,
            address=self.address,
            manufactured=self.manufactured,
            firmware=(major, minor, patch),
            kn=self.kn,
            kt=self.kt,
            password1=self.password1.get_secret_value(),
            password2=self.password2.get_secret_value(),
            password_encoding=self.password_encoding,
            energy_kinds=kinds,
            schedule=schedule_named(self.schedule),
            time_zone=self.time_zone,
            drift_s=self.drift_s,
            summer_season=self.summer_season,
            history_days=self.history_days,
            seed=self.seed if self.seed is not None else default_seed,
            mean_power_kw=self.mean_power_kw,
            export_peak_kw=self.export_peak_kw,
            meter_id=self.meter_id,
            model=self.model,
            extended_archives=self.extended_archives,
            profile_period_min=self.profile_period_min,
            answer_delay_s=self.answer_delay_s,
        )


class SimBusConfig(ConfigModel):
    """One RS-485 line behind one transparent serial-to-Ethernet converter."""

    listen: Listen
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    #: Fallback end-of-frame gap for requests of unknown length (known ones end by length).
    gap_s: float = Field(default=0.1, gt=0.0, le=10.0)
    meter: tuple[SimMeterConfig, ...] = Field(min_length=1)


class LineConfig(ConfigModel):
    """Where a simulated bus is: a TCP port (``listen``) or a serial pseudo-terminal
    (``serial_pty = true``, at ``baud`` and ``parity``, ``echo`` like a two-wire RS-485
    adapter). The bus configurations of every protocol have these keys."""

    listen: Listen = "127.0.0.1:0"
    serial_pty: bool = False
    baud: int = Field(default=9600, gt=0, le=4_000_000)
    parity: Parity = "N"
    echo: bool = False

    @model_validator(mode="after")
    def _one_line(self) -> Self:
        given = self.model_fields_set
        if self.serial_pty and "listen" in given:
            raise ValueError("a bus has either listen or serial_pty = true, not both")
        if not self.serial_pty:
            if "listen" not in given:
                raise ValueError("listen is required (or serial_pty = true)")
            if given & {"baud", "parity", "echo"}:
                raise ValueError("baud, parity and echo apply to serial_pty buses only")
        return self


class ControlConfig(ConfigModel):
    listen: Listen


class FleetConfig(ConfigModel):
    protocol: Literal["mercury230"] = "mercury230"
    #: Seed of the first meter; later meters without their own seed count up from it.
    seed: int = 0
    control: ControlConfig | None = None
    bus: tuple[SimBusConfig, ...] = Field(min_length=1)
