"""Batching and sorting of deliveries: pure, with an injected clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.messages import ReadingsMessage, build_message, data_topic, state_topic
from core.model import EventItem, ReadingItem, Stream
from gateway.batching import Delivery, RejectKind, ack_ids, classify, collect_batch

T0 = datetime(2024, 3, 1, tzinfo=UTC)


class FakeQueue:
    """``get(timeout)`` over scripted arrivals at fake times; the clock advances as it waits."""

    def __init__(self, arrivals: list[float]) -> None:
        self.arrivals = list(arrivals)
        self.now = 0.0
        self.count = 0

    def clock(self) -> float:
        return self.now

    def get(self, timeout_s: float) -> int | None:
        if self.arrivals and self.arrivals[0] <= self.now + timeout_s:
            self.now = max(self.now, self.arrivals.pop(0))
            self.count += 1
            return self.count
        self.now += timeout_s
        return None


def collect(arrivals: list[float], max_messages: int = 3, max_delay_s: float = 0.2) -> list[int]:
    source = FakeQueue(arrivals)
    return collect_batch(source.get, max_messages=max_messages, max_delay_s=max_delay_s,
                         first_wait_s=0.25, clock=source.clock)


def test_a_batch_closes_when_full() -> None:
    assert collect([0.0, 0.01, 0.02, 0.03, 0.04]) == [1, 2, 3]


def test_a_batch_closes_when_its_first_item_is_old_enough() -> None:
    assert collect([0.0, 0.1, 0.21, 0.3], max_messages=10) == [1, 2]


def test_the_delay_counts_from_the_first_item_not_from_the_wait() -> None:
    assert collect([0.2, 0.3, 0.39, 0.41], max_messages=10) == [1, 2, 3]


def test_no_item_within_the_first_wait_is_an_empty_batch() -> None:
    assert collect([1.0]) == []


def test_one_is_a_batch_of_one() -> None:
    assert collect([0.0, 0.0], max_messages=1) == [1]


def message(collector: str = "c1", meter: str = "m1", value: str = "1") -> ReadingsMessage:
    item = ReadingItem(obis="1.0.1.8.0.255", ts=T0, value=Decimal(value), unit="kWh")
    return build_message(collector, meter, Stream.DAILY, [item], T0)


def delivery(topic: str, payload: bytes, mid: int = 1) -> Delivery:
    return Delivery(topic, payload, mid, 1, 1, T0, 0.0)


def good(msg: ReadingsMessage, mid: int = 1) -> Delivery:
    return delivery(data_topic(msg.collector, msg.meter, msg.stream), msg.to_json(), mid)


def test_good_messages_are_accepted() -> None:
    msg = message()
    plan = classify([good(msg)])
    assert plan.messages == [msg]
    assert plan.rejected == []
    assert plan.ignored == []


def test_meter_state_is_acknowledged_but_not_stored() -> None:
    plan = classify([delivery(state_topic("c1", "m1"), b'{"meter": "m1"}')])
    assert len(plan.ignored) == 1
    assert plan.accepted == []
    assert plan.rejected == []
    assert len(plan.deliveries) == 1


def forged_id() -> bytes:
    document = json.loads(message().to_json())
    document["id"] = "f" * 64
    return json.dumps(document).encode()


@pytest.mark.parametrize(("topic", "payload", "kind", "reason"), [
    ("isu/v1/c1/m1/daily", b"\xff{", RejectKind.NOT_JSON, "payload is not UTF-8 JSON"),
    ("isu/v1/c1/m1/daily", b"[1]", RejectKind.NOT_JSON, "payload is not a JSON object"),
    ("isu/v1/c1/m1/daily", b'{"schema": 9}', RejectKind.SCHEMA, "unsupported schema 9"),
    ("isu/v1/c1/m1/daily", forged_id(), RejectKind.SCHEMA, "payload: Value error, id is not"),
    ("isu/v1/c1/m2/daily", message().to_json(), RejectKind.TOPIC,
     "topic says c1/m2/daily, payload says c1/m1/daily"),
    ("isu/v1/c9/m1/daily", message().to_json(), RejectKind.TOPIC, "topic says c9/m1/daily"),
    ("isu/v1/c1/m1/monthly", message().to_json(), RejectKind.TOPIC, "topic says c1/m1/monthly"),
    ("isu/v1/c1/m1/weekly", message().to_json(), RejectKind.UNKNOWN_STREAM,
     "unknown stream 'weekly' in topic"),
    ("isu/v1/c1/status", b"online", RejectKind.TOPIC,
     "topic 'isu/v1/c1/status' is not a data topic"),
    ("other/v1/c1/m1/daily", b"{}", RejectKind.TOPIC,
     "topic 'other/v1/c1/m1/daily' is not under isu/v1/"),
])
def test_bad_deliveries_are_rejected_with_their_reason(
    topic: str, payload: bytes, kind: RejectKind, reason: str
) -> None:
    plan = classify([delivery(topic, payload)])
    assert plan.accepted == []
    [rejected] = plan.rejected
    assert rejected.kind is kind
    assert rejected.reason.startswith(reason), rejected.reason
    letter = rejected.dead_letter()
    assert (letter.topic, letter.payload, letter.received_at) == (topic, payload, T0)


def test_messages_the_store_cannot_hold_are_rejected_up_front() -> None:
    no_period = build_message("c1", "m1", Stream.INTERVAL, [
        ReadingItem(obis="1.0.1.29.0.255", ts=T0, value=Decimal("0.1"), unit="kWh")], T0)
    nul = build_message("c1", "m1", Stream.EVENTS, [
        EventItem(ts=T0, journal="j", code=1, kind="k", text="a\x00b", critical=False)], T0)
    plan = classify([good(no_period), good(nul)])

    assert [(item.kind, item.reason) for item in plan.rejected] == [
        (RejectKind.UNSTORABLE, "items.0.period_s: an interval reading needs its period"),
        (RejectKind.UNSTORABLE, "items.0: text contains a NUL character"),
    ]


def test_order_and_every_delivery_are_kept() -> None:
    first, second = message(value="1"), message(value="2")
    batch = [good(first, 1), delivery("isu/v1/c1/m1/daily", b"x", 2), good(second, 3)]
    plan = classify(batch)
    assert plan.messages == [first, second]
    assert sorted(d.mid for d in plan.deliveries) == [1, 2, 3]


def test_acknowledgements_group_ids_by_collector_once_each() -> None:
    a1, a2, b1 = message("a", value="1"), message("a", value="2"), message("b")
    assert ack_ids([a1, b1, a2, a1]) == {"a": [a1.id, a2.id], "b": [b1.id]}


def test_dead_letters_that_carry_an_id_are_acknowledged_to_the_topic_collector() -> None:
    stored = message("a", value="1")
    forged = json.loads(message("a", value="2").to_json())
    forged["id"] = "f" * 64
    batch = [
        good(stored, 1),
        delivery("isu/v1/a/m1/daily", json.dumps(forged).encode(), 2),  # id mismatch
        delivery("isu/v1/a/m1/daily", b"not json", 3),  # no id to acknowledge
        delivery("isu/v1/a/m1/daily", b'{"id": "short"}', 4),  # not a message id
    ]
    plan = classify(batch)
    assert len(plan.rejected) == 3
    assert ack_ids(plan.messages, plan.rejected) == {"a": [stored.id, "f" * 64]}
