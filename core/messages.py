"""The MQTT contract v1 (DESIGN §4): topics, payloads, message ids and acknowledgements.

Topics::

    isu/v1/{collector_id}/{meter_id}/{stream}   readings and events, QoS 1
    isu/v1/{collector_id}/{meter_id}/state      retained per-meter state
    isu/v1/{collector_id}/status                retained ``online`` / ``offline`` (Last Will)
    isu/v1/{collector_id}/ack                   end-to-end acknowledgements from the gateway

A message's ``id`` is the SHA-256 of the canonical JSON of its collector, meter, stream and items,
so the same data always gets the same id whoever sends it and however often.

Two ways in, one verdict. :func:`parse_message` (through :func:`message_from_document`) is the
reference: every field validated by the pydantic models, the id recomputed over their canonical
JSON. :func:`check_readings` is the gateway's fast path for what collectors publish in bulk — a
reading stream in the plain form that :meth:`ReadingsMessage.to_json` writes (times in UTC with
``Z``, values as plain decimal strings) — and builds no model per item: it accepts a document only
when the reference would accept it and yield the same message, and otherwise answers ``None``,
leaving the verdict and its reason to the reference.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
    Quality,
    ReadingItem,
    Stream,
    UtcDatetime,
    item_json,
)

__all__ = [
    "SCHEMA_VERSION",
    "TOPIC_ROOT",
    "AckMessage",
    "CheckedReading",
    "CheckedReadings",
    "Item",
    "MeterState",
    "ReadingsMessage",
    "TopicParts",
    "ack_topic",
    "build_message",
    "check_readings",
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


#: One reading of a :class:`CheckedReadings`: ``(obis, ts, ts_text, value_text, unit, quality,
#: period_s)``. ``ts_text`` is the canonical UTC text of ``ts``; ``value_text`` is the exact
#: decimal as sent, in plain notation (its canonical form too).
CheckedReading = tuple[str, datetime, str, str, str, Quality, int | None]


@dataclass(frozen=True, slots=True, eq=False)
class CheckedReadings:
    """A message of a reading stream accepted by :func:`check_readings`: the content of the
    :class:`ReadingsMessage` that :func:`message_from_document` returns for the same document,
    its items as plain tuples (:data:`CheckedReading`) instead of models."""

    id: str
    collector: str
    meter: str
    stream: Stream
    read_at: datetime
    read_at_text: str
    items: list[CheckedReading]
    #: The latest ``ts`` of the items (``None`` without items).
    newest: datetime | None
    #: Some value is written with a minus sign (it may still be zero: ``-0``).
    signed: bool

    def to_message(self) -> ReadingsMessage:
        """The same message as models (its document again, through the reference path)."""
        items = []
        for obis, _, ts_text, value, unit, quality, period_s in self.items:
            item: dict[str, Any] = {
                "obis": obis, "ts": ts_text, "value": value, "unit": unit, "quality": quality.value
            }
            if period_s is not None:
                item["period_s"] = period_s
            items.append(item)
        return message_from_document({
            "schema": SCHEMA_VERSION, "id": self.id, "collector": self.collector,
            "meter": self.meter, "stream": self.stream.value, "read_at": self.read_at_text,
            "items": items,
        })


_READING_STREAMS = {
    stream.value: stream for stream, kind in _ITEM_TYPES.items() if kind is ReadingItem
}
_QUALITIES = {quality.value: quality for quality in Quality}
# Stricter than the models' patterns (ASCII only): anything else takes the reference path.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PLAIN_MESSAGE_ID = re.compile(r"[0-9a-f]{64}")
_PLAIN_OBIS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){5}")
# What format_utc writes: whole seconds, or six digits of a fraction that is not zero; then Z.
_PLAIN_UTC = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.(?!000000)[0-9]{6})?Z"
)
# What format(Decimal(text), "f") gives back unchanged, each followed by a comma: the values of
# a message are matched in one go (possessive, so a mismatch fails fast).
_PLAIN_DECIMALS = re.compile(r"(?:-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+,)*+")
# A unit that JSON writes without escapes (and so without NUL, tab or newline either).
_PLAIN_UNIT = re.compile(r'[^"\\\x00-\x1f]{1,16}')
# Codes and units repeat in every message; remembering those already matched saves the match.
_SEEN_LIMIT = 4096
_seen_obis: set[str] = set()
_seen_units: set[str] = set()


def _remember(text: object, pattern: re.Pattern[str], seen: set[str]) -> bool:
    if type(text) is not str or pattern.fullmatch(text) is None:
        return False
    if len(seen) >= _SEEN_LIMIT:
        seen.clear()
    seen.add(text)
    return True


# hashlib lets go of the GIL for 2 KiB and more. For a few microseconds of hashing that costs a
# whole switch interval (5 ms) whenever another thread is busy, so the gateway hashes in pieces.
_GIL_PIECE = 2047


def _sha256_holding_gil(data: bytes) -> str:
    digest = hashlib.sha256()
    view = memoryview(data)
    for start in range(0, len(view), _GIL_PIECE):
        digest.update(view[start : start + _GIL_PIECE])
    return digest.hexdigest()


def check_readings(document: dict[str, Any]) -> CheckedReadings | None:
    """The fast path of :func:`message_from_document` for the reading streams.

    Returns the message when the document is in the plain form and :func:`message_from_document`
    would accept it with the same content and id; ``None`` for anything else, valid or not — the
    reference path then gives the verdict and names what is wrong.
    """
    try:
        return _check_readings(document)
    except (TypeError, ValueError):
        # A value of another JSON type where text belongs (unhashable, not matchable), a date
        # that does not exist, text that UTF-8 cannot carry: for the reference path to judge.
        return None


def _check_readings(document: dict[str, Any]) -> CheckedReadings | None:
    schema, name = document.get("schema"), document.get("stream")
    if type(schema) is not int or schema != SCHEMA_VERSION or type(name) is not str:
        return None
    stream = _READING_STREAMS.get(name)
    claimed, collector, meter = document.get("id"), document.get("collector"), document.get("meter")
    read_at_text, raw = document.get("read_at"), document.get("items")
    if (
        stream is None
        or type(claimed) is not str
        or _PLAIN_MESSAGE_ID.fullmatch(claimed) is None
        or type(collector) is not str
        or _PLAIN_ID.fullmatch(collector) is None
        or type(meter) is not str
        or _PLAIN_ID.fullmatch(meter) is None
        or type(read_at_text) is not str
        or _PLAIN_UTC.fullmatch(read_at_text) is None
        or type(raw) is not list
    ):
        return None
    read_at = datetime.fromisoformat(read_at_text)
    seen_obis, seen_units = _seen_obis, _seen_units
    times: dict[str, datetime] = {}
    items: list[CheckedReading] = []
    canonical: list[str] = []
    values: list[str] = []
    for entry in raw:
        if type(entry) is not dict:
            return None
        try:
            obis, ts_text, value, unit = entry["obis"], entry["ts"], entry["value"], entry["unit"]
        except KeyError:
            return None
        quality_text, period_s = entry.get("quality", "ok"), entry.get("period_s")
        if (
            type(value) is not str
            or (obis not in seen_obis and not _remember(obis, _PLAIN_OBIS, seen_obis))
            or (unit not in seen_units and not _remember(unit, _PLAIN_UNIT, seen_units))
        ):
            return None
        quality = _QUALITIES.get(quality_text)
        if quality is None:
            return None
        ts = times.get(ts_text)
        if ts is None:
            if type(ts_text) is not str or _PLAIN_UTC.fullmatch(ts_text) is None:
                return None
            ts = times[ts_text] = datetime.fromisoformat(ts_text)
        # The canonical item: item_json's fields in sorted order, None left out, no spaces.
        if period_s is None:
            canonical.append(
                f'{{"obis":"{obis}","quality":"{quality_text}","ts":"{ts_text}",'
                f'"unit":"{unit}","value":"{value}"}}'
            )
        elif type(period_s) is int and period_s > 0:
            canonical.append(
                f'{{"obis":"{obis}","period_s":{period_s},"quality":"{quality_text}",'
                f'"ts":"{ts_text}","unit":"{unit}","value":"{value}"}}'
            )
        else:
            return None
        values.append(value)
        items.append((obis, ts, ts_text, value, unit, quality, period_s))
    joined = ",".join(values) + "," if values else ""
    # The count rules out a comma inside a value passing for two values.
    if joined.count(",") != len(values) or _PLAIN_DECIMALS.fullmatch(joined) is None:
        return None
    document_text = (
        f'{{"collector":"{collector}","items":[{",".join(canonical)}],'
        f'"meter":"{meter}","stream":"{name}"}}'
    )
    if _sha256_holding_gil(document_text.encode()) != claimed:
        return None
    return CheckedReadings(
        id=claimed,
        collector=collector,
        meter=meter,
        stream=stream,
        read_at=read_at,
        read_at_text=read_at_text,
        items=items,
        newest=max(times.values()) if times else None,
        signed="-" in joined,
    )
