"""The UI's files without a browser or a database: every file a page, a module or the
stylesheet refers to exists; nothing points to another site (the UI works offline); the
vendored files carry their licences; ``isu api`` serves them with a self-only CSP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.config import ApiConfig
from api.ui import CONTENT_SECURITY_POLICY, WEB_DIR

TEXT_SUFFIXES = {".html", ".js", ".css", ".svg"}
# URLs that appear in the files but are never fetched: the SVG namespace name that an SVG
# document must declare, and the source named in uPlot's licence banner (a comment).
NOT_FETCHED = {
    "favicon.svg": {"http://www.w3.org/2000/svg"},
    "vendor/uplot/uPlot.iife.min.js": {"https://github.com/leeoniya/uPlot"},
}
URL = re.compile(r"https?://[^\s\"')>]+", re.IGNORECASE)
HTML_REFERENCE = re.compile(r"""\b(?:src|href)="([^"]+)\"""")
JS_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(\s*)["']([^"']+)["']""")
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")

CONFIG = ApiConfig.model_validate(
    {"database": {"dsn": "postgresql://nobody@127.0.0.1:9/none", "min_connections": 0}}
)


def _files(*suffixes: str) -> list[Path]:
    return sorted(p for p in WEB_DIR.rglob("*") if p.is_file() and p.suffix in suffixes)


def _name(path: Path) -> str:
    return path.relative_to(WEB_DIR).as_posix()


def test_the_pages_exist() -> None:
    assert {_name(p) for p in _files(".html")} == {"index.html", "node.html", "meter.html"}


@pytest.mark.parametrize("html", _files(".html"), ids=_name)
def test_every_file_a_page_refers_to_exists(html: Path) -> None:
    references = HTML_REFERENCE.findall(html.read_text(encoding="utf-8"))
    assert "app.js" in references
    assert "style.css" in references
    for reference in references:
        if reference.startswith("#") or reference == "./":
            continue
        assert (html.parent / reference).is_file(), f"{_name(html)} refers to {reference}"


@pytest.mark.parametrize("module", _files(".js"), ids=_name)
def test_every_module_a_script_imports_exists(module: Path) -> None:
    if "vendor" in module.parts:
        return
    imports = JS_IMPORT.findall(module.read_text(encoding="utf-8"))
    for target in imports:
        assert target.startswith("./"), f"{_name(module)} imports {target} (not a relative file)"
        assert (module.parent / target).is_file(), f"{_name(module)} imports {target}"


def test_every_url_in_the_stylesheets_exists() -> None:
    for sheet in _files(".css"):
        for target in CSS_URL.findall(sheet.read_text(encoding="utf-8")):
            assert (sheet.parent / target).is_file(), f"{_name(sheet)} refers to {target}"


def test_nothing_refers_to_another_site() -> None:
    for path in _files(*TEXT_SUFFIXES):
        found = set(URL.findall(path.read_text(encoding="utf-8")))
        assert found <= NOT_FETCHED.get(_name(path), set()), f"{_name(path)}: {found}"


def test_the_vendored_files_carry_their_licence_and_version() -> None:
    for folder, version in (("uplot", "1.6.32"), ("pt-sans", "5.3.0")):
        vendored = WEB_DIR / "vendor" / folder
        assert (vendored / "LICENSE").is_file()
        assert version in (vendored / "README.md").read_text(encoding="utf-8")
    assert "MIT" in (WEB_DIR / "vendor/uplot/LICENSE").read_text(encoding="utf-8")
    assert "Open Font License" in (WEB_DIR / "vendor/pt-sans/LICENSE").read_text(encoding="utf-8")
    for subset in ("cyrillic", "latin"):
        for weight in (400, 700):
            font = WEB_DIR / f"vendor/pt-sans/pt-sans-{subset}-{weight}-normal.woff2"
            assert font.read_bytes()[:4] == b"wOF2"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(CONFIG)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


async def test_the_api_serves_the_ui_with_a_self_only_policy(client: httpx.AsyncClient) -> None:
    root = await client.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/ui/"
    page = await client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<html lang="ru">' in page.text
    expected = {
        "/ui/app.js": "text/javascript; charset=utf-8",
        "/ui/js/charts.js": "text/javascript; charset=utf-8",
        "/ui/style.css": "text/css; charset=utf-8",
        "/ui/vendor/uplot/uPlot.iife.min.js": "text/javascript; charset=utf-8",
        "/ui/vendor/pt-sans/pt-sans-cyrillic-400-normal.woff2": "font/woff2",
        "/ui/favicon.svg": "image/svg+xml",
    }
    for path, media_type in expected.items():
        answer = await client.get(path)
        assert (answer.status_code, answer.headers["content-type"]) == (200, media_type), path
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    script = await client.get("/ui/app.js")
    again = await client.get("/ui/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304  # revalidated, not downloaded again
    assert (await client.get("/ui/missing.js")).status_code == 404
    assert (await client.get("/ui/../api/app.py")).status_code == 404


async def test_the_ui_is_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert "/" not in paths
    assert not any(path.startswith("/ui") for path in paths)
