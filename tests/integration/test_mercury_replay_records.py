"""The mercury230 driver's journals, snapshots and profile against the scripted fake meter.

DOC3 frames come from docs/reference/mercury-protocol.md §3.4 (tests/unit/mercury/vectors.py);
frames the document lacks are literal bodies whose CRC this suite's bitwise CRC computes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.model import EventItem, Quality, ReadingItem, Stream
from drivers.base import MeterEndpoint
from drivers.mercury import Mercury230Driver
from tests.integration.test_mercury_replay import FakeMeter, f, over_memory
from tests.unit.mercury import vectors as v

OK_80 = f("80 00")
EMPTY_RECORD_80 = f("80" + "00" * 12)


def _driver_80(stream: object, **options: object) -> Mercury230Driver:
    endpoint = MeterEndpoint("meter-80", "mercury230", 0x80, timeout_s=1.0, options=dict(options))
    return Mercury230Driver(stream, endpoint, now=lambda: datetime(2008, 3, 1, tzinfo=UTC))  # type: ignore[arg-type]


JOURNAL_SCRIPT = {
    v.D_OPEN_BINARY_REQ: OK_80,
    v.D_CLOSE_REQ: OK_80,
    # Journal 02: the DOC3 "last record" answer, number 00; record 9 was never written.
    v.D_CLOCK_JOURNAL_REQ: v.D_CLOCK_JOURNAL_RESP,
    f("80 04 02 09"): EMPTY_RECORD_80,
    # Journal 01: the last record is 3 (synthetic), record 2 is DOC3's, record 1 is empty.
    f("80 04 01 FF"): f("80 00 00 08 03 02 08 00 00 09 03 02 08 03"),
    v.D_POWER_JOURNAL_REQ: v.D_POWER_JOURNAL_RESP,
    f("80 04 01 01"): EMPTY_RECORD_80,
}


def _summary(items: list[EventItem]) -> list[tuple[str, str, int, str, bool]]:
    return [(item.ts.isoformat(), item.journal, item.code, item.text, item.critical)
            for item in items]


async def test_doc3_journals_become_events_in_utc() -> None:
    async with over_memory(FakeMeter(JOURNAL_SCRIPT)) as stream:
        result = await _driver_80(stream, journals=[1, 2]).read([Stream.EVENTS])
    assert result.errors == {}
    # Moscow was UTC+3 in winter 2008.
    assert _summary(result.events) == [
        ("2008-01-23T07:23:53+00:00", "mercury230:02", 1,
         "Коррекция времени: время до коррекции", True),
        ("2008-01-23T07:23:59+00:00", "mercury230:02", 2,
         "Коррекция времени: время после коррекции", False),
        ("2008-02-01T04:53:01+00:00", "mercury230:01", 1, "Включение ПУ", False),
        ("2008-02-01T09:50:09+00:00", "mercury230:01", 2, "Выключение ПУ", False),
        ("2008-02-03T05:00:00+00:00", "mercury230:01", 1, "Включение ПУ", False),
        ("2008-02-03T06:00:00+00:00", "mercury230:01", 2, "Выключение ПУ", False),
    ]
    assert {item.kind for item in result.events} == {"Коррекция времени", "События питания"}


async def test_since_stops_the_walk_back_and_filters() -> None:
    since = datetime(2008, 2, 3, 5, 30, tzinfo=UTC)
    meter = FakeMeter(JOURNAL_SCRIPT)
    async with over_memory(meter) as stream:
        result = await _driver_80(stream, journals=[1, 2]).read([Stream.EVENTS], since=since)
    assert _summary(result.events) == [
        ("2008-02-03T06:00:00+00:00", "mercury230:01", 2, "Выключение ПУ", False),
    ]
    # Record 3 already ends after since but starts before it: nothing older is read.
    assert v.D_POWER_JOURNAL_REQ not in meter.received
    assert f("80 04 02 09") not in meter.received


async def test_a_journal_the_meter_does_not_keep_is_skipped() -> None:
    script = {**JOURNAL_SCRIPT, f("80 04 1A FF"): f("80 01")}
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver_80(stream, journals=[0x1A, 1]).read([Stream.EVENTS])
    assert result.errors == {}
    assert [item.journal for item in result.events] == ["mercury230:01"] * 4


# --- snapshots: DOC3 18h archive at 0x14 -----------------------------------------------------

ARCHIVE_SCRIPT = {
    f("14 01 01 01 01 01 01 01 01"): f("14 00"),
    f("14 02"): f("14 00"),
    f("14 04 00"): f("14 00 00 12 01 01 07 19 01"),  # 12:00:00 Mon 01.07.19, winter
    f("14 08 12"): f("14 B4 E3 C2 95 57 40"),  # M6's variant: extended archives (b6 bit 6)
    f("14 18 00 23 06 19 00"): f("14 00 00 5E 7D FF FF FF FF 00 00 DC 03 00 00 9D 0E"),
    v.D_ARCHIVE_REQ: v.D_ARCHIVE_RESP,
}


async def test_daily_from_the_doc3_archive() -> None:
    endpoint = MeterEndpoint("meter-14", "mercury230", 0x14, timeout_s=1.0,
                             options={"zones": [2]})
    since = datetime(2019, 6, 22, 21, 0, tzinfo=UTC)  # 00:00 23.06.19 in Moscow
    async with over_memory(FakeMeter(ARCHIVE_SCRIPT)) as stream:
        driver = Mercury230Driver(stream, endpoint, now=lambda: datetime(2019, 7, 1, tzinfo=UTC))
        result = await driver.read([Stream.DAILY], since=since,
                                   until=datetime(2019, 6, 23, tzinfo=UTC))
    assert result.errors == {}
    rows = {(item.obis, str(item.value)) for item in result.readings[Stream.DAILY]}
    assert rows == {
        ("1.0.1.8.2.255", "31.838"), ("1.0.3.8.2.255", "0.732"), ("1.0.4.8.2.255", "3.485"),
        ("1.0.1.8.0.255", "32.094"), ("1.0.3.8.0.255", "0.988"), ("1.0.4.8.0.255", "3.741"),
    }
    assert {item.ts for item in result.readings[Stream.DAILY]} == {since}


# --- profile: DOC3 08 13 and 06 at 0x80 ------------------------------------------------------

PROFILE_SCRIPT = {
    v.D_OPEN_BINARY_REQ: OK_80,
    v.D_CLOSE_REQ: OK_80,
    f("80 08 03"): f("80 09 00 00"),  # firmware 9.0.0: the pointer is a record index
    f("80 08 12"): f("80 B4 E4 C2 95 57 40"),  # profile present, A = 1000, 131 KB memory
    v.D_PROFILE_RECORD_REQ: v.D_PROFILE_RECORD_RESP,
}


async def test_doc3_profile_pointer_and_record_disagree_so_nothing_is_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # DOC3's 08 13 example names 09:00 04.03.08 while the record at 0x0010 holds 10:00
    # 05.03.08 (pitfall 13): a mismatch is skipped, never stored under a wrong time.
    script = {**PROFILE_SCRIPT, v.D_PROFILE_LAST_REQ: v.D_PROFILE_LAST_RESP}
    meter = FakeMeter(script)
    async with over_memory(meter) as stream:
        result = await _driver_80(stream).read(
            [Stream.INTERVAL], since=datetime(2008, 3, 4, 5, 30, tzinfo=UTC),
            until=datetime(2008, 3, 4, 6, tzinfo=UTC),
        )
    assert result.readings.get(Stream.INTERVAL, []) == []
    assert v.D_PROFILE_RECORD_REQ in meter.received
    assert "skipped" in caplog.text


async def test_doc3_profile_record_becomes_interval_energy() -> None:
    # The last record is the DOC3 one: index 1 at 10:00 05.03.08, status 0A (winter,
    # incomplete), T = 30; record 0 (09:30) is older than since.
    script = {**PROFILE_SCRIPT, f("80 08 13"): f("80 00 01 0A 10 00 05 03 08 1E")}
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver_80(stream).read(
            [Stream.INTERVAL], since=datetime(2008, 3, 5, 6, 30, tzinfo=UTC),
            until=datetime(2008, 3, 5, 7, 0, tzinfo=UTC),
        )
    start = datetime(2008, 3, 5, 6, 30, tzinfo=UTC)  # [09:30, 10:00) Moscow time
    assert result.readings[Stream.INTERVAL] == [
        ReadingItem(obis="1.0.1.29.0.255", ts=start, value=Decimal("5.25"), unit="kWh",
                    quality=Quality.INCOMPLETE, period_s=1800),
        ReadingItem(obis="1.0.3.29.0.255", ts=start, value=Decimal(0), unit="kvarh",
                    quality=Quality.INCOMPLETE, period_s=1800),
        ReadingItem(obis="1.0.4.29.0.255", ts=start, value=Decimal(0), unit="kvarh",
                    quality=Quality.INCOMPLETE, period_s=1800),
    ]


async def test_profile_byte_address_pointer_before_firmware_9() -> None:
    script = {**PROFILE_SCRIPT, f("80 08 03"): f("80 08 00 00"),
              f("80 08 13"): f("80 00 10 02 10 00 05 03 08 1E")}
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver_80(stream).read(
            [Stream.INTERVAL], since=datetime(2008, 3, 5, 6, 30, tzinfo=UTC),
            until=datetime(2008, 3, 5, 7, 0, tzinfo=UTC),
        )
    assert len(result.readings[Stream.INTERVAL]) == 3


async def test_reprogramming_journal_has_a_date_only() -> None:
    script = {
        v.D_OPEN_BINARY_REQ: OK_80,
        v.D_CLOSE_REQ: OK_80,
        # Last record 1: 05.03.08, 2 write requests, parameters 0C and 0D written, flag 0.
        f("80 04 13 FF"): f("80 05 03 08 02 00 00 00 00 00 30 00 00 01"),
        f("80 04 13 00"): f("80 00 00 00 00 00 00 00 00 00 00 00 00"),
    }
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver_80(stream, journals=[0x13]).read([Stream.EVENTS])
    (event,) = result.events
    assert event.ts == datetime(2008, 3, 4, 21, 0, tzinfo=UTC)
    assert (event.journal, event.code, event.critical) == ("mercury230:13", 1, True)
    assert event.text == "Перепрограммирование параметров ПУ (запросов записи: 2)"
    assert event.quality == Quality.ESTIMATED


async def test_profile_stamped_at_the_start_when_the_model_says_so() -> None:
    script = {**PROFILE_SCRIPT, f("80 08 13"): f("80 00 01 0A 10 00 05 03 08 1E")}
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver_80(stream, profile_stamp="start").read(
            [Stream.INTERVAL], since=datetime(2008, 3, 5, 7, 0, tzinfo=UTC),
            until=datetime(2008, 3, 5, 7, 30, tzinfo=UTC),
        )
    assert {item.ts for item in result.readings[Stream.INTERVAL]} == {
        datetime(2008, 3, 5, 7, 0, tzinfo=UTC)  # [10:00, 10:30) Moscow time
    }
