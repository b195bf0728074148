"""Fixtures shared by every test layer.

Integration and system tests use the real Mosquitto and TimescaleDB started by
``deploy/local/services.sh start`` (``./test.sh`` starts them); they fail, not skip, when the
services are missing, so that CI can never pass without them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest

from core.localenv import LocalServices, load_local_services
from timeseries.migrate import apply_migrations


@pytest.fixture(scope="session")
def local_services() -> LocalServices:
    return load_local_services()


@pytest.fixture(scope="session")
def mqtt_address(local_services: LocalServices) -> tuple[str, int]:
    return local_services.mqtt.host, local_services.mqtt.port


@pytest.fixture
def fresh_database(local_services: LocalServices) -> Iterator[str]:
    """A new, empty database with every migration applied; dropped afterwards. Yields its DSN."""
    name = f"isu_test_{secrets.token_hex(6)}"
    admin_dsn = local_services.postgres.dsn
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = local_services.postgres.dsn_for(name)
    try:
        apply_migrations(dsn)
        yield dsn
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def topic_prefix_id() -> str:
    """A collector id unique to one test, so tests sharing the broker never see each other."""
    return f"t{secrets.token_hex(5)}"
