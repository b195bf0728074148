"""Messages → table rows (pure): column order, quality ranks, the meter summary of a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from core.messages import build_message
from core.model import ClockItem, InfoItem, Quality, ReadingItem, Stream
from timeseries.rows import DeadLetter, batch_rows, dedupe_dead_letters

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def reading(value: str = "1.5", quality: Quality = Quality.OK, **extra: object) -> ReadingItem:
    return ReadingItem(obis="1.0.1.8.0.255", ts=T0, value=Decimal(value), unit="kWh",
                       quality=quality, **extra)


def test_register_streams_share_a_table_with_their_stream_and_quality_rank() -> None:
    daily = build_message("c1", "m1", Stream.DAILY, [reading(quality=Quality.ESTIMATED)], T0)
    rows = batch_rows([daily])
    assert rows.tables["register_readings"] == [
        ("m1", "daily", "1.0.1.8.0.255", T0, Decimal("1.5"), "kWh", 1, T0, daily.id),
    ]
    assert rows.row_count == 1


def test_interval_rows_carry_their_period() -> None:
    message = build_message("c1", "m1", Stream.INTERVAL, [reading(period_s=1800)], T0)
    assert batch_rows([message]).tables["interval_readings"] == [
        ("m1", "1.0.1.8.0.255", T0, 1800, Decimal("1.5"), "kWh", 3, T0, message.id),
    ]


def test_the_meter_clock_is_stored_as_shown_without_offset() -> None:
    shown = datetime(2024, 3, 1, 3, 0, 5, tzinfo=timezone(timedelta(hours=3)))
    message = build_message("c1", "m1", Stream.CLOCK,
                            [ClockItem(ts=T0, meter_time=shown, drift_s=Decimal("5"))], T0)
    [row] = batch_rows([message]).tables["clock_readings"]
    assert row[2] == datetime(2024, 3, 1, 3, 0, 5)


def test_the_meter_summary_follows_the_latest_message() -> None:
    later = T0 + timedelta(hours=1)
    messages = [
        build_message("c2", "m1", Stream.DAILY, [reading("2")], later),
        build_message("c1", "m1", Stream.DAILY, [reading("1")], T0),
        build_message("c1", "m1", Stream.INFO, [
            InfoItem(field="serial_number", value="old", ts=T0),
            InfoItem(field="serial_number", value="new", ts=later),
            InfoItem(field="firmware", value="1.0", ts=later),
        ], T0),
    ]
    meter = batch_rows(messages).meters["m1"]
    # the newest register reading's ts: both daily readings are at T0 (reading()'s ts)
    assert meter.as_row() == ("m1", "c2", T0, later, "new", T0)


def test_dead_letters_are_counted_per_topic_and_payload() -> None:
    one = DeadLetter("t", "r", b"x", T0)
    other = DeadLetter("t", "r", b"y", T0)
    late = DeadLetter("t", "r2", b"x", T0 + timedelta(seconds=1))
    assert dedupe_dead_letters([one, other, late]) == [(one, 2), (other, 1)]
