"""Numbered SQL migrations (``timeseries/migrations/NNN_name.sql``), applied in order, once.

Each file runs in its own transaction together with its row in ``schema_migrations``; an
advisory lock keeps two services that start at once from applying the same file twice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from core.errors import StorageError

__all__ = ["Migration", "apply_migrations", "available_migrations"]

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x15_0617  # advisory lock id owned by the migrator


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    folder = resources.files("timeseries") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise StorageError(f"duplicate migration numbers in {versions}")
    return found


def apply_migrations(dsn: str) -> list[int]:
    """Apply what is missing; returns the versions applied now."""
    applied_now: list[int] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                for migration in available_migrations():
                    if migration.version in done:
                        continue
                    with conn.transaction():
                        conn.execute(migration.sql.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (migration.version, migration.name),
                        )
                    logger.info("applied migration %03d_%s", migration.version, migration.name)
                    applied_now.append(migration.version)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    except psycopg.Error as exc:
        raise StorageError(f"migrations failed: {exc}") from exc
    return applied_now
