"""The OpenAPI document, with every example exactly as the API answers it.

FastAPI drops every ``null`` from the document it generates (``exclude_none``), which would show
``"as_of": null`` and ``"contract": null`` as absent fields, and a row of missing values as
``{}``. The examples are therefore put back verbatim after generation: those of the routes'
``responses=`` and those the response models declare.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api import schemas, tree_schemas

__all__ = ["install_openapi"]


def _models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for module in (schemas, tree_schemas):
        for name in module.__all__:
            candidate = getattr(module, name)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found[name] = candidate
    return found


def _restore_examples(routers: Sequence[tuple[str, APIRouter]], document: dict[str, Any]) -> None:
    paths = document.get("paths", {})
    for prefix, router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                _restore_route(paths.get(prefix + route.path_format, {}), route)
    components = document.get("components", {}).get("schemas", {})
    for name, model in _models().items():
        extra = model.model_config.get("json_schema_extra")
        if name in components and isinstance(extra, dict) and "examples" in extra:
            components[name]["examples"] = extra["examples"]


def _restore_route(path: dict[str, Any], route: APIRoute) -> None:
    for method in route.methods or ():
        operation = path.get(method.lower())
        if operation is None:
            continue
        for status, response in route.responses.items():
            for media, content in response.get("content", {}).items():
                if "example" not in content:
                    continue
                target = operation["responses"][str(status)]["content"][media]
                target["example"] = content["example"]


def install_openapi(app: FastAPI, routers: Sequence[tuple[str, APIRouter]]) -> None:
    """Make ``app.openapi()`` give the document with the examples of ``routers`` (each with the
    prefix it is mounted at) intact; built once."""
    built: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not built:
            document = FastAPI.openapi(app)
            _restore_examples(routers, document)
            built.append(document)
        return built[0]

    app.openapi = openapi  # type: ignore[method-assign]
