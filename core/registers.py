"""Register capacity («значность») and the plausibility of a register's next value (DESIGN §3).

A register of capacity ``"6.2"`` shows 6 integer and 2 fraction digits: it counts up to
999999.99 kWh and rolls over to 0. The drivers are stateless across reads, so the caller that
keeps the previous value (the collector, the gateway) asks :func:`register_quality`: a value
that decreased without rolling over at the capacity is ``invalid``; a value beyond what the
capacity can show is ``invalid`` too. :func:`register_delta` gives the consumption between two
values across a rollover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from core.errors import ConfigError
from core.model import Quality

__all__ = ["Capacity", "register_delta", "register_quality"]

_CAPACITY = re.compile(r"^(\d{1,2})\.(\d)$")


@dataclass(frozen=True, slots=True)
class Capacity:
    integer_digits: int
    fraction_digits: int

    def __post_init__(self) -> None:
        if not 1 <= self.integer_digits <= 12 or not 0 <= self.fraction_digits <= 6:
            raise ConfigError(f"capacity {self.integer_digits}.{self.fraction_digits} "
                              "is not a meter register's")

    @classmethod
    def parse(cls, text: str) -> Capacity:
        """``"6.2"`` → 6 integer digits, 2 fraction digits."""
        match = _CAPACITY.match(text.strip())
        if match is None:
            raise ConfigError(f"capacity {text!r}: write integer and fraction digits, as '6.2'")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def rollover(self) -> Decimal:
        """The value at which the register returns to 0 (10^integer digits, in kWh)."""
        return Decimal(10) ** self.integer_digits

    def __str__(self) -> str:
        return f"{self.integer_digits}.{self.fraction_digits}"


def _capacity(capacity: Capacity | str | None) -> Capacity | None:
    return Capacity.parse(capacity) if isinstance(capacity, str) else capacity


def register_delta(previous: Decimal, current: Decimal,
                   capacity: Capacity | str | None) -> Decimal | None:
    """Consumption from ``previous`` to ``current``; across a rollover when the capacity allows
    one; ``None`` when the register went back without a rollover (or cannot hold ``current``).

    A decrease counts as a rollover only when the wrapped consumption is below half the
    capacity: a register halfway back is a reset or a swap, not a rollover.
    """
    limit = _capacity(capacity)
    if limit is not None and (current >= limit.rollover or current < 0):
        return None
    if current >= previous:
        return current - previous
    if limit is None:
        return None
    wrapped = current + limit.rollover - previous
    return wrapped if wrapped < limit.rollover / 2 else None


def register_quality(previous: Decimal | None, current: Decimal,
                     capacity: Capacity | str | None) -> Quality:
    """``ok`` for a plausible next value of a register, ``invalid`` otherwise."""
    limit = _capacity(capacity)
    if previous is None:
        if limit is not None and not 0 <= current < limit.rollover:
            return Quality.INVALID
        return Quality.OK
    return Quality.OK if register_delta(previous, current, limit) is not None else Quality.INVALID
