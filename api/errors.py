"""One error body for every failure: ``{"detail": "…"}`` (422 adds ``errors`` per parameter).

- 401: no API key in force (with ``WWW-Authenticate: Bearer``, :mod:`api.dependencies`);
- 404 and other ``HTTPException``\\ s: their ``detail``;
- 422: the first offending parameter named in ``detail``, all of them in ``errors``;
- 503: the store is unreachable (:class:`core.errors.StorageError`), nothing about the DSN;
- 500: anything unexpected, answered without its traceback (the server logs that).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.schemas import ErrorBody, ParameterError, ValidationErrorBody, example_of
from core.errors import StorageError

__all__ = ["error_responses", "install_error_handlers", "validation_body"]

logger = logging.getLogger(__name__)

_STATUS_TEXT = {
    401: "No API key in force: missing, unknown or revoked",
    404: "Not found",
    422: "A parameter is invalid",
    503: "The database is unavailable",
}
_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {"detail": "unknown or revoked API key"},
    404: example_of(ErrorBody),
    422: example_of(ValidationErrorBody),
    503: {"detail": "the database is unavailable; try again later"},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route's error answers, each with its example."""
    return {status: _response(status) for status in statuses}


def _response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "model": ValidationErrorBody if status == 422 else ErrorBody,
        "description": _STATUS_TEXT[status],
        "content": {"application/json": {"example": _EXAMPLES[status]}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": "the authentication scheme to use (RFC 6750)",
                "schema": {"type": "string", "example": "Bearer"},
            }
        }
    return response


def _parameter(loc: Sequence[Any]) -> tuple[str, str]:
    location = str(loc[0]) if loc else "request"
    name = ".".join(str(part) for part in loc[1:]) or location
    return location, name


def validation_body(errors: Sequence[Any]) -> ValidationErrorBody:
    """Our 422 body from pydantic/FastAPI validation errors."""
    details = []
    for error in errors:
        location, name = _parameter(error.get("loc", ()))
        details.append(ParameterError(parameter=name, location=location, message=error["msg"]))
    if details:
        first = details[0]
        if first.location != "body":
            where = f"{first.location} parameter {first.parameter!r}"
        elif first.parameter == "body":
            where = "request body"
        else:
            where = f"body field {first.parameter!r}"
        summary = f"{where}: {first.message}"
    else:
        summary = "the request is invalid"
    return ValidationErrorBody(detail=summary, errors=details)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    body = validation_body(exc.errors())
    return JSONResponse(body.model_dump(mode="json"), status_code=422)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def _on_storage(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(_EXAMPLES[503], status_code=503, headers={"Retry-After": "5"})


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this answer, so the server logs the traceback once.
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(StorageError, _on_storage)
    app.add_exception_handler(Exception, _on_unexpected)
