"""What a simulated Mercury 230 is: identity, passwords, supported energy kinds, tariffs, time.

The defaults describe a factory-fresh non-"D" meter (docs/reference/mercury-protocol.md §1.3–1.4):
binary passwords "111111" / "222222", the network address derived from the serial number, all
four energy kinds, the two-zone schedule in Moscow time, winter season.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError
from core.obis import EnergyKind
from core.tariffs import TWO_ZONE, ZoneSchedule
from drivers.mercury.crc import crc16_modbus
from drivers.mercury.password import PasswordEncoding
from drivers.mercury.password import encode_password as codec_encode_password

__all__ = [
    "DEFAULT_PASSWORDS",
    "KIND_LABELS",
    "MeterSettings",
    "PasswordEncoding",
    "default_address",
    "default_variant",
    "encode_password",
    "parse_kind",
]

DEFAULT_PASSWORDS = {1: "111111", 2: "222222"}

#: Wire/cabinet labels of the energy kinds, for configuration files and JSON.
KIND_LABELS = {kind: kind.label for kind in EnergyKind}


def encode_password(password: str | bytes, encoding: PasswordEncoding) -> bytes:
    """The six bytes a client must send to open a channel with ``password``.

    Text goes through the shared codec's rule; ``bytes`` are taken as the wire bytes already (a
    meter whose password was set to arbitrary bytes, as in the WB vector W2).
    """
    if isinstance(password, bytes):
        if len(password) != 6:
            raise ValueError("a Mercury password is six bytes")
        return password
    try:
        return codec_encode_password(password, encoding)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def default_address(serial: str) -> int:
    """The factory network address of a meter without "D" (DOC3 appendix В).

    The last three digits of the serial number if they are at most 239, otherwise the last two;
    0 becomes 1. 38395190 → 190, 38395790 → 90, 38395700 → 1, 40680048 → 48.
    """
    last3 = int(serial[-3:])
    address = last3 if last3 <= 239 else int(serial[-2:])
    return address or 1


def parse_kind(label: str) -> EnergyKind:
    """``"A+"``, ``"A-"``, ``"R+"``, ``"R-"`` (or the enum's name) to the kind."""
    for kind, text in KIND_LABELS.items():
        if label in (text, kind.name):
            return kind
    raise ValueError(f"unknown energy kind {label!r}; use A+, A-, R+ or R-")


@dataclass(frozen=True, slots=True)
class MeterSettings:
    """The configuration of one simulated meter; the meter's changing state lives elsewhere."""

    serial: str
    address: int | None = None
    manufactured: date = date(2020, 1, 22)
    firmware: tuple[int, int, int] = (9, 0, 0)
    kn: int = 1
    kt: int = 1
    password1: str | bytes = DEFAULT_PASSWORDS[1]
    password2: str | bytes = DEFAULT_PASSWORDS[2]
    password_encoding: PasswordEncoding = PasswordEncoding.BINARY
    energy_kinds: frozenset[EnergyKind] = frozenset(EnergyKind)
    schedule: ZoneSchedule = TWO_ZONE
    time_zone: str = "Europe/Moscow"
    drift_s: float = 0.0
    summer_season: bool = False
    history_days: int = 7
    seed: int = 0
    mean_power_kw: float | None = None
    export_peak_kw: float = 0.0
    meter_id: str | None = None
    model: str = "Mercury 230 ART-01"
    #: 08 12 execution variant, six bytes; ``None`` derives it (``default_variant``).
    variant: bytes | None = None
    #: 18h extended archives (daily 123 days, monthly 36 months); declared in variant b6 bit 6.
    extended_archives: bool = False
    #: Main profile integration period T in minutes (1..60 dividing the hour); 0 = no profile.
    profile_period_min: int = 30
    #: 08 26 firmware checksum; ``None`` derives a stable value from the firmware version.
    firmware_crc: int | None = None
    #: How long the meter takes to start its answer once the request is in (a real meter's
    #: processing time; benches use it to compare the collector with what the bus allows).
    answer_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.answer_delay_s < 0:
            raise ValueError("answer_delay_s must not be negative")
        if len(self.serial) != 8 or not self.serial.isdigit() or not self.serial.isascii():
            raise ValueError(f"serial number {self.serial!r}: eight decimal digits expected")
        if self.address is not None and not 1 <= self.address <= 0xF0:
            raise ValueError(f"meter {self.serial}: network address {self.address} not in 1..240")
        if not all(0 <= part <= 255 for part in self.firmware):
            raise ValueError(f"meter {self.serial}: firmware parts are bytes")
        if not (1 <= self.kn <= 0xFFFF and 1 <= self.kt <= 0xFFFF):
            raise ValueError(f"meter {self.serial}: transformation ratios are 1..65535")
        if not 2000 <= self.manufactured.year <= 2099:
            raise ValueError(f"meter {self.serial}: manufacture year is sent as two digits")
        for password in (self.password1, self.password2):
            try:
                encode_password(password, self.password_encoding)
            except ValueError as exc:
                raise ValueError(f"meter {self.serial}: {exc}") from None
        if any(zone > 4 for zone in self.schedule.zones):
            raise ValueError(f"meter {self.serial}: a Mercury 230 has tariff zones 1..4 only")
        if self.history_days < 0:
            raise ValueError(f"meter {self.serial}: history_days must not be negative")
        if self.variant is not None and len(self.variant) != 6:
            raise ValueError(f"meter {self.serial}: an execution variant is six bytes")
        if self.profile_period_min and (
            not 1 <= self.profile_period_min <= 60 or 60 % self.profile_period_min
        ):
            raise ValueError(f"meter {self.serial}: profile period must divide the hour")
        if self.firmware_crc is not None and not 0 <= self.firmware_crc <= 0xFFFF:
            raise ValueError(f"meter {self.serial}: a firmware checksum is two bytes")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"meter {self.serial}: unknown time zone {self.time_zone!r}") from exc

    @property
    def network_address(self) -> int:
        return self.address if self.address is not None else default_address(self.serial)

    @property
    def identifier(self) -> str:
        """The meter id the simulator reports (DESIGN §2 identifier alphabet)."""
        return self.meter_id or f"m230-{self.serial}"

    def password_bytes(self, level: int) -> bytes:
        """The wire bytes of the password of ``level`` (1 or 2)."""
        password = {1: self.password1, 2: self.password2}[level]
        return encode_password(password, self.password_encoding)

    @property
    def variant_bytes(self) -> bytes:
        if self.variant is not None:
            return self.variant
        return default_variant(
            self.energy_kinds, extended_archives=self.extended_archives,
            profile=self.profile_period_min > 0, large_memory=self.firmware[0] >= 9,
        )

    @property
    def firmware_checksum(self) -> int:
        if self.firmware_crc is not None:
            return self.firmware_crc
        return crc16_modbus(bytes(self.firmware))


def default_variant(
    energy_kinds: frozenset[EnergyKind], *, extended_archives: bool = False,
    profile: bool = False, large_memory: bool = True,
) -> bytes:
    """A 230 ART-like variant (DOC3 fig. 4.33), with what the simulator actually serves.

    b1 B4: class 1.0 / 2.0, 230 V, 5 A. b2: one direction when A- is not measured (bit 7),
    -40 °C range, profile when asked (bit 5), three phases, A = 500 imp/kWh.
    b3 C2: modulus summation, internal tariffer, type AR, variant 2. b4 95: memory 131K×8
    (15: 65.5K×8 below firmware 9, whose profile pointer is a byte address), optical port,
    RS-485, top-cover seal. b5 57. b6: bit 6 = extended (18h) archives.
    """
    one_direction = EnergyKind.A_MINUS not in energy_kinds
    b2 = (0x80 if one_direction else 0x00) | 0x40 | (0x20 if profile else 0x00) | 0x03
    b4 = 0x95 if large_memory else 0x15
    return bytes((0xB4, b2, 0xC2, b4, 0x57, 0x40 if extended_archives else 0x00))
