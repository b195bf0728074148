"""A simulated Modbus unit's standing fault, as set by ``--fault``, the fleet file or the control
port, and how a request meets it.

``exception`` answers Modbus exception ``code`` (Modbus Application Protocol V1.1b3 §7: 1..8, 10,
11), ``silence`` answers nothing (a unit that is absent or does not hear), ``slow`` answers
``delay_s`` late. Each strikes a share ``probability`` of the requests, drawn from the unit's
seeded generator; with ``registers = (first, last)`` only the requests that touch one of those
registers (either function).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from pymodbus.constants import ExcCodes

__all__ = ["EXCEPTION_CODES", "FAULT_MODES", "FaultMode", "ModbusFault"]

FaultMode = Literal["exception", "silence", "slow"]
FAULT_MODES: Final = ("exception", "silence", "slow")
#: The exception codes a unit can answer (pymodbus's ``ExcCodes``).
EXCEPTION_CODES: Final = tuple(int(code) for code in ExcCodes)


@dataclass(frozen=True, slots=True)
class ModbusFault:
    """One unit's fault; ``code`` is for ``exception``, ``delay_s`` for ``slow``."""

    mode: FaultMode
    probability: float = 1.0
    code: int = 4
    delay_s: float = 3.0
    #: First and last register (inclusive) whose requests the fault strikes; None: all.
    registers: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"fault {self.mode!r}: a Modbus unit shows {', '.join(FAULT_MODES)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability {self.probability}: 0..1")
        if self.code not in EXCEPTION_CODES:
            raise ValueError(f"exception code {self.code}: one of "
                             f"{', '.join(map(str, EXCEPTION_CODES))}")
        if not 0.0 <= self.delay_s <= 600.0:
            raise ValueError(f"fault delay_s {self.delay_s}: 0..600")
        if self.registers is not None:
            first, last = self.registers
            if not 0 <= first <= last <= 65535:
                raise ValueError(f"fault registers {list(self.registers)}: [first, last] "
                                 "within 0..65535")

    @property
    def exception(self) -> ExcCodes:
        return ExcCodes(self.code)

    def strikes(self, rng: random.Random, address: int, count: int) -> bool:
        """Whether this request (registers ``address .. address + count - 1``) meets it."""
        if self.registers is not None:
            first, last = self.registers
            if address > last or address + count <= first:
                return False
        return self.probability >= 1.0 or rng.random() < self.probability

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ModbusFault:
        """``{"fault": "exception", "code": 6, "probability": 0.5, "registers": [0, 9]}``,
        ``{"fault": "slow", "delay_s": 2}``, ``{"fault": "silence"}`` (the control port)."""
        mode = document["fault"]
        if mode not in FAULT_MODES:
            raise ValueError(f"fault {mode!r}: a Modbus unit shows {', '.join(FAULT_MODES)}")
        span = document.get("registers")
        if span is not None and not (isinstance(span, list) and len(span) == 2):
            raise ValueError('"registers" is [first, last]')
        return cls(cast(FaultMode, mode), float(document.get("probability", 1.0)),
                   int(document.get("code", 4)), float(document.get("delay_s", 3.0)),
                   None if span is None else (int(span[0]), int(span[1])))

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fault": self.mode, "probability": self.probability}
        if self.mode == "exception":
            out["code"] = self.code
        if self.mode == "slow":
            out["delay_s"] = self.delay_s
        if self.registers is not None:
            out["registers"] = list(self.registers)
        return out
