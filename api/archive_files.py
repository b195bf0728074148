"""Archive tables as files for Russian Excel: CSV and XLSX (docs/archives.md); no I/O.

A table is a list of columns (a Russian title and how to show the values) and rows of cells:
text, ``Decimal`` or ``None`` (an empty cell), or an aware ``datetime``, shown in the object's
local time.

- CSV: UTF-8 with BOM, ``;`` between fields, CRLF line ends, decimal comma, fields quoted only
  when needed (``csv.QUOTE_MINIMAL``). Times are ``ДД.ММ.ГГГГ ЧЧ:ММ:СС`` (dates ``ДД.ММ.ГГГГ``),
  which Russian Excel reads as dates; ISO 8601 with an offset would stay text there.
- XLSX: real numbers with a number format of the column's precision (``0.000`` for energy),
  Excel datetimes in local time, a bold and frozen header row, widths fitted to the content.
  The workbook is written in openpyxl's ``write_only`` mode, so a year of half-hours stays
  small in memory.

Numbers are rounded half up to the column's places, once, here (docs/api.md, "Energy").
Text that Excel would run as a formula (``=``, ``+``, ``-``, ``@`` first) is kept as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from api.formats import ENERGY_PLACES
from api.schemas import BlockType
from core.obis import ENERGY_KINDS, EnergyKind

__all__ = [
    "ARCHIVE_TYPE_TITLES",
    "DATETIME_TITLE",
    "DATE_TITLE",
    "INTERVAL_END_TITLE",
    "INTERVAL_START_TITLE",
    "SUM_TITLE",
    "ArchiveTable",
    "Cell",
    "Column",
    "ColumnKind",
    "archive_csv",
    "archive_xlsx",
    "energy_column",
    "interval_columns",
    "kind_title",
    "register_columns",
    "zone_title",
]

#: A cell of an archive row.
Cell = str | Decimal | datetime | None

# --- Russian titles (docs/archives.md, "Column titles") ----------------------------------------

#: The archive types of the download form «Форма запроса архива данных» («Тип»). The seed names
#: «На конец месяца» and «Текущие показания»; the other two are ours, in the same style.
ARCHIVE_TYPE_TITLES: dict[BlockType, str] = {
    BlockType.DAY_END: "На конец суток",
    BlockType.PERIOD_END: "На конец месяца",
    BlockType.INTERVAL: "Расход за интервал",
    BlockType.CURRENT: "Текущие показания",
}
#: The time column of end-of-day and end-of-period archives: the snapshot's local date.
DATE_TITLE = "Дата"
#: The time column of the current-values archive: the read's local date and time.
DATETIME_TITLE = "Дата и время"
#: The time columns of the interval archive: ``[start, end)`` of each interval, local.
INTERVAL_START_TITLE = "Начало интервала"
INTERVAL_END_TITLE = "Конец интервала"
#: The sum column, as the cabinet's «Показания» tab names it.
SUM_TITLE = "СУММ"

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MAX_WIDTH = 60
_SHEET_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def zone_title(zone: int) -> str:
    """Tariff zone ``zone`` (1..8) as the cabinet writes it: ``"T1"`` (Latin T, as on screen)."""
    if not 1 <= zone <= 8:
        raise ValueError(f"tariff zone {zone} is outside 1..8")
    return f"T{zone}"


def kind_title(kind: EnergyKind) -> str:
    """``"A+ (активная принятая), кВт*ч"``: the kind, its Russian name and unit."""
    return f"{kind.label} ({kind.name_ru}), {kind.unit_ru}"


class ColumnKind(StrEnum):
    """How a column shows its cells."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its title, how it shows values, and a number's decimal places (``None``: as is)."""

    title: str
    kind: ColumnKind = ColumnKind.TEXT
    places: int | None = None


def energy_column(title: str) -> Column:
    """An energy column: kWh or kvarh with three decimals."""
    return Column(title, ColumnKind.NUMBER, ENERGY_PLACES)


def register_columns(
    block_type: BlockType, kinds: Sequence[EnergyKind], zones: Sequence[int]
) -> tuple[Column, ...]:
    """Columns of a register archive (end of day, end of period, current values).

    The time column, then for each kind its zones and sum: «A+ T1, кВт*ч» … «A+ СУММ, кВт*ч».
    The cabinet's download button sits on one row, so ``kinds`` is usually one kind.
    """
    if block_type is BlockType.INTERVAL:
        raise ValueError("the interval archive has its own columns (interval_columns)")
    time_column = (
        Column(DATETIME_TITLE, ColumnKind.DATETIME)
        if block_type is BlockType.CURRENT
        else Column(DATE_TITLE, ColumnKind.DATE)
    )
    columns = [time_column]
    for kind in kinds:
        labels = [zone_title(zone) for zone in zones] + [SUM_TITLE]
        columns += [energy_column(f"{kind.label} {label}, {kind.unit_ru}") for label in labels]
    return tuple(columns)


def interval_columns(kinds: Sequence[EnergyKind] = ENERGY_KINDS) -> tuple[Column, ...]:
    """Columns of the interval archive: start, end, then one energy column per kind."""
    return (
        Column(INTERVAL_START_TITLE, ColumnKind.DATETIME),
        Column(INTERVAL_END_TITLE, ColumnKind.DATETIME),
        *(energy_column(kind_title(kind)) for kind in kinds),
    )


