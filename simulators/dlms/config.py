"""The fleet file of ``isu sim --config FILE`` for SPODES meters (``protocol = "dlms"``): buses on
TCP ports or serial pseudo-terminals, each carrying HDLC or the IEC 62056-47 wrapper, and their
meters.

::

    protocol = "dlms"
    seed = 1                        # meters without their own seed count up from here
    [control]
    listen = "127.0.0.1:0"
    [[bus]]
    listen = "127.0.0.1:4059"       # or: serial_pty = true, baud, parity, echo (HDLC only)
    transport = "wrapper"           # one meter; "hdlc" (the default): several on one line
    [[bus.meter]]
    serial = "50000016"
    reader_password = "12345678"
    fault = { mode = "slow", delay_s = 2.5 }

The bus keys are the Mercury fleet file's (``SerialSimBusConfig``: ``listen`` or
``serial_pty`` with ``baud``, ``parity``, ``echo``; ``gap_s``, here the inter-octet time-out
after which a partial HDLC frame is dropped) plus ``transport``, ``max_info`` and
``block_size``. Validated once at start-up (frozen models, unknown keys are errors naming the
key); every key and its default: docs/simulators.md, "The DLMS fleet file".
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from core.config import ConfigModel, TimeZoneName
from core.tariffs import schedule_named
from simulators.dlms.faults import DlmsFault, FaultMode
from simulators.dlms.meter import SpodesSettings
from simulators.dlms.simulator import DEFAULT_BLOCK_SIZE, DEFAULT_INTER_OCTET_S, DEFAULT_PHYSICAL
from simulators.mercury230.config import ControlConfig
from simulators.mercury230.fleet import SerialSimBusConfig

__all__ = [
    "DlmsBusConfig",
    "DlmsFaultConfig",
    "DlmsFleetConfig",
    "DlmsMeterConfig",
    "default_serial",
]

MAX_ADDRESS = 0x3FFF
_FACTORY = SpodesSettings()


def default_serial(bus_index: int, address: int) -> str:
    """50000000 + 100000 × bus index + HDLC address: ``isu sim dlms``'s rule on the first bus,
    unique across buses."""
    return f"{50_000_000 + 100_000 * bus_index + address:08d}"


class DlmsFaultConfig(ConfigModel):
    """``silence``, ``corrupt_crc`` (``probability``: share of HDLC answer frames with a broken
    FCS) or ``slow`` (``delay_s``: every answer that late)."""

    mode: FaultMode
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    delay_s: float = Field(default=3.0, ge=0.0, le=600.0)

    @model_validator(mode="after")
    def _keys_of_the_mode(self) -> Self:
        given = self.model_fields_set
        if "probability" in given and self.mode != "corrupt_crc":
            raise ValueError("probability goes with corrupt_crc only (a silent or slow DLMS "
                             "meter is so on every answer)")
        if "delay_s" in given and self.mode != "slow":
            raise ValueError("delay_s goes with slow only")
        return self

    def to_fault(self) -> DlmsFault:
        return DlmsFault(self.mode, self.probability if self.mode == "corrupt_crc" else 1.0,
                         self.delay_s)


class DlmsMeterConfig(ConfigModel):
    """One simulated SPODES meter; everything has a default."""

    #: HDLC physical address (the lower address; logical device 1). Default: the previous
    #: meter's plus one, 16 for the first.
    address: int | None = Field(default=None, ge=DEFAULT_PHYSICAL, le=MAX_ADDRESS)
    serial: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,32}$")
    meter_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    model: str = _FACTORY.model
    manufacturer: str = _FACTORY.manufacturer
    firmware: str = Field(default=_FACTORY.firmware, pattern=r"^[ -~]{1,32}$")
    manufactured: date = _FACTORY.manufactured
    seed: int | None = None
    history_days: int = Field(default=7, ge=0, le=3660)
    #: Capture period of the load profile 1.0.99.1.0.255, minutes dividing the day.
    profile_period_min: int = Field(default=30, ge=1, le=1440)
    schedule: str = "two-zone"
    time_zone: TimeZoneName = "Europe/Moscow"
    drift_s: float = 0.0
    mean_power_kw: float | None = Field(default=None, ge=0.0)
    export_peak_kw: float = Field(default=0.0, ge=0.0)
    frozen: bool = False
    #: LLS secrets of the reader (SAP 32) and the configurator (SAP 48); None: the simulator's
    #: defaults, 12345678 and 1234567812345678.
    reader_password: SecretStr | None = None
    configurator_password: SecretStr | None = None
    #: The configurator's authentication: LLS, or HLS-GMAC with the Green Book test keys and
    #: the system title made of the serial (``isu sim dlms --configurator``).
    configurator: Literal["lls", "hls-gmac"] = "lls"
    fault: DlmsFaultConfig | None = None

    @field_validator("model", "manufacturer")
    @classmethod
    def _cp1251(cls, value: str) -> str:
        try:
            value.encode("cp1251")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{value!r} cannot be sent as cp1251") from exc
        if not 1 <= len(value) <= 64:
            raise ValueError("1..64 characters")
        return value

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        schedule_named(value)
        return value

    @field_validator("profile_period_min")
    @classmethod
    def _divides_the_day(cls, value: int) -> int:
        if 1440 % value:
            raise ValueError(f"{value} min does not divide the day (15, 30, 60, …)")
        return value

    @field_validator("reader_password", "configurator_password")
    @classmethod
    def _lls_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 1 <= len(value.get_secret_value().encode()) <= 64:
            raise ValueError("an LLS secret has 1..64 bytes")
        return value

    @model_validator(mode="after")
    def _configurator(self) -> Self:
        if self.configurator == "hls-gmac":
            if self.configurator_password is not None:
                raise ValueError("configurator_password goes with configurator = \"lls\" only")
            if self.serial is not None and not (self.serial.isdigit() and len(self.serial) <= 12):
                raise ValueError("configurator = \"hls-gmac\" needs a serial of at most 12 "
                                 "digits (it makes the system title)")
        return self

    def to_settings(self, *, default_serial: str, default_seed: int) -> SpodesSettings:
        return SpodesSettings(
            serial=self.serial or default_serial,
            model=self.model,
            manufacturer=self.manufacturer,
            firmware=self.firmware,
            manufactured=self.manufactured,
            seed=self.seed if self.seed is not None else default_seed,
            history_days=self.history_days,
            time_zone=self.time_zone,
            schedule=schedule_named(self.schedule),
            profile_period_s=self.profile_period_min * 60,
            drift_s=self.drift_s,
            mean_power_kw=self.mean_power_kw,
            export_peak_kw=self.export_peak_kw,
            frozen=self.frozen,
        )

    def secrets(self) -> tuple[bytes | None, bytes | None]:
        """The reader's and the configurator's LLS secrets (``None``: the default)."""
        return _raw(self.reader_password), _raw(self.configurator_password)


def _raw(secret: SecretStr | None) -> bytes | None:
    return None if secret is None else secret.get_secret_value().encode()


class DlmsBusConfig(SerialSimBusConfig):
    """A line on a TCP port (``listen``) or a serial pty (``serial_pty = true``, ``baud``,
    ``parity``, ``echo``; HDLC only), carrying ``transport`` with its meters."""

    transport: Literal["hdlc", "wrapper"] = "hdlc"
    #: The silence after which a partial HDLC frame is dropped (the meter's inter-octet
    #: time-out); whole frames end by their length.
    gap_s: float = Field(default=DEFAULT_INTER_OCTET_S, gt=0.0, le=10.0)
    #: The largest HDLC information field the meters grant (longer answers go in segments).
    max_info: int = Field(default=128, ge=32, le=2030)
    #: Answers longer than this go out as GET-with-block (0: only beyond the client's PDU).
    block_size: int = Field(default=DEFAULT_BLOCK_SIZE, ge=0, le=0xFFFF)
    meter: tuple[DlmsMeterConfig, ...] = Field(min_length=1)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _transport(self) -> Self:
        if self.transport == "wrapper":
            if len(self.meter) > 1:
                raise ValueError("a wrapper bus serves one meter; several share an hdlc bus")
            if self.serial_pty:
                raise ValueError("a serial line carries hdlc, not the wrapper")
            if "max_info" in self.model_fields_set:
                raise ValueError("max_info applies to hdlc buses only")
        taken: dict[int, int] = {}
        for position, address in enumerate(self.addresses()):
            if address > MAX_ADDRESS:
                raise ValueError(f"meter.{position}.address: {address} is beyond {MAX_ADDRESS}")
            if address in taken:
                raise ValueError(f"meter.{position}.address: {address} is meter."
                                 f"{taken[address]}'s already")
            taken[address] = position
        return self

    def addresses(self) -> list[int]:
        """The meters' HDLC addresses: as given, else one after the previous (16 first)."""
        out: list[int] = []
        for meter in self.meter:
            out.append(meter.address if meter.address is not None
                       else out[-1] + 1 if out else DEFAULT_PHYSICAL)
        return out


class DlmsFleetConfig(ConfigModel):
    protocol: Literal["dlms"]
    #: Seed of the first meter; later meters without their own seed count up from it.
    seed: int = 0
    control: ControlConfig | None = None
    bus: tuple[DlmsBusConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: dict[str, str] = {}
        for index, bus in enumerate(self.bus):
            for position, (meter, address) in enumerate(
                    zip(bus.meter, bus.addresses(), strict=True)):
                serial = meter.serial or default_serial(index, address)
                ident = meter.meter_id or f"dlms-{serial}"
                where = f"bus.{index}.meter.{position}"
                if ident in seen:
                    raise ValueError(f"{where}.meter_id: {ident!r} is {seen[ident]}'s already")
                seen[ident] = where
        return self
