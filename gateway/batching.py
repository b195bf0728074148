"""Pure parts of the ingest: gathering deliveries into batches and sorting them into what is
stored, what is dead-lettered and what is only acknowledged (no I/O, clock injected)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from core.errors import MessageError
from core.messages import ReadingsMessage, parse_topic
from core.validation import DEFAULT_MAX_FUTURE_S, InvalidMessageError, Rule, validate_delivery
from timeseries.rows import DeadLetter, storable_problem

__all__ = [
    "STATE_LEAF",
    "BatchPlan",
    "Delivery",
    "RejectKind",
    "Rejected",
    "ack_ids",
    "claimed_id",
    "classify",
    "collect_batch",
]

T = TypeVar("T")

#: The retained per-meter state leaf: it matches the data filter but is not data.
STATE_LEAF = "state"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One MQTT delivery as received, with what is needed to acknowledge it later.

    ``generation`` counts broker connections: a packet id (``mid``) is only meaningful on the
    connection that delivered it.
    """

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: datetime
    received_monotonic: float


class RejectKind(StrEnum):
    """Why a delivery was dead-lettered (a metrics label, so a short, closed set): the rules of
    ``core.validation`` and what only the store can tell."""

    NOT_JSON = Rule.NOT_JSON.value
    SCHEMA = Rule.SCHEMA.value  # wrong schema version, a field invalid, id mismatch
    UNKNOWN_STREAM = Rule.UNKNOWN_STREAM.value  # in the topic or in the payload
    TOPIC = Rule.TOPIC.value  # topic malformed or disagreeing with the payload
    NEGATIVE_ENERGY = Rule.NEGATIVE_ENERGY.value
    FUTURE_TIME = Rule.FUTURE_TIME.value
    UNSTORABLE = "unstorable"  # valid, but the store cannot hold it (checked up front)
    DATABASE = "database"  # the database refused it

    @classmethod
    def of(cls, rule: Rule) -> RejectKind:
        return cls(rule.value)


@dataclass(frozen=True, slots=True)
class Rejected:
    delivery: Delivery
    kind: RejectKind
    reason: str

    def dead_letter(self) -> DeadLetter:
        return DeadLetter(
            topic=self.delivery.topic,
            reason=self.reason.replace("\x00", "\\x00"),
            payload=self.delivery.payload,
            received_at=self.delivery.received_at,
        )


@dataclass(slots=True)
class BatchPlan:
    """A batch sorted: every delivery is acknowledged after the commit, whichever list it is in."""

    accepted: list[tuple[Delivery, ReadingsMessage]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: list[Delivery] = field(default_factory=list)

    @property
    def deliveries(self) -> list[Delivery]:
        return [
            *(delivery for delivery, _ in self.accepted),
            *(item.delivery for item in self.rejected),
            *self.ignored,
        ]

    @property
    def messages(self) -> list[ReadingsMessage]:
        return [message for _, message in self.accepted]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [item.dead_letter() for item in self.rejected]


def _sort_one(delivery: Delivery, plan: BatchPlan, max_future_s: float) -> None:
    try:
        parts = parse_topic(delivery.topic)
    except MessageError:
        parts = None  # validate_delivery names the fault
    if parts is not None and parts.meter is not None and parts.leaf == STATE_LEAF:
        plan.ignored.append(delivery)
        return
    try:
        message = validate_delivery(
            delivery.topic, delivery.payload, now=delivery.received_at, max_future_s=max_future_s
        )
    except InvalidMessageError as exc:
        plan.rejected.append(Rejected(delivery, RejectKind.of(exc.rule), exc.reason))
        return
    problem = storable_problem(message)
    if problem:
        plan.rejected.append(Rejected(delivery, RejectKind.UNSTORABLE, problem))
        return
    plan.accepted.append((delivery, message))


def classify(
    deliveries: Iterable[Delivery], *, max_future_s: float = DEFAULT_MAX_FUTURE_S
) -> BatchPlan:
    """Check every delivery against ``core.validation`` (times against the moment each was
    received) and the store's limits; nothing raises, every delivery lands in one list."""
    plan = BatchPlan()
    for delivery in deliveries:
        _sort_one(delivery, plan, max_future_s)
    return plan


_MESSAGE_ID = re.compile(r"^[0-9a-f]{64}$")


def claimed_id(delivery: Delivery) -> tuple[str, str] | None:
    """``(collector, id)`` that a dead-lettered delivery claims, or ``None``.

    A dead letter is committed too (to ``dead_letters``, replayable), so its sender may forget it:
    without an acknowledgement a collector would publish it again forever. The collector comes
    from the topic, which the broker's ACL ties to the sender.
    """
    try:
        parts = parse_topic(delivery.topic)
        document = json.loads(delivery.payload)
    except (MessageError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    claimed = document.get("id")
    if not isinstance(claimed, str) or not _MESSAGE_ID.match(claimed):
        return None
    return parts.collector, claimed


def ack_ids(
    messages: Iterable[ReadingsMessage], rejected: Iterable[Rejected] = ()
) -> dict[str, list[str]]:
    """The end-to-end acknowledgements: per collector, the ids of its stored messages and of its
    dead-lettered ones that carry an id, each once, in order."""
    acks: dict[str, dict[str, None]] = {}
    for message in messages:
        acks.setdefault(message.collector, {})[message.id] = None
    for item in rejected:
        claim = claimed_id(item.delivery)
        if claim is not None:
            acks.setdefault(claim[0], {})[claim[1]] = None
    return {collector: list(ids) for collector, ids in acks.items()}


def collect_batch(
    get: Callable[[float], T | None],
    *,
    max_messages: int,
    max_delay_s: float,
    first_wait_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> list[T]:
    """Gather up to ``max_messages`` items; the batch closes ``max_delay_s`` after its first.

    ``get(timeout_s)`` returns the next item or ``None`` when none came in time. Waiting for the
    first item is bounded by ``first_wait_s`` so that the caller can check for a stop request.
    """
    first = get(first_wait_s)
    if first is None:
        return []
    batch = [first]
    deadline = clock() + max_delay_s
    while len(batch) < max_messages:
        remaining = deadline - clock()
        if remaining <= 0:
            break
        item = get(remaining)
        if item is None:
            break
        batch.append(item)
    return batch
