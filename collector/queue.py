"""The on-disk queue of outgoing messages: store-and-forward between the meters and MQTT.

Every message is committed here before it is published, and leaves only when the gateway
acknowledges it end to end (DESIGN §4). One SQLite file in WAL mode with ``synchronous=FULL``:
each commit is fsync'd, so a power cut loses nothing that was acknowledged to the poller.

::

    messages
      id            TEXT PRIMARY KEY   the message's content id (SHA-256): same data, one row
      topic         TEXT
      payload       BLOB
      created_at    REAL               Unix seconds when first stored
      last_sent_at  REAL NULL          Unix seconds of the last PUBACK'd publish
      send_count    INTEGER            how often the broker took it

    ledger                             the catch-up ledger: what was read of each meter's history
      meter_id      TEXT               (PRIMARY KEY with stream)
      stream        TEXT               daily, monthly, interval, events
      last_ts       REAL               Unix seconds: ``ts`` of the newest item read and stored
      updated_at    REAL

The ledger changes in the same transaction as the messages it describes, so after a power cut it
never claims what the queue lost, and the next read starts right after what is safely stored.

A message is *pending* when it was never sent, or was sent ``ack_timeout_s`` ago or longer and
is still unacknowledged. Pending messages come out oldest first.

:class:`DiskQueue` is synchronous and owns one connection. The collector calls it from a single
worker thread (:class:`AsyncDiskQueue`) so that an fsync on a slow SD card never stalls the
event loop that times serial frames.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar

from core.errors import StorageError

__all__ = ["Acknowledged", "AsyncDiskQueue", "DiskQueue", "QueueEntry", "QueuedMessage"]

_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id           TEXT PRIMARY KEY,
    topic        TEXT NOT NULL,
    payload      BLOB NOT NULL,
    created_at   REAL NOT NULL,
    last_sent_at REAL,
    send_count   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (created_at);
CREATE TABLE IF NOT EXISTS ledger (
    meter_id   TEXT NOT NULL,
    stream     TEXT NOT NULL,
    last_ts    REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (meter_id, stream)
);
"""
# SQLite's default limit on bound parameters is 999 in older builds.
_CHUNK = 500

P = ParamSpec("P")
T = TypeVar("T")


class QueueEntry(NamedTuple):
    id: str
    topic: str
    payload: bytes


class QueuedMessage(NamedTuple):
    id: str
    topic: str
    payload: bytes
    created_at: float
    last_sent_at: float | None
    send_count: int


class Acknowledged(NamedTuple):
    id: str
    created_at: float
    last_sent_at: float | None


