"""The ISU page in Chromium: sign-in, «Договор», «Энергообъект», «Поиск», the tree with ▼/►,
a node's information in a new tab, the empty state, and a refused key back to sign-in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Site, api_get, screenshot, sign_in, unlabelled_controls
from tests.browser.seed import DEMO_CONTRACT

pytestmark = [pytest.mark.services, pytest.mark.asyncio(loop_scope="session")]


def _as_of(iso: str) -> str:
    """«Данные актуальны на ДД.ММ.ГГГГ ЧЧ:ММ:СС» from the API's local time."""
    day, time = iso[:10].split("-"), iso[11:19]
    return f"Данные актуальны на {day[2]}.{day[1]}.{day[0]} {time}"


def _count_meters(nodes: list[dict[str, Any]]) -> int:
    return sum(1 if n["kind"] == "meter" else _count_meters(n["children"]) for n in nodes)


async def test_sign_in_pick_a_contract_filter_search_and_fold_the_tree(
    page: Page, context: BrowserContext, site: Site
) -> None:
    await page.goto(site.url + "/")
    await expect(page).to_have_url(re.compile(r"/ui/$"))
    await expect(page.get_by_role("heading", name="Вход в раздел ИСУ")).to_be_visible()
    await screenshot(page, "01-sign-in")
    await page.get_by_label("Ключ API", exact=True).fill("isu_not-a-key")
    await page.get_by_role("button", name="Войти").click()
    await expect(page.get_by_role("alert")).to_have_text("Неверный или отозванный ключ API.")

    await page.get_by_label("Ключ API", exact=True).fill(site.admin_key)
    await page.get_by_role("button", name="Войти").click()
    contracts = api_get(site, "contracts").json()
    assert len(contracts) == 2  # the bench contract and the demo's; not the one without meters
    options = page.get_by_label("Договор", exact=True).locator("option")
    await expect(options).to_have_text([f"{c['name']} ({c['number']})" for c in contracts])
    assert await unlabelled_controls(page) == []

    # «Договор»: the demo's contract has one tree card per energy object.
    await page.get_by_label("Договор", exact=True).select_option(DEMO_CONTRACT)
    tree = api_get(site, f"contracts/{DEMO_CONTRACT}/tree").json()
    cards = page.locator(".tree-card")
    await expect(cards).to_have_count(len(tree["trees"]))
    roots = [f"{root['number']} {root['name']}" for root in tree["trees"]]
    await expect(page.locator('[role="tree"] > [role="treeitem"] > .row')).to_have_text(
        [re.compile(re.escape(root)) for root in roots]
    )
    await expect(page.locator('[data-kind="meter"]')).to_have_count(_count_meters(tree["trees"]))
    await expect(page).to_have_url(re.compile(rf"contract={DEMO_CONTRACT}"))
    await screenshot(page, "02-tree")

    # «Энергообъект»: «Все» by default, then one energy object, then × back to «Все».
    objects = page.get_by_label("Энергообъект", exact=True)
    await expect(objects.locator("option")).to_have_text(
        ["Все", *(f"{r['name']} ({r['number']})" for r in tree["trees"])]
    )
    await expect(objects).to_have_value("")
    second = tree["trees"][1]
    await objects.select_option(second["number"])
    await expect(cards).to_have_count(1)
    await expect(cards).to_have_attribute("data-energy-object", second["number"])
    await page.get_by_role("button", name="Сбросить фильтр «Энергообъект»").click()
    await expect(cards).to_have_count(2)

    # «Поиск» keeps whole trees: a metering point's name brings its energy object's card with
    # every branch, highlighted where it matched.
    await page.get_by_label("Поиск", exact=True).fill("щит 2, ввод 7")
    await expect(cards).to_have_count(1)
    await expect(cards).to_have_attribute("data-energy-object", second["number"])
    found = api_get(site, f"contracts/{DEMO_CONTRACT}/tree", q="щит 2, ввод 7").json()
    assert [root["number"] for root in found["trees"]] == [second["number"]]
    await expect(cards.locator('[data-kind="meter"]')).to_have_count(10)
    await expect(cards.locator("mark")).to_have_text(["Щит 2, ввод 7"])
    await screenshot(page, "03-tree-search")
    await page.get_by_label("Поиск", exact=True).fill("нет такого объекта")
    await expect(cards).to_have_count(0)
    await expect(page.locator("#tree-status")).to_have_text(
        "Ничего не найдено по запросу «нет такого объекта»"
    )
    await page.get_by_label("Поиск", exact=True).fill("")
    await expect(cards).to_have_count(2)

    # ▼/►: a click on the toggle, then the keyboard (← folds, → unfolds).
    root = page.locator('[role="tree"] > [role="treeitem"]').first
    await expect(root).to_have_attribute("aria-expanded", "true")
    await root.locator(":scope > .row > .toggle").click()
    await expect(root).to_have_attribute("aria-expanded", "false")
    await expect(root.locator('[role="group"]').first).to_be_hidden()
    await screenshot(page, "04-tree-folded")
    await root.press("ArrowRight")
    await expect(root).to_have_attribute("aria-expanded", "true")
    await root.press("ArrowLeft")
    await expect(root).to_have_attribute("aria-expanded", "false")
    await page.get_by_role("button", name="Развернуть все уровни").click()
    await expect(page.locator('[aria-expanded="false"]')).to_have_count(0)

    # A click anywhere on a row opens the node's information in a new tab, signed in.
    point = cards.first.locator('[data-kind="connection_point"] > .row').first
    async with context.expect_page() as opened:
        await point.locator(".name").click()
    info = await opened.value
    await info.wait_for_load_state()
    await expect(info).to_have_url(re.compile(r"/ui/node\.html\?id=cp%3A\d+$"))
    node_id = info.url.rsplit("id=", 1)[1].replace("%3A", ":")
    node = api_get(site, f"nodes/{node_id}").json()
    await expect(info.get_by_role("heading", level=1)).to_have_text("Информация")
    blocks = info.locator(".block")
    await expect(blocks).to_have_count(len(node["blocks"]))
    await expect(blocks.locator("h2")).to_have_text([block["title"] for block in node["blocks"]])
    await expect(blocks.locator(".as-of")).to_have_text(
        [_as_of(b["as_of"]) for b in node["blocks"]]
    )
    await expect(blocks.first.locator("dd").first).to_have_text(node["blocks"][0]["name"])
    await screenshot(info, "05-node-information")
    await info.get_by_role("link", name="Вышестоящий объект").click()
    await expect(info.locator(".block h2")).to_have_text(["Характеристики энергообъекта"])
    await expect(info.locator(".block dt").first).to_have_text("Адрес энергообъекта")
    await screenshot(info, "06-energy-object-information")


