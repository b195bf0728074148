"""Auxiliary (instantaneous) values: the BWRI selector and the 3- and 4-byte value layouts
(docs/reference/mercury-protocol.md §1.8; DOC3 §4.4 figs. 4.22–4.29).

::

    BWRI   QQQQ LLLL    QQQQ quantity (0 power, 1 U, 2 I, 3 cos φ, 4 f, 5 angle, 6 THD,
                        7 temperature, 8 line U, E fixation time, F fixed energy)
                        LLLL for power: KK PP (KK 0 P, 1 Q, 2 S; PP 0 sum, 1..3 phase),
                        otherwise the phase (08 14/16: phase 1 = all phases at once)

    3 bytes (08 11, 08 16)   b0 b1 b2      b0 = A R m5..m0 (A active reverse, R reactive reverse)
                                           magnitude = (b0 & 3F)·2^16 + b2·2^8 + b1
    4 bytes (08 14, power)   w0 w1 w2 w3   w1 = A R m5..m0 (the MSB), like energy:
                                           magnitude = (w1 & 3F)·2^24 + w0·2^16 + w3·2^8 + w2
    2 bytes                  temperature big-endian signed °C; THD little-endian 0.01 %

Scales: U, P, Q, S, f, angles 0.01 (P/Q/S in W/var/VA); I and cos φ 0.001. The model wants
kW/kvar/kVA, so powers are scaled by 1e-5. Signs: P and cos φ follow the active-direction bit,
Q the reactive-direction bit; cos φ = P/S, hence negative when active power flows back. S, U, I,
f and angles are magnitudes: their direction bits are masked (DOC3, MJ) and kept only for a
byte-exact round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import IntEnum

from core.errors import FrameError, TruncatedError
from drivers.mercury.values import exact_length

__all__ = [
    "Bwri",
    "DirectedValue",
    "HarmonicDistortion",
    "InstantValues",
    "PowerKind",
    "Quantity",
    "Temperature",
    "decode_quantity",
    "encode_quantity",
]

_ACTIVE_REVERSE = 0x80
_REACTIVE_REVERSE = 0x40


class Quantity(IntEnum):
    """High nibble of BWRI."""

    POWER = 0x0
    VOLTAGE = 0x1
    CURRENT = 0x2
    POWER_FACTOR = 0x3
    FREQUENCY = 0x4
    ANGLE = 0x5
    THD = 0x6
    TEMPERATURE = 0x7
    LINE_VOLTAGE = 0x8
    FIXATION_TIME = 0xE
    FIXED_ENERGY = 0xF


class PowerKind(IntEnum):
    ACTIVE = 0
    REACTIVE = 1
    APPARENT = 2


@dataclass(frozen=True, slots=True)
class Bwri:
    """The selector byte; ``index`` is the phase (0 sum) or, for FIXED_ENERGY, the tariff."""

    quantity: Quantity
    index: int = 0
    power: PowerKind = PowerKind.ACTIVE

    def __post_init__(self) -> None:
        limit = 3 if self.quantity is Quantity.POWER else 0x0F
        if not 0 <= self.index <= limit:
            raise FrameError(f"BWRI index {self.index} out of range for {self.quantity.name}")
        if self.power is not PowerKind.ACTIVE and self.quantity is not Quantity.POWER:
            raise FrameError("only the power quantity has a power kind")

    def to_byte(self) -> int:
        low = self.power << 2 | self.index if self.quantity is Quantity.POWER else self.index
        return self.quantity << 4 | low

    @classmethod
    def from_byte(cls, value: int) -> Bwri:
        try:
            quantity = Quantity(value >> 4)
        except ValueError as exc:
            raise FrameError(f"BWRI {value:02X}: unknown quantity") from exc
        if quantity is Quantity.POWER:
            try:
                power = PowerKind((value >> 2) & 0x03)
            except ValueError as exc:
                raise FrameError(f"BWRI {value:02X}: unknown power kind") from exc
            return cls(quantity, value & 0x03, power)
        return cls(quantity, value & 0x0F)


@dataclass(frozen=True, slots=True)
class DirectedValue:
    """A magnitude with the two direction bits, as sent in 3 (or, for 08 14 power, 4) bytes."""

    magnitude: int
    active_reverse: bool = False
    reactive_reverse: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.magnitude <= 0x3FFFFFFF:
            raise FrameError(f"magnitude {self.magnitude} does not fit 30 bits")

    def _flags(self) -> int:
        return (_ACTIVE_REVERSE if self.active_reverse else 0) | (
            _REACTIVE_REVERSE if self.reactive_reverse else 0
        )

    def to_bytes(self, width: int = 3) -> bytes:
        m = self.magnitude
        if width == 3:
            if m > 0x3FFFFF:
                raise FrameError(f"magnitude {m} does not fit the 22 bits of a 3-byte value")
            return bytes((self._flags() | m >> 16, m & 0xFF, (m >> 8) & 0xFF))
        if width == 4:
            return bytes(((m >> 16) & 0xFF, self._flags() | m >> 24, m & 0xFF, (m >> 8) & 0xFF))
        raise FrameError(f"a directed value is 3 or 4 bytes, not {width}")

    @classmethod
    def from_bytes(cls, data: bytes) -> DirectedValue:
        if len(data) == 3:
            b0, b1, b2 = data
            return cls((b0 & 0x3F) << 16 | b2 << 8 | b1, bool(b0 & 0x80), bool(b0 & 0x40))
        if len(data) == 4:
            w0, w1, w2, w3 = data
            magnitude = (w1 & 0x3F) << 24 | w0 << 16 | w3 << 8 | w2
            return cls(magnitude, bool(w1 & 0x80), bool(w1 & 0x40))
        if len(data) < 3:
            raise TruncatedError(f"a directed value is 3 or 4 bytes, got {len(data)}")
        raise FrameError(f"a directed value is 3 or 4 bytes, got {len(data)}")


# Decimal exponent from the wire unit to the model unit.
_EXPONENT = {
    Quantity.VOLTAGE: -2,
    Quantity.LINE_VOLTAGE: -2,
    Quantity.CURRENT: -3,
    Quantity.POWER_FACTOR: -3,
    Quantity.FREQUENCY: -2,
    Quantity.ANGLE: -2,
    Quantity.POWER: -5,  # 0.01 W → kW
}


_POWER_SIGN_BITS = {PowerKind.ACTIVE: "active", PowerKind.REACTIVE: "reactive"}


def _sign_bit(selector: Bwri) -> str | None:
    if selector.quantity is Quantity.POWER:
        return _POWER_SIGN_BITS.get(selector.power)
    return "active" if selector.quantity is Quantity.POWER_FACTOR else None


def decode_quantity(selector: Bwri, value: DirectedValue) -> Decimal:
    """``value`` in model units (V, A, kW, kvar, kVA, 1, Hz, °), signed per the module notes."""
    try:
        exponent = _EXPONENT[selector.quantity]
    except KeyError as exc:
        raise FrameError(f"{selector.quantity.name} is not a 3-byte quantity") from exc
    result = Decimal(value.magnitude).scaleb(exponent)
    sign = _sign_bit(selector)
    negative = (sign == "active" and value.active_reverse) or (
        sign == "reactive" and value.reactive_reverse
    )
    return -result if negative and value.magnitude else result  # never a "-0"


def encode_quantity(
    selector: Bwri,
    amount: Decimal,
    *,
    active_reverse: bool | None = None,
    reactive_reverse: bool | None = None,
) -> DirectedValue:
    """The wire value of ``amount`` (model units, rounded half-even to the wire resolution).

    The bit that carries the quantity's sign follows the sign of ``amount``; the other bit
    (say, the reactive direction shown on an active power) comes from its keyword.
    """
    try:
        exponent = _EXPONENT[selector.quantity]
    except KeyError as exc:
        raise FrameError(f"{selector.quantity.name} is not a 3-byte quantity") from exc
    magnitude = int(abs(amount).scaleb(-exponent).quantize(Decimal(1), ROUND_HALF_EVEN))
    flags = {"active": bool(active_reverse), "reactive": bool(reactive_reverse)}
    sign = _sign_bit(selector)
    if sign is not None:
        given = active_reverse if sign == "active" else reactive_reverse
        negative = amount < 0
        if given is not None and magnitude and given != negative:
            raise FrameError(f"the {sign}-direction bit contradicts the sign of {amount}")
        flags[sign] = negative if magnitude else bool(given)
    return DirectedValue(magnitude, flags["active"], flags["reactive"])


@dataclass(frozen=True, slots=True)
class InstantValues:
    """One answer of 08 11 (one value), 08 16 (all phases, 3 bytes) or 08 14 power (4 bytes).

    The order is the meter's: sum, phase 1, 2, 3 for power and cos φ; phases 1..3 for U and I.
    """

    selector: Bwri
    values: tuple[DirectedValue, ...]
    width: int = 3

    def __post_init__(self) -> None:
        if self.width not in (3, 4) or not self.values:
            raise FrameError(f"{len(self.values)} values of {self.width} bytes is no answer")

    @property
    def amounts(self) -> tuple[Decimal, ...]:
        return tuple(decode_quantity(self.selector, value) for value in self.values)

    @classmethod
    def from_amounts(
        cls, selector: Bwri, amounts: Sequence[Decimal], width: int = 3
    ) -> InstantValues:
        return cls(selector, tuple(encode_quantity(selector, a) for a in amounts), width)

    def to_bytes(self) -> bytes:
        return b"".join(value.to_bytes(self.width) for value in self.values)

    @classmethod
    def from_bytes(cls, data: bytes, selector: Bwri, count: int, width: int = 3) -> InstantValues:
        raw = exact_length(data, count * width, f"{selector.quantity.name.lower()} values")
        values = tuple(
            DirectedValue.from_bytes(raw[i : i + width]) for i in range(0, len(raw), width)
        )
        return cls(selector, values, width)


@dataclass(frozen=True, slots=True)
class Temperature:
    """Internal temperature, whole °C, two bytes big-endian signed (DOC3 and WB: 00 18 = 24 °C)."""

    celsius: int

    def __post_init__(self) -> None:
        if not -0x8000 <= self.celsius <= 0x7FFF:
            raise FrameError(f"temperature {self.celsius} does not fit 2 bytes")

    def to_bytes(self) -> bytes:
        return self.celsius.to_bytes(2, "big", signed=True)

    @classmethod
    def from_bytes(cls, data: bytes) -> Temperature:
        return cls(int.from_bytes(exact_length(data, 2, "temperature"), "big", signed=True))


@dataclass(frozen=True, slots=True)
class HarmonicDistortion:
    """THD of a phase voltage in 0.01 %, two bytes little-endian (DOC3 example, WB)."""

    raw: int

    def __post_init__(self) -> None:
        if not 0 <= self.raw <= 0xFFFF:
            raise FrameError(f"THD {self.raw} does not fit 2 bytes")

    @property
    def percent(self) -> Decimal:
        return Decimal(self.raw).scaleb(-2)

    def to_bytes(self) -> bytes:
        return self.raw.to_bytes(2, "little")

    @classmethod
    def from_bytes(cls, data: bytes) -> HarmonicDistortion:
        return cls(int.from_bytes(exact_length(data, 2, "THD"), "little"))
