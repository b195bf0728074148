"""The gateway's fast path (core.messages.check_readings, core.validation.accept_delivery) gives
the reference's verdict: what it accepts, the reference accepts with the same content and id;
what it does not take, it leaves to the reference, reason and all."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from pydantic_core import from_json

from core.messages import (
    _PLAIN_DECIMALS,
    _PLAIN_UTC,
    CheckedReadings,
    ReadingsMessage,
    build_message,
    check_readings,
    data_topic,
    parse_message,
)
from core.model import Quality, ReadingItem, Stream, UtcDatetime, format_utc
from core.validation import InvalidMessageError, accept_delivery, validate_delivery
from gateway.batching import Delivery, classify
from timeseries.rows import batch_rows

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
READING_STREAMS = [Stream.CURRENT, Stream.DAILY, Stream.MONTHLY, Stream.INTERVAL, Stream.INSTANT]
_ONE_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def reading(obis: str = "1.0.1.8.0.255", value: str = "12.5", *, ts: datetime = NOW,
            unit: str = "kWh", **extra: Any) -> ReadingItem:
    return ReadingItem(obis=obis, ts=ts, value=Decimal(value), unit=unit, **extra)


def verdict(topic: str, payload: bytes) -> tuple[str, Any]:
    try:
        return "accepted", validate_delivery(topic, payload, now=NOW)
    except InvalidMessageError as exc:
        return exc.rule.value, exc.reason


def fast_verdict(topic: str, payload: bytes) -> tuple[str, Any]:
    try:
        accepted = accept_delivery(topic, payload, now=NOW)
    except InvalidMessageError as exc:
        return exc.rule.value, exc.reason
    if isinstance(accepted, CheckedReadings):
        return "accepted", accepted.to_message()
    return "accepted", accepted


def rows_of(message: ReadingsMessage | CheckedReadings) -> list[tuple[str, ...]]:
    """The message's rows as the text COPY reads them (tuples formatted the way PostgreSQL
    parses them back: times and decimals compared as values)."""
    rows = batch_rows([message])
    out = []
    for name, lines in rows.lines.items():
        out += [(name, *line.rstrip("\n").split("\t")) for line in lines]
    for name, tuples in rows.tables.items():
        out += [(name, *(str(value) for value in row)) for row in tuples]
    return out


def normalised(row: tuple[str, ...]) -> tuple[Any, ...]:
    def value(text: str) -> Any:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
        try:
            return Decimal(text)
        except ArithmeticError:
            return text
    return tuple(value(text) for text in row)


@pytest.mark.parametrize("stream", READING_STREAMS)
def test_what_collectors_publish_takes_the_fast_path_with_the_reference_s_content(
    stream: Stream,
) -> None:
    extra: dict[str, Any] = {"period_s": 1800} if stream is Stream.INTERVAL else {}
    items = [
        reading(value="0.001", quality=Quality.ESTIMATED, **extra),
        reading("1.0.2.8.1.255", "-0", ts=NOW - timedelta(microseconds=5), **extra),
        reading("1.0.32.7.0.255", "230.10", unit="V", **extra),
    ]
    message = build_message("site-1", "m-001", stream, items, NOW)
    topic, payload = data_topic("site-1", "m-001", stream), message.to_json()
    accepted = accept_delivery(topic, payload, now=NOW)
    assert isinstance(accepted, CheckedReadings)
    assert accepted.to_message() == message == parse_message(payload)
    assert (accepted.id, accepted.collector, accepted.meter, accepted.stream, accepted.read_at) == (
        message.id, message.collector, message.meter, message.stream, message.read_at)
    assert accepted.newest == NOW
    fast_rows = sorted(normalised(row) for row in rows_of(accepted))
    assert fast_rows == sorted(normalised(row) for row in rows_of(message))
    assert batch_rows([accepted]).meters["m-001"].as_row() == batch_rows(
        [message]).meters["m-001"].as_row()


def test_the_batch_plan_gives_models_to_those_who_ask() -> None:
    message = build_message("c1", "m1", Stream.DAILY, [reading()], NOW)
    delivery = Delivery(data_topic("c1", "m1", Stream.DAILY), message.to_json(), 1, 1, 1, NOW, 0.0)
    plan = classify([delivery])
    assert isinstance(plan.to_store[0], CheckedReadings)
    assert plan.messages == [message]


def _payload(stream: Stream, items: list[ReadingItem], **changes: Any) -> bytes:
    document = json.loads(build_message("c1", "m1", stream, items, NOW).to_json())
    for key, value in changes.items():
        document["items"][0][key] = value
    return json.dumps(document, ensure_ascii=False).encode()


@pytest.mark.parametrize(("stream", "payload", "plain"), [
    (Stream.EVENTS, json.dumps({"schema": 1, "stream": "events"}).encode(), False),
    # the reference accepts these, in a form the fast path does not read
    (Stream.DAILY, _payload(Stream.DAILY, [reading(value="1000")], value="1E+3"), False),
    (Stream.DAILY, _payload(Stream.DAILY, [reading()], ts="2026-03-01T15:00:00+03:00"), False),
    (Stream.DAILY, _payload(Stream.DAILY, [reading()], ts="2026-03-01T12:00:00.000000Z"), False),
    (Stream.DAILY, _payload(Stream.DAILY, [reading(value="12.5")], value=12.5), False),
    (Stream.DAILY, _payload(Stream.DAILY, [reading(unit="k\\Wh")]), False),
    (Stream.DAILY, _payload(Stream.DAILY, [reading(unit='k"Wh')]), False),
    # refused by the reference: the id no longer matches
    (Stream.DAILY, _payload(Stream.DAILY, [reading(value="1000")], value="1000.0"), False),
    # plain, but a content rule or the store decides
    (Stream.INTERVAL, _payload(Stream.INTERVAL, [reading()]), True),
    (Stream.DAILY, _payload(Stream.DAILY, [reading(value="-1")]), True),
    (Stream.DAILY, _payload(Stream.DAILY, [reading(ts=NOW + timedelta(hours=1))]), True),
])
def test_the_rest_goes_the_reference_s_way(stream: Stream, payload: bytes, plain: bool) -> None:
    topic = data_topic("c1", "m1", stream)
    assert (check_readings(json.loads(payload)) is not None) is plain
    assert fast_verdict(topic, payload) == verdict(topic, payload)


def test_what_the_rules_refuse_is_never_checked() -> None:
    for payload in (_payload(Stream.DAILY, [reading(value="-1")]),
                    _payload(Stream.DAILY, [reading(ts=NOW + timedelta(hours=1))])):
        with pytest.raises(InvalidMessageError):
            accept_delivery(data_topic("c1", "m1", Stream.DAILY), payload, now=NOW)


def _plain_utc() -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    )


_DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**9,
                max_value=10**9),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_UNITS = st.text(min_size=1, max_size=16)
_READINGS = st.builds(
    lambda obis, ts, value, unit, quality, period_s: ReadingItem(
        obis=obis, ts=ts, value=value, unit=unit, quality=quality, period_s=period_s
    ),
    obis=st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){5}", fullmatch=True)
    | st.sampled_from(["1.0.1.8.0.255", "1.0.2.29.0.255", "1.0.13.7.0.255"]),
    ts=_plain_utc(),
    value=_DECIMALS,
    unit=_UNITS | st.sampled_from(["kWh", "кВт·ч", "1"]),
    quality=st.sampled_from(list(Quality)),
    period_s=st.none() | st.integers(min_value=1, max_value=2**40),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.sampled_from(READING_STREAMS), items=st.lists(_READINGS, max_size=5),
       read_at=_plain_utc())
def test_any_message_built_by_the_contract_gets_the_reference_s_verdict(
    stream: Stream, items: list[ReadingItem], read_at: datetime
) -> None:
    message = build_message("c1", "m1", stream, items, read_at)
    topic, payload = data_topic("c1", "m1", stream), message.to_json()
    assert fast_verdict(topic, payload) == verdict(topic, payload)
    fast = check_readings(json.loads(payload))
    if fast is not None:
        assert fast.to_message() == message
        assert fast.id == message.id


_JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
)


def _mutations(document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    def replace_top(key: str, value: Any) -> dict[str, Any]:
        return {**document, key: value}

    def replace_item(index: int, key: str, value: Any) -> dict[str, Any]:
        items = [dict(item) for item in document["items"]]
        if items:
            items[index % len(items)][key] = value
        return {**document, "items": items}

    def drop_item_key(index: int, key: str) -> dict[str, Any]:
        items = [dict(item) for item in document["items"]]
        if items:
            items[index % len(items)].pop(key, None)
        return {**document, "items": items}

    top_keys = st.sampled_from(["schema", "id", "collector", "meter", "stream", "read_at",
                                "items", "extra"])
    item_keys = st.sampled_from(["obis", "ts", "value", "unit", "quality", "period_s", "extra"])
    text_values = st.sampled_from([
        "", "1", "-1", "01", "1.", ".5", "1e3", "-0.0", "NaN", "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00.000000Z", "2026-03-01T12:00:00+00:00", "2026-02-30T00:00:00Z",
        "2026-03-01T12:00:00.5Z", "ok", "invalid", "OK", "kWh\x00", "k\tWh", "1.0.1.8.0.255",
        "1.0.1.8.0", "١.0.1.8.0.255", "current", "daily", "weekly", "m1", "c1", "m 1", "\ud800",
    ])
    values = st.one_of(_JSON_LEAVES, text_values, st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    return st.one_of(
        st.builds(replace_top, top_keys, values),
        st.builds(replace_item, st.integers(0, 10), item_keys, values),
        st.builds(drop_item_key, st.integers(0, 10), item_keys),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), stream=st.sampled_from(READING_STREAMS),
       items=st.lists(_READINGS, min_size=1, max_size=3))
def test_any_damage_to_a_message_gets_the_reference_s_verdict(
    data: st.DataObject, stream: Stream, items: list[ReadingItem]
) -> None:
    document = json.loads(build_message("c1", "m1", stream, items, NOW).to_json())
    damaged = data.draw(_mutations(document))
    try:
        payload = json.dumps(damaged, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        payload = json.dumps(damaged).encode()
    topic = data_topic("c1", "m1", stream)
    assert fast_verdict(topic, payload) == verdict(topic, payload)


_JSON = st.recursive(
    _JSON_LEAVES | st.text(),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(value=_JSON)
def test_without_a_backslash_pydantic_reads_json_as_json_loads_does(value: Any) -> None:
    payload = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assume(b"\\" not in payload)
    try:
        expected = json.loads(payload.decode("utf-8"))
    except ValueError:
        with pytest.raises(ValueError, match=r"."):
            from_json(payload)
        return
    assert from_json(payload) == expected


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.text(alphabet="-0123456789.,e", max_size=6), max_size=6))
def test_the_values_of_a_message_are_matched_as_one_by_one(values: list[str]) -> None:
    joined = ",".join(values) + "," if values else ""
    together = joined.count(",") == len(values) and _PLAIN_DECIMALS.fullmatch(joined) is not None
    assert together == all(_ONE_DECIMAL.fullmatch(value) for value in values)
    if together:
        assert all(format(Decimal(value), "f") == value for value in values)


_UTC = TypeAdapter(UtcDatetime)


@settings(max_examples=300, deadline=None)
@given(moment=_plain_utc(), text=st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z", fullmatch=True))
def test_plain_times_read_as_the_models_read_them(moment: datetime, text: str) -> None:
    written = format_utc(moment)
    assert _PLAIN_UTC.fullmatch(written)
    assert datetime.fromisoformat(written) == _UTC.validate_python(written) == moment
    if _PLAIN_UTC.fullmatch(text):
        try:
            parsed = _UTC.validate_python(text)
        except ValueError:
            with pytest.raises(ValueError, match=r"."):
                datetime.fromisoformat(text)
            return
        assert datetime.fromisoformat(text) == parsed
        assert datetime.fromisoformat(text).tzinfo is parsed.tzinfo
        assert format_utc(parsed) == text


def test_a_lone_surrogate_is_left_to_the_reference() -> None:
    message = build_message("c1", "m1", Stream.DAILY, [reading()], NOW)
    document = json.loads(message.to_json())
    document["items"][0]["unit"] = "\ud800"
    assert check_readings(document) is None


def test_from_json_is_not_used_for_escaped_text() -> None:
    message = build_message("c1", "m1", Stream.DAILY, [reading(unit="é")], NOW)
    escaped = json.dumps(json.loads(message.to_json())).encode()  # ensure_ascii: \u00e9
    assert b"\\u00e9" in escaped
    topic = data_topic("c1", "m1", Stream.DAILY)
    assert isinstance(accept_delivery(topic, escaped, now=NOW), ReadingsMessage)
    assert isinstance(accept_delivery(topic, message.to_json(), now=NOW), CheckedReadings)
