"""The schema migrations on the real TimescaleDB."""

from __future__ import annotations

import psycopg

from timeseries.migrate import apply_migrations, available_migrations


def test_migrations_create_the_hypertables_and_apply_once(fresh_database: str) -> None:
    assert apply_migrations(fresh_database) == []  # the fixture applied everything already
    with psycopg.connect(fresh_database) as conn:
        versions = [
            row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")
        ]
        hypertables = {
            row[0]
            for row in conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
            )
        }
    assert versions == [migration.version for migration in available_migrations()]
    assert {
        "register_readings",
        "interval_readings",
        "instant_readings",
        "clock_readings",
        "events",
    } <= hypertables
