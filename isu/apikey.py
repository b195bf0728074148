"""``isu api-key create|revoke|list``: the HTTP API's bearer keys (DESIGN §5, docs/api.md).

A key is shown once, when it is created; the store keeps its SHA-256 (what the API checks), a
short prefix to recognise it by, its name, its creation time and its scopes. Scopes name
contracts by their registry number, and energy objects by their number inside the contract
named before them on the command line::

    isu api-key create --name cabinet-77 --contract 770000000001
    isu api-key create --name shop --contract 770000000001 --energy-object 0001 --energy-object 0002
    isu api-key create --name ops --admin

A revoked key keeps its row, with ``revoked_at``. Exit status: 0 done, 1 the database failed,
2 the arguments or the configuration cannot be used (an unknown contract, energy object or key
included); nothing is written then.

This module does not import the API, so the command starts without FastAPI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from core.errors import ConfigError, StorageError
from isu.database import add_database_argument, database_dsn
from timeseries.migrate import apply_migrations

__all__ = [
    "KEY_PREFIX",
    "ApiKeyInfo",
    "ContractScope",
    "add_apikey_arguments",
    "create_key",
    "list_keys",
    "new_key",
    "revoke_key",
    "run_apikey",
]

logger = logging.getLogger(__name__)

#: Every key starts with this, so that a leaked key is recognised by secret scanners and people.
KEY_PREFIX = "isu_"
#: How much of a key the store keeps in clear to name it in listings: the prefix and 4 of its
#: 43 random characters (24 of 256 bits), never enough to use it.
_SHOWN_LENGTH = len(KEY_PREFIX) + 4

Connection = psycopg.Connection[Any]


def new_key() -> str:
    """A fresh key: the prefix and 32 random bytes, URL-safe (47 characters in all)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> bytes:
    """What the store keeps of ``key`` (the API's :func:`api.auth.key_digest` does the same)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class ContractScope:
    """A contract by number; ``energy_objects`` empty means all of its energy objects."""

    contract: str
    energy_objects: tuple[str, ...] = ()

    def describe(self) -> str:
        if not self.energy_objects:
            return f"contract {self.contract}"
        return f"contract {self.contract} energy objects {', '.join(self.energy_objects)}"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """A stored key as listings show it; never the key itself."""

    id: int
    name: str
    prefix: str
    admin: bool
    scopes: tuple[ContractScope, ...]
    created_at: datetime
    revoked_at: datetime | None

    def describe_scope(self) -> str:
        if self.admin:
            return "admin"
        return "; ".join(scope.describe() for scope in self.scopes) or "nothing"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "admin": self.admin,
            "scopes": [
                {"contract": scope.contract, "energy_objects": list(scope.energy_objects)}
                for scope in self.scopes
            ],
            "created_at": self.created_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
        }


def _resolve_scopes(
    conn: Connection, scopes: Sequence[ContractScope]
) -> list[tuple[int, int | None]]:
    """``(contract_id, energy_object_id or None)`` rows; :class:`ConfigError` for an unknown
    contract or energy object."""
    rows: list[tuple[int, int | None]] = []
    for scope in scopes:
        found = conn.execute(
            "SELECT id FROM contracts WHERE number = %s", (scope.contract,)
        ).fetchone()
        if found is None:
            raise ConfigError(f"no contract numbered {scope.contract!r} in the registry")
        contract_id = int(found[0])
        if not scope.energy_objects:
            rows.append((contract_id, None))
            continue
        for number in scope.energy_objects:
            found = conn.execute(
                "SELECT id FROM energy_objects WHERE contract_id = %s AND number = %s",
                (contract_id, number),
            ).fetchone()
            if found is None:
                raise ConfigError(
                    f"contract {scope.contract!r} has no energy object numbered {number!r}"
                )
            rows.append((contract_id, int(found[0])))
    return list(dict.fromkeys(rows))


def create_key(
    conn: Connection, name: str, *, admin: bool = False, scopes: Sequence[ContractScope] = ()
) -> tuple[str, ApiKeyInfo]:
    """Store a new key; returns the key (its only appearance) and what is stored of it.

    :class:`ConfigError` when the name is empty or taken by a key in force, when an admin key is
    given scopes or a scoped key none, or when a contract or energy object is unknown.
    """
    name = name.strip()
    if not name:
        raise ConfigError("an API key needs a non-empty --name")
    if admin == bool(scopes):
        raise ConfigError("give either --admin or at least one --contract")
    key = new_key()
    with conn.transaction():
        taken = conn.execute(
            "SELECT id FROM api_keys WHERE name = %s AND revoked_at IS NULL", (name,)
        ).fetchone()
        if taken is not None:
            raise ConfigError(
                f"API key {taken[0]} is already named {name!r}; revoke it or choose another name"
            )
        rows = _resolve_scopes(conn, scopes)
        found = conn.execute(
            "INSERT INTO api_keys (name, prefix, key_sha256, admin) VALUES (%s, %s, %s, %s)"
            " RETURNING id",
            (name, key[:_SHOWN_LENGTH], key_digest(key), admin),
        ).fetchone()
        assert found is not None
        key_id = int(found[0])
        for contract_id, energy_object_id in rows:
            conn.execute(
                "INSERT INTO api_key_scopes (api_key_id, contract_id, energy_object_id)"
                " VALUES (%s, %s, %s)",
                (key_id, contract_id, energy_object_id),
            )
    info = _info(conn, key_id)
    logger.info("created API key %d %r: %s", info.id, info.name, info.describe_scope())
    return key, info


def revoke_key(
    conn: Connection, *, key_id: int | None = None, name: str | None = None
) -> ApiKeyInfo:
    """Revoke the key ``key_id``, or the key in force named ``name``; the row stays.

    Revoking a revoked key changes nothing (its ``revoked_at`` stays the first one). An unknown
    key is a :class:`ConfigError`.
    """
    if (key_id is None) == (name is None):
        raise ConfigError("give exactly one of --id and --name")
    with conn.transaction():
        if key_id is not None:
            found = conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
                " RETURNING id",
                (key_id,),
            ).fetchone()
            what = f"no API key with id {key_id}"
        else:
            found = conn.execute(
                "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"
                " RETURNING id",
                (name,),
            ).fetchone()
            what = f"no API key in force is named {name!r}"
        if found is None:
            raise ConfigError(what)
    info = _info(conn, int(found[0]))
    logger.info("revoked API key %d %r", info.id, info.name)
    return info


_SELECT_KEYS = (
    "SELECT k.id, k.name, k.prefix, k.admin, k.created_at, k.revoked_at, c.number, eo.number"
    " FROM api_keys AS k LEFT JOIN api_key_scopes AS s ON s.api_key_id = k.id"
    " LEFT JOIN contracts AS c ON c.id = s.contract_id"
    " LEFT JOIN energy_objects AS eo ON eo.id = s.energy_object_id"
)


def list_keys(conn: Connection, *, key_id: int | None = None) -> list[ApiKeyInfo]:
    """Every stored key (or only ``key_id``), revoked ones included, by id."""
    where = "" if key_id is None else " WHERE k.id = %(id)s"
    rows = conn.execute(
        _SELECT_KEYS + where + ' ORDER BY k.id, c.number COLLATE "C", eo.number COLLATE "C"',
        {"id": key_id},
    ).fetchall()
    keys: list[ApiKeyInfo] = []
    scopes: dict[str, list[str]] = {}
    for index, row in enumerate(rows):
        key_id_, name, prefix, admin, created_at, revoked_at, contract, energy_object = row
        if contract is not None:
            objects = scopes.setdefault(contract, [])
            if energy_object is not None:
                objects.append(energy_object)
        last = index + 1 == len(rows) or rows[index + 1][0] != key_id_
        if last:
            keys.append(
                ApiKeyInfo(
                    id=key_id_,
                    name=name,
                    prefix=prefix,
                    admin=admin,
                    scopes=tuple(
                        ContractScope(number, tuple(objects)) for number, objects in scopes.items()
                    ),
                    created_at=created_at,
                    revoked_at=revoked_at,
                )
            )
            scopes = {}
    return keys


def _info(conn: Connection, key_id: int) -> ApiKeyInfo:
    found = list_keys(conn, key_id=key_id)
    assert found, f"API key {key_id} vanished"
    return found[0]


class _ContractAction(argparse.Action):
    """``--contract N``: a new scope; ``--energy-object N`` narrows the latest one."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        scopes: list[ContractScope] = list(getattr(namespace, "scopes", None) or [])
        if self.dest == "contract":
            scopes.append(ContractScope(str(values)))
        else:
            if not scopes:
                parser.error("--energy-object must follow the --contract it belongs to")
            last = scopes[-1]
            scopes[-1] = ContractScope(last.contract, (*last.energy_objects, str(values)))
        namespace.scopes = scopes


