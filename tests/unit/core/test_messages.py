"""The MQTT contract v1: ids, topics, validation (DESIGN §4)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import MessageError
from core.messages import (
    AckMessage,
    ack_topic,
    build_message,
    data_topic,
    parse_message,
    parse_topic,
    state_topic,
    status_topic,
)
from core.model import ClockItem, EventItem, InfoItem, Quality, ReadingItem, Stream

T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def _reading(value: str = "3196.200", obis: str = "1.0.1.8.0.255") -> ReadingItem:
    return ReadingItem(obis=obis, ts=T0, value=Decimal(value), unit="kWh")


def test_same_data_gets_the_same_id_whenever_it_is_read() -> None:
    first = build_message("site-1", "m-001", Stream.CURRENT, [_reading()], T0)
    later = build_message("site-1", "m-001", Stream.CURRENT, [_reading()], datetime.now(UTC))
    assert first.id == later.id
    assert len(first.id) == 64


@pytest.mark.parametrize(
    ("collector", "meter", "stream", "value"),
    [
        ("site-2", "m-001", Stream.CURRENT, "3196.200"),
        ("site-1", "m-002", Stream.CURRENT, "3196.200"),
        ("site-1", "m-001", Stream.DAILY, "3196.200"),
        ("site-1", "m-001", Stream.CURRENT, "3196.201"),
    ],
)
def test_any_difference_changes_the_id(
    collector: str, meter: str, stream: Stream, value: str
) -> None:
    base = build_message("site-1", "m-001", Stream.CURRENT, [_reading()], T0)
    other = build_message(collector, meter, stream, [_reading(value)], T0)
    assert other.id != base.id


def test_round_trip_keeps_every_field_and_exact_values() -> None:
    message = build_message("site-1", "m-001", Stream.CURRENT, [_reading("0.001")], T0)
    payload = message.to_json()
    document = json.loads(payload)
    assert document["schema"] == 1
    assert document["read_at"] == "2026-11-22T09:30:00Z"
    assert document["items"][0]["value"] == "0.001"  # a string, never a float
    again = parse_message(payload)
    assert again == message
    assert isinstance(again.items[0], ReadingItem)
    assert again.items[0].value == Decimal("0.001")


@pytest.mark.parametrize(
    ("stream", "item"),
    [
        (
            Stream.EVENTS,
            EventItem(
                ts=T0,
                journal="01",
                code=1,
                kind="События питания",
                text="Включение",
                critical=False,
            ),
        ),
        (Stream.INFO, InfoItem(field="serial_number", value="40680048", ts=T0)),
        (
            Stream.CLOCK,
            ClockItem(ts=T0, meter_time=datetime(2026, 11, 22, 12, 30, 2), drift_s=Decimal("2.0")),
        ),
    ],
)
def test_each_stream_parses_into_its_item_type(stream: Stream, item: object) -> None:
    message = build_message("site-1", "m-001", stream, [item], T0)  # type: ignore[list-item]
    assert parse_message(message.to_json()).items == [item]


def test_unknown_fields_are_ignored_so_collectors_can_be_upgraded_first() -> None:
    message = build_message("site-1", "m-001", Stream.CURRENT, [_reading()], T0)
    document = json.loads(message.to_json())
    document["firmware_hint"] = "new"
    document["items"][0]["extra"] = 1
    assert parse_message(json.dumps(document).encode()).id == message.id


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema": 2}', "unsupported schema"),
    ],
)
def test_malformed_payloads_raise_message_error(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        parse_message(payload)


def _document(**changes: object) -> bytes:
    document = json.loads(
        build_message("site-1", "m-001", Stream.CURRENT, [_reading()], T0).to_json()
    )
    document.update(changes)
    return json.dumps(document).encode()


def test_a_tampered_item_no_longer_matches_its_id() -> None:
    document = json.loads(_document())
    document["items"][0]["value"] = "9999.000"
    with pytest.raises(MessageError, match="id is not the SHA-256"):
        parse_message(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"stream": "weather"}, "stream"),
        ({"meter": "bad/id"}, "meter"),
        ({"read_at": "2026-11-22T09:30:00"}, "read_at"),
    ],
)
def test_schema_violations_name_the_field(changes: dict[str, object], where: str) -> None:
    with pytest.raises(MessageError, match=where):
        parse_message(_document(**changes))


def test_non_finite_and_naive_values_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        ReadingItem(obis="1.0.1.8.0.255", ts=T0, value=Decimal("NaN"), unit="kWh")
    with pytest.raises(ValueError, match="offset"):
        ReadingItem(obis="1.0.1.8.0.255", ts=datetime(2026, 1, 1), value=Decimal(1), unit="kWh")


def test_topics_follow_the_contract() -> None:
    assert data_topic("site-1", "m-001", Stream.INSTANT) == "isu/v1/site-1/m-001/instant"
    assert state_topic("site-1", "m-001") == "isu/v1/site-1/m-001/state"
    assert status_topic("site-1") == "isu/v1/site-1/status"
    assert ack_topic("site-1") == "isu/v1/site-1/ack"
    parts = parse_topic("isu/v1/site-1/m-001/current")
    assert (parts.collector, parts.meter, parts.leaf) == ("site-1", "m-001", "current")
    assert parse_topic("isu/v1/site-1/ack").meter is None
    for bad in ("isu/v2/a/b/c", "isu/v1/a", "isu/v1/a/b/c/d"):
        with pytest.raises(MessageError):
            parse_topic(bad)


def test_ack_message_round_trip() -> None:
    ack = AckMessage(ids=["a" * 64], committed_at=T0)
    assert AckMessage.model_validate_json(ack.to_json()) == ack


def test_quality_ranks_ok_highest() -> None:
    ranks = sorted(Quality, key=lambda quality: quality.rank)
    assert ranks == [Quality.INVALID, Quality.ESTIMATED, Quality.INCOMPLETE, Quality.OK]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_message_error(payload: bytes) -> None:
    with contextlib.suppress(MessageError):
        parse_message(payload)
