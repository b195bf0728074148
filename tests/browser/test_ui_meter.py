"""A meter's page in Chromium: the tabs, the «Показания» tables with their hints, archives
downloaded and compared with the API's rows, the journal's filters (AND), and the charts."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from core.model import utc_now
from tests.browser.conftest import Site, api_get, screenshot, sign_in, unlabelled_controls
from tests.browser.seed import MOSCOW

pytestmark = [pytest.mark.services, pytest.mark.asyncio(loop_scope="session")]

ROW_ORDER = ["R-", "R+", "A-", "A+"]
IMPORT_RGB, EXPORT_RGB, INCOMPLETE_RGB = (47, 109, 181), (217, 130, 43), (248, 222, 222)
MONTHS = ["Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь",
          "Октябрь", "Ноябрь", "Декабрь"]  # fmt: skip


async def _open_meter(page: Page, site: Site, meter_id: str, tab: str = "") -> None:
    await sign_in(page, site, site.contract_key, f"/ui/meter.html?id={meter_id}{tab}")
    await expect(page.get_by_role("tablist", name="Разделы ИПУ")).to_be_visible()


def _today() -> date:
    return utc_now().astimezone(MOSCOW).date()


def _month(day: date, back: int = 0) -> str:
    index = day.year * 12 + day.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_title(month: str) -> str:
    return f"{MONTHS[int(month[5:]) - 1]} {month[:4]}"


def _csv_cell(cell: str | None, kind: str) -> str:
    """How the CSV writes a JSON archive cell (docs/archives.md)."""
    if cell is None:
        return ""
    if kind == "date":
        return f"{cell[8:10]}.{cell[5:7]}.{cell[:4]}"
    if kind == "datetime":
        return f"{cell[8:10]}.{cell[5:7]}.{cell[:4]} {cell[11:19]}"
    return cell.replace(".", ",") if kind == "number" else cell


async def _pixels(page: Page, selector: str, rgb: tuple[int, int, int],
                  at_least: int = 1, timeout_s: float = 10.0) -> int:
    """Pixels of the chart's canvas within a few levels of ``rgb``: the series really drawn.
    The chart draws on an animation frame after its data attributes change, so this waits
    (up to ``timeout_s``) for ``at_least`` of them, and returns the last count."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await _count_pixels(page, selector, rgb)
        if found >= at_least or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.1)


async def _count_pixels(page: Page, selector: str, rgb: tuple[int, int, int]) -> int:
    found: int = await page.evaluate(
        """([selector, rgb]) => {
            const canvas = document.querySelector(selector + ' canvas');
            const context = canvas.getContext('2d');
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (Math.abs(data[i] - rgb[0]) < 6 && Math.abs(data[i + 1] - rgb[1]) < 6
                    && Math.abs(data[i + 2] - rgb[2]) < 6 && data[i + 3] > 250) count += 1;
            }
            return count;
        }""",
        [selector, list(rgb)],
    )
    return found


