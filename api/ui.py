"""The reference web UI of the cabinet's ISU section, served at ``/ui/`` (docs/ui.md).

The files in ``api/web/`` are plain HTML, CSS and JavaScript modules with their vendored chart
library and font: nothing is built at install time and nothing is fetched from elsewhere, so
the UI works offline. Every file goes out with a Content-Security-Policy that allows only this
origin, and with ``Cache-Control: no-cache`` so that an upgrade reaches the browser at once
(the ETag makes the revalidation a 304).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["CONTENT_SECURITY_POLICY", "UI_PATH", "WEB_DIR", "install_ui"]

#: Where the UI is mounted; ``/`` redirects here.
UI_PATH = "/ui"
#: The UI's files, shipped inside the package.
WEB_DIR = Path(__file__).with_name("web")

#: Self only: scripts, styles, fonts, images and API calls come from this origin; no inline
#: script or style, no plugins, no framing. Downloads are saved from ``blob:`` object URLs,
#: which a link's navigation may open (``navigate-to`` is not needed for ``download`` links).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

# Media types by suffix, independent of the host's mime.types (a module script must be
# served as JavaScript, and some systems map .js to text/plain).
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}


class _WebFiles(StaticFiles):
    """:class:`StaticFiles` with the UI's security headers and media types."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        media_type = _MEDIA_TYPES.get(Path(full_path).suffix.lower())
        if media_type is not None and response.status_code != 304:
            response.headers["Content-Type"] = media_type
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def install_ui(app: FastAPI) -> None:
    """Serve ``api/web`` at :data:`UI_PATH` and redirect ``/`` there."""

    async def root() -> Any:
        return RedirectResponse(f"{UI_PATH}/", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    app.mount(UI_PATH, _WebFiles(directory=WEB_DIR, html=True), name="ui")
