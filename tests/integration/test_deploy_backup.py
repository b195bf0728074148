"""The backup and restore procedure of docs/operations.md, run as written against the local
TimescaleDB: ``pg_dump --format=custom`` of a database the product filled, then a new database
from template0, ``timescaledb_pre_restore()``, ``pg_restore``, ``timescaledb_post_restore()``.
The copy has the same rows, hypertables, chunks, registry, keys and migrations, and the gateway
can go on writing into it (new chunks included)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.localenv import LocalServices
from tests.integration.deploy_support import TOP, require_tool
from timeseries.migrate import apply_migrations

_TABLES = ["register_readings", "interval_readings", "events", "meters", "contracts",
           "api_keys", "schema_migrations"]


@pytest.fixture
def names(local_services: LocalServices) -> Iterator[tuple[str, str]]:
    token = secrets.token_hex(5)
    source, target = f"isu_backup_{token}", f"isu_restored_{token}"
    yield source, target
    with psycopg.connect(local_services.postgres.dsn, autocommit=True) as conn:
        for name in (source, target):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(services: LocalServices) -> dict[str, str]:
    pg = services.postgres
    return {**os.environ, "PGHOST": pg.host, "PGPORT": str(pg.port), "PGUSER": pg.user}


def _run(*argv: str, env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout


def _fill(dsn: str) -> None:
    """What production holds: the registry, an API key, readings over two months (many chunks)."""
    env = {**os.environ, "ISU_DATABASE_DSN": dsn}
    isu = str(Path(sys.executable).with_name("isu"))
    _run(isu, "registry", "import", str(TOP / "deploy" / "registry.sample.json"), env=env)
    _run(isu, "api-key", "create", "--name", "backup-test", "--admin", "--json", env=env)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO register_readings (meter_id, stream, obis, ts, value, unit, quality,"
            " read_at, message_id) SELECT 'm230-40680048', 'daily', '1.0.1.8.0.255', t,"
            " extract(epoch FROM t) / 3600, 'kWh', 0, t, 'm' || extract(epoch FROM t)"
            " FROM generate_series('2024-01-01'::timestamptz, '2024-03-01', '1 day') AS t"
        )


def _snapshot(dsn: str) -> dict[str, object]:
    with psycopg.connect(dsn) as conn:
        state: dict[str, object] = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            for table in _TABLES
        }
        state["hypertables"] = conn.execute(
            "SELECT hypertable_name, num_chunks FROM timescaledb_information.hypertables"
            " ORDER BY 1").fetchall()
        state["sum"] = conn.execute("SELECT sum(value) FROM register_readings").fetchone()
        state["keys"] = conn.execute("SELECT key_sha256 FROM api_keys").fetchall()
    return state


@pytest.mark.services
def test_a_dump_restores_into_a_new_database_that_keeps_working(
    local_services: LocalServices, names: tuple[str, str], tmp_path: Path
) -> None:
    for tool in ("pg_dump", "pg_restore", "psql", "createdb"):
        require_tool(tool, "postgresql-client-15")
    source, target = names
    env = _env(local_services)
    source_dsn = local_services.postgres.dsn_for(source)
    target_dsn = local_services.postgres.dsn_for(target)
    _run("createdb", "--template=template0", source, env=env)
    _run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", source,
         "-c", "CREATE EXTENSION IF NOT EXISTS timescaledb", env=env)
    _fill(source_dsn)
    before = _snapshot(source_dsn)
    assert before["register_readings"] == (61,)

    # docs/operations.md, "Backup" and "Restore", step by step.
    dump = tmp_path / "isu.dump"
    _run("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={source}", env=env)
    _run("createdb", "--template=template0", target, env=env)
    _run("psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", target,
         "-c", "CREATE EXTENSION IF NOT EXISTS timescaledb",
         "-c", "SELECT timescaledb_pre_restore()", env=env)
    _run("pg_restore", "--exit-on-error", f"--dbname={target}", str(dump), env=env)
    _run("psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", target,
         "-c", "SELECT timescaledb_post_restore()", "-c", "ANALYZE", env=env)

    assert _snapshot(target_dsn) == before
    # Nothing left to migrate, and the store takes new data in new chunks.
    assert apply_migrations(target_dsn) == []
    with psycopg.connect(target_dsn) as conn:
        conn.execute(
            "INSERT INTO register_readings (meter_id, stream, obis, ts, value, unit, quality,"
            " read_at, message_id) VALUES ('m230-40680048', 'daily', '1.0.1.8.0.255',"
            " '2025-01-01', 1, 'kWh', 0, '2025-01-01', 'new')"
        )
        restoring = conn.execute("SHOW timescaledb.restoring").fetchone()
    assert restoring == ("off",)
    after = _snapshot(target_dsn)
    assert after["register_readings"] == (62,)
    assert json.dumps(after["hypertables"]) != json.dumps(before["hypertables"])