async def test_tabs_information_and_readings_with_their_hints(page: Page, site: Site) -> None:
    meter_id = site.seeded.export_meter
    await _open_meter(page, site, meter_id)
    info = api_get(site, f"meters/{meter_id}").json()
    tabs = page.get_by_role("tab")
    await expect(tabs).to_have_text(["Информация", "Показания", "Журнал"])
    await expect(page.get_by_role("tab", name="Информация")).to_have_attribute(
        "aria-selected", "true"
    )
    blocks = page.locator("#panel-info .block")
    await expect(blocks.locator("h2")).to_have_text([block["title"] for block in info["blocks"]])
    await expect(blocks.locator(".as-of")).to_have_text(
        [re.compile(r"^Данные актуальны на \d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d$")] * 8
    )
    await expect(page.locator("#block-identification ~ dl dd").nth(3)).to_have_text(
        info["blocks"][0]["serial_number"]
    )
    await screenshot(page, "10-meter-information")

    # The keyboard moves between tabs (→), and the tab is kept in the URL.
    await page.get_by_role("tab", name="Информация").press("ArrowRight")
    await expect(page.get_by_role("tab", name="Показания")).to_be_focused()
    await expect(page.get_by_role("tab", name="Показания")).to_have_attribute(
        "aria-selected", "true"
    )
    await expect(page).to_have_url(re.compile(r"#readings$"))
    readings = api_get(site, f"meters/{meter_id}/readings").json()
    tables = page.locator("#panel-readings table.readings")
    await expect(tables).to_have_count(4)
    for index, block in enumerate(readings["blocks"]):
        section = page.locator(f'#panel-readings [data-block="{block["type"]}"]')
        await expect(section.locator("h2")).to_have_text(block["title"])
        if block["type"] in ("day_end", "period_end"):  # a date, as in the seed
            as_of = block["as_of"]
            await expect(section.locator(".as-of")).to_have_text(
                f"Данные актуальны на {as_of[8:10]}.{as_of[5:7]}.{as_of[:4]}"
            )
        table = tables.nth(index)
        await expect(table.locator("thead th")).to_have_text(
            ["Вид энергии", *block["zones"], "СУММ", "Расшифровка и архив"]
        )
        rows = {row["kind"]: row for row in block["rows"]}
        await expect(table.locator("tbody th")).to_have_text(
            [f"{kind}, [{rows[kind]['unit']}]" for kind in ROW_ORDER]
        )
        for position, kind in enumerate(ROW_ORDER):
            values = rows[kind]["values"]
            await expect(table.locator("tbody tr").nth(position).locator("td.num")).to_have_text(
                [values[zone] or "" for zone in [*block["zones"], "sum"]]
            )
    # «?» shows the row's full name on hover (Fig. 171).
    first = tables.first.locator("tbody tr").first
    tooltip = first.get_by_role("tooltip")
    await expect(tooltip).to_be_hidden()
    await first.get_by_role("button", name="Расшифровка: R-").hover()
    await expect(tooltip).to_be_visible()
    await expect(tooltip).to_have_text("реактивная отпущенная, [кВар*ч]")
    await expect(first.locator("abbr")).to_have_attribute(
        "title", "реактивная отпущенная, [кВар*ч]"
    )
    await screenshot(page, "11-meter-readings-hint", full_page=False)
    assert await unlabelled_controls(page) == []
    await screenshot(page, "12-meter-readings")


async def test_archives_download_the_api_rows_as_csv_and_xlsx(page: Page, site: Site) -> None:
    meter_id = site.seeded.long_meter
    await _open_meter(page, site, meter_id, "#readings")
    # End of month, CSV: the last twelve months from the block's «Архив данных».
    await page.locator('[data-block="period_end"] .block-head button').click()
    dialog = page.get_by_role("dialog", name="Форма запроса архива данных")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Тип *")).to_have_value("period_end")
    await expect(dialog.get_by_label("Дата начала")).to_be_hidden()
    first, last = _month(_today(), 12), _month(_today())
    await dialog.get_by_label("Начальный месяц").select_option(label=_month_title(first))
    await dialog.get_by_label("Конечный месяц").select_option(label=_month_title(last))
    await screenshot(page, "13-archive-form-months", full_page=False)
    async with page.expect_download() as started:
        await dialog.get_by_role("button", name="Скачать").click()
    saved = await started.value
    expected = api_get(site, f"meters/{meter_id}/archive", type_="period_end", from_=first, to=last)
    disposition = api_get(
        site, f"meters/{meter_id}/archive", type_="period_end", from_=first, to=last, format="csv"
    ).headers["content-disposition"]
    assert f'filename="{saved.suggested_filename}"' in disposition
    body = await asyncio.to_thread(Path(await saved.path()).read_bytes)
    assert body.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    archive = expected.json()
    kinds = [column["kind"] for column in archive["columns"]]
    assert table[0] == [column["title"] for column in archive["columns"]]
    assert len(archive["rows"]) >= 12  # the 1st of each month, from a year back
    assert table[1:] == [[_csv_cell(c, k) for c, k in zip(row, kinds, strict=True)]
                         for row in archive["rows"]]  # fmt: skip
    await expect(dialog.get_by_role("status")).to_have_text(
        f"Файл {saved.suggested_filename} скачан."
    )

    # End of day, XLSX: a date range.
    await dialog.get_by_label("Тип *").select_option("day_end")
    await expect(dialog.get_by_label("Начальный месяц")).to_be_hidden()
    day_from, day_to = (_today() - timedelta(days=10)).isoformat(), _today().isoformat()
    await dialog.get_by_label("Дата начала").fill(day_from)
    await dialog.get_by_label("Дата окончания").fill(day_to)
    await dialog.get_by_label("XLSX").check()
    await screenshot(page, "14-archive-form-dates", full_page=False)
    async with page.expect_download() as started:
        await dialog.get_by_role("button", name="Скачать").click()
    xlsx = await started.value
    content = await asyncio.to_thread(Path(await xlsx.path()).read_bytes)
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    sheet = list(workbook.active.iter_rows(values_only=True))
    days = api_get(
        site, f"meters/{meter_id}/archive", type_="day_end", from_=day_from, to=day_to
    ).json()
    assert xlsx.suggested_filename == f"{meter_id}_day_end_{day_from}_{day_to}.xlsx"
    assert list(sheet[0]) == [column["title"] for column in days["columns"]]
    assert len(sheet) - 1 == len(days["rows"]) >= 10  # every midnight that ended a day
    for got, row in zip(sheet[1:], days["rows"], strict=True):
        assert isinstance(got[0], datetime)
        assert got[0].strftime("%Y-%m-%d") == row[0][:10]
        assert [None if v is None else f"{v:.3f}" for v in got[1:]] == row[1:]

    # A reversed range is refused in the form, before any request.
    await dialog.get_by_label("Дата начала").fill(day_to)
    await dialog.get_by_label("Дата окончания").fill(day_from)
    await dialog.get_by_role("button", name="Скачать").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Дата начала позже даты окончания.")
    await dialog.get_by_role("button", name="Закрыть").click()
    await expect(dialog).to_be_hidden()


