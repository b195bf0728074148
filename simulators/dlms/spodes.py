"""The SPODES object model of a simulated meter: the COSEM objects of the notes §1 over a
:class:`~simulators.dlms.meter.SpodesMeter`, with the A-XDR types, scalers and units a driver
meets, the access levels of GOST table 6.2 and selective access on profiles and journals.

==========================  =====  ==============================================  ==========
object                      class  value (attribute 2) and scaler-unit (3)          read
==========================  =====  ==============================================  ==========
0.0.96.1.0–4,6.255          1      serial, type (cp1251 octets), firmware, maker,  all
                                   manufacture date, SPODES version
0.0.42.0.0.255              1      logical device name "ISU" + serial              all
0.0.1.0.0.255               8      time, time zone (−180 for Moscow: the Blue      all
                                   Book's sign), status, DST (disabled), base;
                                   SET 2 by the configurator, shift_time (±900 s)
                                   by reader and configurator
1.0.C.8.T.255 C 1–4 T 0–4   3      double-long-unsigned Wh (varh), scaler 0        all
U, I, P, Q, S, cos φ, f     3      per phase and total (notes §1.3), scalers −2    all
                                   and −3
0.0.96.8.0.255              3      operating time, s                               all
1.0.99.1.0.255              7      load profile: clock, A+ A- R+ R- increments     reader+
1.0.98.2.0.255, 98.1        7      daily, monthly: clock, A+ total, T1–T4, A- R+   reader+
                                   R- totals
0.0.99.98.N.255             7      journals 0, 2, 3, 4, 6, 7: clock, event code    reader+
                                   0.0.96.11.N.255 (long-unsigned), operating time
0.0.96.20.x.255             1      case (0/1), cover (5/6), magnet (15/16):        reader+
                                   count, last time
==========================  =====  ==============================================  ==========

Profiles answer attribute 2 whole, by entry and by range on the clock column
(``buffers.py``); the association's object list gives each client level its rights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from core.errors import ProtocolError
from core.obis import EnergyKind
from drivers.dlms.access import (
    CLOCK,
    AccessSelection,
    AttributeDescriptor,
    CaptureObject,
    MethodDescriptor,
)
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import (
    DAY_LAST,
    CosemDate,
    CosemDateTime,
    CosemTime,
)
from drivers.dlms.obis import Obis
from drivers.dlms.results import ActionResult, DataAccessResult
from simulators.dlms.buffers import CLOCK_TIME, ProfileBuffer, Stamped, encode, select, stamp, u32
from simulators.dlms.meter import (
    CASE,
    COVER,
    JOURNALS,
    MAGNET,
    JournalEntry,
    SpodesMeter,
    Tamper,
)

__all__ = [
    "CLOCK_TIME",
    "DAILY_PROFILE",
    "LOAD_PROFILE",
    "MONTHLY_PROFILE",
    "SpodesObjects",
    "journal_obis",
]

PUBLIC, READER, CONFIGURATOR = 16, 32, 48
_ALL: Final = frozenset({PUBLIC, READER, CONFIGURATOR})
_READERS: Final = frozenset({READER, CONFIGURATOR})
_CONFIGURATOR: Final = frozenset({CONFIGURATOR})
_NONE: Final = frozenset[int]()

LOAD_PROFILE: Final = Obis(1, 0, 99, 1, 0, 255)
DAILY_PROFILE: Final = Obis(1, 0, 98, 2, 0, 255)
MONTHLY_PROFILE: Final = Obis(1, 0, 98, 1, 0, 255)
OPERATING_TIME: Final = Obis(0, 0, 96, 8, 0, 255)
SHIFT_LIMIT_S: Final = 900

#: Interface class versions (object_list): Profile generic and Association LN version 1.
_VERSIONS: Final = {7: 1, 15: 1}
# Units (GOST table of units).
_WH, _VARH, _W, _VAR, _VA, _A, _V, _HZ, _S, _NO_UNIT = 30, 32, 27, 29, 28, 33, 35, 44, 7, 255


def journal_obis(number: int) -> Obis:
    return Obis(0, 0, 99, 98, number, 255)


def _event_code_obis(number: int) -> Obis:
    return Obis(0, 0, 96, 11, number, 255)


Getter = Callable[[], Data | DataAccessResult]
Setter = Callable[[Data], DataAccessResult]
Selector = Callable[[AccessSelection], Data | DataAccessResult]
Method = Callable[[Data | None, int], tuple[ActionResult, Data | None]]


@dataclass(slots=True)
class _Attribute:
    read: frozenset[int]
    value: Getter
    write: frozenset[int] = _NONE
    setter: Setter | None = None
    select: Selector | None = None


def _scaler_unit(scaler: int, unit: int) -> Data:
    return Data.structure(Data(DataType.INTEGER, scaler), Data(DataType.ENUM, unit))


_NO_TIME: Final = Data.datetime_octets(CosemDateTime(CosemDate(), CosemTime()))


@dataclass(slots=True)
class SpodesObjects:
    """The COSEM objects of ``meter`` as the application layer reads them (``get``, ``set``,
    ``action``), by (class id, logical name, attribute or method)."""

    meter: SpodesMeter
    attributes: dict[tuple[int, Obis, int], _Attribute] = field(default_factory=dict)
    methods: dict[tuple[int, Obis, int], tuple[frozenset[int], Method]] = field(
        default_factory=dict)
    profiles: dict[Obis, ProfileBuffer] = field(default_factory=dict)
    #: 0.0.96.1.10.255, metering point data (writable by the configurator).
    point_data: str = "TP-0"

    def __post_init__(self) -> None:
        self._identity()
        self._clock()
        self._energy()
        self._current_values()
        self._profiles()
        self._journals()
        self._tamper()

    # -- the application layer's interface ------------------------------------------------------

    def get(self, ref: AttributeDescriptor, level: int,
            access: AccessSelection | None) -> Data | DataAccessResult:
        found = self.attributes.get((ref.class_id, ref.instance, ref.attribute))
        if found is None:
            return DataAccessResult.OBJECT_UNDEFINED
        if level not in found.read:
            return DataAccessResult.READ_WRITE_DENIED
        if ref.class_id == 15 and ref.attribute == 2:
            return self.object_list(level) if access is None else DataAccessResult.OTHER_REASON
        if access is None:
            return found.value()
        if found.select is None:
            return DataAccessResult.OTHER_REASON
        return found.select(access)

    def set(self, ref: AttributeDescriptor, level: int, value: Data) -> DataAccessResult:
        found = self.attributes.get((ref.class_id, ref.instance, ref.attribute))
        if found is None:
            return DataAccessResult.OBJECT_UNDEFINED
        if level not in found.write or found.setter is None:
            return DataAccessResult.READ_WRITE_DENIED
        return found.setter(value)

    def action(self, ref: MethodDescriptor, level: int,
               parameters: Data | None) -> tuple[ActionResult, Data | None]:
        found = self.methods.get((ref.class_id, ref.instance, ref.method))
        if found is None:
            return ActionResult.OBJECT_UNDEFINED, None
        levels, method = found
        if level not in levels:
            return ActionResult.READ_WRITE_DENIED, None
        return method(parameters, level)

    def access_denied(self) -> None:
        self.meter.access_denied()

    def object_list(self, level: int) -> Data:
        """Attribute 2 of the association: every object with its rights for ``level``
        (IC 15 version 1: attribute access enum 0–3, selectors 1 and 2 on buffers, method
        access enum 0–1)."""
        objects: dict[tuple[int, Obis], list[int]] = {}
        for class_id, obis, attribute in self.attributes:
            objects.setdefault((class_id, obis), []).append(attribute)
        items = []
        for (class_id, obis), attributes in sorted(objects.items(), key=lambda item: item[0]):
            rights = []
            for attribute in sorted(attributes):
                found = self.attributes[(class_id, obis, attribute)]
                mode = (1 if level in found.read else 0) | (2 if level in found.write else 0)
                selectors = (Data.array(Data(DataType.INTEGER, 1), Data(DataType.INTEGER, 2))
                             if found.select is not None else Data(DataType.NULL_DATA))
                rights.append(Data.structure(Data(DataType.INTEGER, attribute),
                                             Data(DataType.ENUM, mode), selectors))
            methods = [Data.structure(Data(DataType.INTEGER, method),
                                      Data(DataType.ENUM, 1 if level in levels else 0))
                       for (c, o, method), (levels, _) in sorted(self.methods.items(),
                                                                 key=lambda item: item[0])
                       if (c, o) == (class_id, obis)]
            items.append(Data.structure(
                Data(DataType.LONG_UNSIGNED, class_id),
                Data(DataType.UNSIGNED, _VERSIONS.get(class_id, 0)),
                Data.octets(obis.to_bytes()),
                Data.structure(Data.array(*rights), Data.array(*methods))))
        return Data.array(*items)

    # -- building ---------------------------------------------------------------------------------

    def _add(self, class_id: int, obis: Obis, attribute: int, value: Getter,
             read: frozenset[int] = _ALL, *, write: frozenset[int] = _NONE,
             setter: Setter | None = None, select: Selector | None = None) -> None:
        if (class_id, obis, 1) not in self.attributes:
            self.attributes[(class_id, obis, 1)] = _Attribute(
                read, _const(Data.octets(obis.to_bytes())))
        self.attributes[(class_id, obis, attribute)] = _Attribute(read, value, write, setter,
                                                                  select)

    def _fixed(self, class_id: int, obis: Obis, attribute: int, value: Data,
               read: frozenset[int] = _ALL) -> None:
        self._add(class_id, obis, attribute, lambda: value, read)

    def _register(self, obis: Obis, value: Getter, scaler: int, unit: int,
                  read: frozenset[int] = _ALL) -> None:
        self._add(3, obis, 2, value, read)
        self._fixed(3, obis, 3, _scaler_unit(scaler, unit), read)

    def _identity(self) -> None:
        settings = self.meter.settings
        for sap, e in ((None, 0), (PUBLIC, 1), (READER, 2), (CONFIGURATOR, 3)):
            obis = Obis(0, 0, 40, 0, e, 255)
            levels = _ALL if sap is None else frozenset({sap})
            name = Data.octets(obis.to_bytes())
            self.attributes[(15, obis, 1)] = _Attribute(levels, _const(name))
            # the object list, answered per level in get()
            self.attributes[(15, obis, 2)] = _Attribute(levels, _const(Data.array()))
        device = (b"ISU" + settings.serial.encode("ascii", "replace"))[:16]
        self._fixed(1, Obis(0, 0, 42, 0, 0, 255), 2, Data.octets(device))
        texts = {
            0: Data(DataType.VISIBLE_STRING, settings.serial),
            1: Data.octets(settings.model.encode("cp1251", "replace")),
            2: Data(DataType.VISIBLE_STRING, settings.firmware),
            3: Data.octets(settings.manufacturer.encode("cp1251", "replace")),
            4: Data.datetime_octets(CosemDateTime(CosemDate.from_date(settings.manufactured),
                                                  CosemTime(0, 0, 0, 0))),
            6: Data.octets(b"03.00"),
        }
        for e, value in texts.items():
            self._fixed(1, Obis(0, 0, 96, 1, e, 255), 2, value)
        self._add(1, Obis(0, 0, 96, 1, 10, 255), 2,
                  lambda: Data(DataType.VISIBLE_STRING, self.point_data), _READERS,
                  write=_CONFIGURATOR, setter=self._set_point_data)
        self._add(1, Obis(0, 0, 96, 14, 0, 255), 2,
                  lambda: Data(DataType.UNSIGNED, self.meter.current_zone()))
        self._register(OPERATING_TIME, lambda: u32(self.meter.operating_s()), 0, _S)

    def _set_point_data(self, value: Data) -> DataAccessResult:
        if value.type is not DataType.VISIBLE_STRING or not isinstance(value.value, str):
            return DataAccessResult.TYPE_UNMATCHED
        self.point_data = value.value
        return DataAccessResult.SUCCESS

    # -- the clock --------------------------------------------------------------------------------

    def _clock(self) -> None:
        meter = self.meter
        self._add(8, CLOCK, 2, lambda: stamp(meter.meter_time()), write=_CONFIGURATOR,
                  setter=self._set_time)
        self._add(8, CLOCK, 3, lambda: Data(DataType.LONG, _deviation(meter.meter_time())))
        self._fixed(8, CLOCK, 4, Data(DataType.UNSIGNED, 0))
        begin = CosemDateTime(CosemDate(None, 3, DAY_LAST, 7), CosemTime(2, 0, 0, 0))
        end = CosemDateTime(CosemDate(None, 10, DAY_LAST, 7), CosemTime(3, 0, 0, 0))
        self._fixed(8, CLOCK, 5, Data.datetime_octets(begin))
        self._fixed(8, CLOCK, 6, Data.datetime_octets(end))
        self._fixed(8, CLOCK, 7, Data(DataType.INTEGER, 60))
        self._fixed(8, CLOCK, 8, Data(DataType.BOOLEAN, False))  # Russia keeps no DST
        self._fixed(8, CLOCK, 9, Data(DataType.ENUM, 1))  # internal crystal
        self.methods[(8, CLOCK, 6)] = (_READERS, self._shift_time)

    def _set_time(self, value: Data) -> DataAccessResult:
        try:
            moment = value.as_datetime().to_datetime()
        except ProtocolError:
            return DataAccessResult.TYPE_UNMATCHED
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.meter.tz)
        self.meter.set_time(moment)
        return DataAccessResult.SUCCESS

    def _shift_time(self, parameters: Data | None, level: int) -> tuple[ActionResult, Data | None]:
        if parameters is None or parameters.type is not DataType.LONG:
            return ActionResult.TYPE_UNMATCHED, None
        seconds = parameters.as_int()
        if not -SHIFT_LIMIT_S <= seconds <= SHIFT_LIMIT_S:
            return ActionResult.SCOPE_OF_ACCESS_VIOLATED, None
        self.meter.shift_time(seconds)
        return ActionResult.SUCCESS, None

    # -- registers and current values -------------------------------------------------------------

    def _energy(self) -> None:
        for kind in EnergyKind:
            unit = _WH if kind in (EnergyKind.A_PLUS, EnergyKind.A_MINUS) else _VARH
            for zone in range(5):
                self._register(Obis(1, 0, int(kind), 8, zone, 255),
                               _bind_register(self.meter, kind, zone), 0, unit)
            self._register(Obis(1, 0, int(kind), 29, 0, 255),
                           _bind_increment(self.meter, int(kind) - 1), 0, unit, _READERS)

    def _current_values(self) -> None:
        meter = self.meter
        # name in InstantValues → (OBIS C, A-XDR type, scaler, unit)
        table: list[tuple[str, int, DataType, int, int]] = [
            ("frequency", 14, DataType.LONG_UNSIGNED, -2, _HZ),
            ("p_sum", 1, DataType.DOUBLE_LONG, -2, _W),
            ("q_sum", 3, DataType.DOUBLE_LONG, -2, _VAR),
            ("s_sum", 9, DataType.DOUBLE_LONG_UNSIGNED, -2, _VA),
            ("pf_sum", 13, DataType.LONG, -3, _NO_UNIT),
        ]
        for phase, base in ((1, 20), (2, 40), (3, 60)):
            table += [
                (f"u{phase}", base + 12, DataType.LONG_UNSIGNED, -2, _V),
                (f"i{phase}", base + 11, DataType.DOUBLE_LONG_UNSIGNED, -3, _A),
                (f"p{phase}", base + 1, DataType.DOUBLE_LONG, -2, _W),
                (f"q{phase}", base + 3, DataType.DOUBLE_LONG, -2, _VAR),
                (f"s{phase}", base + 9, DataType.DOUBLE_LONG_UNSIGNED, -2, _VA),
                (f"pf{phase}", base + 13, DataType.LONG, -3, _NO_UNIT),
            ]
        for name, c, kind, scaler, unit in table:
            self._register(Obis(1, 0, c, 7, 0, 255), _bind_instant(meter, name, kind, scaler),
                           scaler, unit)

    # -- profiles and journals --------------------------------------------------------------------

    def _profiles(self) -> None:
        meter = self.meter
        energy = tuple(CaptureObject(3, Obis(1, 0, c, 29, 0, 255), 2) for c in (1, 2, 3, 4))
        self._profile(LOAD_PROFILE, (CLOCK_TIME, *energy),
                      lambda: meter.entries_of(meter.load_profile),
                      meter.settings.profile_period_s, meter.load_profile.maxlen or 0)
        billing = (CLOCK_TIME, *(CaptureObject(3, Obis(1, 0, 1, 8, t, 255), 2) for t in range(5)),
                   *(CaptureObject(3, Obis(1, 0, c, 8, 0, 255), 2) for c in (2, 3, 4)))
        self._profile(DAILY_PROFILE, billing, lambda: meter.entries_of(meter.daily), 86400,
                      meter.daily.maxlen or 0)
        self._profile(MONTHLY_PROFILE, billing, lambda: meter.entries_of(meter.monthly), 0,
                      meter.monthly.maxlen or 0)
        self._fixed(1, Obis(1, 0, 0, 8, 4, 255), 2, u32(meter.settings.profile_period_s))

    def _journals(self) -> None:
        meter = self.meter
        for number in JOURNALS:
            code = _event_code_obis(number)
            columns = (CLOCK_TIME, CaptureObject(1, code, 2), CaptureObject(3, OPERATING_TIME, 2))
            self._profile(journal_obis(number), columns, _bind_journal(meter, number), 0,
                          meter.journals[number].maxlen or 0)
            self._add(1, code, 2, _bind_last_code(meter, number), _READERS)

    def _profile(self, obis: Obis, columns: tuple[CaptureObject, ...],
                 entries: Callable[[], Sequence[Stamped]], capture_period_s: int,
                 depth: int) -> None:
        profile = ProfileBuffer(columns, entries, encode, capture_period_s, depth)
        self.profiles[obis] = profile
        self._add(7, obis, 2, lambda: select(profile, None, self.meter.tz), _READERS,
                  select=lambda access: select(profile, access, self.meter.tz))
        self._fixed(7, obis, 3, Data.array(*(column.to_data() for column in columns)), _READERS)
        self._fixed(7, obis, 4, u32(capture_period_s), _READERS)
        self._fixed(7, obis, 5, Data(DataType.ENUM, 1), _READERS)  # FIFO
        self._fixed(7, obis, 6, CaptureObject(0, Obis(0, 0, 0, 0, 0, 0), 0).to_data(), _READERS)
        self._add(7, obis, 7, lambda: u32(len(profile.entries())), _READERS)
        self._fixed(7, obis, 8, u32(depth), _READERS)

    def _tamper(self) -> None:
        for which, count, last in ((CASE, 0, 1), (COVER, 5, 6), (MAGNET, 15, 16)):
            counter = self.meter.tamper[which]
            self._add(1, Obis(0, 0, 96, 20, count, 255), 2, _bind_count(self.meter, counter),
                      _READERS)
            self._add(1, Obis(0, 0, 96, 20, last, 255), 2, _bind_last(self.meter, counter),
                      _READERS)


def _deviation(local: datetime) -> int:
    offset = local.utcoffset() or timedelta(0)
    return -int(offset.total_seconds() // 60)


def _const(value: Data) -> Getter:
    return lambda: value


def _bind_register(meter: SpodesMeter, kind: EnergyKind, zone: int) -> Getter:
    return lambda: u32(meter.register(kind, zone))


def _bind_increment(meter: SpodesMeter, index: int) -> Getter:
    def value() -> Data:
        entries = meter.entries_of(meter.load_profile)
        return u32(entries[-1].values[index] if entries else 0)
    return value


def _bind_instant(meter: SpodesMeter, name: str, kind: DataType, scaler: int) -> Getter:
    def value() -> Data:
        number = getattr(meter.instant(), name)
        assert isinstance(number, Decimal)
        return Data(kind, int(number.scaleb(-scaler)))
    return value


def _bind_journal(meter: SpodesMeter, number: int) -> Callable[[], list[JournalEntry]]:
    return lambda: meter.entries_of(meter.journals[number])


def _bind_last_code(meter: SpodesMeter, number: int) -> Getter:
    def value() -> Data:
        meter.update()
        return Data(DataType.LONG_UNSIGNED, meter.last_codes[number])
    return value


def _bind_count(meter: SpodesMeter, counter: Tamper) -> Getter:
    def value() -> Data:
        meter.update()
        return Data(DataType.LONG_UNSIGNED, min(0xFFFF, counter.count))
    return value


def _bind_last(meter: SpodesMeter, counter: Tamper) -> Getter:
    def value() -> Data:
        meter.update()
        last = counter.last
        return _NO_TIME if last is None else stamp(last)
    return value
