"""What a request gets injected: the application's services and the caller.

The application keeps its long-lived parts in one :class:`Services` on ``app.state.services``;
routes reach them only through the dependencies below. A route takes its database connection
itself, with :meth:`Services.connection`, after its parameters are validated.

Every ``/api/v1`` route depends on :func:`caller` (the application adds it to the routers), so a
request without a key in force is answered 401 before anything else; a route that reads meters
takes :func:`caller_scope` and hands it to :mod:`api.queries`. FastAPI runs a dependency once per
request, so both cost one key check. The check needs the database only for a key not seen in the
last ``key_cache_s`` seconds (:class:`api.auth.KeyCache`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.auth import Caller, KeyCache, find_caller, key_digest
from api.queries import Scope
from core.errors import StorageError

__all__ = ["UNAUTHORIZED_HEADERS", "Services", "caller", "caller_scope", "services"]

logger = logging.getLogger(__name__)

#: Sent with every 401 (RFC 6750 §3).
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}

# Keys are 47 characters; anything far longer is refused without a query.
_MAX_KEY_LENGTH = 256

_bearer = HTTPBearer(
    scheme_name="ApiKey",
    bearerFormat="isu_…",
    description=(
        "An API key from `isu api-key create`, sent as `Authorization: Bearer isu_…`. It is"
        " scoped to contracts (optionally to some of their energy objects) or is an admin key."
        " Meters outside the key's scope answer 404, like unknown ones."
    ),
    auto_error=False,
)


@dataclass(frozen=True, slots=True)
class Services:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    clock: Callable[[], datetime]
    default_time_zone: str
    acquire_timeout_s: float
    keys: KeyCache
    #: The primary's pool when ``pool`` reads from a replica (``database.primary_dsn``).
    primary_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; none free in time is a :class:`StorageError` (answered 503)."""
        async with self._from(self.pool) as conn:
            yield conn

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for a request that writes: the primary's when the API reads from a
        replica, else the same pool's."""
        async with self._from(self.primary_pool or self.pool) as conn:
            yield conn

    @asynccontextmanager
    async def _from(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
                    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with pool.connection(timeout=self.acquire_timeout_s) as conn:
                yield conn
        except PoolTimeout as exc:
            raise StorageError("no database connection became available in time") from exc


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=UNAUTHORIZED_HEADERS)


async def caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    shared: Annotated[Services, Depends(services)],
) -> Caller:
    """The holder of the request's bearer key; 401 without a key in force."""
    if credentials is None:
        raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    key = credentials.credentials
    if len(key) > _MAX_KEY_LENGTH:
        raise _unauthorized("unknown or revoked API key")
    digest = key_digest(key)
    found = shared.keys.get(digest)
    if found is None:
        async with shared.connection() as conn:
            found = await find_caller(conn, digest)
        if found is None:
            logger.info("refused a request with an unknown or revoked API key")
            raise _unauthorized("unknown or revoked API key")
        shared.keys.remember(digest, found)
    return found


def caller_scope(found: Annotated[Caller, Depends(caller)]) -> Scope:
    """What the caller may see (DESIGN §5)."""
    return found.scope
