"""A-XDR encoding of COSEM ``Data`` (IEC 62056-6-2 §4.1.5; GOST R 58940-2020 table 7.2).

::

    Data       tag(1) | contents
    length     0xxxxxxx (0..127) | 81 nn | 82 nnnn | 83 nnnnnn | 84 nnnnnnnn
    array      01 count item…          structure   02 count item…
    strings    09/0A/0C length bytes   bit-string  04 length-in-bits bytes
    integers   big-endian, two's complement for the signed ones
    float      IEEE 754 big-endian      date-time/date/time  19/1A/1B, 12/5/4 bytes, no length
    compact    13 <type description> length <items without tags>
               type description: tag | 01 count(2) <element> | 02 count <field>…

``Data`` is one frozen value with a type tag; ``value`` holds a Python value of the tag's kind
(see ``DataValue``). Re-encoding a decoded value gives the same bytes, except for boolean
TRUE sent as a byte other than 01, a length sent in a longer form than needed, and NaN
payloads. A compact-array (tag 19) carries one type description and then its items without
tags; its items are decoded into ordinary ``Data`` values.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, TypeAlias

from core.errors import FrameError, TruncatedError
from drivers.dlms.cosem_datetime import CosemDate, CosemDateTime, CosemTime

__all__ = [
    "BitString",
    "CompactArray",
    "Data",
    "DataType",
    "DataValue",
    "TypeDescription",
    "decode_data",
    "decode_length",
    "encode_length",
]

MAX_DEPTH: Final = 16


class DataType(IntEnum):
    NULL_DATA = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27


@dataclass(frozen=True, slots=True)
class BitString:
    """``length`` bits, the first one the most significant bit of ``data[0]``."""

    length: int
    data: bytes

    def __post_init__(self) -> None:
        if len(self.data) != (self.length + 7) // 8:
            raise FrameError(f"a bit-string of {self.length} bits in {len(self.data)} bytes")

    def bit(self, index: int) -> bool:
        if not 0 <= index < self.length:
            raise FrameError(f"bit {index} of a {self.length}-bit string")
        return bool(self.data[index // 8] & (0x80 >> (index % 8)))


DataValue: TypeAlias = (
    "bool | int | float | bytes | str | BitString | tuple[Data, ...] | CompactArray "
    "| CosemDateTime | CosemDate | CosemTime | None"
)

# tag → (size, signed) for the fixed-size integers
_INTEGERS: Final = {
    DataType.DOUBLE_LONG: (4, True),
    DataType.DOUBLE_LONG_UNSIGNED: (4, False),
    DataType.BCD: (1, False),
    DataType.INTEGER: (1, True),
    DataType.LONG: (2, True),
    DataType.UNSIGNED: (1, False),
    DataType.LONG_UNSIGNED: (2, False),
    DataType.LONG64: (8, True),
    DataType.LONG64_UNSIGNED: (8, False),
    DataType.ENUM: (1, False),
}
_FLOATS: Final = {DataType.FLOAT32: (4, ">f"), DataType.FLOAT64: (8, ">d")}
_FLOAT32_MAX: Final = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
_CALENDAR: Final = {DataType.DATE_TIME: 12, DataType.DATE: 5, DataType.TIME: 4}


@dataclass(frozen=True, slots=True)
class Data:
    type: DataType
    value: DataValue = None

    def __post_init__(self) -> None:
        kind, value = self.type, self.value
        if kind is DataType.NULL_DATA:
            ok = value is None
        elif kind in (DataType.ARRAY, DataType.STRUCTURE):
            ok = isinstance(value, tuple) and all(isinstance(item, Data) for item in value)
        elif kind is DataType.BOOLEAN:
            ok = isinstance(value, bool)
        elif kind is DataType.BIT_STRING:
            ok = isinstance(value, BitString)
        elif kind in _INTEGERS:
            size, signed = _INTEGERS[kind]
            low, high = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (
                0,
                (1 << (8 * size)) - 1,
            )
            ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        elif kind in _FLOATS:
            ok = isinstance(value, float) and (
                kind is DataType.FLOAT64
                or not math.isfinite(value)
                or abs(value) <= _FLOAT32_MAX  # larger ones cannot be packed in 4 bytes
            )
        elif kind is DataType.OCTET_STRING:
            ok = isinstance(value, bytes)
        elif kind in (DataType.VISIBLE_STRING, DataType.UTF8_STRING):
            ok = isinstance(value, str)
            if ok and kind is DataType.VISIBLE_STRING:
                ok = all(ord(char) < 256 for char in str(value))
        elif kind is DataType.COMPACT_ARRAY:
            ok = isinstance(value, CompactArray)
        elif kind is DataType.DATE_TIME:
            ok = isinstance(value, CosemDateTime)
        elif kind is DataType.DATE:
            ok = isinstance(value, CosemDate)
        elif kind is DataType.TIME:
            ok = isinstance(value, CosemTime)
        else:
            ok = False
        if not ok:
            raise FrameError(f"{value!r} is not a value of A-XDR {kind.name.lower()}")

    # --- convenience constructors and accessors ---

    @classmethod
    def array(cls, *items: Data) -> Data:
        return cls(DataType.ARRAY, tuple(items))

    @classmethod
    def structure(cls, *items: Data) -> Data:
        return cls(DataType.STRUCTURE, tuple(items))

    @classmethod
    def octets(cls, value: bytes) -> Data:
        return cls(DataType.OCTET_STRING, value)

    @classmethod
    def datetime_octets(cls, value: CosemDateTime) -> Data:
        """A date-time as profiles and the clock carry it: octet-string(12), GOST §7.2.4."""
        return cls(DataType.OCTET_STRING, value.to_bytes())

    @property
    def items(self) -> tuple[Data, ...]:
        if not isinstance(self.value, tuple):
            raise FrameError(f"A-XDR {self.type.name.lower()} where array or structure was due")
        return self.value

    def as_int(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise FrameError(f"A-XDR {self.type.name.lower()} where an integer was due")
        return self.value

    def as_bytes(self) -> bytes:
        if not isinstance(self.value, bytes):
            raise FrameError(f"A-XDR {self.type.name.lower()} where an octet-string was due")
        return self.value

    def as_datetime(self) -> CosemDateTime:
        """A date-time sent as tag 25 or as octet-string(12)."""
        if isinstance(self.value, CosemDateTime):
            return self.value
        return CosemDateTime.from_bytes(self.as_bytes())

    # --- wire ---

    def to_bytes(self) -> bytes:
        kind, value = self.type, self.value
        tag = bytes((int(kind),))
        if kind is DataType.NULL_DATA:
            return tag
        if isinstance(value, tuple):
            return tag + encode_length(len(value)) + b"".join(item.to_bytes() for item in value)
        if isinstance(value, CompactArray):
            return tag + value.to_bytes()
        if isinstance(value, bool):
            return tag + (b"\x01" if value else b"\x00")
        if isinstance(value, BitString):
            return tag + encode_length(value.length) + value.data
        if kind in _INTEGERS:
            size, signed = _INTEGERS[kind]
            assert isinstance(value, int)
            return tag + value.to_bytes(size, "big", signed=signed)
        if kind in _FLOATS:
            assert isinstance(value, float)
            return tag + struct.pack(_FLOATS[kind][1], value)
        if isinstance(value, bytes):
            return tag + encode_length(len(value)) + value
        if isinstance(value, str):
            raw = value.encode("latin-1" if kind is DataType.VISIBLE_STRING else "utf-8")
            return tag + encode_length(len(raw)) + raw
        assert isinstance(value, CosemDateTime | CosemDate | CosemTime)
        return tag + value.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Data:
        """Exactly one value filling ``data``."""
        value, offset = decode_data(data)
        if offset != len(data):
            raise FrameError(f"{len(data) - offset} byte(s) after an A-XDR value")
        return value

    def __eq__(self, other: object) -> bool:
        # NaN floats compare by their bits, so a decoded value equals itself re-decoded.
        if not isinstance(other, Data):
            return NotImplemented
        if self.type is not other.type:
            return False
        if (
            isinstance(self.value, float)
            and isinstance(other.value, float)
            and (math.isnan(self.value) or math.isnan(other.value))
        ):
            return math.isnan(self.value) and math.isnan(other.value)
        return self.value == other.value

    def __hash__(self) -> int:
        return hash((self.type, repr(self.value)))


def encode_length(length: int) -> bytes:
    if length < 0:
        raise FrameError(f"an A-XDR length of {length}")
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    if size > 4:
        raise FrameError(f"an A-XDR length of {length} does not fit 4 bytes")
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def decode_length(data: bytes, offset: int = 0) -> tuple[int, int]:
    """The length at ``offset`` and the offset after it."""
    if offset >= len(data):
        raise TruncatedError("an A-XDR length is missing")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    size = first & 0x7F
    if not 1 <= size <= 4:
        raise FrameError(f"A-XDR length form {first:02X}")
    end = offset + 1 + size
    if end > len(data):
        raise TruncatedError("an A-XDR length runs past the data")
    return int.from_bytes(data[offset + 1 : end], "big"), end


def _take(data: bytes, offset: int, size: int, what: str) -> bytes:
    end = offset + size
    if end > len(data):
        raise TruncatedError(f"A-XDR {what} of {size} byte(s), {len(data) - offset} left")
    return bytes(data[offset:end])


def decode_data(data: bytes, offset: int = 0, depth: int = 0) -> tuple[Data, int]:
    """The value at ``offset`` and the offset after it."""
    if offset >= len(data):
        raise TruncatedError("an A-XDR value is missing")
    try:
        kind = DataType(data[offset])
    except ValueError:
        raise FrameError(f"unknown A-XDR tag {data[offset]:02X}") from None
    return _decode_body(kind, data, offset + 1, depth)


def _decode_body(kind: DataType, data: bytes, offset: int, depth: int) -> tuple[Data, int]:
    """The value of type ``kind`` whose tag has been read (or that a compact array implies)."""
    name = kind.name.lower()
    if kind is DataType.NULL_DATA:
        return Data(kind), offset
    if kind in (DataType.ARRAY, DataType.STRUCTURE):
        if depth >= MAX_DEPTH:
            raise FrameError(f"A-XDR values nested deeper than {MAX_DEPTH}")
        count, offset = decode_length(data, offset)
        if count > len(data) - offset:  # every item takes at least one byte
            raise TruncatedError(f"an A-XDR {name} of {count} items in {len(data) - offset} bytes")
        items = []
        for _ in range(count):
            item, offset = decode_data(data, offset, depth + 1)
            items.append(item)
        return Data(kind, tuple(items)), offset
    if kind is DataType.BOOLEAN:
        return Data(kind, _take(data, offset, 1, name)[0] != 0), offset + 1
    if kind is DataType.BIT_STRING:
        bits, offset = decode_length(data, offset)
        size = (bits + 7) // 8
        return Data(kind, BitString(bits, _take(data, offset, size, name))), offset + size
    if kind in _INTEGERS:
        size, signed = _INTEGERS[kind]
        raw = _take(data, offset, size, name)
        return Data(kind, int.from_bytes(raw, "big", signed=signed)), offset + size
    if kind in _FLOATS:
        size, fmt = _FLOATS[kind]
        (number,) = struct.unpack(fmt, _take(data, offset, size, name))
        return Data(kind, float(number)), offset + size
    if kind in (DataType.OCTET_STRING, DataType.VISIBLE_STRING, DataType.UTF8_STRING):
        size, offset = decode_length(data, offset)
        raw = _take(data, offset, size, name)
        if kind is DataType.OCTET_STRING:
            return Data(kind, raw), offset + size
        if kind is DataType.VISIBLE_STRING:
            return Data(kind, raw.decode("latin-1")), offset + size
        try:
            return Data(kind, raw.decode("utf-8")), offset + size
        except UnicodeDecodeError as exc:
            raise FrameError(f"an A-XDR utf8-string that is not UTF-8: {exc}") from exc
    if kind in _CALENDAR:
        size = _CALENDAR[kind]
        raw = _take(data, offset, size, name)
        calendar: CosemDateTime | CosemDate | CosemTime
        if kind is DataType.DATE_TIME:
            calendar = CosemDateTime.from_bytes(raw)
        elif kind is DataType.DATE:
            calendar = CosemDate.from_bytes(raw)
        else:
            calendar = CosemTime.from_bytes(raw)
        return Data(kind, calendar), offset + size
    return _decode_compact(data, offset, depth)



# --- compact-array (tag 19): a type description, then the values without their tags ---


@dataclass(frozen=True, slots=True)
class TypeDescription:
    """``type``; an array also has ``count`` elements of ``elements[0]``, a structure
    ``elements`` as its fields. On the wire: tag | array: count(2) element | structure:
    count fields."""

    type: DataType
    count: int = 0
    elements: tuple[TypeDescription, ...] = ()

    def __post_init__(self) -> None:
        if self.type is DataType.COMPACT_ARRAY:
            raise FrameError("a compact-array cannot describe a compact-array")
        if self.type is DataType.ARRAY:
            ok = len(self.elements) == 1 and 0 <= self.count <= 0xFFFF
        else:
            ok = self.count == 0 and (self.type is DataType.STRUCTURE or not self.elements)
        if not ok:
            raise FrameError(f"a malformed A-XDR type description of {self.type.name.lower()}")

    def to_bytes(self) -> bytes:
        tag = bytes((int(self.type),))
        if self.type is DataType.ARRAY:
            return tag + self.count.to_bytes(2, "big") + self.elements[0].to_bytes()
        if self.type is DataType.STRUCTURE:
            return (
                tag
                + encode_length(len(self.elements))
                + b"".join(element.to_bytes() for element in self.elements)
            )
        return tag

    @classmethod
    def parse(cls, data: bytes, offset: int, depth: int = 0) -> tuple[TypeDescription, int]:
        if depth >= MAX_DEPTH:
            raise FrameError(f"A-XDR type descriptions nested deeper than {MAX_DEPTH}")
        raw = _take(data, offset, 1, "type description")[0]
        try:
            kind = DataType(raw)
        except ValueError:
            raise FrameError(f"unknown A-XDR tag {raw:02X} in a type description") from None
        offset += 1
        if kind is DataType.ARRAY:
            count = int.from_bytes(_take(data, offset, 2, "array description"), "big")
            element, offset = cls.parse(data, offset + 2, depth + 1)
            return cls(kind, count, (element,)), offset
        if kind is DataType.STRUCTURE:
            size, offset = decode_length(data, offset)
            if size > len(data) - offset:
                raise TruncatedError(f"a structure description of {size} fields is cut short")
            fields = []
            for _ in range(size):
                field, offset = cls.parse(data, offset, depth + 1)
                fields.append(field)
            return cls(kind, 0, tuple(fields)), offset
        return cls(kind), offset

    def matches(self, value: Data) -> bool:
        if value.type is not self.type:
            return False
        if self.type is DataType.ARRAY:
            return len(value.items) == self.count and all(
                self.elements[0].matches(item) for item in value.items
            )
        if self.type is DataType.STRUCTURE:
            return len(value.items) == len(self.elements) and all(
                element.matches(item)
                for element, item in zip(self.elements, value.items, strict=True)
            )
        return True

    def encode(self, value: Data) -> bytes:
        """``value`` without its tags (and without the counts the description holds)."""
        if self.type is DataType.ARRAY:
            return b"".join(self.elements[0].encode(item) for item in value.items)
        if self.type is DataType.STRUCTURE:
            return b"".join(
                element.encode(item)
                for element, item in zip(self.elements, value.items, strict=True)
            )
        return value.to_bytes()[1:]

    def decode(self, data: bytes, offset: int, depth: int) -> tuple[Data, int]:
        if depth >= MAX_DEPTH:
            raise FrameError(f"A-XDR values nested deeper than {MAX_DEPTH}")
        if self.type in (DataType.ARRAY, DataType.STRUCTURE):
            elements = self.elements * self.count if self.type is DataType.ARRAY else self.elements
            items = []
            for element in elements:
                item, offset = element.decode(data, offset, depth + 1)
                items.append(item)
            return Data(self.type, tuple(items)), offset
        return _decode_body(self.type, data, offset, depth)


@dataclass(frozen=True, slots=True)
class CompactArray:
    """An array whose items share one ``description`` and travel without their tags."""

    description: TypeDescription
    items: tuple[Data, ...] = ()

    def __post_init__(self) -> None:
        if not all(self.description.matches(item) for item in self.items):
            raise FrameError("a compact-array item does not match its type description")

    def to_bytes(self) -> bytes:
        contents = b"".join(self.description.encode(item) for item in self.items)
        return self.description.to_bytes() + encode_length(len(contents)) + contents


def _decode_compact(data: bytes, offset: int, depth: int) -> tuple[Data, int]:
    description, offset = TypeDescription.parse(data, offset, depth)
    size, offset = decode_length(data, offset)
    contents = _take(data, offset, size, "compact-array contents")
    items = []
    position = 0
    while position < size:
        item, after = description.decode(contents, position, depth + 1)
        if after == position:
            raise FrameError("a compact-array whose items take no bytes")
        items.append(item)
        position = after
    return Data(DataType.COMPACT_ARRAY, CompactArray(description, tuple(items))), offset + size
