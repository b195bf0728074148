"""Records and identity blocks of the Mercury 230 family: journal records (04 JJ REC), the
average-power profile (08 13/15, 06), the execution variant (08 12) and the passport (08 01)
(docs/reference/mercury-protocol.md §1.8, §1.10, §1.11; DOC3 §4.2, §4.4, §4.5).

::

    04 JJ REC   ss mm hh DD MM YY [ss mm hh DD MM YY] [NN]   BCD stamps; NN only for REC = FF
    08 13/15    PTR_HI PTR_LO ST hh mm DD MM YY T           BCD time; T minutes, binary
    06 (15 B)   ST hh mm DD MM YY T P+ P- Q+ Q-              powers 2 bytes little-endian,
                                                             FF FF = not measured
    08 12       b1 b2 b3 b4 b5 b6 [b7..b12]                  bit fields, see Variant
    08 01       S1..S4 DD MM YY | MAJ MIN PATCH | b1..b6 [| CRC(2) code(2) b7 b8 reserve(2)]

Record status bits (DOC3 fig. 4.38, positions derived from the example 0A): 0 overflow,
1 incomplete slice, 2 memory initialised, 3 winter, 4 second profile, 6-5 tariff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.errors import FrameError, TruncatedError
from drivers.mercury.values import (
    FirmwareVersion,
    MeterIdentity,
    decode_bcd,
    encode_bcd,
    exact_length,
)

__all__ = [
    "JOURNAL_STAMPS",
    "REPROGRAMMING_JOURNAL",
    "JournalRecord",
    "Passport",
    "ProfilePointer",
    "ProfileRecord",
    "ReprogrammingRecord",
    "Variant",
    "decode_stamp",
    "encode_stamp",
    "profile_power_kw",
]

#: Time stamps per record of the journals whose layout DOC3 table 4.2 states as a pair
#: (on/off, before/after, start/end, opened/closed).
#: 0B–0E (energy limits), 1A (magnetic field) and 80–86 (reverse current, current without
#: voltage, phase order) are start/end conditions like 06, so two stamps [derived]; the edit
#: journals 07–0A, 0F–11, 15, 16 are single-time (6 bytes) [derived from "single-time journals
#: return 6 bytes"].
JOURNAL_STAMPS = {
    0x01: 2, 0x02: 2, 0x03: 2, 0x04: 2, 0x05: 2, 0x06: 2,
    0x07: 1, 0x08: 1, 0x09: 1, 0x0A: 1,
    0x0B: 2, 0x0C: 2, 0x0D: 2, 0x0E: 2,
    0x0F: 1, 0x10: 1, 0x11: 1,
    0x12: 2, 0x15: 1, 0x16: 1, 0x17: 2, 0x18: 2, 0x19: 2, 0x1A: 2,
    0x80: 2, 0x81: 2, 0x82: 2, 0x83: 2, 0x84: 2, 0x85: 2, 0x86: 2,
}  # fmt: skip

_NOT_MEASURED = 0xFFFF
#: Journal 13 (reprogramming) has its own 12-byte layout (DOC3 table 4.2).
REPROGRAMMING_JOURNAL = 0x13


def decode_stamp(data: bytes) -> datetime | None:
    """``ss mm hh DD MM YY`` in BCD as a naive local time; an all-zero (empty) stamp is ``None``."""
    raw = exact_length(data, 6, "time stamp")
    if not any(raw):
        return None
    second, minute, hour, day, month, year = decode_bcd(raw)
    try:
        return datetime(2000 + year, month, day, hour, minute, second)
    except ValueError as exc:
        raise FrameError(f"time stamp {raw.hex(' ')} is not a valid time") from exc


def encode_stamp(moment: datetime | None) -> bytes:
    if moment is None:
        return bytes(6)
    if not 2000 <= moment.year <= 2099:
        raise FrameError(f"{moment} is outside the two-digit years")
    m = moment
    return encode_bcd((m.second, m.minute, m.hour, m.day, m.month, m.year - 2000))


def _hhmm_date(data: bytes) -> datetime | None:
    """``hh mm DD MM YY`` in BCD (profile records); all zeros is an empty record."""
    if not any(data):
        return None
    hour, minute, day, month, year = decode_bcd(data)
    try:
        return datetime(2000 + year, month, day, hour, minute)
    except ValueError as exc:
        raise FrameError(f"record time {data.hex(' ')} is not a valid time") from exc


def _encode_hhmm_date(moment: datetime | None) -> bytes:
    if moment is None:
        return bytes(5)
    if not 2000 <= moment.year <= 2099 or moment.second:
        raise FrameError(f"{moment} does not fit a profile time stamp")
    return encode_bcd((moment.hour, moment.minute, moment.day, moment.month, moment.year - 2000))


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One journal record: one or two stamps, and its number when the last record was asked."""

    stamps: tuple[datetime | None, ...]
    number: int | None = None

    def __post_init__(self) -> None:
        if len(self.stamps) not in (1, 2):
            raise FrameError(f"a journal record has 1 or 2 stamps, not {len(self.stamps)}")
        if self.number is not None and not 0 <= self.number <= 0xFF:
            raise FrameError(f"record number {self.number} does not fit one byte")

    def to_bytes(self) -> bytes:
        tail = b"" if self.number is None else bytes((self.number,))
        return b"".join(encode_stamp(stamp) for stamp in self.stamps) + tail

    @classmethod
    def from_bytes(cls, data: bytes, stamps: int = 2, numbered: bool = False) -> JournalRecord:
        raw = exact_length(data, 6 * stamps + numbered, "journal record")
        moments = tuple(decode_stamp(raw[i : i + 6]) for i in range(0, 6 * stamps, 6))
        return cls(moments, raw[-1] if numbered else None)


