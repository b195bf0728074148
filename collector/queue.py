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
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from queue import Empty, SimpleQueue
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
        return self.put_many([(entries, now, ledger)])[0]

    @_locked
    def put_many(
        self,
        puts: Sequence[
            tuple[Iterable[QueueEntry], float, Mapping[tuple[str, str], float] | None]
        ],
    ) -> list[int]:
        """Several :meth:`put` calls in one transaction (one fsync); how many were new in each.

        All or nothing: on an error none of them is stored.
        """
        added: list[int] = []
        stored = 0
        try:
            with self._transaction():
                for entries, now, ledger in puts:
                    rows = [(entry.id, entry.topic, entry.payload, now) for entry in entries]
                    stored += len(rows)
                    before = self._db.total_changes
                    self._db.executemany(
                        "INSERT OR IGNORE INTO messages (id, topic, payload, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        rows,
                    )
                    added.append(self._db.total_changes - before)
                    if ledger:
                        self._db.executemany(
                            "INSERT INTO ledger (meter_id, stream, last_ts, updated_at) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (meter_id, stream) DO UPDATE SET "
                            "last_ts = max(last_ts, excluded.last_ts), "
                            "updated_at = excluded.updated_at",
                            [(meter, stream, ts, now) for (meter, stream), ts in ledger.items()],
                        )
        except sqlite3.Error as exc:
            raise StorageError(
                f"queue {self.path}: cannot store {stored} message(s): {exc}"
            ) from exc
        self._depth += sum(added)
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
    def mark_sent_then_pending(
        self,
        ids: Sequence[str],
        sent_at: float,
        now: float,
        ack_timeout_s: float,
        limit: int = 100,
    ) -> list[QueuedMessage]:
        """:meth:`mark_sent`, then :meth:`pending`: one trip for a publisher that goes on."""
        self.mark_sent(ids, sent_at)
        return self.pending(now, ack_timeout_s, limit)

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
    """The same queue for the event loop: every call runs on one dedicated worker thread.

    A call is handed over on a plain queue and its result comes back with
    ``call_soon_threadsafe``: cheaper than an executor's futures, and the collector makes a
    few calls per meter read. :meth:`put` calls that are waiting together are committed in one
    transaction (one fsync), each caller still answered only once its messages are on disk.
    """

    def __init__(self, queue: DiskQueue) -> None:
        self.sync = queue
        self._put = queue.put  # one bound method, so that the worker knows a put by identity
        #: Calls for the worker; ``None`` stops it.
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="isu-queue", daemon=True)
        self._worker.start()
        self._closed = False

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StorageError(f"queue {self.sync.path}: closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put(_Call(function, args, loop, future))
        return await future

    async def put(
        self,
        entries: Sequence[QueueEntry],
        now: float,
        ledger: Mapping[tuple[str, str], float] | None = None,
    ) -> int:
        return await self._call(self._put, entries, now, ledger)

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

    async def mark_sent_then_pending(
        self,
        ids: Sequence[str],
        sent_at: float,
        now: float,
        ack_timeout_s: float,
        limit: int = 100,
    ) -> list[QueuedMessage]:
        return await self._call(
            self.sync.mark_sent_then_pending, ids, sent_at, now, ack_timeout_s, limit
        )

    async def acknowledge(self, ids: Sequence[str]) -> list[Acknowledged]:
        return await self._call(self.sync.acknowledge, ids)

    async def oldest_age(self, now: float) -> float | None:
        return await self._call(self.sync.oldest_age, now)

    def depth(self) -> int:
        return self.sync.depth()

    def close(self) -> None:
        """Finish the calls under way, then close the file."""
        if not self._closed:
            self._closed = True
            self._calls.put(None)
            self._worker.join()
        self.sync.close()

    def _work(self) -> None:
        calls = self._calls
        call = calls.get()
        while call is not None:
            if call.function is not self._put:
                call.run(call.function, *call.args)
                call = calls.get()
                continue
            # Every put waiting now goes into the same transaction; the call after them (if
            # any is waiting) runs next.
            puts = [call]
            try:
                while (call := calls.get_nowait()) is not None and call.function is self._put:
                    puts.append(call)
            except Empty:
                call = _NO_CALL
            self._put_together(puts)
            if call is _NO_CALL:
                call = calls.get()

    def _put_together(self, puts: list[_Call]) -> None:
        puts = [put for put in puts if not put.future.cancelled()]
        if len(puts) == 1:
            puts[0].run(self._put, *puts[0].args)
        elif puts:
            try:
                added = self.sync.put_many([put.args for put in puts])
            except StorageError:
                for put in puts:  # each caller gets its own verdict
                    put.run(self._put, *put.args)
            else:
                for put, count in zip(puts, added, strict=True):
                    put.settle(count, None)


class _Call:
    __slots__ = ("args", "function", "future", "loop")

    def __init__(
        self,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.function = function
        self.args = args
        self.loop = loop
        self.future = future

    def run(self, function: Any, *args: Any) -> None:
        if self.future.cancelled():  # its caller is gone: as an executor drops a queued call
            return
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the caller, whatever it is
            self.settle(None, exc)
        else:
            self.settle(result, None)

    def settle(self, result: Any, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            self.loop.call_soon_threadsafe(_settle, self.future, result, error)


#: "Nothing was waiting" in the worker's loop (``None`` is the stop signal).
_NO_CALL = _Call(None, (), None, None)  # type: ignore[arg-type]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
