"""Batched, idempotent writes of validated messages into TimescaleDB (psycopg 3 + psycopg_pool).

One batch is one transaction::

    COPY rows → temporary stage_* tables (per connection, ON COMMIT DELETE ROWS)
    INSERT INTO t SELECT DISTINCT ON (key) … FROM stage_t ORDER BY key, quality DESC
        ON CONFLICT (key) DO UPDATE SET … WHERE excluded.quality > t.quality

so a repeat of the same point and time adds no row and replaces the stored value only when its
quality ranks higher (DESIGN §3); ``DISTINCT ON`` keeps the best of several copies inside one
batch (PostgreSQL refuses to update one row twice in one statement). Meters are upserted with
``registered`` left alone: a meter the registry does not know stays "unassigned", never dropped.

Turning messages into rows (:func:`prepare_batch`) needs no connection, so the gateway prepares
the next batch while the previous one is being written (:meth:`Store.write_prepared`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from core.errors import RejectedDataError, StorageError
from core.validation import Accepted
from timeseries.migrate import apply_migrations
from timeseries.rows import BatchRows, DeadLetter, Row, batch_rows, dedupe_dead_letters

__all__ = ["PreparedBatch", "Store", "WriteResult", "describe_dsn", "prepare_batch"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type), in the row order of timeseries.rows
    key: tuple[str, ...]

    @property
    def stage(self) -> str:
        return f"stage_{self.name}"

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


_TEXT, _TS, _NUM, _RANK = "text", "timestamptz", "numeric", "smallint"
_READING_TAIL = (("value", _NUM), ("unit", _TEXT), ("quality", _RANK), ("read_at", _TS),
                 ("message_id", _TEXT))

_TABLES = (
    _Table(
        "register_readings",
        (("meter_id", _TEXT), ("stream", _TEXT), ("obis", _TEXT), ("ts", _TS), *_READING_TAIL),
        ("meter_id", "stream", "obis", "ts"),
    ),
    _Table(
        "interval_readings",
        (("meter_id", _TEXT), ("obis", _TEXT), ("ts", _TS), ("period_s", "integer"),
         *_READING_TAIL),
        ("meter_id", "obis", "ts"),
    ),
    _Table(
        "instant_readings",
        (("meter_id", _TEXT), ("obis", _TEXT), ("ts", _TS), *_READING_TAIL),
        ("meter_id", "obis", "ts"),
    ),
    _Table(
        "clock_readings",
        (("meter_id", _TEXT), ("ts", _TS), ("meter_time", "timestamp"), ("drift_s", _NUM),
         ("season", _TEXT), ("quality", _RANK), ("read_at", _TS), ("message_id", _TEXT)),
        ("meter_id", "ts"),
    ),
    _Table(
        "events",
        (("meter_id", _TEXT), ("journal", _TEXT), ("code", "integer"), ("ts", _TS),
         ("kind", _TEXT), ("text", _TEXT), ("critical", "boolean"), ("phase", "smallint"),
         ("quality", _RANK), ("read_at", _TS), ("message_id", _TEXT)),
        ("meter_id", "journal", "code", "ts"),
    ),
    _Table(
        "meter_info",
        (("meter_id", _TEXT), ("field", _TEXT), ("ts", _TS), ("value", _TEXT),
         ("quality", _RANK), ("message_id", _TEXT)),
        ("meter_id", "field", "ts"),
    ),
)
_METERS = _Table(
    "meters",
    (("meter_id", _TEXT), ("collector_id", _TEXT), ("first_seen_at", _TS),
     ("last_seen_at", _TS), ("serial_number", _TEXT), ("last_reading_at", _TS)),
    ("meter_id",),
)
_DEAD_LETTERS = _Table(
    "dead_letters",
    (("received_at", _TS), ("last_received_at", _TS), ("deliveries", "integer"),
     ("topic", _TEXT), ("reason", _TEXT), ("payload", "bytea")),
    ("topic", "payload_sha256"),
)


def _idents(names: Sequence[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(name) for name in names)
    return sql.SQL(", ").join(sql.Identifier(prefix, name) for name in names)


def _create_stage(table: _Table) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))  # kinds are our constants
        for name, kind in table.columns
    )
    return sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
        sql.Identifier(table.stage), columns
    )


def _copy(table: _Table) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.stage), _idents(table.names)
    )


def _upsert(table: _Table) -> sql.Composed:
    """The ranked upsert: best copy per key from the stage, replacing only a lower quality."""
    rest = [name for name in table.names if name not in table.key]
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = excluded.{}").format(sql.Identifier(name), sql.Identifier(name))
        for name in rest
    )
    return sql.SQL(
        "INSERT INTO {table} AS t ({columns})"
        " SELECT DISTINCT ON ({key}) {columns} FROM {stage}"
        " ORDER BY {key}, quality DESC, message_id"
        " ON CONFLICT ({key}) DO UPDATE SET {assignments}"
        " WHERE excluded.quality > t.quality"
    ).format(
        table=sql.Identifier(table.name),
        columns=_idents(table.names),
        key=_idents(table.key),
        stage=sql.Identifier(table.stage),
        assignments=assignments,
    )


# A later message moves a meter to its collector; an older, late one does not. Unchanged meters
# are not rewritten, so a steady stream does not churn (and lock) their rows.
_UPSERT_METERS = sql.SQL(
    "INSERT INTO meters AS m"
    " (meter_id, collector_id, first_seen_at, last_seen_at, serial_number, last_reading_at)"
    " SELECT meter_id, collector_id, first_seen_at, last_seen_at, serial_number, last_reading_at"
    " FROM stage_meters ORDER BY meter_id"
    " ON CONFLICT (meter_id) DO UPDATE SET"
    "  collector_id = CASE WHEN m.last_seen_at IS NULL OR excluded.last_seen_at >= m.last_seen_at"
    "   THEN excluded.collector_id ELSE m.collector_id END,"
    "  first_seen_at = LEAST(m.first_seen_at, excluded.first_seen_at),"
    "  last_seen_at = GREATEST(m.last_seen_at, excluded.last_seen_at),"
    "  serial_number = COALESCE(m.serial_number, excluded.serial_number),"
    "  last_reading_at = GREATEST(m.last_reading_at, excluded.last_reading_at)"
    " WHERE m.last_seen_at IS NULL OR m.first_seen_at IS NULL"
    "  OR excluded.last_seen_at > m.last_seen_at OR excluded.first_seen_at < m.first_seen_at"
    "  OR (m.serial_number IS NULL AND excluded.serial_number IS NOT NULL)"
    "  OR excluded.last_reading_at > m.last_reading_at"
    "  OR (m.last_reading_at IS NULL AND excluded.last_reading_at IS NOT NULL)"
)

_UPSERT_DEAD_LETTERS = sql.SQL(
    "INSERT INTO dead_letters AS d"
    " (received_at, last_received_at, deliveries, topic, reason, payload)"
    " SELECT received_at, last_received_at, deliveries, topic, reason, payload"
    " FROM stage_dead_letters ORDER BY received_at"
    " ON CONFLICT (topic, payload_sha256) DO UPDATE SET"
    "  last_received_at = GREATEST(d.last_received_at, excluded.last_received_at),"
    "  deliveries = d.deliveries + excluded.deliveries,"
    "  reason = excluded.reason"
)

# `isu deadletter replay`: the letters whose messages this transaction stores.
_MARK_REPLAYED = sql.SQL("UPDATE dead_letters SET replayed_at = now() WHERE id = ANY(%s)")


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one committed batch changed: rows inserted or replaced, per table."""

    rows: dict[str, int] = field(default_factory=dict)
    meters: int = 0
    dead_letters: int = 0
    replayed: int = 0

    @property
    def rows_written(self) -> int:
        return sum(self.rows.values())


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """One batch as rows, ready to be written in one transaction."""

    messages: int
    rows: BatchRows
    copy_text: dict[str, str]  # per table: BatchRows.lines joined, one COPY text chunk
    meters: list[Row]
    letters: list[Row]