async def _journal_rows(page: Page) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await page.evaluate(
        """() => [...document.querySelectorAll('table.journal tbody tr')].map((tr) => ({
            kind: tr.dataset.kind, critical: tr.dataset.critical,
            time: tr.cells[0].innerText, text: tr.cells[1].firstChild.textContent}))"""
    )
    return rows


async def test_journal_filters_combine_with_and(page: Page, site: Site) -> None:
    meter_id = site.seeded.export_meter
    await _open_meter(page, site, meter_id, "#journal")
    current = api_get(site, f"meters/{meter_id}/journal", limit=1000).json()
    month = page.get_by_label("Период *")
    await expect(month).to_have_value(current["month"])  # the current month by default
    await expect(month.locator("option:checked")).to_have_text(_month_title(current["month"]))
    await expect(page.locator("table.journal tbody tr")).to_have_count(current["total"])
    await expect(page.locator("table.journal thead th")).to_have_text(
        ["Дата и время возникновения события", "Описание события"]
    )
    kinds = api_get(site, f"meters/{meter_id}/journal/kinds").json()
    await expect(page.get_by_label("Вид события").locator("option")).to_have_text(
        ["Все", *(kind["title"] for kind in kinds)]
    )
    await expect(page.get_by_label("Тип события").locator("option")).to_have_text(
        ["Все", "критичное", "не критичное"]
    )

    previous = _month(_today(), 1)
    await month.select_option(previous)
    everything = api_get(site, f"meters/{meter_id}/journal", month=previous, limit=1000).json()
    await expect(page.locator("#journal-status")).to_have_text(f"Событий: {everything['total']}")
    await page.get_by_label("Вид события").select_option("tamper")
    tamper = api_get(site, f"meters/{meter_id}/journal", month=previous, kind="tamper").json()
    await expect(page.locator("#journal-status")).to_have_text(f"Событий: {tamper['total']}")
    await page.get_by_label("Тип события").select_option(label="критичное")
    both = api_get(
        site, f"meters/{meter_id}/journal", month=previous, kind="tamper", critical="true"
    ).json()
    await expect(page.locator("#journal-status")).to_have_text(f"Событий: {both['total']}")
    # AND: fewer than either filter alone, and every row passes both.
    critical = api_get(site, f"meters/{meter_id}/journal", month=previous, critical="true").json()
    assert 0 < both["total"] < min(tamper["total"], critical["total"])
    rows = await _journal_rows(page)
    assert len(rows) == both["total"]
    assert {(row["kind"], row["critical"]) for row in rows} == {("tamper", "true")}
    assert [(row["time"], row["text"]) for row in rows] == [
        (f"{e['ts'][8:10]}.{e['ts'][5:7]}.{e['ts'][2:4]} {e['ts'][11:19]}", e["description"])
        for e in both["events"]
    ]
    assert all(event["ts"][:7] == previous for event in both["events"])
    await screenshot(page, "15-meter-journal-filtered")
    assert await unlabelled_controls(page) == []