@dataclass(frozen=True, slots=True)
class ArchiveTable:
    """An archive ready to write; times are shown in ``zone`` (the object's time zone)."""

    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    zone: tzinfo
    sheet_title: str = "Архив"


def archive_csv(table: ArchiveTable) -> bytes:
    """The table as CSV for Russian Excel (module docstring)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([_safe_text(column.title) for column in table.columns])
    # One formatter per column, decided once, and one text per instant: a year of half-hours
    # has 35,000 time cells but only 17,569 instants (an interval's end is the next start).
    times: dict[tuple[datetime, ColumnKind], str] = {}
    formatters = [_csv_formatter(column, table.zone, times) for column in table.columns]
    width = len(formatters)
    for index, row in enumerate(table.rows):
        if len(row) != width:
            _check_row(table, row, index)
        writer.writerow([text(cell) for text, cell in zip(formatters, row, strict=True)])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_formatter(
    column: Column, zone: tzinfo, times: dict[tuple[datetime, ColumnKind], str]
) -> Callable[[Cell], str]:
    quantum = None if column.places is None else Decimal(1).scaleb(-column.places)
    kind = column.kind
    time_format = "%d.%m.%Y" if kind is ColumnKind.DATE else "%d.%m.%Y %H:%M:%S"

    def text(cell: Cell) -> str:
        if cell is None:
            return ""
        if isinstance(cell, Decimal):
            if quantum is not None:
                cell = cell.quantize(quantum, rounding=ROUND_HALF_UP)
                if cell.is_zero():
                    cell = abs(cell)  # never "-0,000"
            return format(cell, "f").replace(".", ",")
        if isinstance(cell, datetime):
            key = (cell, kind)
            found = times.get(key)
            if found is None:
                found = times[key] = _local(cell, zone).strftime(time_format)
            return found
        return _safe_text(cell)

    return text


def archive_xlsx(table: ArchiveTable) -> bytes:
    """The table as one XLSX sheet (module docstring)."""
    widths = [len(column.title) for column in table.columns]
    for index, row in enumerate(table.rows):
        _check_row(table, row, index)
        for position, (cell, column) in enumerate(zip(row, table.columns, strict=True)):
            widths[position] = max(widths[position], _width(cell, column, table.zone))
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(table.sheet_title))
    sheet.freeze_panes = "A2"
    for position, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = min(width + 2, _MAX_WIDTH)
    bold = Font(bold=True)
    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.data_type = "s"
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    formats = [_number_format(column) for column in table.columns]
    for row in table.rows:
        sheet.append(
            [
                _xlsx_cell(sheet, value, column, number_format, table.zone)
                for value, column, number_format in zip(row, table.columns, formats, strict=True)
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _check_row(table: ArchiveTable, row: Sequence[Cell], index: int) -> None:
    if len(row) != len(table.columns):
        raise ValueError(
            f"archive row {index} has {len(row)} cells for {len(table.columns)} columns"
        )


def _rounded(value: Decimal, column: Column) -> Decimal:
    if column.places is None:
        return value
    rounded = value.quantize(Decimal(1).scaleb(-column.places), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded.is_zero() else rounded  # never "-0,000"


def _local(moment: datetime, zone: tzinfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an archive time must carry its offset")
    return moment.astimezone(zone)


def _text(cell: Cell, column: Column, zone: tzinfo) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return format(_rounded(cell, column), "f").replace(".", ",")
    if isinstance(cell, datetime):
        local = _local(cell, zone)
        if column.kind is ColumnKind.DATE:
            return local.strftime("%d.%m.%Y")
        return local.strftime("%d.%m.%Y %H:%M:%S")
    return _safe_text(cell)


def _width(cell: Cell, column: Column, zone: tzinfo) -> int:
    if isinstance(cell, datetime):  # "ДД.ММ.ГГГГ" or "ДД.ММ.ГГГГ ЧЧ:ММ:СС"
        _local(cell, zone)
        return 10 if column.kind is ColumnKind.DATE else 19
    return len(_text(cell, column, zone))


def _safe_text(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _number_format(column: Column) -> str:
    if column.kind is ColumnKind.DATE:
        return "DD.MM.YYYY"
    if column.kind is ColumnKind.DATETIME:
        return "DD.MM.YYYY HH:MM:SS"
    if column.places is None:
        return "General"
    return "0" if column.places == 0 else "0." + "0" * column.places


def _xlsx_cell(
    sheet: object, value: Cell, column: Column, number_format: str, zone: tzinfo
) -> WriteOnlyCell | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=_rounded(value, column))
    elif isinstance(value, datetime):
        # Excel has no time zones: the object's local wall time, as the cabinet shows it.
        local = _local(value, zone)
        cell = WriteOnlyCell(sheet, value=local.replace(tzinfo=None))
        if column.kind not in (ColumnKind.DATE, ColumnKind.DATETIME):
            number_format = "DD.MM.YYYY HH:MM:SS"
    else:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, whatever the text starts with
        return cell
    cell.number_format = number_format
    return cell


def _sheet_title(title: str) -> str:
    return (title.translate(_SHEET_FORBIDDEN).strip(" '") or "Архив")[:31]
