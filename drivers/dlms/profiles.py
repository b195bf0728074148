"""Profile generic objects (class 7) as the driver reads them: the shape first, then rows.

Columns and the capture period are read from the meter every time (attributes 3 and 4),
never assumed, and mapped by OBIS, never by position (notes §1.4, §5.9). The scaler-unit of
every register column is read with them. Rows are selected by range on the clock column
(selective access 1), bounds in the meter's wall time (``values.bounds_datetime``); a row
whose clock is null-data follows the previous one by the capture period (Blue Book 4.3.6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import FrameError, IsuError, RemoteProtocolError
from drivers.dlms.access import (
    AccessSelection,
    AttributeDescriptor,
    CaptureObject,
    RangeDescriptor,
)
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.obis import Obis
from drivers.dlms.session import DlmsClient
from drivers.dlms.values import ScalerUnit, bounds_datetime, meter_moment, scaler_unit

__all__ = ["Profile", "Row", "get_list", "read_profile", "read_rows"]

PROFILE_CLASS = 7
_REGISTER_CLASSES = (3, 4)


@dataclass(frozen=True, slots=True)
class Profile:
    obis: Obis
    columns: tuple[CaptureObject, ...]
    period_s: int
    #: Column index → the scaler-unit of that register column.
    scalers: dict[int, ScalerUnit]

    def column(self, class_id: int, obis: Obis, attribute: int = 2) -> int | None:
        """The index of a column, found by its reference."""
        for index, column in enumerate(self.columns):
            if (column.class_id, column.instance, column.attribute) == (class_id, obis,
                                                                         attribute):
                return index
        return None

    @property
    def clock(self) -> int | None:
        """The clock column (class 8, attribute 2): not necessarily the first (notes §5.9)."""
        for index, column in enumerate(self.columns):
            if column.class_id == 8 and column.attribute == 2:
                return index
        return None


@dataclass(frozen=True, slots=True)
class Row:
    ts: datetime
    values: tuple[Data, ...]


async def get_list(client: DlmsClient, attributes: Sequence[AttributeDescriptor],
                   list_size: int) -> list[Data | IsuError]:
    """Attributes in GET-with-list requests of at most ``list_size`` each."""
    out: list[Data | IsuError] = []
    for start in range(0, len(attributes), list_size):
        chunk = attributes[start:start + list_size]
        out += await client.get_with_list([(attribute, None) for attribute in chunk])
    return out


async def read_profile(client: DlmsClient, obis: Obis, *, list_size: int,
                       scalers: bool = True) -> Profile:
    """The profile's columns, capture period and (if asked) its register columns' scalers.

    A profile the meter does not have raises :class:`ObjectUnavailableError`."""
    columns_data, period_data = await get_list(
        client,
        [AttributeDescriptor(PROFILE_CLASS, obis, 3), AttributeDescriptor(PROFILE_CLASS, obis, 4)],
        list_size,
    )
    if isinstance(columns_data, IsuError):
        raise columns_data
    try:
        columns = tuple(CaptureObject.from_data(item) for item in columns_data.items)
        period_s = 0 if isinstance(period_data, IsuError) else period_data.as_int()
    except FrameError as exc:
        raise RemoteProtocolError(f"{obis}: capture objects or period malformed: {exc}") from exc
    found: dict[int, ScalerUnit] = {}
    if scalers:
        registers = [index for index, column in enumerate(columns)
                     if column.class_id in _REGISTER_CLASSES and column.attribute == 2]
        answers = await get_list(
            client,
            [AttributeDescriptor(columns[index].class_id, columns[index].instance, 3)
             for index in registers],
            list_size,
        )
        for index, answer in zip(registers, answers, strict=True):
            if isinstance(answer, Data):
                try:
                    found[index] = scaler_unit(answer)
                except FrameError:
                    continue  # a unit the model has no name for: the column is left out
    return Profile(obis, columns, period_s, found)


async def read_rows(client: DlmsClient, profile: Profile, start: datetime | None,
                    end: datetime | None, zone: ZoneInfo, *, use_deviation: bool) -> list[Row]:
    """Rows whose clock lies in [``start``, ``end``] (the whole buffer when both are ``None``),
    each placed in UTC."""
    clock = profile.clock
    if clock is None:
        raise RemoteProtocolError(f"{profile.obis}: no clock among the capture objects")
    attribute = AttributeDescriptor(PROFILE_CLASS, profile.obis, 2)
    access: AccessSelection | None = None
    if start is not None or end is not None:
        low = start if start is not None else datetime(2000, 1, 1, tzinfo=zone)
        high = end if end is not None else datetime(2099, 12, 31, tzinfo=zone)
        access = RangeDescriptor(bounds_datetime(low, zone), bounds_datetime(high, zone),
                                 profile.columns[clock]).to_selection()
    buffer = await client.get(attribute, access)
    rows: list[Row] = []
    previous: datetime | None = None
    step = timedelta(seconds=profile.period_s)
    try:
        for entry in buffer.items:
            values = entry.items
            if len(values) != len(profile.columns):
                raise FrameError(f"a row of {len(values)} values for {len(profile.columns)} "
                                 "columns")
            stamp = values[clock]
            if stamp.type is DataType.NULL_DATA:
                if previous is None or not profile.period_s:
                    continue  # nothing to count from
                moment = previous + step
            else:
                moment = meter_moment(stamp.as_datetime(), zone, use_deviation=use_deviation)
            previous = moment
            rows.append(Row(moment, values))
    except FrameError as exc:
        raise RemoteProtocolError(f"{profile.obis}: buffer malformed: {exc}") from exc
    return rows