def _incomplete_day() -> date:
    """The latest whole day whose 03:00 interval the seed marked incomplete."""
    day = _today() - timedelta(days=1)
    while day.toordinal() % 3 != 0:
        day -= timedelta(days=1)
    return day


async def test_charts_draw_the_profile_and_the_year(page: Page, site: Site) -> None:
    meter_id = site.seeded.export_meter
    await _open_meter(page, site, meter_id, "#readings")
    profile = page.locator("#profile-chart")
    await expect(profile).to_have_attribute("data-points", re.compile(r"\d+"))
    day = _incomplete_day().isoformat()
    await page.get_by_label("Дата", exact=True).fill(day)
    await page.get_by_label("Дата", exact=True).dispatch_event("change")
    series = api_get(site, f"meters/{meter_id}/intervals", from_=day, to=day).json()
    partial = [entry for entry in series["intervals"] if entry["quality"] != "ok"]
    assert len(series["intervals"]) == 48
    assert len(partial) == 1
    await expect(profile).to_have_attribute("data-points", "48")
    await expect(profile).to_have_attribute("data-incomplete", "1")
    await expect(profile.locator("figcaption")).to_contain_text(
        f"{day[8:]}.{day[5:7]}.{day[:4]}: интервалов 48"
    )
    assert await _pixels(page, "#profile-chart", IMPORT_RGB, 501) > 500  # A+ bars
    # A- bars (the solar midday)
    assert await _pixels(page, "#profile-chart", EXPORT_RGB, 501) > 500
    assert await _pixels(page, "#profile-chart", INCOMPLETE_RGB, 51) > 50  # the incomplete interval
    await page.locator("#profile-chart").scroll_into_view_if_needed()
    await screenshot(page, "16-profile-day", full_page=False)

    await page.get_by_label("Неделя").check()
    monday = date.fromisoformat(day) - timedelta(days=date.fromisoformat(day).weekday())
    week = api_get(
        site, f"meters/{meter_id}/intervals", from_=monday.isoformat(),
        to=(monday + timedelta(days=6)).isoformat(),
    ).json()  # fmt: skip
    await expect(profile).to_have_attribute("data-points", str(len(week["intervals"])))
    expected_partial = sum(1 for entry in week["intervals"] if entry["quality"] != "ok")
    await expect(profile).to_have_attribute("data-incomplete", str(expected_partial))
    await screenshot(page, "17-profile-week", full_page=False)


async def test_the_years_consumption_by_month(page: Page, site: Site) -> None:
    meter_id = site.seeded.long_meter
    await _open_meter(page, site, meter_id, "#readings")
    year = api_get(site, f"meters/{meter_id}/consumption").json()
    chart = page.locator("#consumption-chart")
    with_data = [month for month in year["months"] if month["values"]["A+"] is not None]
    partial = [month for month in with_data if month["quality"] != "ok"]
    await expect(chart).to_have_attribute("data-points", str(len(with_data)))
    await expect(chart).to_have_attribute("data-incomplete", str(len(partial)))
    assert partial[-1]["month"] == _month(_today())  # the month in progress
    assert await _pixels(page, "#consumption-chart", IMPORT_RGB, 301) > 300
    rows = page.locator("table.consumption tbody tr")
    await expect(rows).to_have_count(12)
    await expect(rows.locator("td:nth-of-type(1)")).to_have_text(
        [month["values"]["A+"] or "" for month in year["months"]]
    )
    await page.locator("#consumption-chart").scroll_into_view_if_needed()
    await screenshot(page, "18-consumption-year", full_page=False)
    # The year before: a whole year of data for the seed's long meter, but the first months.
    await page.get_by_label("Год", exact=True).select_option(str(year["year"] - 1))
    before = api_get(site, f"meters/{meter_id}/consumption", year=year["year"] - 1).json()
    with_data = [month for month in before["months"] if month["values"]["A+"] is not None]
    await expect(chart).to_have_attribute("data-points", str(len(with_data)))
