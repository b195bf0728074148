"""Archive files for Russian Excel: CSV bytes and XLSX read back (api.archive_files)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from api.archive_files import (
    ArchiveTable,
    Column,
    ColumnKind,
    archive_csv,
    archive_xlsx,
    energy_column,
    interval_columns,
    kind_title,
    register_columns,
    zone_title,
)
from api.schemas import BlockType
from core.obis import EnergyKind

MOSCOW = ZoneInfo("Europe/Moscow")
BOM = b"\xef\xbb\xbf"


def period_end_table() -> ArchiveTable:
    columns = register_columns(BlockType.PERIOD_END, [EnergyKind.A_PLUS], [1, 2, 3])
    rows = [
        # the end-of-period example of the cabinet manual (seeds-requirements.md §1.7)
        [datetime(2023, 11, 30, 21, 0, tzinfo=UTC), Decimal("8.05"), Decimal("0.066"),
         Decimal(0), Decimal("8.116")],
        [datetime(2023, 12, 31, 21, 0, tzinfo=UTC), Decimal("12.3456"), None, Decimal("-0.0001"),
         Decimal("1234567.0005")],
    ]  # fmt: skip
    return ArchiveTable(columns, rows, MOSCOW, "A+ на конец месяца")


def test_titles_name_kind_zone_and_unit() -> None:
    assert kind_title(EnergyKind.A_PLUS) == "A+ (активная принятая), кВт*ч"
    assert kind_title(EnergyKind.R_MINUS) == "R- (реактивная отпущенная), кВар*ч"
    assert zone_title(4) == "T4"
    titles = [c.title for c in register_columns(BlockType.DAY_END, [EnergyKind.R_PLUS], [1, 2])]
    assert titles == ["Дата", "R+ T1, кВар*ч", "R+ T2, кВар*ч", "R+ СУММ, кВар*ч"]
    current = register_columns(BlockType.CURRENT, [EnergyKind.A_PLUS], [])
    assert [c.title for c in current] == ["Дата и время", "A+ СУММ, кВт*ч"]
    assert [c.title for c in interval_columns()][:3] == [
        "Начало интервала",
        "Конец интервала",
        "A+ (активная принятая), кВт*ч",
    ]
    with pytest.raises(ValueError, match="interval"):
        register_columns(BlockType.INTERVAL, [EnergyKind.A_PLUS], [1])
    with pytest.raises(ValueError, match="zone"):
        zone_title(9)


def test_csv_bytes_for_russian_excel() -> None:
    assert (
        archive_csv(period_end_table())
        == BOM
        + (
            "Дата;A+ T1, кВт*ч;A+ T2, кВт*ч;A+ T3, кВт*ч;A+ СУММ, кВт*ч\r\n"
            "01.12.2023;8,050;0,066;0,000;8,116\r\n"
            "01.01.2024;12,346;;0,000;1234567,001\r\n"
        ).encode()
    )


def test_csv_quotes_fields_that_need_it_and_defuses_formulas() -> None:
    columns = [Column('Объект; "главный"'), Column("Время", ColumnKind.DATETIME)]
    rows = [
        ["ТП-1\nввод 2", datetime(2026, 11, 22, 12, 30, 5, tzinfo=UTC)],
        ["=1+2", None],
    ]
    assert (
        archive_csv(ArchiveTable(columns, rows, MOSCOW))
        == BOM
        + (
            '"Объект; ""главный""";Время\r\n"ТП-1\nввод 2";22.11.2026 15:30:05\r\n\'=1+2;\r\n'
        ).encode()
    )


def test_csv_of_no_rows_is_the_header() -> None:
    table = ArchiveTable(interval_columns([EnergyKind.A_PLUS]), [], MOSCOW)
    text = archive_csv(table).decode("utf-8-sig")
    assert text == "Начало интервала;Конец интервала;A+ (активная принятая), кВт*ч\r\n"


def read_back(data: bytes):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(data)).active


def test_xlsx_holds_real_numbers_local_times_and_a_bold_frozen_header() -> None:
    sheet = read_back(archive_xlsx(period_end_table()))
    assert sheet.title == "A+ на конец месяца"
    header = [cell.value for cell in sheet[1]]
    assert header == ["Дата", "A+ T1, кВт*ч", "A+ T2, кВт*ч", "A+ T3, кВт*ч", "A+ СУММ, кВт*ч"]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    date, t1, t2, t3, total = sheet[2]
    assert date.value == datetime(2023, 12, 1, 0, 0)  # 00:00 Moscow, no zone in Excel
    assert date.number_format == "DD.MM.YYYY"
    assert isinstance(t1.value, float)
    assert t1.value == pytest.approx(8.05)
    assert t1.number_format == "0.000"
    assert t2.value == pytest.approx(0.066)
    assert t3.value == 0
    assert total.value == pytest.approx(8.116)
    second = [cell.value for cell in sheet[3]]
    assert second[1] == pytest.approx(12.346)  # rounded half up to the column's places
    assert second[2] is None  # a missing value is an empty cell
    assert second[4] == pytest.approx(1234567.001)
    assert sheet.column_dimensions["A"].width >= len("01.12.2023")
    assert sheet.column_dimensions["E"].width >= len("A+ СУММ, кВт*ч")


def test_xlsx_keeps_formula_like_text_as_text_and_cleans_the_sheet_title() -> None:
    table = ArchiveTable([Column("Имя")], [["=SUM(A1:A2)"]], MOSCOW, "A+/A- [кВт*ч]")
    sheet = read_back(archive_xlsx(table))
    assert sheet["A2"].value == "=SUM(A1:A2)"
    assert sheet["A2"].data_type == "s"
    assert sheet.title == "A+ A-  кВт ч"


def test_a_year_of_half_hours_builds() -> None:
    start = datetime(2025, 12, 31, 21, 0, tzinfo=UTC)
    step = timedelta(minutes=30)
    rows = [
        [start + n * step, start + (n + 1) * step, Decimal(n % 97).scaleb(-3), Decimal("0.5"),
         None, Decimal("0.125")]
        for n in range(17_520)
    ]  # fmt: skip
    table = ArchiveTable(interval_columns(), rows, MOSCOW)
    csv_lines = archive_csv(table).split(b"\r\n")
    assert len(csv_lines) == 17_520 + 2  # header, rows, the empty tail after the last CRLF
    assert csv_lines[1] == b"01.01.2026 00:00:00;01.01.2026 00:30:00;0,000;0,500;;0,125"
    sheet = load_workbook(io.BytesIO(archive_xlsx(table)), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 17_521
    last = values[-1]
    assert last[:2] == (datetime(2026, 12, 31, 23, 30), datetime(2027, 1, 1, 0, 0))


def test_rows_must_fit_the_columns_and_times_carry_an_offset() -> None:
    columns = [energy_column("A+")]
    with pytest.raises(ValueError, match="row 0"):
        archive_csv(ArchiveTable(columns, [[Decimal(1), Decimal(2)]], MOSCOW))
    naive = ArchiveTable([Column("Дата", ColumnKind.DATE)], [[datetime(2026, 1, 1)]], MOSCOW)
    with pytest.raises(ValueError, match="offset"):
        archive_csv(naive)
    with pytest.raises(ValueError, match="offset"):
        archive_xlsx(naive)
