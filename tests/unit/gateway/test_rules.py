"""The rules a message must pass (core.validation), one test per rule, and how the gateway's
batching applies them: typed reasons, the time of receipt as "now", whole messages refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.messages import ReadingsMessage, build_message, data_topic
from core.model import ClockItem, EventItem, ReadingItem, Stream
from core.validation import (
    DEFAULT_MAX_FUTURE_S,
    InvalidMessageError,
    Rule,
    check_content,
    is_energy_obis,
    validate_delivery,
)
from gateway.batching import Delivery, RejectKind, classify

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=30)


def reading(obis: str = "1.0.1.8.0.255", value: str = "12.5", ts: datetime = EARLIER,
            unit: str = "kWh", **extra: object) -> ReadingItem:
    return ReadingItem(obis=obis, ts=ts, value=Decimal(value), unit=unit, **extra)


def message(*items: ReadingItem, stream: Stream = Stream.DAILY,
            read_at: datetime = EARLIER) -> ReadingsMessage:
    return build_message("c1", "m1", stream, list(items or [reading()]), read_at)


def topic_of(msg: ReadingsMessage) -> str:
    return data_topic(msg.collector, msg.meter, msg.stream)


def refused(topic: str, payload: bytes, max_future_s: float = DEFAULT_MAX_FUTURE_S
            ) -> InvalidMessageError:
    with pytest.raises(InvalidMessageError) as caught:
        validate_delivery(topic, payload, now=NOW, max_future_s=max_future_s)
    return caught.value


def document(msg: ReadingsMessage, **changes: object) -> bytes:
    return json.dumps({**json.loads(msg.to_json()), **changes}).encode()


def test_a_good_message_passes_every_rule() -> None:
    msg = message()
    assert validate_delivery(topic_of(msg), msg.to_json(), now=NOW) == msg


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xff\xfe{", "payload is not UTF-8 JSON"),
    (b"{not json", "payload is not UTF-8 JSON: Expecting property name"),
    (b"[1, 2]", "payload is not a JSON object"),
    (b"", "payload is not UTF-8 JSON"),
])
def test_not_json(payload: bytes, reason: str) -> None:
    error = refused("isu/v1/c1/m1/daily", payload)
    assert error.rule is Rule.NOT_JSON
    assert error.reason.startswith(reason), error.reason


@pytest.mark.parametrize(("changes", "reason"), [
    ({"schema": 2}, "unsupported schema 2"),
    ({"id": None}, "id: Input should be a valid string"),
    ({"read_at": "2024-03-01T11:00:00"}, "read_at: Value error, a time must carry its offset"),
    ({"items": [{"obis": "1.0.1.8.0.255", "ts": "2024-03-01T11:30:00Z", "value": "lots",
                 "unit": "kWh"}]}, "items.0.value: Input should be a valid decimal"),
    ({"items": []}, "payload: Value error, id is not the SHA-256"),
])
def test_not_the_schema_names_the_field(changes: dict[str, object], reason: str) -> None:
    msg = message()
    error = refused(topic_of(msg), document(msg, **changes))
    assert error.rule is Rule.SCHEMA
    assert error.reason.startswith(reason), error.reason


def test_the_failing_item_is_named_by_its_place() -> None:
    msg = message(reading(), reading("1.0.2.8.0.255"))
    items = json.loads(msg.to_json())["items"]
    items[1]["ts"] = "yesterday"
    error = refused(topic_of(msg), document(msg, items=items))
    assert error.rule is Rule.SCHEMA
    assert error.reason.startswith("items.1.ts: "), error.reason


@pytest.mark.parametrize(("topic", "payload_stream", "reason"), [
    ("isu/v1/c1/m1/weekly", "daily", "unknown stream 'weekly' in topic"),
    ("isu/v1/c1/m1/daily", "weekly", "unknown stream 'weekly' in payload"),
])
def test_an_unknown_stream_in_the_topic_or_the_payload(
    topic: str, payload_stream: str, reason: str
) -> None:
    error = refused(topic, document(message(), stream=payload_stream))
    assert error.rule is Rule.UNKNOWN_STREAM
    assert error.reason == reason


@pytest.mark.parametrize(("topic", "reason"), [
    ("isu/v1/c1/m2/daily", "topic says c1/m2/daily, payload says c1/m1/daily"),
    ("isu/v1/c1/status", "topic 'isu/v1/c1/status' is not a data topic"),
    ("isu/v2/c1/m1/daily", "topic 'isu/v2/c1/m1/daily' is not under isu/v1/"),
])
def test_a_topic_that_is_no_data_topic_or_disagrees_with_the_payload(
    topic: str, reason: str
) -> None:
    error = refused(topic, message().to_json())
    assert error.rule is Rule.TOPIC
    assert error.reason == reason


@pytest.mark.parametrize(("stream", "item"), [
    (Stream.DAILY, reading("1.0.1.8.0.255", "-0.001")),
    (Stream.CURRENT, reading("1.0.4.8.3.255", "-5", unit="kvarh")),
    (Stream.INTERVAL, reading("1.0.2.29.0.255", "-0.125", period_s=1800)),
])
def test_negative_energy(stream: Stream, item: ReadingItem) -> None:
    msg = message(item, stream=stream)
    error = refused(topic_of(msg), msg.to_json())
    assert error.rule is Rule.NEGATIVE_ENERGY
    assert error.reason == (
        f"items.0.value: negative energy {item.value} {item.unit} on {item.obis}"
        " (an energy register or interval energy cannot be negative)"
    )


@pytest.mark.parametrize("item", [
    reading("1.0.1.7.0.255", "-2.5", unit="kW"),     # P total: export
    reading("1.0.3.7.0.255", "-0.8", unit="kvar"),   # Q total: capacitive
    reading("1.0.13.7.0.255", "-0.97", unit="1"),    # cos φ
])
def test_instantaneous_values_may_be_negative(item: ReadingItem) -> None:
    msg = message(item, stream=Stream.INSTANT)
    assert validate_delivery(topic_of(msg), msg.to_json(), now=NOW) == msg


def test_zero_energy_is_not_negative() -> None:
    msg = message(reading(value="0"), reading("1.0.2.8.0.255", "-0"))
    assert validate_delivery(topic_of(msg), msg.to_json(), now=NOW) == msg


@pytest.mark.parametrize(("obis", "energy"), [
    ("1.0.1.8.0.255", True), ("1.0.4.8.8.255", True), ("1.0.3.29.0.255", True),
    ("1.0.1.7.0.255", False), ("1.0.5.8.0.255", False), ("1.0.32.7.0.255", False),
    ("1.0.1.9.0.255", False), ("bad", False),
])
def test_energy_channels_are_c_1_to_4_with_d_8_or_29(obis: str, energy: bool) -> None:
    assert is_energy_obis(obis) is energy


def test_a_time_in_the_future() -> None:
    ahead = NOW + timedelta(seconds=DEFAULT_MAX_FUTURE_S + 1)
    msg = message(reading(ts=EARLIER), reading("1.0.2.8.0.255", ts=ahead))
    error = refused(topic_of(msg), msg.to_json())
    assert error.rule is Rule.FUTURE_TIME
    assert error.reason == (
        "items.1.ts 2024-03-01T12:05:01Z is in the future: 301 s after receipt at"
        " 2024-03-01T12:00:00Z, more than the 300 s allowed"
    )


def test_read_at_in_the_future() -> None:
    msg = message(read_at=NOW + timedelta(hours=1))
    error = refused(topic_of(msg), msg.to_json())
    assert error.rule is Rule.FUTURE_TIME
    assert error.reason.startswith("read_at 2024-03-01T13:00:00Z is in the future: 3600 s")


def test_every_item_kind_has_its_time_checked() -> None:
    ahead = NOW + timedelta(days=1)
    clock = build_message("c1", "m1", Stream.CLOCK, [
        ClockItem(ts=ahead, meter_time=datetime(2024, 3, 2, 15, 0), drift_s=Decimal(0))], NOW)
    event = build_message("c1", "m1", Stream.EVENTS, [
        EventItem(ts=ahead, journal="power", code=1, kind="k", text="t", critical=False)], NOW)
    for msg in (clock, event):
        assert refused(topic_of(msg), msg.to_json()).rule is Rule.FUTURE_TIME


def test_the_limit_is_inclusive_and_configurable() -> None:
    at_limit = message(reading(ts=NOW + timedelta(seconds=300)))
    check_content(at_limit, now=NOW, max_future_s=300)
    with pytest.raises(InvalidMessageError) as caught:
        check_content(message(reading(ts=NOW + timedelta(seconds=1))), now=NOW, max_future_s=0)
    assert caught.value.rule is Rule.FUTURE_TIME
    assert caught.value.reason.endswith("more than the 0 s allowed")


def delivery(msg: ReadingsMessage, received_at: datetime = NOW, mid: int = 1) -> Delivery:
    return Delivery(topic_of(msg), msg.to_json(), mid, 1, 1, received_at, 0.0)


def test_the_gateway_measures_the_future_from_each_delivery_s_receipt() -> None:
    msg = message(reading(ts=NOW + timedelta(minutes=10)), read_at=NOW)
    early, late = delivery(msg, NOW, 1), delivery(msg, NOW + timedelta(minutes=6), 2)
    plan = classify([early, late])
    assert [(item.delivery.mid, item.kind) for item in plan.rejected] == [
        (1, RejectKind.FUTURE_TIME)]
    assert [d.mid for d, _ in plan.accepted] == [2]
    assert classify([early], max_future_s=900).messages == [msg]


def test_one_bad_item_sends_the_whole_message_to_the_dead_letters() -> None:
    msg = message(reading(value="1"), reading("1.0.2.8.0.255", "-1"), reading("1.0.3.8.0.255"))
    plan = classify([delivery(msg)])
    assert plan.accepted == []
    [item] = plan.rejected
    assert item.kind is RejectKind.NEGATIVE_ENERGY
    assert item.reason.startswith("items.1.value: negative energy -1 kWh")
    assert item.dead_letter().payload == msg.to_json()


def test_every_rule_is_a_reject_kind() -> None:
    assert {RejectKind.of(rule) for rule in Rule} <= set(RejectKind)
    assert {kind.value for kind in RejectKind} - {rule.value for rule in Rule} == {
        "unstorable", "database"}
