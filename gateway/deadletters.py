"""Dead letters after the fact: listing them, and replaying them with the rules of the day
through the store's write path (``isu deadletter list|replay``; the command line is
``gateway.deadletter_cli``).

A replay checks each letter exactly as the gateway checks a delivery (``gateway.batching.classify``,
with the moment of the replay as the time of receipt), and writes the letters that now pass in
one transaction with marking them ``replayed_at``, so a letter is never stored without being
marked, nor marked without being stored. A letter that is still bad keeps its row; its reason
becomes the current rules' verdict. Replay publishes no acknowledgement: a letter that carries a
message id was acknowledged when it was dead-lettered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql

from core.errors import RejectedDataError, StorageError
from core.model import utc_now
from core.validation import DEFAULT_MAX_FUTURE_S
from gateway.batching import BatchPlan, Delivery, RejectKind, classify
from timeseries.store import Store, describe_dsn

__all__ = [
    "DeadLetterRecord",
    "Outcome",
    "ReplayReport",
    "list_dead_letters",
    "replay_dead_letters",
]

logger = logging.getLogger(__name__)

_PAGE = 500
_COLUMNS = sql.SQL(
    "id, received_at, last_received_at, deliveries, topic, reason, payload, replayed_at"
)


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One row of ``dead_letters``."""

    id: int
    received_at: datetime
    last_received_at: datetime
    deliveries: int
    topic: str
    reason: str
    payload: bytes
    replayed_at: datetime | None

    @property
    def size(self) -> int:
        return len(self.payload)


