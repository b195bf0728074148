"""A simulated SPODES meter's standing fault, as set by ``--fault``, the fleet file or the control
port, and how it shows on a connection's :class:`~simulators.dlms.protocol.LineFaults`.

A DLMS line knows three faults (the Mercury modes truncate, garbage and internal_error have no
counterpart here): ``silence`` (no answer at all), ``corrupt_crc`` (a share ``probability`` of
the meter's HDLC answer frames with a broken FCS; the wrapper has no FCS) and ``slow`` (every
answer ``delay_s`` late).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from simulators.dlms.protocol import LineFaults

__all__ = ["FAULT_MODES", "DlmsFault", "FaultMode"]

FaultMode = Literal["silence", "corrupt_crc", "slow"]
FAULT_MODES: Final = ("silence", "corrupt_crc", "slow")


@dataclass(frozen=True, slots=True)
class DlmsFault:
    """One meter's fault; ``probability`` is for ``corrupt_crc``, ``delay_s`` for ``slow``."""

    mode: FaultMode
    probability: float = 1.0
    delay_s: float = 3.0

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"fault {self.mode!r}: a DLMS meter shows {', '.join(FAULT_MODES)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability {self.probability}: 0..1")
        if self.probability != 1.0 and self.mode != "corrupt_crc":
            raise ValueError("a fault's probability is for corrupt_crc only (a silent or slow "
                             "DLMS meter is so on every answer)")
        if self.delay_s < 0:
            raise ValueError(f"fault delay_s {self.delay_s}: not negative")

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DlmsFault:
        """``{"fault": "corrupt_crc", "probability": 0.2}`` or ``{"fault": "slow",
        "delay_s": 2}`` (the control port)."""
        mode = document["fault"]
        if mode not in FAULT_MODES:
            raise ValueError(f"fault {mode!r}: a DLMS meter shows {', '.join(FAULT_MODES)}")
        return cls(cast(FaultMode, mode), float(document.get("probability", 1.0)),
                   float(document.get("delay_s", 3.0)))

    def as_json(self) -> dict[str, Any]:
        return {"fault": self.mode, "probability": self.probability, "delay_s": self.delay_s}

    def apply(self, faults: LineFaults) -> None:
        """Show this fault on ``faults`` (what a fault set earlier showed is replaced)."""
        faults.silent = self.mode == "silence"
        faults.corrupt_share = self.probability if self.mode == "corrupt_crc" else 0.0
        faults.delay_s = self.delay_s if self.mode == "slow" else 0.0

    @staticmethod
    def clear(faults: LineFaults) -> None:
        """No standing fault on ``faults`` any more."""
        faults.silent = False
        faults.corrupt_share = 0.0
        faults.delay_s = 0.0