@dataclass(frozen=True, slots=True)
class ReprogrammingRecord:
    """Journal 13: ``DD MM YY`` (BCD), the number of write requests, the positional code of
    the 03 parameters written (7 bytes, one bit per parameter) and the 07 flag; all zeros is an
    empty record. The record has a date but no time of day."""

    day: date | None
    requests: int
    parameters: bytes
    flag: int
    number: int | None = None

    def __post_init__(self) -> None:
        if len(self.parameters) != 7 or not (0 <= self.requests <= 0xFF and 0 <= self.flag <= 0xFF):
            raise FrameError("a reprogramming record has 1 + 7 + 1 bytes after its date")
        if self.number is not None and not 0 <= self.number <= 0xFF:
            raise FrameError(f"record number {self.number} does not fit one byte")

    def to_bytes(self) -> bytes:
        stamp = bytes(3) if self.day is None else encode_bcd(
            (self.day.day, self.day.month, self.day.year - 2000)
        )
        tail = b"" if self.number is None else bytes((self.number,))
        return stamp + bytes((self.requests,)) + self.parameters + bytes((self.flag,)) + tail

    @classmethod
    def from_bytes(cls, data: bytes, numbered: bool = False) -> ReprogrammingRecord:
        raw = exact_length(data, 12 + numbered, "reprogramming record")
        day: date | None = None
        if any(raw[:3]):
            dd, mm, yy = decode_bcd(raw[:3])
            try:
                day = date(2000 + yy, mm, dd)
            except ValueError as exc:
                raise FrameError(f"record date {raw[:3].hex(' ')} is not a date") from exc
        return cls(day, raw[3], bytes(raw[4:11]), raw[11], raw[12] if numbered else None)