def add_apikey_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it, once")
    create.add_argument("--name", required=True, help="who or what uses the key")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--contract",
        action=_ContractAction,
        metavar="NUMBER",
        help="a contract the key sees, by its registry number (repeat for several)",
    )
    who.add_argument("--admin", action="store_true", help="the key sees everything")
    create.add_argument(
        "--energy-object",
        action=_ContractAction,
        metavar="NUMBER",
        help="limit the preceding --contract to this energy object (repeat for several)",
    )
    create.add_argument("--json", action="store_true", help="print one JSON object, key included")
    add_database_argument(create)

    revoke = actions.add_parser("revoke", help="revoke a key (its row stays, with revoked_at)")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the key's id (see `isu api-key list`)")
    which.add_argument("--name", help="the name of the key in force")
    revoke.add_argument("--json", action="store_true", help="print the key's record as JSON")
    add_database_argument(revoke)

    listing = actions.add_parser("list", help="every key: id, name, scope, created, revoked")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    add_database_argument(listing)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")


def _print_table(keys: Sequence[ApiKeyInfo]) -> None:
    header = ("ID", "NAME", "PREFIX", "SCOPE", "CREATED", "REVOKED")
    rows = [
        (
            str(key.id),
            key.name,
            key.prefix + "…",
            key.describe_scope(),
            _when(key.created_at),
            _when(key.revoked_at),
        )
        for key in keys
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _act(conn: Connection, args: argparse.Namespace) -> int:
    if args.action == "create":
        scopes = getattr(args, "scopes", None) or []
        key, info = create_key(conn, args.name, admin=args.admin, scopes=scopes)
        if args.json:
            print(json.dumps({**info.as_dict(), "key": key}, ensure_ascii=False))
        else:
            # The key alone on standard output, so that KEY=$(isu api-key create …) works.
            print(key)
            print(
                f"isu api-key: created key {info.id} {info.name!r} ({info.describe_scope()});"
                " store it now, it is not shown again",
                file=sys.stderr,
            )
        return 0
    if args.action == "revoke":
        info = revoke_key(conn, key_id=args.id, name=args.name)
        if args.json:
            print(json.dumps(info.as_dict(), ensure_ascii=False))
        else:
            print(f"revoked key {info.id} {info.name!r} at {_when(info.revoked_at)}")
        return 0
    keys = list_keys(conn)
    if args.json:
        print(json.dumps([key.as_dict() for key in keys], ensure_ascii=False))
    else:
        _print_table(keys)
    return 0


def run_apikey(args: argparse.Namespace) -> int:
    try:
        dsn = database_dsn(args.config)
        apply_migrations(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            return _act(conn, args)
    except ConfigError as exc:
        print(f"isu api-key: {exc}", file=sys.stderr)
        return 2
    except (StorageError, psycopg.Error) as exc:
        print(f"isu api-key: {exc}", file=sys.stderr)
        return 1
