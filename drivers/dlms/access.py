"""COSEM references and selective access (IEC 62056-5-3 §9.3; GOST R 58940-2020 §7.3.6, §13.4).

::

    attribute descriptor   class-id(2) | logical name(6) | attribute-id(1)
    method descriptor      class-id(2) | logical name(6) | method-id(1)
    access selection       00 | 01 selector(1) <Data parameters>
    range (selector 1)     02 04 <restricting object: 02 04 12 class 09 06 LN 0F attr 12 index>
                                 <from> <to> <selected values: array of capture objects>
    entry (selector 2)     02 04 06 <from entry> 06 <to entry> 12 <from column> 12 <to column>

Entries and columns count from 1; a ``to`` of 0 means "up to the last". The range bounds are
usually the clock as octet-string(12); which column restricts is the meter's capture_objects
(the clock is not always column 1, notes §5.9).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import FrameError, TruncatedError
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.obis import Obis

__all__ = [
    "CLOCK",
    "AccessSelection",
    "AttributeDescriptor",
    "CaptureObject",
    "EntryDescriptor",
    "MethodDescriptor",
    "RangeDescriptor",
]

CLOCK = Obis(0, 0, 1, 0, 0, 255)


@dataclass(frozen=True, slots=True)
class AttributeDescriptor:
    class_id: int
    instance: Obis
    attribute: int

    SIZE = 9

    def __post_init__(self) -> None:
        if not 0 <= self.class_id <= 0xFFFF or not 0 <= self.attribute <= 0xFF:
            raise FrameError(f"COSEM reference {self.class_id}/{self.attribute} out of range")

    def to_bytes(self) -> bytes:
        return (
            self.class_id.to_bytes(2, "big") + self.instance.to_bytes() + bytes((self.attribute,))
        )

    @classmethod
    def parse(cls, data: bytes, offset: int) -> tuple[AttributeDescriptor, int]:
        end = offset + cls.SIZE
        if end > len(data):
            raise TruncatedError("a COSEM attribute descriptor is cut short")
        return (
            cls(
                int.from_bytes(data[offset : offset + 2], "big"),
                Obis.from_bytes(data[offset + 2 : offset + 8]),
                data[offset + 8],
            ),
            end,
        )

    def __str__(self) -> str:
        return f"{self.class_id}/{self.instance}/{self.attribute}"


@dataclass(frozen=True, slots=True)
class MethodDescriptor:
    class_id: int
    instance: Obis
    method: int

    SIZE = 9

    def __post_init__(self) -> None:
        if not 0 <= self.class_id <= 0xFFFF or not 0 <= self.method <= 0xFF:
            raise FrameError(f"COSEM method {self.class_id}/{self.method} out of range")

    def to_bytes(self) -> bytes:
        return self.class_id.to_bytes(2, "big") + self.instance.to_bytes() + bytes((self.method,))

    @classmethod
    def parse(cls, data: bytes, offset: int) -> tuple[MethodDescriptor, int]:
        end = offset + cls.SIZE
        if end > len(data):
            raise TruncatedError("a COSEM method descriptor is cut short")
        return (
            cls(
                int.from_bytes(data[offset : offset + 2], "big"),
                Obis.from_bytes(data[offset + 2 : offset + 8]),
                data[offset + 8],
            ),
            end,
        )

    def __str__(self) -> str:
        return f"{self.class_id}/{self.instance}/method {self.method}"


@dataclass(frozen=True, slots=True)
class AccessSelection:
    selector: int
    parameters: Data

    def to_bytes(self) -> bytes:
        return bytes((self.selector,)) + self.parameters.to_bytes()


@dataclass(frozen=True, slots=True)
class CaptureObject:
    """A profile column: ``class_id``/``instance``/``attribute``, ``data_index`` 0 = whole."""

    class_id: int
    instance: Obis
    attribute: int
    data_index: int = 0

    def to_data(self) -> Data:
        return Data.structure(
            Data(DataType.LONG_UNSIGNED, self.class_id),
            Data.octets(self.instance.to_bytes()),
            Data(DataType.INTEGER, self.attribute),
            Data(DataType.LONG_UNSIGNED, self.data_index),
        )

    @classmethod
    def from_data(cls, data: Data) -> CaptureObject:
        items = data.items
        if len(items) != 4:
            raise FrameError(f"a capture object of {len(items)} fields")
        return cls(
            items[0].as_int(),
            Obis.from_bytes(items[1].as_bytes()),
            items[2].as_int(),
            items[3].as_int(),
        )


CLOCK_TIME = CaptureObject(8, CLOCK, 2)


@dataclass(frozen=True, slots=True)
class RangeDescriptor:
    """Rows whose ``restricting`` column lies in [``start``, ``end``] (bounds as sent)."""

    start: Data
    end: Data
    restricting: CaptureObject = CLOCK_TIME
    columns: tuple[CaptureObject, ...] = ()

    SELECTOR = 1

    def to_selection(self) -> AccessSelection:
        return AccessSelection(
            self.SELECTOR,
            Data.structure(
                self.restricting.to_data(),
                self.start,
                self.end,
                Data.array(*(column.to_data() for column in self.columns)),
            ),
        )

    @classmethod
    def from_selection(cls, selection: AccessSelection) -> RangeDescriptor:
        if selection.selector != cls.SELECTOR:
            raise FrameError(f"selector {selection.selector} is not a range descriptor")
        items = selection.parameters.items
        if len(items) != 4 or items[3].type is not DataType.ARRAY:
            raise FrameError("a range descriptor is a structure of 4 with an array last")
        columns = tuple(CaptureObject.from_data(item) for item in items[3].items)
        return cls(items[1], items[2], CaptureObject.from_data(items[0]), columns)


@dataclass(frozen=True, slots=True)
class EntryDescriptor:
    from_entry: int = 1
    to_entry: int = 0
    from_column: int = 1
    to_column: int = 0

    SELECTOR = 2

    def to_selection(self) -> AccessSelection:
        return AccessSelection(
            self.SELECTOR,
            Data.structure(
                Data(DataType.DOUBLE_LONG_UNSIGNED, self.from_entry),
                Data(DataType.DOUBLE_LONG_UNSIGNED, self.to_entry),
                Data(DataType.LONG_UNSIGNED, self.from_column),
                Data(DataType.LONG_UNSIGNED, self.to_column),
            ),
        )

    @classmethod
    def from_selection(cls, selection: AccessSelection) -> EntryDescriptor:
        if selection.selector != cls.SELECTOR:
            raise FrameError(f"selector {selection.selector} is not an entry descriptor")
        items = selection.parameters.items
        if len(items) != 4:
            raise FrameError(f"an entry descriptor of {len(items)} fields")
        a, b, c, d = (item.as_int() for item in items)
        return cls(a, b, c, d)
