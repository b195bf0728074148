"""The ISU screens in headless Chromium: the demo's site in a scratch database, ``isu api`` as a
process serving it and the UI, and Debian's ``chromium`` driven by Playwright.

Playwright's asyncio API runs in one event loop for the whole session (the browser tests are
marked ``asyncio(loop_scope="session")``). Its synchronous API would keep a loop running in the
main thread for as long as the browser lives, and every asyncio test collected after these
would then fail to start its own loop.

Playwright's own browser download is not used: the browser is the system's
(``apt-get install chromium``), found at :data:`CHROMIUM`. Every page records its console
errors and the URLs it requested; a test fails when the UI logged an error (a Content-Security-
Policy violation included) or asked anything of another origin (the UI works offline).
Screenshots go to ``tests/artifacts/ui/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    async_playwright,
)

from core.localenv import LocalServices
from core.model import utc_now
from isu.apikey import ContractScope, create_key
from tests.api_process import api_process, scratch_database
from tests.browser.seed import DEMO_CONTRACT, EMPTY_CONTRACT, Seeded, seed_site

CHROMIUM = os.environ.get("ISU_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
#: The browser's own zone differs from the meters' (Moscow): every time shown must still be
#: the object's local time, as the API gives it.
BROWSER_ZONE = "Asia/Yekaterinburg"
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}


@dataclass
class Site:
    url: str
    dsn: str
    seeded: Seeded
    admin_key: str
    contract_key: str
    empty_key: str


@dataclass
class Recorder:
    """What a page logged and asked for."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("request", self._request)
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status != 401:
            self.failed.append(f"{response.status} {response.url}")

    def _console(self, message: Any) -> None:
        if message.type == "error" and not self._expected(message.text):
            self.errors.append(f"console: {message.text}")

    @staticmethod
    def _expected(text: str) -> bool:
        # A 401 that the sign-in test provokes on purpose is logged by the browser itself.
        return "401 (Unauthorized)" in text

    def _request(self, request: Any) -> None:
        url: str = request.url
        if not url.startswith((self.origin, "blob:", "data:")):
            self.foreign.append(url)


@pytest.fixture(scope="session")
def site(local_services: LocalServices, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with scratch_database(local_services, "isu_ui_test") as dsn:
        seeded = seed_site(dsn, utc_now())
        with psycopg.connect(dsn, autocommit=True) as conn:
            admin_key, _ = create_key(conn, "ui-admin", admin=True)
            contract_key, _ = create_key(conn, "ui-demo", scopes=[ContractScope(DEMO_CONTRACT)])
            empty_key, _ = create_key(conn, "ui-empty", scopes=[ContractScope(EMPTY_CONTRACT)])
        # The API exactly as `isu demo` starts it.
        with api_process(dsn, tmp_path_factory.mktemp("ui")) as url:
            yield Site(url, dsn, seeded, admin_key, contract_key, empty_key)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"no browser at {CHROMIUM}: apt-get install --no-install-recommends chromium")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    yield launched
    await launched.close()


@pytest.fixture
def recorder(site: Site) -> Recorder:
    return Recorder(origin=site.url)


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser, recorder: Recorder) -> AsyncIterator[BrowserContext]:
    created = await browser.new_context(
        viewport=LAPTOP, locale="ru-RU", timezone_id=BROWSER_ZONE, accept_downloads=True
    )
    created.on("page", recorder.attach)
    yield created
    await created.close()
    assert recorder.errors == []
    assert recorder.foreign == []  # offline: nothing from another origin
    assert recorder.failed == []  # every file and call the UI made was served


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Keep a picture of the screen as a test artefact (look at them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def sign_in(page: Page, site: Site, key: str, path: str = "/ui/") -> None:
    await page.goto(site.url + path)
    await page.get_by_label("Ключ API", exact=True).fill(key)
    await page.get_by_role("button", name="Войти").click()


def api_get(site: Site, path: str, key: str | None = None, **params: Any) -> httpx.Response:
    """The API's own answer, to compare the screens with."""
    response = httpx.get(
        f"{site.url}/api/v1/{path}",
        params={name.rstrip("_"): value for name, value in params.items()},
        headers={"Authorization": f"Bearer {key or site.admin_key}"},
        timeout=30,
    )
    response.raise_for_status()
    return response


async def unlabelled_controls(page: Page) -> list[str]:
    """Ids (or tags) of visible form controls without a label: none is allowed."""
    found: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map((el) => el.id || el.outerHTML.slice(0, 60))"""
    )
    return found
