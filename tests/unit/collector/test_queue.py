"""The on-disk queue: stored once per id, oldest first, deleted only on acknowledgement."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from collector.queue import AsyncDiskQueue, DiskQueue, QueueEntry
from core.errors import StorageError

T0 = 1_800_000_000.0


def _entry(n: int) -> QueueEntry:
    return QueueEntry(f"{n:064x}", f"isu/v1/site-1/m-{n}/current", b'{"n": %d}' % n)


@pytest.fixture
def queue(tmp_path: Path) -> DiskQueue:
    q = DiskQueue(tmp_path / "sub" / "queue.sqlite3")
    yield q
    q.close()


def test_file_is_wal_with_full_sync(queue: DiskQueue) -> None:
    db = sqlite3.connect(queue.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    # synchronous is per connection: ask the queue's own.
    assert queue._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_same_id_is_stored_once(queue: DiskQueue) -> None:
    assert queue.put([_entry(1)], T0) == 1
    assert queue.put([_entry(1), _entry(1)], T0 + 5) == 0
    assert queue.depth() == 1
    (only,) = queue.pending(T0 + 10, ack_timeout_s=60)
    assert only.created_at == T0  # the first copy is kept as it was
    assert only.payload == b'{"n": 1}'


def test_pending_is_oldest_first_and_limited(queue: DiskQueue) -> None:
    queue.put([_entry(3)], T0 + 2)
    queue.put([_entry(1), _entry(2)], T0)  # same instant: insertion order decides
    queue.put([_entry(0)], T0 + 1)
    ids = [m.id for m in queue.pending(T0 + 3, ack_timeout_s=60)]
    assert ids == [_entry(n).id for n in (1, 2, 0, 3)]
    assert [m.id for m in queue.pending(T0 + 3, 60, limit=2)] == [_entry(1).id, _entry(2).id]


def test_sent_message_waits_for_the_ack_timeout_then_is_pending_again(queue: DiskQueue) -> None:
    queue.put([_entry(1), _entry(2)], T0)
    queue.mark_sent([_entry(1).id], T0 + 1)
    assert [m.id for m in queue.pending(T0 + 30, ack_timeout_s=60)] == [_entry(2).id]
    assert queue.next_resend_at(60) == T0 + 61
    (again, _) = queue.pending(T0 + 61, ack_timeout_s=60)
    assert (again.id, again.send_count, again.last_sent_at) == (_entry(1).id, 1, T0 + 1)
    queue.mark_sent([_entry(1).id], T0 + 62)
    assert queue.pending(T0 + 62, 60)[0].id == _entry(2).id
    assert queue.next_resend_at(60) == T0 + 122


def test_acknowledge_deletes_and_reports_what_was_there(queue: DiskQueue) -> None:
    queue.put([_entry(1), _entry(2), _entry(3)], T0)
    queue.mark_sent([_entry(2).id], T0 + 1)
    done = queue.acknowledge([_entry(2).id, _entry(3).id, "f" * 64, _entry(2).id])
    assert sorted((a.id, a.last_sent_at) for a in done) == sorted(
        [(_entry(2).id, T0 + 1), (_entry(3).id, None)]
    )
    assert queue.depth() == 1
    assert [m.id for m in queue.pending(T0 + 500, 60)] == [_entry(1).id]
    assert queue.acknowledge([_entry(2).id]) == []  # a repeated ack is harmless


def test_acknowledge_many_ids_at_once(queue: DiskQueue) -> None:
    entries = [_entry(n) for n in range(1200)]
    queue.put(entries, T0)
    assert len(queue.acknowledge([e.id for e in entries[:1100]])) == 1100
    assert queue.depth() == 100


def test_oldest_age_and_empty_queue(queue: DiskQueue) -> None:
    assert queue.oldest_age(T0) is None
    assert queue.next_resend_at(60) is None
    queue.put([_entry(1)], T0)
    queue.put([_entry(2)], T0 + 10)
    assert queue.oldest_age(T0 + 25) == 25


def test_everything_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    first = DiskQueue(path)
    first.put([_entry(1), _entry(2), _entry(3)], T0)
    first.mark_sent([_entry(1).id], T0 + 1)
    first.acknowledge([_entry(3).id])
    first.close()

    second = DiskQueue(path)
    try:
        assert second.depth() == 2
        assert [m.id for m in second.pending(T0 + 2, 60)] == [_entry(2).id]
        (resent, _) = second.pending(T0 + 61, 60)
        assert (resent.id, resent.send_count) == (_entry(1).id, 1)
    finally:
        second.close()


def test_unusable_path_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot be opened"):
        DiskQueue(blocker / "queue.sqlite3")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StorageError, match="schema version 99"):
        DiskQueue(path)


async def test_async_wrapper_runs_the_same_queue(tmp_path: Path) -> None:
    queue = AsyncDiskQueue(DiskQueue(tmp_path / "queue.sqlite3"))
    try:
        assert await queue.put([_entry(1), _entry(2)], T0) == 2
        pending = await queue.pending(T0, 60)
        await queue.mark_sent([pending[0].id], T0 + 1)
        assert await queue.next_resend_at(60) == T0 + 61
        assert [a.id for a in await queue.acknowledge([_entry(1).id])] == [_entry(1).id]
        assert queue.depth() == 1
        assert await queue.oldest_age(T0 + 4) == 4
    finally:
        queue.close()


def test_the_ledger_moves_with_its_messages_and_never_back(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    queue = DiskQueue(path)
    queue.put([_entry(1)], now=10.0, ledger={("m-1", "interval"): 1000.0})
    queue.put([_entry(2)], now=11.0, ledger={("m-1", "interval"): 900.0, ("m-1", "events"): 5.0})
    assert queue.ledger("m-1") == {"interval": 1000.0, "events": 5.0}
    assert queue.ledger("m-2") == {}
    queue.close()
    reopened = DiskQueue(path)
    assert reopened.ledger("m-1") == {"interval": 1000.0, "events": 5.0}
    assert reopened.depth() == 2
    reopened.close()


def test_a_failed_put_moves_neither_the_messages_nor_the_ledger(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite3")
    queue.put([_entry(1)], now=10.0, ledger={("m-1", "interval"): 1000.0})
    broken_mark = {("m-1", "interval"): None}  # NOT NULL in the ledger: the put must fail
    with pytest.raises(StorageError):
        queue.put([_entry(2)], now=11.0, ledger=broken_mark)  # type: ignore[dict-item]
    assert queue.ledger("m-1") == {"interval": 1000.0}
    assert queue.depth() == 1
    queue.close()


def test_a_version_1_queue_file_gains_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE messages (id TEXT PRIMARY KEY, topic TEXT NOT NULL,"
            " payload BLOB NOT NULL, created_at REAL NOT NULL, last_sent_at REAL,"
            " send_count INTEGER NOT NULL DEFAULT 0);"
            "PRAGMA user_version = 1;"
        )
        db.execute(
            "INSERT INTO messages (id, topic, payload, created_at) VALUES ('a', 't', x'00', 1)"
        )
    queue = DiskQueue(path)
    assert queue.depth() == 1
    queue.put([], now=2.0, ledger={("m-1", "daily"): 7.0})
    assert queue.ledger("m-1") == {"daily": 7.0}
    queue.close()


def test_put_many_is_one_transaction_with_a_count_per_put(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite3")
    first = ([_entry(1), _entry(2)], 10.0, None)
    second = ([_entry(2), _entry(3)], 11.0, {("m-1", "events"): 5.0})
    assert queue.put_many([first, second]) == [2, 1]
    assert queue.depth() == 3
    assert queue.ledger("m-1") == {"events": 5.0}
    broken_mark = {("m-1", "interval"): None}
    with pytest.raises(StorageError):
        queue.put_many([([_entry(4)], 12.0, None), ([_entry(5)], 12.0, broken_mark)])  # type: ignore[list-item]
    assert queue.depth() == 3
    assert [m.id for m in queue.pending(20.0, 60)] == [_entry(n).id for n in (1, 2, 3)]
    queue.close()


async def test_puts_waiting_together_are_each_answered(tmp_path: Path) -> None:
    queue = AsyncDiskQueue(DiskQueue(tmp_path / "queue.sqlite3"))
    broken_mark = {("m-1", "interval"): None}
    try:
        results = await asyncio.gather(
            *(queue.put([_entry(n), _entry(n + 100)], T0) for n in range(20)),
            queue.put([_entry(500)], T0, broken_mark),  # type: ignore[arg-type]
            queue.put([_entry(0), _entry(1)], T0),  # both stored already
            queue.pending(T0, 60, limit=1000),
            return_exceptions=True,
        )
        assert results[:20] == [2] * 20
        assert isinstance(results[20], StorageError)
        assert results[21] == 0
        assert queue.depth() == 40
        assert len(await queue.pending(T0, 60, limit=1000)) == 40
    finally:
        queue.close()


async def test_a_cancelled_call_leaves_the_worker_running(tmp_path: Path) -> None:
    queue = AsyncDiskQueue(DiskQueue(tmp_path / "queue.sqlite3"))
    try:
        call = asyncio.ensure_future(queue.put([_entry(1)], T0))
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await queue.put([_entry(2)], T0) == 1
    finally:
        queue.close()
    with pytest.raises(StorageError, match="closed"):
        await queue.put([_entry(3)], T0)


def test_mark_sent_then_pending_is_both_in_one_call(queue: DiskQueue) -> None:
    queue.put([_entry(1), _entry(2), _entry(3)], T0)
    assert [m.id for m in queue.mark_sent_then_pending([_entry(1).id], T0, T0, 60)] == [
        _entry(2).id,
        _entry(3).id,
    ]
    assert queue.next_resend_at(60) == T0 + 60
