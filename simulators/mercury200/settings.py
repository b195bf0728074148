"""What a simulated Mercury 200-family meter is: identity, addressing, tariffs, clock, extras.

::

    serial 411486,   200.02 → ADDR 00 06 47 5E     (last 6 digits, §2)
    serial 10925856, 206    → ADDR 00 A6 B7 20     (8 digits)

The address follows the factory rule (docs/reference/mercury-protocol.md §2): the serial's last
6 digits on 200.02, all 8 on 201/203/206; ``address`` overrides it (WB's vectors use
0xFE123456, which no serial gives).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.errors import ConfigError
from core.tariffs import TWO_ZONE, ZoneSchedule
from drivers.mercury.m200.frame import MAX_ADDRESS, MeterModel, address_for_serial
from simulators.mercury230.faults import Fault, FaultMode

__all__ = ["MODEL_CODES", "Meter200Settings"]

#: Byte 1 of the 86 FF answer as mercury-base reads it (undocumented in DOC1) [1].
MODEL_CODES = {MeterModel.M200_02: 2, MeterModel.M203: 4, MeterModel.M206: 8, MeterModel.M201: 10}


@dataclass(frozen=True, slots=True)
class Meter200Settings:
    serial: int
    model: MeterModel = MeterModel.M206
    #: Overrides the address derived from the serial.
    address: int | None = None
    seed: int = 0
    time_zone: str = "Europe/Moscow"
    schedule: ZoneSchedule = TWO_ZONE
    #: Meter clock minus true time, seconds.
    drift_s: float = 0.0
    history_days: int = 7
    #: Zones outside the schedule answer FF…FF (IOB's meter) rather than zeros (MS's meter).
    mask_unused_zones: bool = True
    #: Whether the meter answers 85 (R+); ``None``: every model but 200.02.
    reactive: bool | None = None
    battery_v: Decimal = Decimal("3.05")
    manufactured: date = date(2021, 6, 15)
    firmware: str = "7.1"
    mean_power_kw: float | None = None
    fault: Fault | None = None
    #: Start registers at the history start, Wh of A+ (``None``: seeded).
    initial_wh: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.serial < 100_000_000:
            raise ConfigError(f"serial {self.serial} is not an 8-digit number")
        if self.address is not None and not 0 <= self.address <= MAX_ADDRESS:
            raise ConfigError(f"address {self.address} does not fit four bytes")
        if self.history_days < 0:
            raise ConfigError("history_days must not be negative")
        if self.fault is not None and self.fault.mode is FaultMode.INTERNAL_ERROR:
            raise ConfigError("the Mercury 200 family has no status answer: no internal_error")

    @property
    def network_address(self) -> int:
        if self.address is not None:
            return self.address
        return address_for_serial(self.serial, self.model)

    @property
    def identifier(self) -> str:
        return f"m200-{self.serial}"

    @property
    def answers_reactive(self) -> bool:
        if self.reactive is not None:
            return self.reactive
        return self.model is not MeterModel.M200_02

    @property
    def zones_in_use(self) -> tuple[int, ...]:
        return tuple(zone for zone in self.schedule.zones if zone <= 4)
