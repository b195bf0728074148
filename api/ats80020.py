"""ATS «макет 80020» (version 2): one operating day of interval energy as windows-1251 XML.

Sans-IO: typed inputs in, bytes out; no database, no clock (the file's ``timestamp`` is given),
no FastAPI. The structure follows the public samples and the m80020.xsl parser
(research/peers.md §4); the normative ATS regulation (Приложение 11.1.1) was not retrievable,
so the choices below say where they come from (docs/exports.md lists them)::

    <?xml version="1.0" encoding="windows-1251"?>
    <message class="80020" version="2" number="N">        N: the sender's message counter
      <datetime>
        <timestamp>YYYYMMDDhhmmss</timestamp>            when the file was made (basis zone)
        <daylightsavingtime>0|1</daylightsavingtime>     DST in force at the day's start
        <day>YYYYMMDD</day>                              the operating day
      </datetime>
      <sender><inn/><name/></sender>
      <area>
        <inn/><name/>
        <measuringpoint code="15 digits" name="…">
          <measuringchannel code="01" desc="счетчик, акт. прием">
            <period start="hhmm" end="hhmm" [summer="0|1"]><value status="0|1">kWh</value></period>
            …                                            the whole grid; the last ends "0000"

Values are integer kWh (kvarh for 03/04) after the caller's CT/VT ratios, rounded with
carry-over (:func:`carry_over_round`). ``status="0"`` is commercial data; ``status="1"`` marks
an interval that is missing, incomplete, estimated or invalid — written as 0 when it has no
usable value, never as a silent zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ExportError
from core.model import Quality

__all__ = [
    "ENCODING",
    "MOSCOW_ZONE",
    "Ats80020Message",
    "Channel",
    "Interval",
    "MeasuringPoint",
    "Party",
    "TimeBasis",
    "build_80020",
    "carry_over_round",
    "file_name_80020",
]

#: The encoding ATS expects, declared in the prolog (peers.md §4, «Encoding»).
ENCODING = "windows-1251"
MOSCOW_ZONE = "Europe/Moscow"

_HALF = Decimal("0.5")
_DIGITS = re.compile(r"[0-9]+")
# XML 1.0 forbids C0 controls other than tab, LF and CR; ElementTree would write them raw.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class Channel(StrEnum):
    """A measuring channel's code in 80020 (peers.md §4, «Structure»)."""

    A_PLUS = "01"
    A_MINUS = "02"
    R_PLUS = "03"
    R_MINUS = "04"

    @property
    def desc(self) -> str:
        # The texts of the sample 80020_7703311228_20100714_12373_2100000600.xml
        # (filimonof/maket80020, src/tmp), which carries all four channels.
        return _CHANNEL_DESC[self]


_CHANNEL_DESC = {
    Channel.A_PLUS: "счетчик, акт. прием",
    Channel.A_MINUS: "счетчик, акт. отдача",
    Channel.R_PLUS: "счетчик, реак. прием",
    Channel.R_MINUS: "счетчик, реак. отдача",
}


class TimeBasis(StrEnum):
    """Whose clock names the periods: the object's local time, or Moscow time."""

    LOCAL = "local"
    MOSCOW = "moscow"


def _text(value: str, what: str) -> str:
    """``value`` if the file can carry it: not blank, no XML-illegal control, windows-1251."""
    if not isinstance(value, str) or not value.strip():
        raise ExportError(f"{what} must be a non-empty string, got {value!r}")
    if _XML_ILLEGAL.search(value):
        raise ExportError(f"{what} {value!r} contains a control character XML cannot carry")
    try:
        value.encode(ENCODING)
    except UnicodeEncodeError as exc:
        bad = value[exc.start : exc.end]
        raise ExportError(
            f"{what} {value!r} contains {bad!r}, which {ENCODING} cannot encode"
        ) from exc
    return value


