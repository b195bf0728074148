"""A small COSEM object table for the simulated SPODES meter: attributes with their values and
the access levels that may read or write them, and a few methods.

This fixed table is what the protocol tests need: short and long values, a profile buffer
read by entry, an attribute only some levels may read, SET and ACTION. The SPODES object model
of a meter with history (registers that count, profiles and journals that fill, the clock
that runs) is ``spodes.py``; both serve the application layer through :class:`CosemObjects`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Protocol

from drivers.dlms.access import (
    CLOCK,
    AccessSelection,
    AttributeDescriptor,
    CaptureObject,
    EntryDescriptor,
    MethodDescriptor,
)
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import CosemDateTime
from drivers.dlms.obis import Obis
from drivers.dlms.results import ActionResult, DataAccessResult

__all__ = [
    "ALL_LEVELS",
    "LOAD_PROFILE",
    "CosemObjects",
    "ObjectTable",
    "default_table",
]

PUBLIC, READER, CONFIGURATOR = 16, 32, 48
ALL_LEVELS: Final = frozenset({PUBLIC, READER, CONFIGURATOR})
_READERS: Final = frozenset({READER, CONFIGURATOR})
_CONFIGURATOR: Final = frozenset({CONFIGURATOR})

LOAD_PROFILE: Final = Obis(1, 0, 99, 1, 0, 255)
_MOSCOW: Final = timezone(timedelta(hours=3))
_ENERGY_COLUMNS: Final = (
    Obis(1, 0, 1, 29, 0, 255),
    Obis(1, 0, 2, 29, 0, 255),
    Obis(1, 0, 3, 29, 0, 255),
    Obis(1, 0, 4, 29, 0, 255),
)

Method = Callable[["ObjectTable", Data | None], tuple[ActionResult, Data | None]]


class CosemObjects(Protocol):
    """What the application layer serves: this module's small table, or the SPODES object
    model over a simulated meter (``spodes.py``)."""

    def get(self, ref: AttributeDescriptor, level: int,
            access: AccessSelection | None) -> Data | DataAccessResult: ...

    def set(self, ref: AttributeDescriptor, level: int, value: Data) -> DataAccessResult: ...

    def action(self, ref: MethodDescriptor, level: int,
               parameters: Data | None) -> tuple[ActionResult, Data | None]: ...

    def access_denied(self) -> None:
        """An association was refused for a wrong secret (the meter may journal it)."""


@dataclass(slots=True)
class _Attribute:
    value: Data
    read: frozenset[int] = ALL_LEVELS
    write: frozenset[int] = frozenset()


@dataclass(slots=True)
class ObjectTable:
    """Attributes by (class id, logical name, attribute id); methods likewise."""

    attributes: dict[tuple[int, Obis, int], _Attribute] = field(default_factory=dict)
    methods: dict[tuple[int, Obis, int], tuple[frozenset[int], Method]] = field(
        default_factory=dict
    )
    #: Seconds the clock has been shifted by (method 6 of the clock).
    clock_shift_s: int = 0

    def add(self, class_id: int, obis: Obis, attribute: int, value: Data, *,
            read: frozenset[int] = ALL_LEVELS, write: frozenset[int] = frozenset()) -> None:
        self.attributes[(class_id, obis, attribute)] = _Attribute(value, read, write)

    def value(self, class_id: int, obis: Obis, attribute: int) -> Data:
        return self.attributes[(class_id, obis, attribute)].value

    def get(self, ref: AttributeDescriptor, level: int,
            access: AccessSelection | None) -> Data | DataAccessResult:
        found = self.attributes.get((ref.class_id, ref.instance, ref.attribute))
        if found is None:
            return DataAccessResult.OBJECT_UNDEFINED
        if level not in found.read:
            return DataAccessResult.READ_WRITE_DENIED
        if access is None:
            return found.value
        if ref.class_id != 7 or ref.attribute != 2:
            return DataAccessResult.OTHER_REASON
        if access.selector == EntryDescriptor.SELECTOR:
            entry = EntryDescriptor.from_selection(access)
            rows = found.value.items
            last = len(rows) if entry.to_entry == 0 else min(entry.to_entry, len(rows))
            return Data.array(*rows[entry.from_entry - 1 : last])
        return found.value  # by range: every row (the history model comes later)

    def set(self, ref: AttributeDescriptor, level: int, value: Data) -> DataAccessResult:
        found = self.attributes.get((ref.class_id, ref.instance, ref.attribute))
        if found is None:
            return DataAccessResult.OBJECT_UNDEFINED
        if level not in found.write:
            return DataAccessResult.READ_WRITE_DENIED
        if value.type is not found.value.type:
            return DataAccessResult.TYPE_UNMATCHED
        found.value = value
        return DataAccessResult.SUCCESS

    def action(self, ref: MethodDescriptor, level: int,
               parameters: Data | None) -> tuple[ActionResult, Data | None]:
        found = self.methods.get((ref.class_id, ref.instance, ref.method))
        if found is None:
            return ActionResult.OBJECT_UNDEFINED, None
        levels, method = found
        if level not in levels:
            return ActionResult.READ_WRITE_DENIED, None
        return method(self, parameters)

    def access_denied(self) -> None:
        pass


def _shift_time(table: ObjectTable, parameters: Data | None) -> tuple[ActionResult, Data | None]:
    if parameters is None or parameters.type is not DataType.LONG:
        return ActionResult.TYPE_UNMATCHED, None
    seconds = parameters.as_int()
    if not -900 <= seconds <= 900:
        return ActionResult.OTHER_REASON, None
    table.clock_shift_s += seconds
    return ActionResult.SUCCESS, None


def _u32(value: int) -> Data:
    return Data(DataType.DOUBLE_LONG_UNSIGNED, value)


def default_table(profile_rows: int = 48, start: datetime | None = None) -> ObjectTable:
    """The objects every test meter has; ``profile_rows`` half-hour rows of load profile
    (a long answer: some 30 bytes a row)."""
    start = (start or datetime(2024, 3, 1, tzinfo=UTC)).astimezone(_MOSCOW)
    table = ObjectTable()
    table.add(15, Obis(0, 0, 40, 0, 0, 255), 1, Data.octets(Obis(0, 0, 40, 0, 0, 255).to_bytes()))
    table.add(1, Obis(0, 0, 42, 0, 0, 255), 2, Data.octets(b"ISU0000000000001"))
    table.add(1, Obis(0, 0, 96, 1, 0, 255), 2, Data(DataType.VISIBLE_STRING, "00000001"))
    table.add(1, Obis(0, 0, 96, 1, 10, 255), 2, Data(DataType.VISIBLE_STRING, "TP-0"),
              read=_READERS, write=_CONFIGURATOR)
    table.add(3, Obis(1, 0, 1, 8, 0, 255), 2, _u32(1234567))
    table.add(3, Obis(1, 0, 1, 8, 0, 255), 3,
              Data.structure(Data(DataType.INTEGER, 0), Data(DataType.ENUM, 30)))
    now = CosemDateTime.from_datetime(start)
    table.add(8, CLOCK, 2, Data.datetime_octets(now), write=_CONFIGURATOR)
    columns = (CaptureObject(8, CLOCK, 2), *(CaptureObject(3, obis, 2)
                                            for obis in _ENERGY_COLUMNS))
    table.add(7, LOAD_PROFILE, 3, Data.array(*(column.to_data() for column in columns)),
              read=_READERS)
    rows = []
    for index in range(profile_rows):
        at = CosemDateTime.from_datetime(start + timedelta(minutes=30 * index))
        rows.append(Data.structure(Data.datetime_octets(at), _u32(100 + index), _u32(0),
                                   _u32(20 + index % 7), _u32(0)))
    table.add(7, LOAD_PROFILE, 2, Data.array(*rows), read=_READERS)
    table.methods[(8, CLOCK, 6)] = (_READERS, _shift_time)
    return table
