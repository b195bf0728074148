"""Bearer API keys (DESIGN §5): who is calling, and what they may see.

A key is ``isu_`` plus 43 random URL-safe characters (``isu api-key create``, :mod:`isu.apikey`).
The store keeps only its SHA-256, so checking a key is one probe of the unique
``api_keys.key_sha256`` index; a slow password hash would buy nothing against 256 random bits.
A key found in force is remembered for ``key_cache_s`` (30 s by default) so that a busy client
does not cost a query per request; revoking a key therefore takes effect within that time.
Unknown keys are never remembered, so a key just created works at once.

The key itself is never logged nor kept: the cache is keyed by its hash.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from api.queries import Scope
from core.errors import StorageError

__all__ = ["Caller", "KeyCache", "find_caller", "key_digest"]

logger = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[Any]


def key_digest(key: str) -> bytes:
    """What the store keeps of ``key``: its SHA-256 (32 bytes)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Caller:
    """The holder of a key in force.

    ``contracts`` maps each contract id the key may see to the energy object ids it is limited
    to there, or to ``None`` for the whole contract. An admin key sees everything, meters not
    yet placed in the tree included.
    """

    key_id: int
    name: str
    admin: bool = False
    contracts: Mapping[int, frozenset[int] | None] = field(default_factory=dict)

    @property
    def scope(self) -> Scope:
        """The condition the queries apply (:func:`api.queries._visible`)."""
        if self.admin:
            return Scope.everything()
        return Scope(
            contracts=frozenset(c for c, objects in self.contracts.items() if objects is None),
            energy_objects=frozenset(
                o for objects in self.contracts.values() if objects is not None for o in objects
            ),
        )


# One probe of the unique key_sha256 index; the scopes come with it.
_FIND = (
    "SELECT k.id, k.name, k.admin, s.contract_id, s.energy_object_id FROM api_keys AS k"
    " LEFT JOIN api_key_scopes AS s ON s.api_key_id = k.id"
    " WHERE k.key_sha256 = %s AND k.revoked_at IS NULL"
)


async def find_caller(conn: Connection, digest: bytes) -> Caller | None:
    """The caller whose key hashes to ``digest``; ``None`` for an unknown or revoked key."""
    try:
        cursor = await conn.execute(_FIND, (digest,))
        rows = await cursor.fetchall()
    except psycopg.Error as exc:
        raise StorageError(f"checking an API key failed: {type(exc).__name__}") from exc
    if not rows:
        return None
    key_id, name, admin = rows[0][:3]
    contracts: dict[int, frozenset[int] | None] = {}
    for *_, contract_id, energy_object_id in rows:
        if contract_id is None:
            continue  # a key without scopes (admin, or its contracts were deleted)
        if energy_object_id is None:
            contracts[contract_id] = None
        else:
            known = contracts.get(contract_id, frozenset())
            if known is not None:
                contracts[contract_id] = known | {energy_object_id}
    return Caller(key_id=key_id, name=name, admin=admin, contracts=contracts)


class KeyCache:
    """Callers of keys in force, by key hash, each for ``ttl_s`` seconds; ``ttl_s`` 0 disables.

    At most ``max_entries`` keys are held; the one remembered longest ago goes first.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[bytes, tuple[float, Caller]] = {}

    def get(self, digest: bytes) -> Caller | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires_at, caller = entry
        if self._clock() >= expires_at:
            del self._entries[digest]
            return None
        return caller

    def remember(self, digest: bytes, caller: Caller) -> None:
        if self.ttl_s <= 0:
            return
        self._entries.pop(digest, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = (self._clock() + self.ttl_s, caller)

    def __len__(self) -> int:
        return len(self._entries)