def _locked(method: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        with args[0]._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return guarded


class DiskQueue:
    """The queue file; every method commits before it returns. Times are Unix seconds.

    Safe to call from several threads (one lock around the one connection).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we open transactions ourselves, so each one is explicit.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise StorageError(
                    f"queue {self.path}: schema version {version} is newer than this collector's "
                    f"{_SCHEMA_VERSION}"
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            self._depth: int = self._db.execute("SELECT count(*) FROM messages").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"queue {self.path}: cannot be opened: {exc}") from exc

    @_locked
    def put(
        self,
        entries: Iterable[QueueEntry],
        now: float,
        ledger: Mapping[tuple[str, str], float] | None = None,
    ) -> int:
        """Store ``entries`` and advance the ``ledger`` (``(meter_id, stream)`` → newest ``ts``
        read, Unix seconds) in one transaction; an id already stored is kept as it is, and the
        ledger never moves back. Returns how many messages were new.
        """
        rows = [(entry.id, entry.topic, entry.payload, now) for entry in entries]
        marks = [(meter, stream, ts, now) for (meter, stream), ts in (ledger or {}).items()]
        try:
            with self._transaction():
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO messages (id, topic, payload, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
                added = self._db.total_changes - before
                self._db.executemany(
                    "INSERT INTO ledger (meter_id, stream, last_ts, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (meter_id, stream) DO UPDATE SET "
                    "last_ts = max(last_ts, excluded.last_ts), updated_at = excluded.updated_at",
                    marks,
                )
        except sqlite3.Error as exc:
            raise StorageError(
                f"queue {self.path}: cannot store {len(rows)} message(s): {exc}"
            ) from exc
        self._depth += added
        return added

    @_locked
    def ledger(self, meter_id: str) -> dict[str, float]:
        """Per stream, the ``ts`` (Unix seconds) of the newest item read and stored."""
        rows = self._query("SELECT stream, last_ts FROM ledger WHERE meter_id = ?", (meter_id,))
        return {str(stream): float(last_ts) for stream, last_ts in rows}

    @_locked
    def pending(self, now: float, ack_timeout_s: float, limit: int = 100) -> list[QueuedMessage]:
        """Messages to publish now, oldest first."""
        rows = self._query(
            "SELECT id, topic, payload, created_at, last_sent_at, send_count FROM messages "
            "WHERE last_sent_at IS NULL OR last_sent_at <= ? "
            "ORDER BY created_at, rowid LIMIT ?",
            (now - ack_timeout_s, limit),
        )
        return [QueuedMessage(*row) for row in rows]

    @_locked
    def next_resend_at(self, ack_timeout_s: float) -> float | None:
        """When the earliest sent-but-unacknowledged message falls due again."""
        rows = self._query("SELECT min(last_sent_at) FROM messages", ())
        earliest = rows[0][0]
        return None if earliest is None else float(earliest) + ack_timeout_s

    @_locked
    def mark_sent(self, ids: Sequence[str], now: float) -> None:
        """Record that the broker took ``ids`` (PUBACK) at ``now``."""
        try:
            with self._transaction():
                self._db.executemany(
                    "UPDATE messages SET last_sent_at = ?, send_count = send_count + 1 "
                    "WHERE id = ?",
                    [(now, message_id) for message_id in ids],
                )
        except sqlite3.Error as exc:
            raise StorageError(f"queue {self.path}: cannot mark messages sent: {exc}") from exc

    @_locked
    def acknowledge(self, ids: Iterable[str]) -> list[Acknowledged]:
        """Delete the acknowledged messages; returns those that were still here."""
        wanted = list(dict.fromkeys(ids))
        done: list[Acknowledged] = []
        try:
            with self._transaction():
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    done.extend(
                        Acknowledged(*row)
                        for row in self._db.execute(
                            f"DELETE FROM messages WHERE id IN ({marks}) "  # noqa: S608 - only '?'
                            "RETURNING id, created_at, last_sent_at",
                            chunk,
                        ).fetchall()
                    )
        except sqlite3.Error as exc:
            raise StorageError(
                f"queue {self.path}: cannot delete acknowledged messages: {exc}"
            ) from exc
        self._depth -= len(done)
        return done

    def depth(self) -> int:
        """How many messages wait for an acknowledgement (kept as a counter: no table scan)."""
        return self._depth

    @_locked
    def oldest_age(self, now: float) -> float | None:
        """Seconds since the oldest waiting message was stored; ``None`` when empty."""
        rows = self._query("SELECT min(created_at) FROM messages", ())
        oldest = rows[0][0]
        return None if oldest is None else max(0.0, now - float(oldest))

    @_locked
    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, params: Sequence[object]) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"queue {self.path}: read failed: {exc}") from exc

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        # IMMEDIATE: take the write lock now, so a second process on the same file fails fast.
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


class AsyncDiskQueue:
    """The same queue for the event loop: every call runs on one dedicated worker thread."""

    def __init__(self, queue: DiskQueue) -> None:
        self.sync = queue
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="isu-queue")

    async def _call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, lambda: function(*args, **kwargs))

    async def put(
        self,
        entries: Sequence[QueueEntry],
        now: float,
        ledger: Mapping[tuple[str, str], float] | None = None,
    ) -> int:
        return await self._call(self.sync.put, entries, now, ledger)

    async def ledger(self, meter_id: str) -> dict[str, float]:
        return await self._call(self.sync.ledger, meter_id)

    async def pending(
        self, now: float, ack_timeout_s: float, limit: int = 100
    ) -> list[QueuedMessage]:
        return await self._call(self.sync.pending, now, ack_timeout_s, limit)

    async def next_resend_at(self, ack_timeout_s: float) -> float | None:
        return await self._call(self.sync.next_resend_at, ack_timeout_s)

    async def mark_sent(self, ids: Sequence[str], now: float) -> None:
        await self._call(self.sync.mark_sent, ids, now)

    async def acknowledge(self, ids: Sequence[str]) -> list[Acknowledged]:
        return await self._call(self.sync.acknowledge, ids)

    async def oldest_age(self, now: float) -> float | None:
        return await self._call(self.sync.oldest_age, now)

    def depth(self) -> int:
        return self.sync.depth()

    def close(self) -> None:
        """Finish the calls under way, then close the file."""
        self._worker.shutdown(wait=True)
        self.sync.close()
