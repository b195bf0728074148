"""Typed answers of the Mercury 200 family: decoders and the encoders a simulator answers with
(docs/reference/mercury-protocol.md §2, pitfalls §6.7, §6.8).

::

    27/32/85  T1(4) T2(4) T3(4) T4(4)        BCD, 10 Wh (varh) units; FF FF FF FF = not in use
    63        U(2) I(2) P(3)                 BCD: U ÷10 V, I ÷100 A, P in W
    81        F(2) TARIFF(1) FLAGS(1) RES(6) BCD F ÷100 Hz; FLAGS bit 0 imbalance, bit 1 reverse
    21        DOW hh mm ss DD MM YY          BCD; DOW 0 Sunday … 6 Saturday, 7 holiday
    2B/2C/61/62  DOW hh mm ss DD MM YY       same layout; all 00 (or FF) = never happened
    2F        SERIAL(4)                      binary, big-endian (not BCD, §6.7)
    66        DD MM YY                       BCD
    29        V(2)                           BCD ÷100 V
    28        VER(2) RES(1) DD MM YY         [1] mercury-base's reading; not in DOC1's table

Every BCD value is big-endian, most significant digits first; a digit above 9 is a
:class:`~core.errors.FrameError`, never a bare ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.errors import FrameError, TruncatedError

__all__ = [
    "BatteryVoltage",
    "EnergyTariffs",
    "EventTime",
    "FirmwareInfo",
    "FrequencyStatus",
    "InstantValues",
    "ManufactureDate",
    "MeterClock",
    "ModelInfo",
    "SerialNumber",
    "bcd_decode",
    "bcd_encode",
]

_NOT_IN_USE = b"\xff\xff\xff\xff"
_HOLIDAY = 7


def bcd_decode(data: bytes) -> int:
    """The number ``data`` holds in big-endian BCD."""
    value = 0
    for byte in data:
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise FrameError(f"byte {byte:02X} is not BCD")
        value = value * 100 + high * 10 + low
    return value


def bcd_encode(value: int, length: int) -> bytes:
    """``value`` as ``length`` BCD bytes; a value too big or negative is a :class:`FrameError`."""
    if not 0 <= value < 100**length:
        raise FrameError(f"{value} does not fit {length} BCD byte(s)")
    digits = f"{value:0{2 * length}d}"
    return bytes.fromhex(digits)


def _exact(data: bytes, length: int, what: str) -> bytes:
    if len(data) < length:
        raise TruncatedError(f"{what}: {len(data)} of {length} data bytes")
    if len(data) > length:
        raise FrameError(f"{what}: {len(data)} data bytes where {length} belong")
    return data


def _scaled(value: Decimal, exponent: int, length: int, what: str) -> bytes:
    units = value.scaleb(exponent)
    if units != units.to_integral_value():
        raise FrameError(f"{what} {value} is finer than the wire resolution")
    return bcd_encode(int(units), length)


@dataclass(frozen=True, slots=True)
class EnergyTariffs:
    """T1..T4 in 10 Wh (varh) units; ``None`` where the meter answers FF…FF (zone not in use)."""

    units: tuple[int | None, int | None, int | None, int | None]

    def kwh(self, zone: int) -> Decimal | None:
        """Zone ``zone`` (1..4) in kWh (kvarh), or ``None`` when not in use."""
        value = self.units[zone - 1]
        return None if value is None else Decimal(value).scaleb(-2)

    @property
    def total_kwh(self) -> Decimal:
        """The sum of the zones in use (the meter sends no total, DESIGN §3)."""
        return sum((Decimal(v) for v in self.units if v is not None), Decimal(0)).scaleb(-2)

    @property
    def zones(self) -> tuple[int, ...]:
        return tuple(zone for zone, v in enumerate(self.units, start=1) if v is not None)

    def to_bytes(self) -> bytes:
        return b"".join(_NOT_IN_USE if v is None else bcd_encode(v, 4) for v in self.units)

    @classmethod
    def from_bytes(cls, data: bytes) -> EnergyTariffs:
        _exact(data, 16, "energy T1..T4")
        chunks = [data[i : i + 4] for i in range(0, 16, 4)]
        values = [None if chunk == _NOT_IN_USE else bcd_decode(chunk) for chunk in chunks]
        return cls((values[0], values[1], values[2], values[3]))


@dataclass(frozen=True, slots=True)
class InstantValues:
    voltage_v: Decimal
    current_a: Decimal
    power_w: int

    @property
    def power_kw(self) -> Decimal:
        return Decimal(self.power_w).scaleb(-3)

    def to_bytes(self) -> bytes:
        return (
            _scaled(self.voltage_v, 1, 2, "voltage")
            + _scaled(self.current_a, 2, 2, "current")
            + bcd_encode(self.power_w, 3)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> InstantValues:
        _exact(data, 7, "U I P")
        return cls(
            Decimal(bcd_decode(data[0:2])).scaleb(-1),
            Decimal(bcd_decode(data[2:4])).scaleb(-2),
            bcd_decode(data[4:7]),
        )


@dataclass(frozen=True, slots=True)
class FrequencyStatus:
    """81: line frequency, the tariff byte as sent, flags and six reserve bytes."""

    frequency_hz: Decimal
    tariff: int
    flags: int = 0
    reserve: bytes = bytes(6)

    @property
    def current_imbalance(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def reverse_energy(self) -> bool:
        return bool(self.flags & 0x02)

    def to_bytes(self) -> bytes:
        if len(self.reserve) != 6 or not 0 <= self.tariff <= 0xFF or not 0 <= self.flags <= 0xFF:
            raise FrameError("81: tariff and flags are one byte each, the reserve six")
        return (
            _scaled(self.frequency_hz, 2, 2, "frequency")
            + bytes((self.tariff, self.flags))
            + self.reserve
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FrequencyStatus:
        _exact(data, 10, "frequency and tariff")
        return cls(Decimal(bcd_decode(data[0:2])).scaleb(-2), data[2], data[3], bytes(data[4:]))


def _timedate(data: bytes, what: str) -> tuple[int, datetime] | None:
    _exact(data, 7, what)
    if data[1:] in (bytes(6), b"\xff" * 6):
        return None
    dow, hh, mm, ss, dd, mo, yy = (bcd_decode(data[i : i + 1]) for i in range(7))
    if dow > _HOLIDAY:
        raise FrameError(f"{what}: day of week {dow} is outside 0..7")
    try:
        return dow, datetime(2000 + yy, mo, dd, hh, mm, ss)
    except ValueError as exc:
        raise FrameError(f"{what}: not a valid time: {data.hex(' ')}") from exc


def _timedate_bytes(dow: int, moment: datetime) -> bytes:
    if not 2000 <= moment.year <= 2099:
        raise FrameError(f"year {moment.year} does not fit two BCD digits")
    fields = (dow, moment.hour, moment.minute, moment.second, moment.day, moment.month,
              moment.year - 2000)
    return b"".join(bcd_encode(field, 1) for field in fields)


def _weekday(moment: datetime) -> int:
    return moment.isoweekday() % 7  # Sunday = 0 on the wire


@dataclass(frozen=True, slots=True)
class MeterClock:
    """21: the meter's local wall-clock time, naive as the meter shows it."""

    local: datetime
    holiday: bool = False

    @property
    def weekday(self) -> int:
        return _HOLIDAY if self.holiday else _weekday(self.local)

    def to_bytes(self) -> bytes:
        return _timedate_bytes(self.weekday, self.local)

    @classmethod
    def from_bytes(cls, data: bytes) -> MeterClock:
        decoded = _timedate(data, "clock")
        if decoded is None:
            raise FrameError("clock: the meter sent no time")
        dow, local = decoded
        return cls(local, holiday=dow == _HOLIDAY)


