"""Helpers shared by the API's integration tests (``test_api_*.py``); this module holds no tests.

Rows are inserted with plain SQL into a fresh migrated database (the ``fresh_database`` fixture),
the way the gateway would store them; the API is driven in-process through httpx's ASGI
transport with its lifespan running, so it uses its real connection pool. Unless told otherwise,
the client sends a new admin key, made as ``isu api-key create --admin`` makes it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import psycopg

from api.app import create_app
from api.config import ApiConfig
from isu.apikey import create_key
from timeseries.registry import import_registry
from timeseries.registry_model import parse_json

__all__ = [
    "ADMIN",
    "NOW",
    "api_client",
    "bearer",
    "import_two_contracts",
    "insert_interval",
    "insert_meter",
    "insert_registers",
    "utc",
]

#: The API's clock in these tests: 22 November 2026, 15:30 in Moscow.
NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)


def utc(text: str) -> datetime:
    """``"2026-11-22T12:00"`` as an aware UTC time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


#: ``api_client(key=ADMIN)``: create an admin key and send it.
ADMIN = "admin"


def api_config(dsn: str, *, key_cache_s: float = 30.0, **database: Any) -> ApiConfig:
    return ApiConfig.model_validate(
        {"key_cache_s": key_cache_s, "database": {"dsn": dsn, **database}}
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def api_client(
    dsn: str,
    *,
    now: datetime = NOW,
    key: str | None = ADMIN,
    key_cache_s: float = 30.0,
    **database: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running application on ``dsn`` whose clock stands at ``now``.

    It sends ``key`` on every request: :data:`ADMIN` creates an admin key in the database first,
    ``None`` sends no key.
    """
    if key == ADMIN:
        with psycopg.connect(dsn, autocommit=True) as conn:
            key, _ = create_key(conn, f"test-admin-{secrets.token_hex(4)}", admin=True)
    headers = {} if key is None else bearer(key)
    config = api_config(dsn, key_cache_s=key_cache_s, **database)
    app = create_app(config, clock=lambda: now)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api.test", headers=headers
        ) as client:
            yield client


def insert_meter(
    conn: psycopg.Connection[Any],
    meter_id: str,
    *,
    model: str | None = None,
    serial_number: str | None = None,
    time_zone: str | None = None,
    ct_ratio: str = "1",
    vt_ratio: str = "1",
    registered: bool = False,
) -> None:
    conn.execute(
        "INSERT INTO meters (meter_id, collector_id, protocol, model, serial_number, time_zone,"
        " ct_ratio, vt_ratio, registered, first_seen_at, last_seen_at)"
        " VALUES (%s, 'c1', 'mercury230', %s, %s, coalesce(%s, 'Europe/Moscow'), %s, %s, %s,"
        " now(), now())",
        (
            meter_id,
            model,
            serial_number,
            time_zone,
            Decimal(ct_ratio),
            Decimal(vt_ratio),
            registered,
        ),
    )


def insert_registers(
    conn: psycopg.Connection[Any],
    meter_id: str,
    stream: str,
    ts: datetime,
    values: dict[str, str],
    *,
    unit: str | None = None,
    quality: int = 3,
) -> None:
    """One snapshot: ``values`` maps OBIS codes to the meter's own values; the meter's
    ``last_reading_at`` moves as the gateway's store moves it."""
    conn.execute(
        "UPDATE meters SET last_reading_at = GREATEST(last_reading_at, %s) WHERE meter_id = %s",
        (ts, meter_id),
    )
    for obis, value in values.items():
        kind = int(obis.split(".")[2])
        conn.execute(
            "INSERT INTO register_readings (meter_id, stream, obis, ts, value, unit, quality,"
            " read_at, message_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'm1')",
            (
                meter_id,
                stream,
                obis,
                ts,
                Decimal(value),
                unit or ("kWh" if kind <= 2 else "kvarh"),
                quality,
                ts,
            ),
        )


def insert_interval(
    conn: psycopg.Connection[Any],
    meter_id: str,
    rows: Iterable[tuple[str, datetime, str]],
    *,
    period_s: int = 1800,
    unit: str | None = None,
    quality: int = 3,
) -> None:
    """Interval energy: ``rows`` of ``(obis, start, value)``."""
    for obis, ts, value in rows:
        kind = int(obis.split(".")[2])
        conn.execute(
            "INSERT INTO interval_readings (meter_id, obis, ts, period_s, value, unit, quality,"
            " read_at, message_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'm1')",
            (
                meter_id,
                obis,
                ts,
                period_s,
                Decimal(value),
                unit or ("kWh" if kind <= 2 else "kvarh"),
                quality,
                ts,
            ),
        )


def _point(meter_id: str) -> dict[str, Any]:
    return {"number": meter_id, "name": f"point {meter_id}", "meters": [{"meter_id": meter_id}]}


#: Two contracts, ``77-A`` holding meter ``A1`` and ``77-B`` holding ``B1``, one energy object,
#: connection point and metering point each: what scoped-key tests need.
TWO_CONTRACTS = {
    "schema": 1,
    "contracts": [
        {
            "number": number,
            "name": f"Contract {number}",
            "energy_objects": [
                {
                    "number": "0001",
                    "name": "object",
                    "connection_points": [
                        {"number": "1", "name": "input", "metering_points": [_point(meter)]}
                    ],
                }
            ],
        }
        for number, meter in (("77-A", "A1"), ("77-B", "B1"))
    ],
}


def import_two_contracts(conn: psycopg.Connection[Any]) -> None:
    """Import :data:`TWO_CONTRACTS` as ``isu registry import`` does."""
    import_registry(conn, parse_json(json.dumps(TWO_CONTRACTS)))
