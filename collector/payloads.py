"""A read's messages as the queue stores them: content id, topic and payload in one pass.

:func:`encode_message` gives, for one stream of one meter, exactly what
``core.messages.build_message(...)`` would give as ``message.id``, ``data_topic(...)`` and
``message.to_json()`` — the same bytes — without building the message model or serialising its
items through pydantic once for the id and again for the payload. At thousands of items a second
that serialisation was a fifth of the collector's CPU.

Each item becomes one plain dict in the model's field order (``None`` left out, times in UTC
with ``Z``, decimals as plain strings): the payload is that list as it is, the id the SHA-256 of
the canonical JSON (keys sorted) of the same dicts. An item of a type or shape this module does
not know goes through the reference serialiser (``core.model.item_json``), so a model that grows
a field changes nothing but speed. ``tests/unit/collector/test_payloads.py`` holds it to the
reference for every stream.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from collector.queue import QueueEntry
from core.messages import SCHEMA_VERSION, data_topic
from core.model import (
    ClockItem,
    EventItem,
    InfoItem,
    Quality,
    ReadingItem,
    Stream,
    format_utc,
    item_json,
)

__all__ = ["encode_message"]

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_PAYLOAD = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class _Times:
    """``format_utc`` of the items' times; the items of one read mostly share one ``ts``."""

    __slots__ = ("last", "text")

    def __init__(self) -> None:
        self.last: datetime | None = None
        self.text = ""

    def __call__(self, moment: datetime) -> str:
        if moment is not self.last:
            self.text = format_utc(moment)
            self.last = moment
        return self.text


def _reading(item: Any, utc: _Times) -> dict[str, Any]:
    plain = {
        "obis": item.obis,
        "ts": utc(item.ts),
        "value": format(item.value, "f"),
        "unit": item.unit,
        "quality": item.quality.value,
    }
    if item.period_s is not None:
        plain["period_s"] = item.period_s
    return plain


def _clock(item: Any, utc: _Times) -> dict[str, Any]:
    plain = {
        "ts": utc(item.ts),
        "meter_time": item.meter_time.isoformat(),
        "drift_s": format(item.drift_s, "f"),
    }
    if item.season is not None:
        plain["season"] = item.season
    plain["quality"] = item.quality.value
    return plain


def _event(item: Any, utc: _Times) -> dict[str, Any]:
    plain = {
        "ts": utc(item.ts),
        "journal": item.journal,
        "code": item.code,
        "kind": item.kind,
        "text": item.text,
        "critical": item.critical,
    }
    if item.phase is not None:
        plain["phase"] = item.phase
    plain["quality"] = item.quality.value
    return plain


def _info(item: Any, utc: _Times) -> dict[str, Any]:
    return {
        "field": item.field,
        "value": item.value,
        "ts": utc(item.ts),
        "quality": item.quality.value,
    }


_Plain = Callable[[Any, _Times], dict[str, Any]]

# The fields each converter writes, in order; a model that differs takes the reference path.
_KNOWN: dict[type[BaseModel], tuple[tuple[str, ...], _Plain]] = {
    ReadingItem: (("obis", "ts", "value", "unit", "quality", "period_s"), _reading),
    ClockItem: (("ts", "meter_time", "drift_s", "season", "quality"), _clock),
    EventItem: (
        ("ts", "journal", "code", "kind", "text", "critical", "phase", "quality"),
        _event,
    ),
    InfoItem: (("field", "value", "ts", "quality"), _info),
}
_CONVERTERS: dict[type, _Plain] = {
    kind: plain for kind, (fields, plain) in _KNOWN.items() if tuple(kind.model_fields) == fields
}


def _plain_item(item: BaseModel, utc: _Times) -> dict[str, Any]:
    plain = _CONVERTERS.get(type(item))
    if plain is None:
        return item_json(item)
    return plain(item, utc)


# Text that JSON writes as it is (no escapes); anything else goes through the encoder.
_PLAIN_TEXT = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')
_SEEN_LIMIT = 4096
_plain_texts: set[str] = set()
_QUALITY = {quality: quality.value for quality in Quality}


def _is_plain(text: str) -> bool:
    if text in _plain_texts:
        return True
    if type(text) is not str or _PLAIN_TEXT.fullmatch(text) is None:
        return False
    if len(_plain_texts) >= _SEEN_LIMIT:
        _plain_texts.clear()
    _plain_texts.add(text)
    return True


def _texts(item: BaseModel, utc: _Times) -> tuple[str, str]:
    """The item's JSON in the payload (fields in model order) and in canonical form (sorted)."""
    if type(item) is _READING_ITEM:
        reading: Any = item
        obis, unit, quality = reading.obis, reading.unit, _QUALITY.get(reading.quality)
        if quality is not None and _is_plain(obis) and _is_plain(unit):
            ts = utc(reading.ts)
            value = format(reading.value, "f")
            period_s = reading.period_s
            if period_s is None:
                return (
                    f'{{"obis":"{obis}","ts":"{ts}","value":"{value}","unit":"{unit}",'
                    f'"quality":"{quality}"}}',
                    f'{{"obis":"{obis}","quality":"{quality}","ts":"{ts}","unit":"{unit}",'
                    f'"value":"{value}"}}',
                )
            if type(period_s) is int:
                return (
                    f'{{"obis":"{obis}","ts":"{ts}","value":"{value}","unit":"{unit}",'
                    f'"quality":"{quality}","period_s":{period_s}}}',
                    f'{{"obis":"{obis}","period_s":{period_s},"quality":"{quality}",'
                    f'"ts":"{ts}","unit":"{unit}","value":"{value}"}}',
                )
    plain = _plain_item(item, utc)
    return _PAYLOAD.encode(plain), _CANONICAL.encode(plain)


# The text path writes the fields of ReadingItem as they are known here.
_READING_ITEM: type | None = ReadingItem if ReadingItem in _CONVERTERS else None


@functools.lru_cache(maxsize=4096)
def _json_text(text: str) -> str:
    return _PAYLOAD.encode(text)


def encode_message(
    collector_id: str,
    meter_id: str,
    stream: Stream,
    items: Sequence[BaseModel],
    read_at: datetime,
) -> QueueEntry:
    """The queue entry of a message: ``build_message``'s id, topic and ``to_json()`` bytes.

    ``items`` are models a driver made (validated or built from its own decoded values).
    """
    if read_at.tzinfo is None:
        raise ValueError("read_at must carry its offset")
    utc = _Times()
    texts = [_texts(item, utc) for item in items]
    collector, meter = _json_text(collector_id), _json_text(meter_id)
    name = _json_text(stream.value)
    canonical = (
        f'{{"collector":{collector},"items":[{",".join(text[1] for text in texts)}],'
        f'"meter":{meter},"stream":{name}}}'
    )
    message_id = hashlib.sha256(canonical.encode()).hexdigest()
    payload = (
        f'{{"schema":{SCHEMA_VERSION},"id":"{message_id}","collector":{collector},'
        f'"meter":{meter},"stream":{name},"read_at":"{format_utc(read_at.astimezone(UTC))}",'
        f'"items":[{",".join(text[0] for text in texts)}]}}'
    )
    return QueueEntry(message_id, data_topic(collector_id, meter_id, stream), payload.encode())
