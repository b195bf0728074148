"""Retention on the real TimescaleDB: old chunks go, billing snapshots stay unless told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from core.messages import build_message
from core.model import ReadingItem, Stream
from timeseries.retention import RetentionConfig, apply_retention
from timeseries.store import Store

pytestmark = pytest.mark.services

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=120)
RECENT = NOW - timedelta(days=2)


def _message(stream: Stream, ts: datetime, obis: str = "1.0.1.8.0.255") -> object:
    unit = "V" if stream is Stream.INSTANT else "kWh"
    item = ReadingItem(
        obis=obis,
        ts=ts,
        value=Decimal("1.5"),
        unit=unit,
        quality="ok",
        period_s=1800 if stream is Stream.INTERVAL else None,
    )
    return build_message("c1", "m1", stream, [item], ts)


def _fill(dsn: str) -> None:
    messages = []
    for ts in (OLD, RECENT):
        messages += [
            _message(Stream.CURRENT, ts),
            _message(Stream.DAILY, ts),
            _message(Stream.MONTHLY, ts),
            _message(Stream.INTERVAL, ts, "1.0.1.29.0.255"),
            _message(Stream.INSTANT, ts, "1.0.32.7.0.255"),
        ]
    with Store(dsn, pool_max_size=1) as store:
        store.write(messages)  # type: ignore[arg-type]


def _count(dsn: str, statement: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(statement).fetchone()
    assert row is not None
    return int(row[0])


def test_streams_past_their_horizon_are_removed_and_the_others_kept(fresh_database: str) -> None:
    _fill(fresh_database)
    config = RetentionConfig(current_days=30, interval_days=60, instant_days=7)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        result = apply_retention(conn, config, NOW)
    assert result.ran
    assert result.rows_deleted == {"current": 1}
    assert result.chunks_dropped["interval_readings"] >= 1
    assert result.chunks_dropped["instant_readings"] >= 1
    registers = "SELECT count(*) FROM register_readings WHERE stream = '{}'"
    assert _count(fresh_database, registers.format("current")) == 1
    assert _count(fresh_database, registers.format("daily")) == 2  # no horizon: kept for ever
    assert _count(fresh_database, registers.format("monthly")) == 2
    assert _count(fresh_database, "SELECT count(*) FROM interval_readings") == 1
    assert _count(fresh_database, "SELECT count(*) FROM instant_readings") == 1
    # a second pass finds nothing more to do
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        again = apply_retention(conn, config, NOW)
    assert again.rows_deleted == {"current": 0}
    assert again.chunks_dropped == {"interval_readings": 0, "instant_readings": 0}


def test_one_gateway_at_a_time_applies_retention(fresh_database: str) -> None:
    config = RetentionConfig(current_days=30)
    with psycopg.connect(fresh_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (0x15_0619,))
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            assert apply_retention(conn, config, NOW).ran is False


def test_without_horizons_nothing_is_touched(fresh_database: str) -> None:
    _fill(fresh_database)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        result = apply_retention(conn, RetentionConfig(), NOW)
    assert result.rows_deleted == {}
    assert result.chunks_dropped == {}
    assert _count(fresh_database, "SELECT count(*) FROM register_readings") == 6


def test_the_gateway_applies_its_configured_retention(fresh_database: str) -> None:
    from gateway.config import GatewayConfig
    from gateway.housekeeping import RetentionWorker
    from gateway.metrics import GatewayMetrics

    _fill(fresh_database)
    config = GatewayConfig.model_validate(
        {"database": {"dsn": fresh_database}, "retention": {"current_days": 30}}
    )
    metrics = GatewayMetrics()
    worker = RetentionWorker(fresh_database, config.retention, metrics, clock=lambda: NOW)
    worker.run_once()
    assert metrics.retention_removed.labels("current", "rows")._value.get() == 1
    assert _count(fresh_database, "SELECT count(*) FROM register_readings") == 5
    broken = RetentionWorker("postgresql://nobody@127.0.0.1:1/none", config.retention, metrics)
    broken.run_once()  # logged and counted, never raised
    assert metrics.retention_errors._value.get() == 1


def test_retention_horizons_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="current_days"):
        RetentionConfig.model_validate({"current_days": 0})
    with pytest.raises(ValidationError, match="weekly_days"):
        RetentionConfig.model_validate({"weekly_days": 7})
    assert RetentionConfig.model_validate({"events_days": 30}).horizons() == {"events": 30}
