"""The collector's fast message encoding equals the reference, byte for byte, on every stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import BaseModel

from collector.payloads import encode_message
from core.messages import build_message, data_topic, message_id, parse_message
from core.model import ClockItem, EventItem, InfoItem, Quality, ReadingItem, Stream

T0 = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
T1 = datetime(2026, 11, 22, 10, 30, 0, 250000, tzinfo=UTC)
MSK = timezone(timedelta(hours=3))


def reading(obis: str, value: str, ts: datetime = T0, **extra: object) -> ReadingItem:
    return ReadingItem(obis=obis, ts=ts, value=Decimal(value), unit="kWh", **extra)


CASES: dict[Stream, list[BaseModel]] = {
    Stream.CURRENT: [
        reading("1.0.1.8.0.255", "12345.678"),
        reading("1.0.1.8.1.255", "0.000"),
        reading("1.0.2.8.0.255", "1E+3"),
        reading("1.0.3.8.0.255", "-0.5", quality=Quality.INVALID),
        ReadingItem(obis="1.0.4.8.0.255", ts=T0, value=Decimal("2"), unit='k"v\\arh\t'),
        ReadingItem(obis="1.0.4.8.1.255", ts=T0, value=Decimal("3"), unit="квар·ч"),
    ],
    Stream.DAILY: [reading("1.0.1.8.0.255", "7.25", ts=T0.astimezone(MSK))],
    Stream.MONTHLY: [reading("1.0.1.8.2.255", "0.0000001")],
    Stream.INTERVAL: [
        reading("1.0.1.29.0.255", "0.125", period_s=1800),
        reading("1.0.1.29.0.255", "0.130", ts=T0 + timedelta(minutes=30), period_s=1800,
                quality=Quality.INCOMPLETE),
    ],
    Stream.INSTANT: [
        ReadingItem(obis="1.0.32.7.0.255", ts=T1, value=Decimal("229.91"), unit="V"),
        ReadingItem(obis="1.0.13.7.0.255", ts=T1, value=Decimal("-0.987"), unit="1"),
        ReadingItem(obis="1.0.14.7.0.255", ts=T1, value=Decimal("50.00"), unit="Hz"),
    ],
    Stream.CLOCK: [
        ClockItem(ts=T1, meter_time=datetime(2026, 11, 22, 13, 30, 5), drift_s=Decimal("4.8"),
                  season="winter"),
        ClockItem(ts=T0, meter_time=datetime(2026, 11, 22, 13, 29, 59, 120000),
                  drift_s=Decimal("-0.0")),
    ],
    Stream.EVENTS: [
        EventItem(ts=T0, journal="power", code=1, kind="power_off", text="Выключение фазы",
                  critical=True, phase=2),
        EventItem(ts=T1, journal="collector:clock", code=0, kind="clock", text='"a"\\\n\x01',
                  critical=False, quality=Quality.ESTIMATED),
    ],
    Stream.INFO: [
        InfoItem(field="serial_number", value="01234567", ts=T0),
        InfoItem(field="firmware", value="9.0.0 «α»", ts=T1),
    ],
}


@pytest.mark.parametrize("stream", list(Stream))
def test_the_fast_path_equals_the_reference(stream: Stream) -> None:
    items = CASES[stream]
    read_at = T1.astimezone(MSK)
    reference = build_message("site-1", "meter.7", stream, items, read_at)  # type: ignore[arg-type]
    entry = encode_message("site-1", "meter.7", stream, items, read_at)
    assert entry.id == reference.id == message_id("site-1", "meter.7", stream, items)
    assert entry.topic == data_topic("site-1", "meter.7", stream)
    assert entry.payload == reference.to_json()
    assert parse_message(entry.payload) == reference


def test_every_stream_is_covered() -> None:
    assert set(CASES) == set(Stream)


def test_a_naive_read_time_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        encode_message("c", "m", Stream.CURRENT, CASES[Stream.CURRENT], datetime(2026, 1, 1))


def test_an_unknown_item_type_takes_the_reference_path() -> None:
    class Odd(ReadingItem):
        note: str = "x"

    items = [Odd(obis="1.0.1.8.0.255", ts=T0, value=Decimal(1), unit="kWh")]
    entry = encode_message("c", "m", Stream.CURRENT, items, T0)
    assert entry.id == message_id("c", "m", Stream.CURRENT, items)
