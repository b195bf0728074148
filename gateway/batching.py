"""Pure parts of the ingest: gathering deliveries into batches and sorting them into what is
stored, what is dead-lettered and what is only acknowledged (no I/O, clock injected).

Deliveries are checked with :func:`core.validation.accept_delivery`: the bulk of the traffic
(reading streams in plain form) comes out as :class:`core.messages.CheckedReadings`, whose rows
the store copies without a model per item; the rest as :class:`core.messages.ReadingsMessage`.
"""

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
from core.messages import TOPIC_ROOT, CheckedReadings, ReadingsMessage, parse_topic
from core.validation import (
    DEFAULT_MAX_FUTURE_S,
    Accepted,
    InvalidMessageError,
    Rule,
    accept_delivery,
)
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

    accepted: list[tuple[Delivery, Accepted]] = field(default_factory=list)
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
    def to_store(self) -> list[Accepted]:
        """The accepted messages as the store takes them (models or the fast path's tuples)."""
        return [message for _, message in self.accepted]

    @property
    def messages(self) -> list[ReadingsMessage]:
        """The accepted messages as models."""
        return [
            message.to_message() if isinstance(message, CheckedReadings) else message
            for _, message in self.accepted
        ]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [item.dead_letter() for item in self.rejected]


_STATE_ROOT = TOPIC_ROOT.split("/")


def _is_state(topic: str) -> bool:
    # isu/v1/{collector}/{meter}/state (parse_topic's reading of it, without a model).
    parts = topic.split("/")
    return len(parts) == 5 and parts[:2] == _STATE_ROOT and parts[4] == STATE_LEAF


def _sort_one(delivery: Delivery, plan: BatchPlan, max_future_s: float) -> None:
    if _is_state(delivery.topic):
        plan.ignored.append(delivery)
        return
    try:
        message = accept_delivery(
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
    messages: Iterable[Accepted], rejected: Iterable[Rejected] = ()
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