@dataclass(frozen=True, slots=True)
class EventTime:
    """2B/2C/61/62: when the last such event happened (local time), ``None`` if never."""

    local: datetime | None

    def to_bytes(self) -> bytes:
        if self.local is None:
            return bytes(7)
        return _timedate_bytes(_weekday(self.local), self.local)

    @classmethod
    def from_bytes(cls, data: bytes) -> EventTime:
        decoded = _timedate(data, "event time")
        return cls(None if decoded is None else decoded[1])


@dataclass(frozen=True, slots=True)
class SerialNumber:
    value: int

    def to_bytes(self) -> bytes:
        if not 0 <= self.value <= 0xFFFFFFFF:
            raise FrameError(f"serial number {self.value} does not fit four bytes")
        return self.value.to_bytes(4, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> SerialNumber:
        return cls(int.from_bytes(_exact(data, 4, "serial number"), "big"))


@dataclass(frozen=True, slots=True)
class ManufactureDate:
    day: date

    def to_bytes(self) -> bytes:
        if not 2000 <= self.day.year <= 2099:
            raise FrameError(f"year {self.day.year} does not fit two BCD digits")
        return bcd_encode(self.day.day, 1) + bcd_encode(self.day.month, 1) + bcd_encode(
            self.day.year - 2000, 1
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ManufactureDate:
        _exact(data, 3, "manufacture date")
        dd, mm, yy = (bcd_decode(data[i : i + 1]) for i in range(3))
        try:
            return cls(date(2000 + yy, mm, dd))
        except ValueError as exc:
            raise FrameError(f"manufacture date {data.hex(' ')} is not a date") from exc


@dataclass(frozen=True, slots=True)
class BatteryVoltage:
    volts: Decimal

    def to_bytes(self) -> bytes:
        return _scaled(self.volts, 2, 2, "battery voltage")

    @classmethod
    def from_bytes(cls, data: bytes) -> BatteryVoltage:
        return cls(Decimal(bcd_decode(_exact(data, 2, "battery voltage"))).scaleb(-2))


@dataclass(frozen=True, slots=True)
class FirmwareInfo:
    """28 as mercury-base reads it [1]: version major.minor (BCD), one byte, date DD MM YY."""

    version: str
    built: date
    kind: int = 0

    def to_bytes(self) -> bytes:
        major, _, minor = self.version.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise FrameError(f"firmware version {self.version!r} is not major.minor")
        return (
            bcd_encode(int(major), 1)
            + bcd_encode(int(minor), 1)
            + bytes((self.kind,))
            + ManufactureDate(self.built).to_bytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FirmwareInfo:
        _exact(data, 6, "firmware")
        version = f"{bcd_decode(data[0:1])}.{bcd_decode(data[1:2])}"
        return cls(version, ManufactureDate.from_bytes(data[3:6]).day, data[2])


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """86 FF, undocumented in DOC1 [1]: mercury-base reads the model from byte 1
    (2 = 200, 4 = 203.2T, 6 = 203.2TR, 8 = 206, 10 = 201.8TLO) and options from byte 2."""

    model_code: int
    features: int = 0

    def to_bytes(self) -> bytes:
        return bytes((0xFF, self.model_code, self.features))

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelInfo:
        _exact(data, 3, "model")
        if data[0] != 0xFF:
            raise FrameError(f"model: parameter {data[0]:02X} echoed where FF belongs")
        return cls(data[1], data[2])
