"""The FastAPI application: routes, error bodies, metrics and the connection pool.

The pool opens in the lifespan without waiting for the database, so the process starts (and
``/healthz`` answers) while the database is still down; ``/readyz`` says when it is usable and
requests that need it are answered 503 until then.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from psycopg_pool import AsyncConnectionPool

from api import archive, consumption, exports, health, journal, meters, tree, ui
from api.auth import KeyCache
from api.config import ApiConfig
from api.dependencies import Services, caller
from api.errors import error_responses, install_error_handlers
from api.metrics import ApiMetrics, MetricsMiddleware, PoolCollector, RouteLabels
from api.openapi import install_openapi
from core.model import utc_now

__all__ = ["API_PREFIX", "create_app"]

logger = logging.getLogger(__name__)

#: Every versioned route lives under this prefix (DESIGN §5).
API_PREFIX = "/api/v1"

_DESCRIPTION = """\
Read-only HTTP API of isu-gateway for the cabinet's ISU screens.

Energy values are JSON strings with three decimals (`"8.116"`), already multiplied by the
meter's transformation ratio; times carry the meter's UTC offset (`2026-11-22T15:30:00+03:00`).
Errors have the body `{"detail": "…"}`.

Every `/api/v1` data endpoint needs an API key (`isu api-key create`), sent as
`Authorization: Bearer isu_…`; without a key in force the answer is 401. A key sees only its
contracts (or some of their energy objects): anything else answers 404, exactly like something
that does not exist.
"""


def _configure(
    statement_timeout_s: float,
) -> Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]:
    timeout = f"{int(statement_timeout_s * 1000)}ms"

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute("SELECT set_config('statement_timeout', %s, false)", (timeout,))

    return configure


def create_app(config: ApiConfig, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """The application for ``config``; ``clock`` gives "now" (the interval block's month).

    Raises :class:`core.errors.ConfigError` when the DSN cannot be read.
    """
    dsn = config.database.resolved_dsn()
    database = config.database
    metrics = ApiMetrics()

    primary_dsn = database.resolved_primary_dsn()

    def new_pool(where: str, name: str, min_size: int,
                 max_size: int) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        return AsyncConnectionPool(
            where,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, "application_name": "isu-api"},
            configure=_configure(database.statement_timeout_s),
            check=AsyncConnectionPool.check_connection,
            timeout=database.acquire_timeout_s,
            name=name,
            open=False,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = new_pool(dsn, "isu-api", database.min_connections, database.max_connections)
        await pool.open(wait=False)
        # The primary only for the rare write (the export's counter): none kept open.
        primary = None if primary_dsn is None else new_pool(primary_dsn, "isu-api-primary", 0, 2)
        if primary is not None:
            await primary.open(wait=False)
        app.state.services = Services(
            pool=pool,
            clock=clock,
            default_time_zone=config.time_zone,
            acquire_timeout_s=database.acquire_timeout_s,
            keys=KeyCache(config.key_cache_s),
            primary_pool=primary,
        )
        collector = PoolCollector(pool.get_stats)
        metrics.registry.register(collector)
        logger.info("API ready; database pool of up to %d connections", database.max_connections)
        try:
            yield
        finally:
            metrics.registry.unregister(collector)
            await pool.close()
            if primary is not None:
                await primary.close()

    app = FastAPI(
        title="isu-gateway API",
        version="1",
        description=_DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    install_error_handlers(app)
    routers = [
        ("", health.router),
        (API_PREFIX, meters.router),
        (API_PREFIX, exports.router),
        (API_PREFIX, journal.router),
        (API_PREFIX, archive.router),
        (API_PREFIX, tree.router),
        (API_PREFIX, consumption.router),
    ]
    for prefix, router in routers:
        if prefix == API_PREFIX:
            # Every data route needs a key, whether or not it reads the caller's scope.
            app.include_router(
                router,
                prefix=prefix,
                dependencies=[Depends(caller)],
                responses=error_responses(401),
            )
        else:
            app.include_router(router, prefix=prefix)
    install_openapi(app, routers)
    ui.install_ui(app)
    templates = [
        prefix + route.path
        for prefix, router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    templates += [path for path in (app.openapi_url, app.docs_url) if path]
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=RouteLabels(templates))
    return app
