"""``isu migrate``: bring the database's schema up to this release (docs/operations.md).

The gateway applies missing migrations itself when it starts; this command does it on its own,
before the services are restarted after an upgrade, or shows where the database stands::

    isu migrate --config /etc/isu/gateway.toml            # apply what is missing
    isu migrate --config /etc/isu/gateway.toml --status   # list, apply nothing

Exit status: 0 done (or, with ``--status``, nothing pending), 1 the database failed, 2 the
configuration cannot be used; with ``--status``, 3 when migrations are pending.
"""

from __future__ import annotations

import argparse
import json
import sys

import psycopg

from core.errors import ConfigError, StorageError
from isu.database import add_database_argument, database_dsn
from timeseries.migrate import apply_migrations, available_migrations

__all__ = ["add_migrate_arguments", "run_migrate"]

PENDING = 3


def add_migrate_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    parser.add_argument("--status", action="store_true",
                        help="list the migrations, applied and pending; apply nothing")
    parser.add_argument("--json", action="store_true", help="one JSON object")


def _applied(dsn: str) -> dict[int, str]:
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return {}
        rows = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
    return {int(version): applied_at.isoformat() for version, applied_at in rows}


def run_migrate(args: argparse.Namespace) -> int:
    try:
        dsn = database_dsn(args.config)
        migrations = available_migrations()
    except (ConfigError, StorageError) as exc:
        print(f"isu migrate: {exc}", file=sys.stderr)
        return 2
    try:
        applied_now = [] if args.status else apply_migrations(dsn)
        applied = _applied(dsn)
    except (StorageError, psycopg.Error) as exc:
        print(f"isu migrate: {exc}", file=sys.stderr)
        return 1
    rows = [{"version": m.version, "name": m.name, "applied_at": applied.get(m.version),
             "now": m.version in applied_now} for m in migrations]
    pending = [row for row in rows if row["applied_at"] is None]
    if args.json:
        print(json.dumps({"migrations": rows, "applied_now": applied_now,
                          "pending": [row["version"] for row in pending]}))
    else:
        for row in rows:
            state = ("applied now" if row["now"] else
                     f"applied {row['applied_at']}" if row["applied_at"] else "pending")
            print(f"{row['version']:03d}_{row['name']:32} {state}")
    return PENDING if args.status and pending else 0
