"""Ingest benchmark: how fast the gateway's path turns MQTT payloads into committed rows.

Run from the top of the checkout, with the local services started::

    python -m bench.ingest                       # 1000 meters x 6 polls of current registers
    python -m bench.ingest --meters 5 --polls 2  # the tiny size CI runs

Every figure is printed next to a baseline taken in the same run on the same database, because
the machines are shared and noisy:

- ``copy_baseline``: plain ``COPY`` of the same rows into a hypertable with the same primary
  key — the floor of what TimescaleDB can take, with no validation, no staging, no upsert;
- ``validate``: ``core.messages.parse_message`` of every payload (JSON, schema, id check);
- ``store_write``: ``timeseries.store.Store.write`` in gateway-sized batches (COPY into staging,
  ranked upsert, meters table), the first time the rows arrive;
- ``store_repeat``: the same batches again — redelivery, which must add no row.

The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from core.localenv import load_local_services
from core.messages import ReadingsMessage, build_message, parse_message
from core.model import ReadingItem, Stream
from core.obis import EnergyKind, energy_obis
from timeseries.migrate import apply_migrations
from timeseries.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _messages(meters: int, polls: int) -> list[ReadingsMessage]:
    """``meters`` × ``polls`` current-register messages of 20 items (A±, R± × sum and T1..T4)."""
    messages = []
    for poll in range(polls):
        ts = T0 + timedelta(minutes=poll)
        for meter in range(meters):
            items = [
                ReadingItem(
                    obis=energy_obis(kind, zone),
                    ts=ts,
                    value=Decimal(1000 * meter + 10 * poll + zone) / 1000,
                    unit=kind.unit,
                )
                for kind in EnergyKind
                for zone in range(5)
            ]
            messages.append(build_message("bench", f"m{meter:05d}", Stream.CURRENT, items, ts))
    return messages


@contextmanager
def _scratch_database() -> Iterator[str]:
    services = load_local_services()
    name = f"isu_bench_{secrets.token_hex(4)}"
    with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield services.postgres.dsn_for(name)
    finally:
        with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy_baseline(dsn: str, messages: list[ReadingsMessage]) -> float:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE baseline (meter_id text, stream text, obis text, ts timestamptz,"
            " value numeric, PRIMARY KEY (meter_id, stream, obis, ts))"
        )
        conn.execute("SELECT create_hypertable('baseline', by_range('ts', INTERVAL '30 days'))")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy("COPY baseline FROM STDIN") as copy:
            for message in messages:
                for item in message.items:
                    assert isinstance(item, ReadingItem)
                    copy.write_row((message.meter, "current", item.obis, item.ts, item.value))
        conn.commit()
        return time.perf_counter() - started


def _batches(messages: list[ReadingsMessage], size: int) -> list[list[ReadingsMessage]]:
    return [messages[start : start + size] for start in range(0, len(messages), size)]


def run(meters: int, polls: int, batch: int) -> dict[str, Any]:
    messages = _messages(meters, polls)
    rows = sum(len(message.items) for message in messages)
    payloads = [message.to_json() for message in messages]
    figures: dict[str, Any] = {"meters": meters, "polls": polls, "messages": len(messages)}
    figures["rows"] = rows
    figures["batch_messages"] = batch

    started = time.perf_counter()
    parsed = [parse_message(payload) for payload in payloads]
    validate_s = time.perf_counter() - started
    assert [message.id for message in parsed] == [message.id for message in messages]

    with _scratch_database() as dsn:
        apply_migrations(dsn)
        copy_s = _copy_baseline(dsn, messages)
        with Store(dsn) as store:
            started = time.perf_counter()
            written = sum(store.write(part).rows_written for part in _batches(parsed, batch))
            write_s = time.perf_counter() - started
            started = time.perf_counter()
            repeated = sum(store.write(part).rows_written for part in _batches(parsed, batch))
            repeat_s = time.perf_counter() - started
        with psycopg.connect(dsn) as conn:
            stored = conn.execute("SELECT count(*) FROM register_readings").fetchone()
    if stored is None or stored[0] != rows or written != rows:
        raise SystemExit(f"expected {rows} rows, wrote {written}, table holds {stored}")
    if repeated != 0:
        raise SystemExit(f"a repeat wrote {repeated} rows; writes are not idempotent")

    for name, seconds in (
        ("copy_baseline", copy_s),
        ("validate", validate_s),
        ("store_write", write_s),
        ("store_repeat", repeat_s),
    ):
        figures[name] = {
            "seconds": round(seconds, 4),
            "rows_per_s": round(rows / seconds),
            "messages_per_s": round(len(messages) / seconds),
            "vs_copy_baseline": round(seconds / copy_s, 2),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=6)
    parser.add_argument("--batch", type=int, default=500, help="messages per transaction")
    args = parser.parse_args()
    figures = run(args.meters, args.polls, args.batch)
    print(f"{figures['messages']} messages, {figures['rows']} rows, batches of {args.batch}")
    for name in ("copy_baseline", "validate", "store_write", "store_repeat"):
        figure = figures[name]
        print(
            f"  {name:14} {figure['seconds']:9.3f} s {figure['rows_per_s']:>10} rows/s "
            f"{figure['messages_per_s']:>8} msg/s  x{figure['vs_copy_baseline']} of COPY"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
