"""Register values: the 16-bit registers of one point ↔ a number, and the number ↔ the model's
exact decimal in the model's unit (DESIGN §3).

::

    a 32-bit value 0xAABBCCDD in two registers, by word and byte order
      word_order big,    byte_order big      reg n = AABB  reg n+1 = CCDD   ("ABCD")
      word_order little, byte_order big      reg n = CCDD  reg n+1 = AABB   ("CDAB")
      word_order big,    byte_order little   reg n = BBAA  reg n+1 = DDCC   ("BADC")
      word_order little, byte_order little   reg n = DDCC  reg n+1 = BBAA   ("DCBA")

Modbus itself sends each register high byte first (Modbus Application Protocol V1.1b3 §4.2);
how a device spreads a wider value over several registers is its own choice, which its map
declares. Integers are scaled by the map's ``scale``; a float is rounded to the map's
``resolution`` from its exact binary value, so that 230.1 read as float32 (230.1000061…) is the
decimal 230.1. Energy and power are then expressed in the model's units (kWh, kvarh, kW, kvar,
kVA), exactly.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

__all__ = [
    "BYTE_ORDERS",
    "DATA_TYPES",
    "UNITS",
    "WORD_ORDERS",
    "DataType",
    "Order",
    "decode_number",
    "encode_number",
    "is_float",
    "model_value",
    "register_count",
    "to_model_unit",
    "type_max",
]

DataType = Literal["u16", "s16", "u32", "s32", "u64", "s64", "float32", "float64"]
Order = Literal["big", "little"]

#: struct format (big-endian) and number of registers of each type.
_TYPES: dict[str, tuple[str, int]] = {
    "u16": (">H", 1),
    "s16": (">h", 1),
    "u32": (">I", 2),
    "s32": (">i", 2),
    "u64": (">Q", 4),
    "s64": (">q", 4),
    "float32": (">f", 2),
    "float64": (">d", 4),
}
DATA_TYPES: tuple[str, ...] = tuple(_TYPES)
WORD_ORDERS: tuple[str, ...] = ("big", "little")
BYTE_ORDERS: tuple[str, ...] = ("big", "little")

#: A register's own unit → the model's unit and the power of ten between them.
UNITS: dict[str, tuple[str, int]] = {
    "Wh": ("kWh", -3),
    "kWh": ("kWh", 0),
    "MWh": ("kWh", 3),
    "varh": ("kvarh", -3),
    "kvarh": ("kvarh", 0),
    "Mvarh": ("kvarh", 3),
    "W": ("kW", -3),
    "kW": ("kW", 0),
    "var": ("kvar", -3),
    "kvar": ("kvar", 0),
    "VA": ("kVA", -3),
    "kVA": ("kVA", 0),
    "V": ("V", 0),
    "kV": ("V", 3),
    "A": ("A", 0),
    "mA": ("A", -3),
    "Hz": ("Hz", 0),
    "1": ("1", 0),
}


def register_count(data_type: str) -> int:
    """How many 16-bit registers a value of ``data_type`` takes."""
    return _TYPES[data_type][1]


def type_max(data_type: str) -> int:
    """The largest value of an integer type: all ones unsigned, ``7FFF…`` signed — what many
    devices answer for a quantity they do not have."""
    bits = register_count(data_type) * 16
    return (1 << (bits - 1)) - 1 if data_type.startswith("s") else (1 << bits) - 1


def is_float(data_type: str) -> bool:
    return data_type.startswith("float")


def _ordered(raw: bytes, word_order: str, byte_order: str) -> bytes:
    """Big-endian value bytes ↔ register bytes; the transform is its own inverse."""
    words = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [word[::-1] for word in words]
    return b"".join(words)


def decode_number(registers: Sequence[int], data_type: str, word_order: str = "big",
                  byte_order: str = "big") -> int | float:
    """The number in ``registers`` (exactly :func:`register_count` of them, each 0..65535)."""
    fmt, count = _TYPES[data_type]
    if len(registers) != count:
        raise ValueError(f"{data_type} takes {count} registers, not {len(registers)}")
    raw = b"".join(register.to_bytes(2, "big") for register in registers)
    value: int | float = struct.unpack(fmt, _ordered(raw, word_order, byte_order))[0]
    return value


def encode_number(value: int | float, data_type: str, word_order: str = "big",
                  byte_order: str = "big") -> list[int]:
    """The registers that hold ``value`` (the simulator's side of :func:`decode_number`).

    :class:`ValueError` when ``value`` does not fit ``data_type``.
    """
    fmt, _count = _TYPES[data_type]
    try:
        raw = struct.pack(fmt, value if is_float(data_type) else int(value))
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"{value!r} does not fit {data_type}: {exc}") from exc
    ordered = _ordered(raw, word_order, byte_order)
    return [int.from_bytes(ordered[i:i + 2], "big") for i in range(0, len(ordered), 2)]


def model_value(number: int | float, *, scale: Decimal, resolution: Decimal | None) -> Decimal:
    """The register's value in its own unit: an integer times ``scale``; a float rounded to
    ``resolution``. :class:`ValueError` for NaN or an infinity (a value the device lacks)."""
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"the device sent {number} (no value)")
        exact = Decimal(number) * scale
        if resolution is None:
            raise ValueError("a float needs a resolution")
        return exact.quantize(resolution, rounding=ROUND_HALF_EVEN)
    return Decimal(number) * scale


def to_model_unit(value: Decimal, unit: str) -> tuple[Decimal, str]:
    """``value`` in ``unit`` → the same quantity in the model's unit, exactly."""
    model_unit, power = UNITS[unit]
    if power:
        value = value.scaleb(power)
    return value, model_unit
