"""Backoff: doubling from the initial delay, capped, jitter only ever shortens."""

from __future__ import annotations

import random

import pytest

from collector.backoff import Backoff


def test_doubles_up_to_the_cap_without_jitter() -> None:
    backoff = Backoff(1.0, 10.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_jitter_stays_within_its_fraction_and_the_cap() -> None:
    backoff = Backoff(2.0, 30.0, jitter=0.2, rng=random.Random(7))
    for attempt in range(200):
        base = min(30.0, 2.0 * 2**attempt)
        assert 0.8 * base <= backoff.next_delay() <= base


def test_many_failures_do_not_overflow() -> None:
    backoff = Backoff(1.0, 60.0)
    backoff.attempts = 10_000
    assert backoff.next_delay() <= 60.0


@pytest.mark.parametrize(("initial", "maximum", "jitter"), [(0, 1, 0), (2, 1, 0), (1, 2, 1.0)])
def test_bad_parameters(initial: float, maximum: float, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"backoff|jitter"):
        Backoff(initial, maximum, jitter=jitter)