@dataclass(frozen=True, slots=True)
class ProfilePointer:
    """08 13/15: where the last profile record is, and its header.

    ``pointer`` is kept as sent: a record index on firmware ≥ 9 (×16 for the byte address),
    a byte address before (docs/reference/mercury-protocol.md §1.10, conflict resolved by firmware).
    """

    pointer: int
    status: int
    recorded_at: datetime | None
    period_min: int

    def __post_init__(self) -> None:
        if not (0 <= self.pointer <= 0xFFFF and 0 <= self.status <= 0xFF):
            raise FrameError("profile pointer or status out of range")
        if not 0 <= self.period_min <= 0xFF:
            raise FrameError(f"period {self.period_min} min does not fit one byte")

    @property
    def winter(self) -> bool:
        return bool(self.status & 0x08)

    @property
    def incomplete(self) -> bool:
        return bool(self.status & 0x02)

    def to_bytes(self) -> bytes:
        return (
            self.pointer.to_bytes(2, "big") + bytes((self.status,))
            + _encode_hhmm_date(self.recorded_at) + bytes((self.period_min,))
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ProfilePointer:
        raw = exact_length(data, 9, "profile pointer")
        return cls(int.from_bytes(raw[:2], "big"), raw[2], _hhmm_date(raw[3:8]), raw[8])


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """One average-power record: counts N per quantity, ``None`` where FF FF (not measured)."""

    status: int
    recorded_at: datetime | None
    period_min: int
    p_plus: int | None
    p_minus: int | None
    q_plus: int | None
    q_minus: int | None

    def __post_init__(self) -> None:
        if not (0 <= self.status <= 0xFF and 0 <= self.period_min <= 0xFF):
            raise FrameError("profile status or period out of range")
        for value in (self.p_plus, self.p_minus, self.q_plus, self.q_minus):
            if value is not None and not 0 <= value < _NOT_MEASURED:
                raise FrameError(f"profile count {value} does not fit below FF FF")

    @property
    def incomplete(self) -> bool:
        return bool(self.status & 0x02)

    @property
    def winter(self) -> bool:
        return bool(self.status & 0x08)

    def to_bytes(self) -> bytes:
        counts = b"".join(
            (_NOT_MEASURED if v is None else v).to_bytes(2, "little")
            for v in (self.p_plus, self.p_minus, self.q_plus, self.q_minus)
        )
        header = bytes((self.status,)) + _encode_hhmm_date(self.recorded_at)
        return header + bytes((self.period_min,)) + counts

    @classmethod
    def from_bytes(cls, data: bytes) -> ProfileRecord:
        raw = exact_length(data, 15, "profile record")
        p_plus, p_minus, q_plus, q_minus = (
            None if (n := int.from_bytes(raw[i : i + 2], "little")) == _NOT_MEASURED else n
            for i in range(7, 15, 2)
        )
        return cls(raw[0], _hhmm_date(raw[1:6]), raw[6], p_plus, p_minus, q_plus, q_minus)


def profile_power_kw(count: int, period_min: int, meter_constant: int) -> Decimal:
    """Average power of a profile record: N·(60/T)/(2·A) kW (DOC3 p.97)."""
    if period_min <= 0 or meter_constant <= 0:
        raise FrameError(f"period {period_min} min / constant {meter_constant} cannot convert")
    return Decimal(count * 60) / Decimal(period_min * 2 * meter_constant)


_CLASSES = ("0.2S", "0.5S", "1.0", "2.0")
_NOMINAL_VOLTAGE = {0: Decimal("57.7"), 1: Decimal(230)}
_NOMINAL_CURRENT = {0: 5, 1: 1, 2: 10}
_METER_CONSTANT = {0: 5000, 1: 25000, 2: 1250, 3: 500, 4: 1000, 5: 250}


@dataclass(frozen=True, slots=True)
class Variant:
    """08 12 execution variant, 6 bytes (12 in the long form), decoded per DOC3 fig. 4.33."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) not in (6, 12):
            raise FrameError(f"a variant is 6 or 12 bytes, not {len(self.raw)}")

    @property
    def active_class(self) -> str:
        return _CLASSES[self.raw[0] >> 6]

    @property
    def reactive_class(self) -> str:
        # [derived] DOC3 gives the same code table for both classes.
        return _CLASSES[(self.raw[0] >> 4) & 0x03]

    @property
    def nominal_voltage_v(self) -> Decimal | None:
        return _NOMINAL_VOLTAGE.get((self.raw[0] >> 2) & 0x03)

    @property
    def nominal_current_a(self) -> int | None:
        return _NOMINAL_CURRENT.get(self.raw[0] & 0x03)

    @property
    def bidirectional(self) -> bool:
        return not self.raw[1] & 0x80

    @property
    def has_profile(self) -> bool:
        return bool(self.raw[1] & 0x20)

    @property
    def phases(self) -> int:
        return 1 if self.raw[1] & 0x10 else 3

    @property
    def meter_constant(self) -> int | None:
        """Impulses per kWh, needed to convert profile records."""
        return _METER_CONSTANT.get(self.raw[1] & 0x0F)

    @property
    def large_memory(self) -> bool:
        """Memory 3 of 131K×8 (8192 profile records) rather than 65.5K×8."""
        return bool(self.raw[3] & 0x80)

    @property
    def extended_archives(self) -> bool:
        """Code 18h (daily/monthly archives) is available."""
        return bool(self.raw[5] & 0x40)

    @property
    def interfaces(self) -> tuple[str, ...]:
        """Communication interfaces from b4: main interface [3:2], optical port, GSM, PLC."""
        main = {0: "can", 1: "rs485"}.get((self.raw[3] >> 2) & 0x03)
        flags = ((0x10, "optical"), (0x20, "gsm"), (0x40, "plc"))
        return tuple(name for name in (main, *(n for bit, n in flags if self.raw[3] & bit))
                     if name is not None)

    def fields(self) -> list[tuple[str, str]]:
        """The variant as ``info`` fields (names in snake case, values as text)."""
        constant = self.meter_constant
        voltage, current = self.nominal_voltage_v, self.nominal_current_a
        return [
            ("accuracy_class_active", self.active_class),
            ("accuracy_class_reactive", self.reactive_class),
            ("nominal_voltage_v", "" if voltage is None else str(voltage)),
            ("nominal_current_a", "" if current is None else str(current)),
            ("meter_constant", "" if constant is None else str(constant)),
            ("phases", str(self.phases)),
            ("directions", "2" if self.bidirectional else "1"),
            ("profile", str(self.has_profile).lower()),
            ("profile_records", "8192" if self.large_memory else "4096"),
            ("interfaces", ",".join(self.interfaces)),
            ("extended_archives", str(self.extended_archives).lower()),
            ("variant", self.raw.hex().upper()),
        ]

    def to_bytes(self) -> bytes:
        return self.raw

    @classmethod
    def from_bytes(cls, data: bytes) -> Variant:
        if len(data) < 6:
            raise TruncatedError(f"variant: {len(data)} of 6 data bytes")
        if len(data) not in (6, 12):
            raise FrameError(f"variant: {len(data)} data bytes where 6 or 12 belong")
        return cls(bytes(data))


@dataclass(frozen=True, slots=True)
class Passport:
    """08 01 fast read: identity, firmware and variant; ``extra`` is the long form's tail."""

    identity: MeterIdentity
    firmware: FirmwareVersion
    variant: Variant
    extra: bytes = b""

    def __post_init__(self) -> None:
        if len(self.variant.raw) != 6 or len(self.extra) not in (0, 8):
            raise FrameError("a passport carries a 6-byte variant and 0 or 8 more bytes")

    def to_bytes(self) -> bytes:
        return (
            self.identity.to_bytes() + self.firmware.to_bytes() + self.variant.to_bytes()
            + self.extra
        )

    @classmethod
    def from_bytes(cls, data: bytes, long_form: bool = False) -> Passport:
        raw = exact_length(data, 24 if long_form else 16, "passport")
        return cls(
            MeterIdentity.from_bytes(raw[:7]),
            FirmwareVersion.from_bytes(raw[7:10]),
            Variant(raw[10:16]),
            raw[16:],
        )
