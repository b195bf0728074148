"""The rules a message must pass before it is stored (docs/gateway.md, «Dead letters»).

One place for them, used by the gateway when a delivery arrives, by ``isu deadletter replay``
with the rules of the day, and by a collector that wants to check what it is about to publish::

    topic      isu/v1/{collector}/{meter}/{stream}, its stream known      → TOPIC, UNKNOWN_STREAM
    payload    UTF-8 JSON object                                          → NOT_JSON
               a known stream                                             → UNKNOWN_STREAM
               schema 1, every field valid, id = SHA-256 of the content   → SCHEMA
               collector, meter and stream equal to the topic's           → TOPIC
    content    no negative energy (OBIS C = 1..4 with D = 8 or 29)        → NEGATIVE_ENERGY
               no item ``ts`` and no ``read_at`` more than ``max_future_s``
               after the moment the message was received                  → FUTURE_TIME

A message is accepted or refused whole: its id covers every item, and the collector deletes it
only as a whole, so one bad item sends the whole message to the dead letters. Instantaneous
values (P, Q, cos φ…) may be negative and are left alone.

:func:`validate_delivery` applies the rules one by one and is the reference. The gateway calls
:func:`accept_delivery`, which first tries the fast path of the contract
(:func:`core.messages.check_readings`, no model per item) and applies the same content rules to
its plain tuples; a delivery that it cannot pass there, good or bad, goes through
:func:`validate_delivery`, so the verdict and the reason are always the reference's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic_core import from_json

from core.errors import MessageError
from core.messages import (
    SCHEMA_VERSION,
    TOPIC_ROOT,
    CheckedReadings,
    Item,
    ReadingsMessage,
    TopicParts,
    check_readings,
    decode_document,
    message_from_document,
    parse_topic,
)
from core.model import ReadingItem, Stream, format_utc

__all__ = [
    "DEFAULT_MAX_FUTURE_S",
    "Accepted",
    "InvalidMessageError",
    "Rule",
    "accept_delivery",
    "check_content",
    "check_topic",
    "decode_message",
    "is_energy_obis",
    "validate_delivery",
]

#: How far ahead of the receiving clock a time may be (clock skew, not data from the future).
DEFAULT_MAX_FUTURE_S = 300

#: What a delivery that passes every rule becomes: the models, or the fast path's plain tuples.
Accepted = ReadingsMessage | CheckedReadings

_STREAMS = frozenset(stream.value for stream in Stream)
_ROOT = TOPIC_ROOT.split("/")
#: OBIS C of the four energy kinds (A+, A-, R+, R-) and D of registers (8) and interval energy (29).
_ENERGY_C = frozenset({1, 2, 3, 4})
_ENERGY_D = frozenset({8, 29})


class Rule(StrEnum):
    """The rule a refused message breaks (a closed set: a metrics label and a report column)."""

    NOT_JSON = "not_json"
    SCHEMA = "schema"
    UNKNOWN_STREAM = "unknown_stream"
    TOPIC = "topic"
    NEGATIVE_ENERGY = "negative_energy"
    FUTURE_TIME = "future_time"


class InvalidMessageError(MessageError):
    """A message that breaks ``rule``; the text says where and what (it becomes the dead
    letter's reason)."""

    def __init__(self, rule: Rule, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def is_energy_obis(obis: str) -> bool:
    """True for an energy register ``x.x.C.8.x.x`` or interval energy ``x.x.C.29.x.x``, C = 1..4."""
    parts = obis.split(".")
    if len(parts) != 6 or not (parts[2].isdigit() and parts[3].isdigit()):
        return False
    return int(parts[2]) in _ENERGY_C and int(parts[3]) in _ENERGY_D


def check_topic(topic: str) -> TopicParts:
    """The parts of a data topic whose stream is known; raises :class:`InvalidMessageError`."""
    try:
        parts = parse_topic(topic)
    except MessageError as exc:
        raise InvalidMessageError(Rule.TOPIC, str(exc)) from exc
    if parts.meter is None:
        raise InvalidMessageError(Rule.TOPIC, f"topic {topic!r} is not a data topic")
    if parts.leaf not in _STREAMS:
        raise InvalidMessageError(Rule.UNKNOWN_STREAM, f"unknown stream {parts.leaf!r} in topic")
    return parts


def decode_message(payload: bytes) -> ReadingsMessage:
    """JSON, stream and schema; raises :class:`InvalidMessageError`."""
    try:
        document = decode_document(payload)
    except MessageError as exc:
        raise InvalidMessageError(Rule.NOT_JSON, str(exc)) from exc
    stream: Any = document.get("stream")
    known_schema = document.get("schema") == SCHEMA_VERSION
    if known_schema and isinstance(stream, str) and stream not in _STREAMS:
        raise InvalidMessageError(Rule.UNKNOWN_STREAM, f"unknown stream {stream!r} in payload")
    try:
        return message_from_document(document)
    except MessageError as exc:
        raise InvalidMessageError(Rule.SCHEMA, str(exc)) from exc


def _times(message: ReadingsMessage) -> Iterator[tuple[str, datetime]]:
    yield "read_at", message.read_at
    items: Sequence[Item] = message.items
    for index, item in enumerate(items):
        yield f"items.{index}.ts", item.ts


def _negative_energy(index: int, item: BaseModel) -> str | None:
    if not isinstance(item, ReadingItem) or item.value >= Decimal(0):
        return None
    if not is_energy_obis(item.obis):
        return None
    return (
        f"items.{index}.value: negative energy {item.value} {item.unit} on {item.obis}"
        " (an energy register or interval energy cannot be negative)"
    )


def check_content(message: ReadingsMessage, *, now: datetime, max_future_s: float) -> None:
    """Energy is never negative and no time is more than ``max_future_s`` after ``now`` (the
    moment the message was received); raises :class:`InvalidMessageError` for the first
    breach found."""
    for index, item in enumerate(message.items):
        problem = _negative_energy(index, item)
        if problem:
            raise InvalidMessageError(Rule.NEGATIVE_ENERGY, problem)
    limit = now + timedelta(seconds=max_future_s)
    for where, moment in _times(message):
        if moment > limit:
            ahead_s = (moment - now).total_seconds()
            raise InvalidMessageError(
                Rule.FUTURE_TIME,
                f"{where} {format_utc(moment)} is in the future: {ahead_s:.0f} s after receipt"
                f" at {format_utc(now)}, more than the {max_future_s:g} s allowed",
            )


def validate_delivery(
    topic: str, payload: bytes, *, now: datetime, max_future_s: float = DEFAULT_MAX_FUTURE_S
) -> ReadingsMessage:
    """Every rule, in the order of the module's table; raises :class:`InvalidMessageError`."""
    parts = check_topic(topic)
    message = decode_message(payload)
    said = (parts.collector, parts.meter, parts.leaf)
    carried = (message.collector, message.meter, message.stream.value)
    if said != carried:
        raise InvalidMessageError(
            Rule.TOPIC,
            f"topic says {'/'.join(map(str, said))}, payload says {'/'.join(carried)}",
        )
    check_content(message, now=now, max_future_s=max_future_s)
    return message


def _passes_fast(topic: str, payload: bytes, now: datetime, max_future_s: float
                 ) -> CheckedReadings | None:
    parts = topic.split("/")
    if len(parts) != 5 or parts[:2] != _ROOT:
        return None
    # Without a backslash every JSON string is literal, and pydantic's parser (twice as fast)
    # reads the document exactly as json.loads does; anything it refuses is for the reference.
    if b"\\" in payload:
        return None
    try:
        document = from_json(payload)
    except ValueError:
        return None
    if type(document) is not dict:
        return None
    message = check_readings(document)
    if message is None or parts[2:] != [message.collector, message.meter, message.stream.value]:
        return None
    limit = now + timedelta(seconds=max_future_s)
    if message.read_at > limit or (message.newest is not None and message.newest > limit):
        return None
    if message.signed:
        for obis, _, _, value, _, _, _ in message.items:
            if value[0] == "-" and Decimal(value) < 0 and is_energy_obis(obis):
                return None
    return message


def accept_delivery(
    topic: str, payload: bytes, *, now: datetime, max_future_s: float = DEFAULT_MAX_FUTURE_S
) -> Accepted:
    """:func:`validate_delivery`'s verdict, cheaper for the bulk of the traffic: a reading
    stream in plain form passes through the fast path and comes back as
    :class:`~core.messages.CheckedReadings`; everything else (other streams, other forms, and
    every delivery that breaks a rule) through :func:`validate_delivery`, which raises
    :class:`InvalidMessageError` with the reference reason."""
    message = _passes_fast(topic, payload, now, max_future_s)
    if message is not None:
        return message
    return validate_delivery(topic, payload, now=now, max_future_s=max_future_s)