def _digits(value: str, what: str, lengths: range) -> str:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) not in lengths:
        size = str(lengths.start) if len(lengths) == 1 else f"{lengths.start}-{lengths.stop - 1}"
        raise ExportError(f"{what} must be {size} digits, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Party:
    """The sender or the area: an INN and a name.

    ``inn`` is a 10- or 12-digit INN, or an ATS-assigned code (a sample's file name carries
    ``600004`` in the sender's place), so any 1-12 digits are accepted.
    """

    inn: str
    name: str

    def __post_init__(self) -> None:
        _digits(self.inn, "INN", range(1, 13))
        _text(self.name, f"name of INN {self.inn}")


@dataclass(frozen=True, slots=True)
class Interval:
    """Energy over ``[start, start + period)`` in kWh or kvarh, after the CT/VT ratios.

    ``energy_kwh`` is ``None`` when the value is missing.
    """

    start: datetime
    period: timedelta
    energy_kwh: Decimal | None
    quality: Quality = Quality.OK

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ExportError(f"interval start {self.start.isoformat()} has no UTC offset")
        energy = self.energy_kwh
        if energy is not None and (
            not isinstance(energy, Decimal) or not energy.is_finite() or energy < 0
        ):
            raise ExportError(
                f"interval at {self.start.isoformat()}: energy must be a finite, non-negative "
                f"Decimal, got {energy!r}"
            )

    @property
    def usable(self) -> bool:
        """Whether the value enters the file (an ``invalid`` one is not a billing value)."""
        return self.energy_kwh is not None and self.quality is not Quality.INVALID

    @property
    def commercial(self) -> bool:
        return self.usable and self.quality is Quality.OK


@dataclass(frozen=True)
class MeasuringPoint:
    """A metering point: its 15-digit ATS code, its name, its profile period and its channels.

    Only the channels given are written, in code order; a channel given with no intervals is
    written as a whole day of missing periods.
    """

    code: str
    name: str
    period: timedelta
    channels: Mapping[Channel, Sequence[Interval]]

    def __post_init__(self) -> None:
        _digits(self.code, "ATS code of a metering point", range(15, 16))
        _text(self.name, f"name of metering point {self.code}")
        seconds = self.period.total_seconds()
        if seconds <= 0 or seconds % 60 or 3600 % seconds:
            raise ExportError(
                f"metering point {self.code}: the period must be whole minutes dividing an "
                f"hour, got {self.period}"
            )
        if not self.channels:
            raise ExportError(f"metering point {self.code} has no channels")
        for channel in self.channels:
            if not isinstance(channel, Channel):
                raise ExportError(f"metering point {self.code}: unknown channel {channel!r}")


@dataclass(frozen=True)
class Ats80020Message:
    """One 80020 file: one sender, one area, one operating day.

    ``number`` is the sender's message counter (kept by the caller). ``created_at`` is when the
    file is made. ``local_zone`` is the object's IANA zone; with ``basis=MOSCOW`` the day and
    the periods are Moscow's instead.
    """

    sender: Party
    area: Party
    day: date
    number: int
    created_at: datetime
    local_zone: str
    points: Sequence[MeasuringPoint]
    basis: TimeBasis = TimeBasis.LOCAL
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise ExportError(f"message number must be a positive integer, got {self.number!r}")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ExportError(f"created_at {self.created_at.isoformat()} has no UTC offset")
        name = MOSCOW_ZONE if self.basis is TimeBasis.MOSCOW else self.local_zone
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ExportError(f"unknown time zone {name!r}") from exc
        object.__setattr__(self, "zone", zone)
        if not self.points:
            raise ExportError("an 80020 message needs at least one metering point")
        codes = [point.code for point in self.points]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ExportError(f"metering points repeated: {', '.join(duplicates)}")


def carry_over_round(values: Sequence[Decimal]) -> list[int]:
    """Integers for ``values`` (≥ 0), rounded with carry-over («с переходящим остатком»).

    Each result is the step of the rounded running total: ``r[k] = R(S[k]) - R(S[k-1])`` where
    ``S[k]`` is the exact sum of the first ``k`` values and ``R(x) = floor(x + 1/2)`` (half up).
    Equivalently, each value plus the remainder carried so far is rounded half up and the new
    remainder carried on. So every prefix — and the day — sums to its exact total rounded half
    up, each result differs from its value by less than 1, and none is negative.
    """
    results: list[int] = []
    running = Decimal(0)
    rounded_before = 0
    for value in values:
        running += value
        rounded = int((running + _HALF).to_integral_value(rounding=ROUND_FLOOR))
        results.append(rounded - rounded_before)
        rounded_before = rounded
    return results


def _grid(message: Ats80020Message, point: MeasuringPoint) -> list[datetime]:
    """UTC starts of the day's periods: local midnight to the next, however long the day is."""
    zone = message.zone
    start = datetime.combine(message.day, time(0), zone).astimezone(UTC)
    end = datetime.combine(message.day + timedelta(days=1), time(0), zone).astimezone(UTC)
    starts = []
    moment = start
    while moment < end:
        starts.append(moment)
        moment += point.period
    return starts


def _slots(
    message: Ats80020Message, point: MeasuringPoint, channel: Channel, grid: list[datetime]
) -> list[Interval | None]:
    """The channel's intervals placed on the grid; ``None`` where nothing was given."""
    index = {moment: position for position, moment in enumerate(grid)}
    slots: list[Interval | None] = [None] * len(grid)
    for interval in point.channels[channel]:
        where = (
            f"metering point {point.code}, channel {channel.value}, {interval.start.isoformat()}"
        )
        if interval.period != point.period:
            raise ExportError(
                f"{where}: period {interval.period} is not the point's {point.period}"
            )
        position = index.get(interval.start.astimezone(UTC))
        if position is None:
            raise ExportError(f"{where}: not a period start of {message.day} ({message.zone.key})")
        if slots[position] is not None:
            raise ExportError(f"{where}: interval given twice")
        slots[position] = interval
    return slots


def _channel_element(
    message: Ats80020Message,
    point: MeasuringPoint,
    channel: Channel,
    grid: list[datetime],
    summer: list[str] | None,
) -> ET.Element:
    element = ET.Element("measuringchannel", {"code": channel.value, "desc": channel.desc})
    slots = _slots(message, point, channel, grid)
    exact = {
        position: slot.energy_kwh
        for position, slot in enumerate(slots)
        if slot is not None and slot.usable and slot.energy_kwh is not None
    }
    rounded = dict(zip(exact, carry_over_round(list(exact.values())), strict=True))
    for position, slot in enumerate(slots):
        start = grid[position].astimezone(message.zone)
        # The end is read on the start's clock (wall-clock addition): 01:00-02:00 twice on a day
        # the clocks go back, 01:00-02:00 then 03:00-04:00 on a day they go forward.
        attributes = {
            "start": start.strftime("%H%M"),
            "end": (start + point.period).strftime("%H%M"),
        }
        if summer is not None:
            attributes["summer"] = summer[position]
        period = ET.SubElement(element, "period", attributes)
        # Missing and invalid intervals are written as 0, and flagged by their status.
        text = str(rounded.get(position, 0))
        status = "0" if slot is not None and slot.commercial else "1"
        ET.SubElement(period, "value", {"status": status}).text = text
    return element


def _summer_flags(message: Ats80020Message, grid: list[datetime]) -> list[str] | None:
    """``summer`` per period on a day whose UTC offset changes, else ``None`` (attribute left
    out): "1" on the side with the larger offset, so a repeated hour's two periods differ."""
    offsets = [moment.astimezone(message.zone).utcoffset() for moment in grid]
    if len(set(offsets)) < 2:
        return None
    summer = max(offset for offset in offsets if offset is not None)
    return ["1" if offset == summer else "0" for offset in offsets]


def _party(parent: ET.Element, tag: str, party: Party) -> ET.Element:
    element = ET.SubElement(parent, tag)
    ET.SubElement(element, "inn").text = party.inn
    ET.SubElement(element, "name").text = party.name
    return element


def build_80020(message: Ats80020Message) -> bytes:
    """The 80020 file for ``message``, windows-1251 encoded with its XML declaration.

    Raises :class:`core.errors.ExportError` when an interval is off the day's grid, given twice
    or of another period than its point's.
    """
    zone = message.zone
    day_start = datetime.combine(message.day, time(0), zone)
    dst = day_start.dst()

    root = ET.Element("message", {"class": "80020", "version": "2", "number": str(message.number)})
    stamp = ET.SubElement(root, "datetime")
    created = message.created_at.astimezone(zone)
    ET.SubElement(stamp, "timestamp").text = created.strftime("%Y%m%d%H%M%S")
    ET.SubElement(stamp, "daylightsavingtime").text = "1" if dst else "0"
    ET.SubElement(stamp, "day").text = message.day.strftime("%Y%m%d")
    _party(root, "sender", message.sender)
    area = _party(root, "area", message.area)
    for point in message.points:
        element = ET.SubElement(area, "measuringpoint", {"code": point.code, "name": point.name})
        grid = _grid(message, point)
        summer = _summer_flags(message, grid)
        for channel in sorted(point.channels):
            element.append(_channel_element(message, point, channel, grid, summer))

    ET.indent(root, space="  ")
    for period in root.iter("period"):
        # One line per period, as in the samples.
        period.text = None
        for value in period:
            value.tail = None
    body = ET.tostring(root, encoding="unicode")
    declaration = f'<?xml version="1.0" encoding="{ENCODING}"?>\n'
    try:
        return (declaration + body + "\n").encode(ENCODING)
    except UnicodeEncodeError as exc:  # every text was checked on construction
        raise ExportError(f"the 80020 file cannot be encoded in {ENCODING}: {exc}") from exc


def file_name_80020(message: Ats80020Message, suffix: str | None = None) -> str:
    """``80020_<sender INN>_<YYYYMMDD>_<number>[_<suffix>].xml`` (peers.md §4, «File name»).

    The samples carry a 10-digit code after the number (``…_12373_2100000600.xml``) that is
    not their area's INN; its meaning needs the regulation, so it is the caller's ``suffix``.
    """
    parts = ["80020", message.sender.inn, message.day.strftime("%Y%m%d"), str(message.number)]
    if suffix is not None:
        parts.append(_digits(suffix, "file name suffix", range(1, 21)))
    return "_".join(parts) + ".xml"
