"""What a request gets injected: the application's services and the caller's scope.

The application keeps its long-lived parts in one :class:`Services` on ``app.state.services``;
routes reach them only through the dependencies below, so that authentication can replace
:func:`caller_scope` without touching a route. A route takes its database connection itself,
with :meth:`Services.connection`, after its parameters are validated: a request with a bad
parameter never waits for the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from fastapi import Request
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.queries import Scope
from core.errors import StorageError

__all__ = ["Services", "caller_scope", "services"]


@dataclass(frozen=True, slots=True)
class Services:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    clock: Callable[[], datetime]
    default_time_zone: str
    acquire_timeout_s: float

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; none free in time is a :class:`StorageError` (answered 503)."""
        try:
            async with self.pool.connection(timeout=self.acquire_timeout_s) as conn:
                yield conn
        except PoolTimeout as exc:
            raise StorageError("no database connection became available in time") from exc


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def caller_scope() -> Scope:
    """What the caller may see; everything until API keys exist (DESIGN §5)."""
    return Scope.everything()
