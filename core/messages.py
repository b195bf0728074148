"""The MQTT contract v1 (DESIGN §4): topics, payloads, message ids and acknowledgements.

Topics::

    isu/v1/{collector_id}/{meter_id}/{stream}   readings and events, QoS 1
    isu/v1/{collector_id}/{meter_id}/state      retained per-meter state
    isu/v1/{collector_id}/status                retained ``online`` / ``offline`` (Last Will)
    isu/v1/{collector_id}/ack                   end-to-end acknowledgements from the gateway

A message's ``id`` is the SHA-256 of the canonical JSON of its collector, meter, stream and items,
so the same data always gets the same id whoever sends it and however often.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails

from core.errors import MessageError
from core.model import (
    ID_PATTERN,
    ClockItem,
    EventItem,
    InfoItem,
    ReadingItem,
    Stream,
    UtcDatetime,
    item_json,
)

__all__ = [
    "SCHEMA_VERSION",
    "TOPIC_ROOT",
    "AckMessage",
    "Item",
    "MeterState",
    "ReadingsMessage",
    "TopicParts",
    "ack_topic",
    "build_message",
    "data_topic",
    "decode_document",
    "message_from_document",
    "message_id",
    "parse_message",
    "parse_topic",
    "state_topic",
    "status_topic",
]

SCHEMA_VERSION = 1
TOPIC_ROOT = "isu/v1"

Item = ReadingItem | EventItem | InfoItem | ClockItem

_ITEM_TYPES: dict[Stream, type[BaseModel]] = {
    Stream.CURRENT: ReadingItem,
    Stream.DAILY: ReadingItem,
    Stream.MONTHLY: ReadingItem,
    Stream.INTERVAL: ReadingItem,
    Stream.INSTANT: ReadingItem,
    Stream.EVENTS: EventItem,
    Stream.INFO: InfoItem,
    Stream.CLOCK: ClockItem,
}


def data_topic(collector_id: str, meter_id: str, stream: Stream | str) -> str:
    return f"{TOPIC_ROOT}/{collector_id}/{meter_id}/{Stream(stream).value}"


def state_topic(collector_id: str, meter_id: str) -> str:
    return f"{TOPIC_ROOT}/{collector_id}/{meter_id}/state"


def status_topic(collector_id: str) -> str:
    return f"{TOPIC_ROOT}/{collector_id}/status"


def ack_topic(collector_id: str) -> str:
    return f"{TOPIC_ROOT}/{collector_id}/ack"


class TopicParts(BaseModel):
    model_config = ConfigDict(frozen=True)

    collector: str
    meter: str | None = None
    leaf: str


def parse_topic(topic: str) -> TopicParts:
    """Split a v1 topic; raises :class:`MessageError` for anything else."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != TOPIC_ROOT:
        raise MessageError(f"topic {topic!r} is not under {TOPIC_ROOT}/")
    if len(parts) == 4:
        return TopicParts(collector=parts[2], leaf=parts[3])
    if len(parts) == 5:
        return TopicParts(collector=parts[2], meter=parts[3], leaf=parts[4])
    raise MessageError(f"topic {topic!r} has too many levels")


def _canonical(
    collector: str, meter: str, stream: Stream, items: Sequence[dict[str, Any]]
) -> bytes:
    document = {
        "collector": collector,
        "meter": meter,
        "stream": stream.value,
        "items": list(items),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def message_id(collector: str, meter: str, stream: Stream, items: Sequence[BaseModel]) -> str:
    return hashlib.sha256(
        _canonical(collector, meter, stream, [item_json(item) for item in items])
    ).hexdigest()


def _validate_items(item_type: type[BaseModel], raw: list[Any]) -> list[BaseModel]:
    """Items of one type; an error keeps its place (``items.3.value``), so that a dead letter's
    reason points at the item."""
    items: list[BaseModel] = []
    for index, item in enumerate(raw):
        try:
            items.append(item_type.model_validate(item))
        except ValidationError as exc:
            details = [
                InitErrorDetails(
                    type=error["type"],
                    loc=("items", index, *error["loc"]),
                    input=error["input"],
                    ctx=error.get("ctx", {}),
                )
                for error in exc.errors()
            ]
            raise ValidationError.from_exception_data(exc.title, details) from None
    return items


class ReadingsMessage(BaseModel):
    """A batch of items of one stream of one meter, as published by a collector."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_: Literal[1] = Field(default=1, alias="schema")
    id: str = Field(pattern=r"^[0-9a-f]{64}$")
    collector: str = Field(pattern=ID_PATTERN)
    meter: str = Field(pattern=ID_PATTERN)
    stream: Stream
    read_at: UtcDatetime
    items: list[ReadingItem] | list[EventItem] | list[InfoItem] | list[ClockItem]

    @model_validator(mode="before")
    @classmethod
    def _items_of_stream(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        try:
            stream = Stream(str(data.get("stream")))
        except ValueError:
            return data  # the field validator names the unknown stream
        raw = data.get("items")
        if isinstance(raw, list):
            data = {**data, "items": _validate_items(_ITEM_TYPES[stream], raw)}
        return data

    @model_validator(mode="after")
    def _id_matches(self) -> ReadingsMessage:
        expected = message_id(self.collector, self.meter, self.stream, self.items)
        if self.id != expected:
            raise ValueError(
                "id is not the SHA-256 of the canonical collector, meter, stream and items"
            )
        return self

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


def build_message(
    collector: str,
    meter: str,
    stream: Stream,
    items: Sequence[Item],
    read_at: datetime,
) -> ReadingsMessage:
    """A message with its content id computed."""
    return ReadingsMessage.model_validate(
        {
            "schema": SCHEMA_VERSION,
            "id": message_id(collector, meter, stream, items),
            "collector": collector,
            "meter": meter,
            "stream": stream,
            "read_at": read_at,
            "items": list(items),
        }
    )


def decode_document(payload: bytes) -> dict[str, Any]:
    """The payload's JSON object; :class:`MessageError` when it is not UTF-8 JSON or no object."""
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"payload is not UTF-8 JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MessageError("payload is not a JSON object")
    return document


def message_from_document(document: dict[str, Any]) -> ReadingsMessage:
    """Validate a decoded payload; :class:`MessageError` names the field that is wrong."""
    if document.get("schema") != SCHEMA_VERSION:
        raise MessageError(f"unsupported schema {document.get('schema')!r}")
    try:
        return ReadingsMessage.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise MessageError(f"{where}: {first['msg']}") from exc


def parse_message(payload: bytes) -> ReadingsMessage:
    """Decode and validate a payload; :class:`MessageError` names what is wrong."""
    return message_from_document(decode_document(payload))


class AckMessage(BaseModel):
    """The gateway's end-to-end acknowledgement of committed messages."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_: Literal[1] = Field(default=1, alias="schema")
    ids: list[str]
    committed_at: UtcDatetime

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class MeterState(BaseModel):
    """A meter's retained state as seen by its collector."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_: Literal[1] = Field(default=1, alias="schema")
    meter: str
    protocol: str
    last_success_at: UtcDatetime | None = None
    last_error_at: UtcDatetime | None = None
    last_error: str | None = None
    last_error_class: str | None = None
    consecutive_failures: int = 0

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()