async def test_a_key_without_contracts_sees_the_empty_state(page: Page, site: Site) -> None:
    assert api_get(site, "contracts", key=site.empty_key).json() == []
    await sign_in(page, site, site.empty_key)
    await expect(page.get_by_role("heading", name="У вас пока нет договора с ИПУ")).to_be_visible()
    await expect(page.locator(".tree-card")).to_have_count(0)
    await screenshot(page, "07-empty-state")


async def test_a_refused_key_returns_to_sign_in(page: Page, site: Site) -> None:
    await sign_in(page, site, site.contract_key)
    await expect(page.locator(".tree-card")).to_have_count(2)
    # The key stops working (revoked, say): the next call is a 401 and the sign-in comes back.
    await page.evaluate("() => sessionStorage.setItem('isu.apiKey', 'isu_revoked')")
    await page.get_by_label("Энергообъект", exact=True).select_option(index=1)
    await expect(page.get_by_role("heading", name="Вход в раздел ИСУ")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("Ключ API не принят")
    assert await page.evaluate("() => sessionStorage.getItem('isu.apiKey')") is None
    await expect(page.get_by_role("button", name="Выйти")).to_be_hidden()
    # Signing in again brings the page back where it was (the filter is in the URL).
    await page.get_by_label("Ключ API", exact=True).fill(site.contract_key)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.locator(".tree-card")).to_have_count(1)
    await expect(page.get_by_label("Энергообъект", exact=True)).to_have_value("0001")
    await page.get_by_role("button", name="Выйти").click()
    await expect(page.get_by_label("Ключ API", exact=True)).to_be_visible()