def prepare_batch(
    messages: Sequence[Accepted], dead_letters: Sequence[DeadLetter] = ()
) -> PreparedBatch:
    """The rows of messages and dead letters (pure Python; no connection needed)."""
    rows = batch_rows(messages)
    return PreparedBatch(
        messages=len(messages),
        rows=rows,
        copy_text={name: "".join(lines) for name, lines in rows.lines.items() if lines},
        meters=[meter.as_row() for meter in rows.meters.values()],
        letters=[
            (d.received_at, d.received_at, n, d.topic, d.reason, d.payload)
            for d, n in dedupe_dead_letters(dead_letters)
        ],
    )


def describe_dsn(dsn: str) -> str:
    """Host, port and database of a DSN for logs; never the password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparsable DSN)"
    host, port = parts.get("host", "local socket"), parts.get("port", 5432)
    return f"{host}:{port}/{parts.get('dbname', '')}"


def _translate(exc: psycopg.Error, doing: str) -> StorageError:
    # The server's primary message names the type or constraint, never the connection secret.
    lines = str(exc).strip().splitlines()
    primary = exc.diag.message_primary or (lines[0] if lines else "no message")
    detail = f"{type(exc).__name__}: {primary}"
    if (exc.sqlstate or "")[:2] in {"22", "23"}:
        return RejectedDataError(f"{doing}: {detail}", detail)
    return StorageError(f"{doing}: {detail}")


#: How long one reconnection attempt of the pool keeps backing off before it starts over.
_RECONNECT_WINDOW_S = 10.0

class Store:
    """A pool of connections to one database, writing whole batches in one transaction each.

    ``open()`` applies the migrations first. Safe to share between threads.
    """

    def __init__(
        self,
        dsn: str,
        *,
        pool_max_size: int = 4,
        timeout_s: float = 10.0,
        application_name: str = "isu-gateway",
    ) -> None:
        options = conninfo_to_dict(dsn)
        extra: dict[str, Any] = {}
        if "connect_timeout" not in options:
            extra["connect_timeout"] = max(1, round(timeout_s))
        if "application_name" not in options:
            extra["application_name"] = application_name
        self._dsn = make_conninfo(dsn, **extra)
        self._timeout_s = timeout_s
        self._pool = ConnectionPool(
            self._dsn,
            min_size=1,
            max_size=max(1, pool_max_size),
            open=False,
            configure=self._configure,
            check=ConnectionPool.check_connection,
            timeout=timeout_s,
            # The pool's reconnection backs off 1, 2, 4 … s up to this, then gives up and the
            # next request starts afresh: a database back after minutes is used within seconds.
            reconnect_timeout=_RECONNECT_WINDOW_S,
            name="isu-store",
        )

    def __enter__(self) -> Store:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def description(self) -> str:
        return describe_dsn(self._dsn)

    def open(self, *, migrate: bool = True) -> None:
        """Apply missing migrations and open the pool; :class:`StorageError` if unreachable."""
        if migrate:
            applied = apply_migrations(self._dsn)
            if applied:
                logger.info("store %s: applied migrations %s", self.description, applied)
        try:
            self._pool.open(wait=True, timeout=self._timeout_s)
        except psycopg.Error as exc:
            raise _translate(exc, f"cannot connect to {self.description}") from exc

    def close(self) -> None:
        self._pool.close()

    @staticmethod
    def _configure(conn: psycopg.Connection[Any]) -> None:
        for table in (*_TABLES, _METERS, _DEAD_LETTERS):
            conn.execute(_create_stage(table))
        conn.commit()

    def ping(self) -> None:
        """Raises :class:`StorageError` unless the database answers."""
        try:
            with self._pool.connection(timeout=self._timeout_s) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise _translate(exc, f"{self.description} does not answer") from exc

    def write(
        self,
        messages: Sequence[Accepted],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        replayed: Sequence[int] = (),
    ) -> WriteResult:
        """Write validated messages and dead letters in one transaction.

        ``replayed`` names ``dead_letters`` rows (ids) whose messages are among ``messages``:
        they are marked ``replayed_at`` in the same transaction (``isu deadletter replay``).

        Raises :class:`RejectedDataError` when the data itself is refused (a retry cannot help;
        write the messages one by one to find the culprit) and :class:`StorageError` for
        everything else (retry later).
        """
        return self.write_prepared(prepare_batch(messages, dead_letters), replayed=replayed)

    def write_prepared(
        self, batch: PreparedBatch, *, replayed: Sequence[int] = ()
    ) -> WriteResult:
        """:meth:`write` of a batch already turned into rows (:func:`prepare_batch`)."""
        counts: dict[str, int] = {}
        try:
            with self._pool.connection(timeout=self._timeout_s) as conn, conn.transaction():
                cursor = conn.cursor()
                meters = self._copy_and_run(cursor, _METERS, batch.meters, "", _UPSERT_METERS)
                for table in _TABLES:
                    table_rows = batch.rows.tables[table.name]
                    text = batch.copy_text.get(table.name, "")
                    if table_rows or text:
                        counts[table.name] = self._copy_and_run(
                            cursor, table, table_rows, text, _upsert(table)
                        )
                stored_letters = self._copy_and_run(
                    cursor, _DEAD_LETTERS, batch.letters, "", _UPSERT_DEAD_LETTERS
                )
                marked = 0
                if replayed:
                    cursor.execute(_MARK_REPLAYED, (list(replayed),))
                    marked = max(cursor.rowcount, 0)
        except psycopg.Error as exc:
            raise _translate(
                exc, f"writing {batch.messages} message(s) to {self.description}"
            ) from exc
        return WriteResult(
            rows=counts, meters=meters, dead_letters=stored_letters, replayed=marked
        )

    @staticmethod
    def _copy_and_run(
        cursor: psycopg.Cursor[Any],
        table: _Table,
        rows: Sequence[tuple[Any, ...]],
        text: str,
        statement: sql.SQL | sql.Composed,
    ) -> int:
        if not rows and not text:
            return 0
        with cursor.copy(_copy(table)) as copy:
            if text:
                copy.write(text)
            for row in rows:
                copy.write_row(row)
        cursor.execute(statement)
        return max(cursor.rowcount, 0)
