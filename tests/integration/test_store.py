"""The store against the real TimescaleDB: idempotence, quality ranking, every stream's table,
unassigned meters, dead letters and error translation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from core.errors import RejectedDataError, StorageError
from core.messages import ReadingsMessage, build_message
from core.model import ClockItem, EventItem, InfoItem, Quality, ReadingItem, Stream
from timeseries.rows import DeadLetter
from timeseries.store import Store

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
READ_AT = datetime(2024, 3, 1, 0, 5, tzinfo=UTC)
TABLES = (
    "register_readings", "interval_readings", "instant_readings", "clock_readings", "events",
    "meter_info",
)


@pytest.fixture
def store(fresh_database: str) -> Iterator[Store]:
    with Store(fresh_database, pool_max_size=2) as opened:
        yield opened


def query(dsn: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def counts(dsn: str) -> dict[str, int]:
    return {table: query(dsn, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}  # type: ignore[misc]


def register(collector: str, meter: str, value: str, quality: Quality = Quality.OK,
             stream: Stream = Stream.DAILY, read_at: datetime = READ_AT) -> ReadingsMessage:
    items = [
        ReadingItem(obis="1.0.1.8.0.255", ts=T0, value=Decimal(value), unit="kWh", quality=quality),
        ReadingItem(obis="1.0.2.8.0.255", ts=T0, value=Decimal("0.5"), unit="kWh", quality=quality),
    ]
    return build_message(collector, meter, stream, items, read_at)


def every_stream(collector: str, meter: str) -> list[ReadingsMessage]:
    reading = {"obis": "1.0.1.8.0.255", "ts": T0, "unit": "kWh"}
    return [
        build_message(collector, meter, Stream.CURRENT,
                      [ReadingItem(**reading, value=Decimal("12345.678"))], READ_AT),
        register(collector, meter, "12000.001", stream=Stream.DAILY),
        build_message(collector, meter, Stream.MONTHLY,
                      [ReadingItem(**reading, value=Decimal("11000"))], READ_AT),
        build_message(collector, meter, Stream.INTERVAL, [
            ReadingItem(obis="1.0.1.29.0.255", ts=T0 + timedelta(minutes=30 * n),
                        value=Decimal("0.125") * n, unit="kWh", period_s=1800,
                        quality=Quality.INCOMPLETE if n == 2 else Quality.OK)
            for n in range(3)
        ], READ_AT),
        build_message(collector, meter, Stream.INSTANT, [
            ReadingItem(obis="1.0.32.7.0.255", ts=READ_AT, value=Decimal("229.87"), unit="V"),
            ReadingItem(obis="1.0.14.7.0.255", ts=READ_AT, value=Decimal("50.01"), unit="Hz"),
        ], READ_AT),
        build_message(collector, meter, Stream.CLOCK, [
            ClockItem(ts=READ_AT, meter_time=datetime(2024, 3, 1, 3, 5, 7),
                      drift_s=Decimal("7.0"), season="winter"),
        ], READ_AT),
        build_message(collector, meter, Stream.EVENTS, [
            EventItem(ts=T0, journal="power", code=1, kind="События питания",
                      text="Выключение питания", critical=False, phase=2),
            EventItem(ts=T0, journal="tamper", code=5, kind="Внешние воздействия",
                      text="Вскрытие пломбы крышки клеммной колодки", critical=True),
        ], READ_AT),
        build_message(collector, meter, Stream.INFO, [
            InfoItem(field="serial_number", value="41234567", ts=READ_AT),
            InfoItem(field="firmware", value="9.3.1", ts=READ_AT),
        ], READ_AT),
    ]


def test_a_batch_written_twice_leaves_the_row_count_unchanged(
    store: Store, fresh_database: str, topic_prefix_id: str
) -> None:
    batch = every_stream(topic_prefix_id, "m1")
    first = store.write(batch)
    before = counts(fresh_database)
    again = store.write(batch)

    assert counts(fresh_database) == before
    assert before == {
        "register_readings": 4, "interval_readings": 3, "instant_readings": 2,
        "clock_readings": 1, "events": 2, "meter_info": 2,
    }
    assert first.rows_written == 14
    assert again.rows_written == 0  # an identical repeat neither adds nor rewrites a row


def test_the_same_message_twice_in_one_batch_is_one_row(store: Store, fresh_database: str) -> None:
    message = register("c1", "m1", "1.000")
    store.write([message, message])
    assert counts(fresh_database)["register_readings"] == 2


def test_every_stream_lands_in_its_table(store: Store, fresh_database: str) -> None:
    batch = every_stream("c1", "m1")
    store.write(batch)

    assert query(fresh_database, "SELECT stream, obis, value, unit, quality, message_id"
                 " FROM register_readings WHERE obis = '1.0.1.8.0.255' ORDER BY stream") == [
        ("current", "1.0.1.8.0.255", Decimal("12345.678"), "kWh", 3, batch[0].id),
        ("daily", "1.0.1.8.0.255", Decimal("12000.001"), "kWh", 3, batch[1].id),
        ("monthly", "1.0.1.8.0.255", Decimal("11000"), "kWh", 3, batch[2].id),
    ]
    assert query(fresh_database, "SELECT ts, period_s, value, quality FROM interval_readings"
                 " ORDER BY ts") == [
        (T0, 1800, Decimal("0.000"), 3),
        (T0 + timedelta(minutes=30), 1800, Decimal("0.125"), 3),
        (T0 + timedelta(minutes=60), 1800, Decimal("0.250"), 2),
    ]
    assert query(fresh_database, "SELECT obis, value, unit FROM instant_readings"
                 " ORDER BY obis") == [
        ("1.0.14.7.0.255", Decimal("50.01"), "Hz"), ("1.0.32.7.0.255", Decimal("229.87"), "V"),
    ]
    assert query(fresh_database, "SELECT ts, meter_time, drift_s, season, quality"
                 " FROM clock_readings") == [
        (READ_AT, datetime(2024, 3, 1, 3, 5, 7), Decimal("7.0"), "winter", 3),
    ]
    assert query(fresh_database, "SELECT journal, code, kind, text, critical, phase"
                 " FROM events ORDER BY journal") == [
        ("power", 1, "События питания", "Выключение питания", False, 2),
        ("tamper", 5, "Внешние воздействия", "Вскрытие пломбы крышки клеммной колодки", True, None),
    ]
    assert query(fresh_database, "SELECT field, value FROM meter_info ORDER BY field") == [
        ("firmware", "9.3.1"), ("serial_number", "41234567"),
    ]


def test_a_higher_quality_replaces_a_lower_one(store: Store, fresh_database: str) -> None:
    estimated = register("c1", "m1", "100.000", Quality.ESTIMATED)
    ok = register("c1", "m1", "101.000", Quality.OK)
    store.write([estimated])
    result = store.write([ok])

    assert result.rows == {"register_readings": 2}
    assert query(fresh_database, "SELECT value, quality, message_id FROM register_readings"
                 " WHERE obis = '1.0.1.8.0.255'") == [(Decimal("101.000"), 3, ok.id)]


def test_a_lower_or_equal_quality_does_not_replace(store: Store, fresh_database: str) -> None:
    ok = register("c1", "m1", "101.000", Quality.OK)
    store.write([ok])
    result = store.write([register("c1", "m1", "99.000", Quality.ESTIMATED),
                          register("c1", "m1", "98.000", Quality.OK)])

    assert result.rows_written == 0
    assert query(fresh_database, "SELECT value, quality, message_id FROM register_readings"
                 " WHERE obis = '1.0.1.8.0.255'") == [(Decimal("101.000"), 3, ok.id)]


def test_the_best_quality_wins_inside_one_batch(store: Store, fresh_database: str) -> None:
    store.write([register("c1", "m1", "1.000", Quality.INVALID),
                 register("c1", "m1", "2.000", Quality.OK),
                 register("c1", "m1", "3.000", Quality.ESTIMATED)])
    assert query(fresh_database, "SELECT value, quality FROM register_readings"
                 " WHERE obis = '1.0.1.8.0.255'") == [(Decimal("2.000"), 3)]


def test_an_unknown_meter_is_stored_as_unassigned(store: Store, fresh_database: str) -> None:
    store.write(every_stream("c1", "new-meter.1"))

    assert query(fresh_database, "SELECT meter_id, collector_id, registered, serial_number,"
                 " first_seen_at, last_seen_at FROM meters") == [
        ("new-meter.1", "c1", False, "41234567", READ_AT, READ_AT),
    ]


def test_meter_rows_follow_the_latest_collector_and_keep_a_known_serial(
    store: Store, fresh_database: str
) -> None:
    later = READ_AT + timedelta(hours=1)
    earlier = READ_AT - timedelta(hours=1)
    store.write(every_stream("c1", "m1"))
    store.write([register("c2", "m1", "5", read_at=later),
                 build_message("c2", "m1", Stream.INFO,
                               [InfoItem(field="serial_number", value="other", ts=later)], later)])
    store.write([register("c0", "m1", "6", read_at=earlier)])  # a late, older message

    assert query(fresh_database, "SELECT collector_id, serial_number, first_seen_at,"
                 " last_seen_at, registered FROM meters") == [
        ("c2", "41234567", earlier, later, False),
    ]


def test_a_registered_meter_stays_registered(store: Store, fresh_database: str) -> None:
    with psycopg.connect(fresh_database) as conn:
        conn.execute("INSERT INTO meters (meter_id, registered, serial_number)"
                     " VALUES ('m1', true, 'from-registry')")
    store.write(every_stream("c1", "m1"))
    assert query(fresh_database, "SELECT collector_id, registered, serial_number, last_seen_at"
                 " FROM meters") == [("c1", True, "from-registry", READ_AT)]


def test_dead_letters_are_kept_once_per_topic_and_payload(
    store: Store, fresh_database: str
) -> None:
    letter = DeadLetter("isu/v1/c1/m1/daily", "payload is not UTF-8 JSON", b"\xff\x00{",
                        READ_AT)
    result = store.write([], [letter, letter])
    store.write([], [DeadLetter(letter.topic, "again", letter.payload,
                                READ_AT + timedelta(minutes=1))])

    assert result.dead_letters == 1
    assert query(fresh_database, "SELECT topic, reason, payload, deliveries, received_at,"
                 " last_received_at FROM dead_letters") == [
        (letter.topic, "again", b"\xff\x00{", 3, READ_AT, READ_AT + timedelta(minutes=1)),
    ]


def test_data_the_database_refuses_rolls_back_the_whole_batch(
    store: Store, fresh_database: str
) -> None:
    good = register("c1", "m1", "1")
    too_big = build_message("c1", "m1", Stream.EVENTS, [
        EventItem(ts=T0, journal="j", code=2**31, kind="k", text="t", critical=False),
    ], READ_AT)

    with pytest.raises(RejectedDataError, match="integer"):
        store.write([good, too_big])
    assert counts(fresh_database)["register_readings"] == 0
    assert query(fresh_database, "SELECT count(*) FROM meters") == [(0,)]
    store.write([good])  # the connection is usable again
    assert counts(fresh_database)["register_readings"] == 2


def test_an_unreachable_database_is_a_storage_error() -> None:
    store = Store("postgresql://postgres@127.0.0.1:1/none", timeout_s=1)
    with pytest.raises(StorageError) as caught:
        store.open()
    assert caught.value.retryable
    store.close()


def test_a_meter_keeps_its_newest_register_reading_time(store: Store, fresh_database: str) -> None:
    late = T0 + timedelta(days=1)
    store.write([register("c1", "m1", "1", stream=Stream.CURRENT)])
    newer = build_message("c1", "m1", Stream.CURRENT, [
        ReadingItem(obis="1.0.1.8.0.255", ts=late, value=Decimal(2), unit="kWh"),
    ], READ_AT)
    store.write([newer])
    store.write([register("c1", "m1", "1", stream=Stream.DAILY)])  # older: does not move it back
    assert query(fresh_database, "SELECT last_reading_at FROM meters") == [(late,)]
