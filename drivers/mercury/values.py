"""Decoders and encoders of the Mercury 230 family's data fields
(docs/reference/mercury-protocol.md §1.7, §1.8, §1.11; DOC3 §4.2–§4.4). Every ``from_bytes``
takes the DATA part of an answer (no address, no CRC) and has its inverse ``to_bytes`` so that
simulators build answers with the same code.

::

    04 00 time        ss mm hh dow DD MM YY season         8 BCD bytes; season 1 winter, 0 summer
    08 00 identity    S1 S2 S3 S4 DD MM YY                 binary bytes; each Sn is 0..99 → "%02d"
    08 03 firmware    MAJ MIN PATCH                        binary → "9.0.0"
    08 02 ratios      KN_HI KN_LO KT_HI KT_LO              big-endian (Kn voltage, Kt current)
    08 05 address     00 ADDR
    08 26 fw CRC      HI LO
    05 energy         A+ | A- | R+ | R-                    4 bytes each, w0 w1 w2 w3 on the wire:
                      value = w1·2^24 + w0·2^16 + w3·2^8 + w2;  FF FF FF FF = not available
    05 6x phases      A+ L1 | A+ L2 | A+ L3                same 4-byte layout
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum

from core.errors import FrameError, TruncatedError
from core.obis import EnergyKind

__all__ = [
    "ENERGY_NOT_AVAILABLE",
    "EnergyRegisters",
    "FirmwareChecksum",
    "FirmwareVersion",
    "MeterIdentity",
    "MeterTime",
    "NetworkAddress",
    "PhaseEnergy",
    "Season",
    "TransformationRatios",
    "decode_bcd",
    "decode_energy_word",
    "encode_bcd",
    "encode_energy_word",
    "exact_length",
    "wh_to_kwh",
]

#: The mask a meter sends for an energy kind it does not measure (DOC3 p.58).
ENERGY_NOT_AVAILABLE = b"\xff\xff\xff\xff"
_ENERGY_MAX = 0xFFFFFFFE


def exact_length(data: bytes, length: int, what: str) -> bytes:
    """``data`` if it is ``length`` bytes long; TruncatedError if shorter, FrameError if longer."""
    if len(data) < length:
        raise TruncatedError(f"{what}: {len(data)} of {length} data bytes")
    if len(data) > length:
        raise FrameError(f"{what}: {len(data)} data bytes where {length} belong")
    return bytes(data)


def decode_bcd(data: bytes) -> tuple[int, ...]:
    """Each byte as two decimal digits; a nibble above 9 is a FrameError."""
    values = []
    for byte in data:
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise FrameError(f"byte {byte:02X} is not BCD")
        values.append(high * 10 + low)
    return tuple(values)


def encode_bcd(values: Iterable[int]) -> bytes:
    out = bytearray()
    for value in values:
        if not 0 <= value <= 99:
            raise FrameError(f"{value} does not fit one BCD byte")
        out.append((value // 10) << 4 | value % 10)
    return bytes(out)


def wh_to_kwh(wh: int) -> Decimal:
    """Wh (varh) as kWh (kvarh) with exactly three decimals."""
    return Decimal(wh).scaleb(-3)


class Season(IntEnum):
    """Season byte of the time answer (DOC3 §4.2)."""

    SUMMER = 0
    WINTER = 1

    @property
    def label(self) -> str:
        return "winter" if self is Season.WINTER else "summer"


@dataclass(frozen=True, slots=True)
class MeterTime:
    """The meter's clock: naive local wall time, its day-of-week byte and the season flag.

    ``weekday`` is kept as sent: DOC3's example has Wednesday = 3, so Monday = 1; the code of
    Sunday (0 or 7) is not documented, so any 0..7 is accepted and ``at()`` uses 7.
    """

    local: datetime
    weekday: int
    season: Season

    def __post_init__(self) -> None:
        if self.local.tzinfo is not None:
            raise FrameError("a meter time is naive local wall time")
        if not 2000 <= self.local.year <= 2099 or self.local.microsecond:
            raise FrameError(f"{self.local} does not fit whole seconds and a 2-digit year")
        if not 0 <= self.weekday <= 7:
            raise FrameError(f"day of week {self.weekday} is outside 0..7")

    @classmethod
    def at(cls, local: datetime, season: Season = Season.WINTER) -> MeterTime:
        """The time a meter would send at naive local ``local`` (microseconds dropped)."""
        return cls(local.replace(microsecond=0), local.isoweekday(), season)

    def to_bytes(self) -> bytes:
        t = self.local
        fields = (t.second, t.minute, t.hour, self.weekday, t.day, t.month, t.year - 2000)
        return encode_bcd((*fields, int(self.season)))

    @classmethod
    def from_bytes(cls, data: bytes) -> MeterTime:
        raw = exact_length(data, 8, "meter time")
        second, minute, hour, weekday, day, month, year, season = decode_bcd(raw)
        try:
            local = datetime(2000 + year, month, day, hour, minute, second)
            return cls(local, weekday, Season(season))
        except ValueError as exc:
            raise FrameError(f"meter time {raw.hex(' ')} is not a valid time") from exc


@dataclass(frozen=True, slots=True)
class MeterIdentity:
    """08 00: serial number and manufacture date (``None`` when the meter sends zeros)."""

    serial_number: str
    manufactured: date | None

    def __post_init__(self) -> None:
        if len(self.serial_number) != 8 or not self.serial_number.isdigit():
            raise FrameError(f"serial number {self.serial_number!r} is not 8 digits")
        if self.manufactured is not None and not 2000 <= self.manufactured.year <= 2099:
            raise FrameError(f"manufacture date {self.manufactured} outside the 2-digit years")

    def to_bytes(self) -> bytes:
        serial = bytes(int(self.serial_number[i : i + 2]) for i in range(0, 8, 2))
        made = self.manufactured
        stamp = bytes(3) if made is None else bytes((made.day, made.month, made.year - 2000))
        return serial + stamp

    @classmethod
    def from_bytes(cls, data: bytes) -> MeterIdentity:
        raw = exact_length(data, 7, "serial number")
        if any(byte > 99 for byte in raw[:4]):
            raise FrameError(f"serial bytes {raw[:4].hex(' ')} are not 0..99 each")
        # Pitfall §6.7: every byte is two digits, "00" included.
        serial = "".join(f"{byte:02d}" for byte in raw[:4])
        day, month, year = raw[4:]
        if day == month == year == 0:
            return cls(serial, None)
        try:
            return cls(serial, date(2000 + year, month, day))
        except ValueError as exc:
            raise FrameError(f"manufacture date {raw[4:].hex(' ')} is not a date") from exc


@dataclass(frozen=True, slots=True)
class FirmwareVersion:
    major: int
    minor: int
    patch: int

    def __post_init__(self) -> None:
        if not all(0 <= part <= 0xFF for part in (self.major, self.minor, self.patch)):
            raise FrameError(f"firmware version {self} does not fit three bytes")

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def to_bytes(self) -> bytes:
        return bytes((self.major, self.minor, self.patch))

    @classmethod
    def from_bytes(cls, data: bytes) -> FirmwareVersion:
        major, minor, patch = exact_length(data, 3, "firmware version")
        return cls(major, minor, patch)


@dataclass(frozen=True, slots=True)
class TransformationRatios:
    """Kn (voltage, VT) and Kt (current, CT) as the meter stores them."""

    voltage: int
    current: int

    def __post_init__(self) -> None:
        if not (0 <= self.voltage <= 0xFFFF and 0 <= self.current <= 0xFFFF):
            raise FrameError(f"ratios {self.voltage}/{self.current} do not fit 2 bytes each")

    def to_bytes(self) -> bytes:
        return self.voltage.to_bytes(2, "big") + self.current.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> TransformationRatios:
        raw = exact_length(data, 4, "transformation ratios")
        return cls(int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:], "big"))


@dataclass(frozen=True, slots=True)
class NetworkAddress:
    address: int

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 0xFF:
            raise FrameError(f"network address {self.address} does not fit one byte")

    def to_bytes(self) -> bytes:
        return bytes((0, self.address))

    @classmethod
    def from_bytes(cls, data: bytes) -> NetworkAddress:
        raw = exact_length(data, 2, "network address")
        if raw[0] != 0:
            raise FrameError(f"network address answer {raw.hex(' ')} must start with 00")
        return cls(raw[1])


@dataclass(frozen=True, slots=True)
class FirmwareChecksum:
    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value <= 0xFFFF:
            raise FrameError(f"firmware CRC {self.value} does not fit 2 bytes")

    def to_bytes(self) -> bytes:
        return self.value.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> FirmwareChecksum:
        return cls(int.from_bytes(exact_length(data, 2, "firmware CRC"), "big"))


def decode_energy_word(raw: bytes) -> int | None:
    """One 4-byte energy value in Wh (varh); ``None`` for the FF FF FF FF mask."""
    w0, w1, w2, w3 = exact_length(raw, 4, "energy value")
    if raw == ENERGY_NOT_AVAILABLE:
        return None
    # Pitfall §6.2/6.6: no 0x3F mask here, that belongs to 3-byte power values only.
    return w1 << 24 | w0 << 16 | w3 << 8 | w2


def encode_energy_word(wh: int | None) -> bytes:
    if wh is None:
        return ENERGY_NOT_AVAILABLE
    if not 0 <= wh <= _ENERGY_MAX:
        raise FrameError(f"energy {wh} Wh does not fit 4 bytes below the FF mask")
    return bytes(((wh >> 16) & 0xFF, wh >> 24, wh & 0xFF, (wh >> 8) & 0xFF))


@dataclass(frozen=True, slots=True)
class EnergyRegisters:
    """One tariff of an energy array, in Wh/varh; ``None`` where the meter masks the kind."""

    a_plus: int | None
    a_minus: int | None
    r_plus: int | None
    r_minus: int | None

    def __post_init__(self) -> None:
        for value in (self.a_plus, self.a_minus, self.r_plus, self.r_minus):
            if value is not None and not 0 <= value <= _ENERGY_MAX:
                encode_energy_word(value)  # raises why

    def wh(self, kind: EnergyKind) -> int | None:
        return (self.a_plus, self.a_minus, self.r_plus, self.r_minus)[int(kind) - 1]

    def kwh(self, kind: EnergyKind) -> Decimal | None:
        """``kind`` in kWh or kvarh with three decimals, ``None`` when not available."""
        value = self.wh(kind)
        return None if value is None else wh_to_kwh(value)

    def to_bytes(self) -> bytes:
        return b"".join(
            encode_energy_word(value)
            for value in (self.a_plus, self.a_minus, self.r_plus, self.r_minus)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EnergyRegisters:
        raw = exact_length(data, 16, "energy array")
        a_plus, a_minus, r_plus, r_minus = (
            decode_energy_word(raw[i : i + 4]) for i in range(0, 16, 4)
        )
        return cls(a_plus, a_minus, r_plus, r_minus)


@dataclass(frozen=True, slots=True)
class PhaseEnergy:
    """Array 6: A+ from reset per phase, in Wh."""

    phase1: int | None
    phase2: int | None
    phase3: int | None

    def __post_init__(self) -> None:
        for value in (self.phase1, self.phase2, self.phase3):
            if value is not None and not 0 <= value <= _ENERGY_MAX:
                encode_energy_word(value)  # raises why

    def to_bytes(self) -> bytes:
        return b"".join(encode_energy_word(v) for v in (self.phase1, self.phase2, self.phase3))

    @classmethod
    def from_bytes(cls, data: bytes) -> PhaseEnergy:
        raw = exact_length(data, 12, "per-phase energy")
        phase1, phase2, phase3 = (decode_energy_word(raw[i : i + 4]) for i in range(0, 12, 4))
        return cls(phase1, phase2, phase3)
