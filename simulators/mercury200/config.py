"""The fleet file of ``isu sim --config FILE`` for the Mercury 200 family (``protocol =
"mercury200"``): buses on TCP ports or serial pseudo-terminals, and their meters.

::

    protocol = "mercury200"
    [[bus]]
    listen = "127.0.0.1:0"          # or: serial_pty = true, baud = 9600, parity = "N", echo = true
    [[bus.meter]]
    serial = 10925856               # the address follows the factory rule (all 8 digits on 206)
    model = "206"                   # 206, 200.02 (address = last 6 digits), 201, 203
    seed = 1
    fault = { mode = "slow", probability = 0.2, delay_s = 2.5 }

Validated once at start-up (frozen models, unknown keys are errors naming the key); the bus
keys are the 230 fleet file's (``SerialSimBusConfig``); see docs/mercury200.md.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from core.config import ConfigModel, TimeZoneName
from core.tariffs import schedule_named
from drivers.mercury.m200.frame import MAX_ADDRESS, MeterModel
from simulators.mercury200.settings import Meter200Settings
from simulators.mercury230.config import ControlConfig, FaultConfig
from simulators.mercury230.faults import FaultMode
from simulators.mercury230.fleet import SerialSimBusConfig

__all__ = ["Bus200Config", "Fleet200Config", "Meter200Config"]


class Meter200Config(ConfigModel):
    """One simulated meter: ``serial`` or ``address`` (or both); the rest has defaults."""

    serial: int | None = Field(default=None, ge=0, le=99_999_999)
    #: Overrides the factory address (the serial's last 6 digits on 200.02, 8 on the others).
    address: int | None = Field(default=None, ge=0, le=MAX_ADDRESS)
    model: MeterModel = MeterModel.M206
    seed: int | None = None
    schedule: str = "two-zone"
    time_zone: TimeZoneName = "Europe/Moscow"
    drift_s: float = 0.0
    history_days: int = Field(default=7, ge=0, le=3660)
    frozen: bool = False
    battery_v: Decimal = Field(default=Decimal("3.05"), ge=0, le=10)
    manufactured: date = date(2021, 6, 15)
    firmware: str = Field(default="7.1", pattern=r"^\d{1,2}\.\d{1,2}$")
    mask_unused_zones: bool = True
    reactive: bool | None = None
    mean_power_kw: float | None = Field(default=None, ge=0.0)
    initial_wh: int | None = Field(default=None, ge=0)
    fault: FaultConfig | None = None

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        schedule_named(value)
        return value

    @field_validator("fault")
    @classmethod
    def _no_status(cls, value: FaultConfig | None) -> FaultConfig | None:
        if value is not None and value.mode is FaultMode.INTERNAL_ERROR:
            raise ValueError("the Mercury 200 family has no status answer: no internal_error")
        return value

    @model_validator(mode="after")
    def _identity(self) -> Self:
        if self.serial is None and self.address is None:
            raise ValueError("give serial or address (or both)")
        if self.serial is None and self.address is not None and self.address > 99_999_999:
            raise ValueError("address beyond 8 digits: give the serial too")
        return self

    def to_settings(self, *, default_seed: int) -> Meter200Settings:
        serial = self.serial if self.serial is not None else self.address
        assert serial is not None  # _identity
        return Meter200Settings(
            serial=serial,
            model=self.model,
            address=self.address,
            seed=self.seed if self.seed is not None else default_seed,
            time_zone=self.time_zone,
            schedule=schedule_named(self.schedule),
            drift_s=self.drift_s,
            history_days=self.history_days,
            mask_unused_zones=self.mask_unused_zones,
            reactive=self.reactive,
            battery_v=self.battery_v,
            manufactured=self.manufactured,
            firmware=self.firmware,
            mean_power_kw=self.mean_power_kw,
            initial_wh=self.initial_wh,
            fault=None if self.fault is None else self.fault.to_fault(),
        )


class Bus200Config(SerialSimBusConfig):
    """A bus on a TCP port (``listen``) or a serial pty (``serial_pty = true``, ``baud``,
    ``parity``, ``echo``), as in the 230 fleet file, with 200-family meters."""

    meter: tuple[Meter200Config, ...] = Field(min_length=1)  # type: ignore[assignment]


class Fleet200Config(ConfigModel):
    protocol: Literal["mercury200"]
    #: Seed of the first meter; later meters without their own seed count up from it.
    seed: int = 0
    control: ControlConfig | None = None
    bus: tuple[Bus200Config, ...] = Field(min_length=1)
