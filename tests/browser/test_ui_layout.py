"""The screens on a 375 px phone: nothing wider than the screen but the tables and the tree,
which scroll in their own regions; tabs, dialogs and charts usable. And offline: every file
comes from the product (the fixtures fail a test on any request to another origin)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, Site, screenshot, sign_in, unlabelled_controls

pytestmark = [pytest.mark.services, pytest.mark.asyncio(loop_scope="session")]


async def _page_width(page: Page) -> int:
    width: int = await page.evaluate("() => document.documentElement.scrollWidth")
    return width


async def _regions_fit(page: Page, selector: str) -> list[str]:
    """Elements matching ``selector`` wider than the screen (they must scroll inside instead)."""
    found: list[str] = await page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
            .map((el) => el.className)""",
        selector,
    )
    return found


async def test_phone_width_tree_tabs_tables_and_dialog(page: Page, site: Site) -> None:
    await page.set_viewport_size(PHONE)
    await sign_in(page, site, site.contract_key)
    await expect(page.locator(".tree-card")).to_have_count(2)
    assert await _page_width(page) <= PHONE["width"]
    assert await _regions_fit(page, ".tree-card, .filters, select, input") == []
    assert await unlabelled_controls(page) == []
    # The product's own font, from the product.
    assert await page.evaluate("() => document.fonts.check('16px \"PT Sans\"')")
    font_loaded = await page.evaluate(
        "() => [...document.fonts].some((f) => f.family.includes('PT Sans')"
        " && f.status === 'loaded')"
    )
    assert font_loaded
    await screenshot(page, "20-phone-tree")

    meter_id = site.seeded.export_meter
    await page.goto(f"{site.url}/ui/meter.html?id={meter_id}#readings")
    await expect(page.locator("#profile-chart")).to_have_attribute("data-points", "48")
    assert await _page_width(page) <= PHONE["width"]
    for tab in await page.get_by_role("tab").all():
        box = await tab.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    # Tables wider than the phone scroll inside their labelled regions.
    region = page.get_by_role("region", name="Таблица: Показания на конец суток")
    assert await _regions_fit(page, ".table-scroll, .chart-card, .uplot") == []
    await region.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
    await expect(region.locator("tbody button").first).to_be_in_viewport()
    await screenshot(page, "21-phone-readings")

    await page.locator('[data-block="current"] .block-head button').click()
    dialog = page.get_by_role("dialog", name="Форма запроса архива данных")
    await expect(dialog).to_be_visible()
    box = await dialog.bounding_box()
    assert box is not None
    assert box["width"] <= PHONE["width"]
    await expect(dialog.get_by_label("Дата начала")).to_be_visible()
    await screenshot(page, "22-phone-archive-form", full_page=False)
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    await page.get_by_role("tab", name="Журнал").click()
    await expect(page.locator("table.journal tbody tr").first).to_be_visible()
    assert await _page_width(page) <= PHONE["width"]
    await screenshot(page, "23-phone-journal")
