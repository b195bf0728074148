"""Faults a simulated meter shows on demand, as a collector meets them in the field.

Each fault acts on one meter's answer with a probability (1.0 = every answer): ``silence`` (no
answer, as a dead or unpowered meter), ``corrupt_crc`` (the last CRC byte flipped, as line
noise), ``truncate`` (the last bytes missing, as a converter that cuts a frame), ``garbage``
(random bytes instead of the answer), ``slow`` (the right answer, ``delay_s`` late) and
``internal_error`` (status 2 instead of the answer, as WB vector W13).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from drivers.mercury.frame import Status, StatusResponse

__all__ = ["Fault", "FaultMode", "FaultOutcome", "apply_fault"]


class FaultMode(StrEnum):
    SILENCE = "silence"
    CORRUPT_CRC = "corrupt_crc"
    TRUNCATE = "truncate"
    GARBAGE = "garbage"
    SLOW = "slow"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    """What goes on the wire: ``reply`` (``None`` = nothing) after ``delay_s`` seconds."""

    reply: bytes | None
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Fault:
    mode: FaultMode
    probability: float = 1.0
    #: ``slow``: how late the answer comes.
    delay_s: float = 3.0
    #: ``truncate``: how many bytes are cut from the end (at least one byte is left).
    drop_bytes: int = 2

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability {self.probability} is outside 0..1")
        if self.delay_s < 0:
            raise ValueError("fault delay_s must not be negative")
        if self.drop_bytes < 1:
            raise ValueError("fault drop_bytes must be at least 1")

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Fault:
        """``{"fault": "slow", "probability": 0.5, "delay_s": 2}`` (control port, fleet file)."""
        return cls(
            mode=FaultMode(document["fault"]),
            probability=float(document.get("probability", 1.0)),
            delay_s=float(document.get("delay_s", 3.0)),
            drop_bytes=int(document.get("drop_bytes", 2)),
        )

    def strikes(self, rng: random.Random) -> bool:
        """Whether the fault shows on this answer."""
        return rng.random() < self.probability

    def damage(self, reply: bytes, rng: random.Random) -> FaultOutcome:
        """``reply`` as this fault sends it."""
        if self.mode is FaultMode.SILENCE:
            return FaultOutcome(None)
        if self.mode is FaultMode.CORRUPT_CRC:
            return FaultOutcome(reply[:-1] + bytes([reply[-1] ^ 0xFF]))
        if self.mode is FaultMode.TRUNCATE:
            return FaultOutcome(reply[: max(1, len(reply) - self.drop_bytes)])
        if self.mode is FaultMode.GARBAGE:
            return FaultOutcome(rng.randbytes(max(1, len(reply))))
        if self.mode is FaultMode.INTERNAL_ERROR:
            return FaultOutcome(StatusResponse(reply[0], Status.INTERNAL_ERROR).to_bytes())
        return FaultOutcome(reply, self.delay_s)

    def as_json(self) -> dict[str, Any]:
        return {
            "fault": self.mode.value,
            "probability": self.probability,
            "delay_s": self.delay_s,
            "drop_bytes": self.drop_bytes,
        }


def apply_fault(fault: Fault | None, reply: bytes, rng: random.Random) -> FaultOutcome:
    """The answer as the faulty meter sends it (one draw decides whether the fault strikes)."""
    if fault is None or not fault.strikes(rng):
        return FaultOutcome(reply)
    return fault.damage(reply, rng)