class Outcome(StrEnum):
    STORED = "stored"
    WOULD_BE_STORED = "would be stored"  # a dry run
    STILL_BAD = "still bad"
    ALREADY_REPLAYED = "already replayed"
    NOT_FOUND = "not found"

    @property
    def ok(self) -> bool:
        return self not in (Outcome.STILL_BAD, Outcome.NOT_FOUND)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What became of one letter; ``kind`` and ``reason`` say why a still-bad one is bad."""

    id: int
    outcome: Outcome
    kind: RejectKind | None = None
    reason: str | None = None


def _record(row: tuple[Any, ...]) -> DeadLetterRecord:
    return DeadLetterRecord(
        id=row[0], received_at=row[1], last_received_at=row[2], deliveries=row[3], topic=row[4],
        reason=row[5], payload=bytes(row[6]), replayed_at=row[7],
    )


def _connect(dsn: str, timeout_s: float) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, round(timeout_s)),
                               application_name="isu-deadletter")
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to {describe_dsn(dsn)}: {exc}") from exc


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_dead_letters(
    dsn: str,
    *,
    reason: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    timeout_s: float = 10.0,
) -> list[DeadLetterRecord]:
    """The newest ``limit`` letters first; ``reason`` matches part of the reason, ignoring
    case; ``since`` keeps letters first received at or after it. :class:`StorageError` if the
    database fails."""
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    if reason:
        conditions.append(sql.SQL("reason ILIKE %s"))
        params.append(f"%{_escape_like(reason)}%")
    if since is not None:
        conditions.append(sql.SQL("received_at >= %s"))
        params.append(since)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    query = sql.SQL("SELECT {} FROM dead_letters{} ORDER BY id DESC LIMIT %s").format(
        _COLUMNS, where
    )
    params.append(limit)
    try:
        with _connect(dsn, timeout_s) as conn:
            return [_record(row) for row in conn.execute(query, params).fetchall()]
    except psycopg.Error as exc:
        raise StorageError(f"listing dead letters in {describe_dsn(dsn)}: {exc}") from exc


def _pages(conn: psycopg.Connection[Any], ids: Sequence[int] | None) -> Iterator[
    list[DeadLetterRecord]
]:
    if ids is not None:
        for start in range(0, len(ids), _PAGE):
            chunk = list(ids[start:start + _PAGE])
            rows = conn.execute(
                sql.SQL("SELECT {} FROM dead_letters WHERE id = ANY(%s) ORDER BY id").format(
                    _COLUMNS
                ),
                (chunk,),
            ).fetchall()
            yield [_record(row) for row in rows]
        return
    after = 0
    while True:
        rows = conn.execute(
            sql.SQL(
                "SELECT {} FROM dead_letters WHERE replayed_at IS NULL AND id > %s"
                " ORDER BY id LIMIT %s"
            ).format(_COLUMNS),
            (after, _PAGE),
        ).fetchall()
        if not rows:
            return
        page = [_record(row) for row in rows]
        yield page
        after = page[-1].id


def _as_delivery(letter: DeadLetterRecord, now: datetime) -> Delivery:
    # Checked as if received now; ``mid`` carries the letter's id back out of the plan.
    return Delivery(letter.topic, letter.payload, mid=letter.id, qos=0, generation=0,
                    received_at=now, received_monotonic=0.0)


def _write(store: Store, plan: BatchPlan) -> list[ReplayReport]:
    """Store what passed, marking it replayed in the same transaction; letters the database
    refuses are found one at a time and stay bad."""
    if not plan.accepted:
        return []
    try:
        store.write(plan.to_store, replayed=[d.mid for d, _ in plan.accepted])
    except RejectedDataError:
        pass
    else:
        return [ReplayReport(d.mid, Outcome.STORED) for d, _ in plan.accepted]
    reports = []
    for delivery, message in plan.accepted:
        try:
            store.write([message], replayed=[delivery.mid])
        except RejectedDataError as exc:
            reports.append(ReplayReport(delivery.mid, Outcome.STILL_BAD, RejectKind.DATABASE,
                                        f"refused by the database: {exc.detail}"))
        else:
            reports.append(ReplayReport(delivery.mid, Outcome.STORED))
    return reports


def _update_reasons(
    conn: psycopg.Connection[Any], reports: Sequence[ReplayReport]
) -> None:
    changes = [
        (report.reason.replace("\x00", "\\x00"), report.id)
        for report in reports
        if report.outcome is Outcome.STILL_BAD and report.reason is not None
    ]
    if changes:
        with conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE dead_letters SET reason = %s WHERE id = %s AND replayed_at IS NULL",
                changes,
            )


def _replay_page(
    page: list[DeadLetterRecord],
    *,
    now: datetime,
    max_future_s: float,
    store: Store | None,
) -> list[ReplayReport]:
    reports = [
        ReplayReport(letter.id, Outcome.ALREADY_REPLAYED)
        for letter in page if letter.replayed_at is not None
    ]
    pending = [letter for letter in page if letter.replayed_at is None]
    plan = classify((_as_delivery(letter, now) for letter in pending), max_future_s=max_future_s)
    reports += [
        ReplayReport(item.delivery.mid, Outcome.STILL_BAD, item.kind, item.reason)
        for item in plan.rejected
    ]
    reports += [
        ReplayReport(delivery.mid, Outcome.STILL_BAD, RejectKind.TOPIC,
                     f"topic {delivery.topic!r} is retained meter state, not data")
        for delivery in plan.ignored
    ]
    if store is None:
        reports += [ReplayReport(d.mid, Outcome.WOULD_BE_STORED) for d, _ in plan.accepted]
    else:
        reports += _write(store, plan)
    return sorted(reports, key=lambda report: report.id)


def replay_dead_letters(
    dsn: str,
    ids: Sequence[int] | None = None,
    *,
    dry_run: bool = False,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    timeout_s: float = 10.0,
    clock: Callable[[], datetime] = utc_now,
) -> Iterator[ReplayReport]:
    """Replay the letters ``ids`` (or, with ``None``, every letter not yet replayed), in id order,
    yielding one report per letter as its page is done. A dry run checks and writes nothing
    (the database may still refuse a letter that would be stored). :class:`StorageError` if the
    database fails; what was committed before stays committed."""
    store: Store | None = None
    if not dry_run:
        store = Store(dsn, pool_max_size=1, timeout_s=timeout_s,
                      application_name="isu-deadletter")
    try:
        if store is not None:
            store.open()
        wanted = None if ids is None else sorted(set(ids))
        found: set[int] = set()
        with _connect(dsn, timeout_s) as conn:
            for page in _pages(conn, wanted):
                found.update(letter.id for letter in page)
                reports = _replay_page(
                    page, now=clock(), max_future_s=max_future_s, store=store
                )
                if store is not None:
                    _update_reasons(conn, reports)
                yield from reports
        for missing in sorted(set(wanted or ()) - found):
            yield ReplayReport(missing, Outcome.NOT_FOUND)
    except psycopg.Error as exc:
        raise StorageError(f"replaying dead letters in {describe_dsn(dsn)}: {exc}") from exc
    finally:
        if store is not None:
            store.close()
