"""Operational endpoints: ``/healthz`` (alive), ``/readyz`` (store reachable), ``/metrics``."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.dependencies import services
from api.metrics import ApiMetrics
from api.schemas import HealthStatus
from core.errors import StorageError

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

_NOT_READY = {"status": "unavailable", "detail": "the database is unreachable"}
_METRICS_EXAMPLE = (
    "# HELP isu_api_requests_total HTTP requests answered, by method, route template and status\n"
    "# TYPE isu_api_requests_total counter\n"
    'isu_api_requests_total{method="GET",route="/api/v1/meters",status="200"} 12.0\n'
)


def _json(example: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": example}}}


@router.get(
    "/healthz",
    summary="Liveness: the process answers (the database is not consulted)",
    response_model=HealthStatus,
    response_model_exclude_none=True,
    responses={200: _json({"status": "ok"}, "The process is alive")},
)
async def healthz() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database answers SELECT 1",
    response_model=HealthStatus,
    response_model_exclude_none=True,
    responses={
        200: _json({"status": "ready"}, "Ready to serve"),
        503: {**_json(_NOT_READY, "The database is unreachable"), "model": HealthStatus},
    },
)
async def readyz(request: Request) -> Any:
    try:
        async with services(request).connection() as conn:
            await conn.execute("SELECT 1")
    except (StorageError, psycopg.Error) as exc:
        logger.warning("not ready: %s", type(exc).__name__)
        return JSONResponse(_NOT_READY, status_code=503)
    return HealthStatus(status="ready")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"example": _METRICS_EXAMPLE}},
        }
    },
)
async def metrics(request: Request) -> Response:
    registry: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
