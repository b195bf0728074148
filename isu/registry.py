"""``isu registry import FILE`` and ``isu registry schema``: the object tree (docs/registry.md).

Exit status: 0 when the file was imported (or checked, with ``--dry-run``), 1 when the database
failed, 2 when the file or the configuration cannot be used — nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import psycopg

from core.errors import ConfigError, StorageError
from isu.database import add_database_argument, database_dsn
from timeseries.migrate import apply_migrations
from timeseries.registry import import_registry
from timeseries.registry_model import RegistryDocument, load_registry_file

__all__ = ["add_registry_arguments", "registry_json_schema", "run_registry"]


def add_registry_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser(
        "import", help="load or update the object tree from a JSON or CSV file"
    )
    load.add_argument("file", type=Path, metavar="FILE", help="registry file (.json or .csv)")
    add_database_argument(load)
    load.add_argument(
        "--dry-run", action="store_true", help="check the file against the database, write nothing"
    )
    load.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    actions.add_parser("schema", help="print the JSON Schema of a registry file")


def registry_json_schema() -> dict[str, object]:
    schema = RegistryDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "isu-gateway registry file"
    return schema


def run_registry(args: argparse.Namespace) -> int:
    if args.action == "schema":
        print(json.dumps(registry_json_schema(), ensure_ascii=False, indent=2))
        return 0
    try:
        document = load_registry_file(args.file)
        dsn = database_dsn(args.config)
    except ConfigError as exc:
        print(f"isu registry: {exc}", file=sys.stderr)
        return 2
    try:
        apply_migrations(dsn)
        with psycopg.connect(dsn) as conn:
            report = import_registry(conn, document, dry_run=args.dry_run)
    except ConfigError as exc:
        print(f"isu registry: {args.file}: {exc}", file=sys.stderr)
        return 2
    except (StorageError, psycopg.Error) as exc:
        print(f"isu registry: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(f"{args.file}: {report.summary()}")
    return 0
