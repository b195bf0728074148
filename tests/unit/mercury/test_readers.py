"""Pure parts of the stream readers: ring order, range selection, record conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.model import Quality
from drivers.mercury.journals import record_events, ring_back
from drivers.mercury.profile import interval_items, record_address
from drivers.mercury.reading import local_to_utc
from drivers.mercury.records import JournalRecord, ProfileRecord
from drivers.mercury.snapshots import daily_days, month_starts

MSK = ZoneInfo("Europe/Moscow")


def test_ring_back_walks_the_ten_records_newest_first() -> None:
    assert ring_back(3) == [3, 2, 1, 0, 9, 8, 7, 6, 5, 4]
    assert ring_back(0)[:2] == [0, 9]


def test_record_events_skip_empty_stamps() -> None:
    record = JournalRecord((datetime(2024, 3, 1, 12, 0), None))
    (event,) = record_events(0x12, record, MSK)
    assert event.ts == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    assert (event.journal, event.code, event.critical) == ("mercury230:12", 1, True)
    assert record_events(0x01, JournalRecord((None, None)), MSK) == []


def test_local_to_utc() -> None:
    assert local_to_utc(datetime(2008, 1, 23, 10, 23, 53), MSK) == datetime(
        2008, 1, 23, 7, 23, 53, tzinfo=UTC
    )


def test_daily_days_default_and_range() -> None:
    today = date(2024, 3, 10)
    assert daily_days(today, MSK, None, None) == [today]
    since = datetime(2024, 3, 6, 21, 0, tzinfo=UTC)  # 00:00 on the 7th in Moscow
    assert daily_days(today, MSK, since, None) == [date(2024, 3, d) for d in (7, 8, 9, 10)]
    until = datetime(2024, 3, 8, 21, 0, tzinfo=UTC)
    assert daily_days(today, MSK, since, until) == [date(2024, 3, 7), date(2024, 3, 8)]
    late = datetime(2024, 3, 6, 21, 1, tzinfo=UTC)
    assert daily_days(today, MSK, late, until) == [date(2024, 3, 8)]


def test_month_starts() -> None:
    today = date(2024, 3, 10)
    assert month_starts(today, MSK, None, None) == [date(2024, 3, 1)]
    since = datetime(2023, 11, 30, 21, 0, tzinfo=UTC)
    assert month_starts(today, MSK, since, None) == [
        date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
    ]


def test_record_addresses_wrap_and_follow_the_pointer_convention() -> None:
    assert record_address(1, True, 0, 8192) == 0x10
    assert record_address(0x1000, True, 0, 8192) == 0x10000  # A16 set
    assert record_address(0, True, 1, 8192) == 0x1FFF0  # wrapped to the last record
    assert record_address(0x10, False, 1, 4096) == 0x00
    assert record_address(0x00, False, 1, 4096) == 0xFFF0


def test_interval_items_convert_counts_to_energy() -> None:
    record = ProfileRecord(0x0A, datetime(2008, 3, 5, 10), 30, 10500, None, 3, 0)
    start = datetime(2008, 3, 5, 6, 30, tzinfo=UTC)
    items = interval_items(record, start, 1000)
    assert [(i.obis, i.value) for i in items] == [
        ("1.0.1.29.0.255", Decimal("5.25")), ("1.0.3.29.0.255", Decimal("0.0015")),
        ("1.0.4.29.0.255", Decimal(0)),
    ]
    assert {i.quality for i in items} == {Quality.INCOMPLETE}
    assert {i.period_s for i in items} == {1800}


def test_reprogramming_record_round_trip() -> None:
    from drivers.mercury.answer import decode_answer, expected_data_length
    from drivers.mercury.records import ReprogrammingRecord
    from drivers.mercury.request import ReadJournalRequest

    record = ReprogrammingRecord(date(2008, 3, 5), 2, bytes(6) + b"\x30", 0, 1)
    request = ReadJournalRequest(0x80, 0x13, 0xFF)
    assert expected_data_length(request) == 13
    assert decode_answer(request, record.to_bytes()) == record
    empty = ReprogrammingRecord.from_bytes(bytes(12))
    assert empty.day is None
