"""Exponential backoff with jitter, for meters, buses and the broker connection."""

from __future__ import annotations

import random

__all__ = ["Backoff"]

# 2**40 × any sane initial delay is far beyond any cap; stop growing the exponent there.
_MAX_EXPONENT = 40


class Backoff:
    """Delays of ``initial_s``, twice that, … up to ``max_s``, each shortened by up to ``jitter``.

    Jitter only shortens a delay, so the cap holds and the first retry never comes later than
    ``initial_s``; it spreads the retries of meters and collectors that failed together.
    """

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        if not 0 <= jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.jitter = jitter
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        exponent = min(self.attempts, _MAX_EXPONENT)
        self.attempts += 1
        base = min(self.max_s, self.initial_s * self.factor**exponent)
        return base * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self.attempts = 0
