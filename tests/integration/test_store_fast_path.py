"""The store writes a message that came through the gateway's fast path (its rows as COPY text)
exactly as it writes the same message as models: the same rows, the same ranking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from core.messages import CheckedReadings, ReadingsMessage, build_message, check_readings
from core.model import Quality, ReadingItem, Stream
from timeseries.store import Store

pytestmark = pytest.mark.services

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
READ_AT = datetime(2024, 3, 1, 0, 5, 0, 250_000, tzinfo=UTC)
TABLES = {
    "register_readings": "meter_id, stream, obis, ts",
    "interval_readings": "meter_id, obis, ts",
    "instant_readings": "meter_id, obis, ts",
}


@pytest.fixture
def store(fresh_database: str) -> Iterator[Store]:
    with Store(fresh_database, pool_max_size=1) as opened:
        yield opened


def checked(message: ReadingsMessage) -> CheckedReadings:
    fast = check_readings(json.loads(message.to_json()))
    assert fast is not None
    return fast


def messages(quality: Quality = Quality.OK, value: str = "12345.678") -> list[ReadingsMessage]:
    def item(obis: str, ts: datetime, text: str, unit: str = "kWh", **extra: object
             ) -> ReadingItem:
        return ReadingItem(obis=obis, ts=ts, value=Decimal(text), unit=unit, quality=quality,
                           **extra)
    return [
        build_message("c1", "m1", Stream.CURRENT, [item("1.0.1.8.0.255", T0, value),
                                                   item("1.0.3.8.2.255", T0, "-0", "kvarh")],
                      READ_AT),
        build_message("c1", "m1", Stream.DAILY, [item("1.0.1.8.0.255", T0, "0.0000001")], READ_AT),
        build_message("c1", "m2", Stream.MONTHLY, [item("1.0.1.8.1.255", T0, "100")], READ_AT),
        build_message("c1", "m1", Stream.INTERVAL, [
            item("1.0.1.29.0.255", T0 + timedelta(minutes=30 * n), f"0.{n}25", period_s=1800)
            for n in range(3)
        ], READ_AT),
        build_message("c1", "m1", Stream.INSTANT, [
            item("1.0.1.7.0.255", T0 + timedelta(microseconds=1), "-2.5", "kW"),
            item("1.0.32.7.0.255", T0, "230.1", "В"),
        ], READ_AT),
    ]


def snapshot(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(dsn) as conn:
        tables = {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
            for table, key in TABLES.items()
        }
        tables["meters"] = conn.execute(
            "SELECT meter_id, collector_id, first_seen_at, last_seen_at, last_reading_at"
            " FROM meters ORDER BY meter_id"
        ).fetchall()
    return tables


def clear(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)}, meters CASCADE")


def test_fast_path_rows_are_the_models_rows(store: Store, fresh_database: str) -> None:
    models = messages()
    written = store.write(models)
    expected = snapshot(fresh_database)
    clear(fresh_database)
    assert store.write([checked(message) for message in models]) == written
    assert snapshot(fresh_database) == expected
    daily = [row for row in expected["register_readings"] if row[1] == "daily"]
    assert [row[4] for row in daily] == [Decimal("0.0000001")]


def test_the_ranking_holds_whichever_path_a_repeat_takes(
    store: Store, fresh_database: str
) -> None:
    estimated = messages(Quality.ESTIMATED, "1")
    good = messages(Quality.OK, "2")
    store.write([checked(message) for message in estimated])
    assert store.write(estimated).rows_written == 0  # the same again, as models
    assert store.write([checked(message) for message in good]).rows_written == sum(
        len(message.items) for message in good
    )
    assert store.write([checked(message) for message in estimated]).rows_written == 0
    with psycopg.connect(fresh_database) as conn:
        values = conn.execute(
            "SELECT value, quality FROM register_readings WHERE stream = 'current'"
            " AND obis = '1.0.1.8.0.255'"
        ).fetchall()
    assert values == [(Decimal("2"), 3)]
