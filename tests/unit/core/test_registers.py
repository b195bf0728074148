"""Register capacity and plausibility (core/registers.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from core.model import Quality
from core.registers import Capacity, register_delta, register_quality

D = Decimal


def test_capacity_parses_integer_and_fraction_digits() -> None:
    capacity = Capacity.parse("6.2")
    assert (capacity.integer_digits, capacity.fraction_digits) == (6, 2)
    assert capacity.rollover == D(1_000_000)
    assert str(capacity) == "6.2"
    for bad in ("6", "six.2", "6.22", "0.1"):
        with pytest.raises(ConfigError, match="capacity"):
            Capacity.parse(bad)


@pytest.mark.parametrize(
    ("previous", "current", "capacity", "quality", "delta"),
    [
        ("100.5", "101.0", "6.2", Quality.OK, "0.5"),
        ("100.5", "100.5", "6.2", Quality.OK, "0"),
        ("999999.50", "0.25", "6.2", Quality.OK, "0.75"),  # rolled over at 10^6
        ("100.5", "99.0", "6.2", Quality.INVALID, None),  # back without a rollover
        ("300000", "10", "6.2", Quality.INVALID, None),  # "rollover" of more than half
        ("100.5", "99.0", None, Quality.INVALID, None),  # no capacity: never a rollover
        ("100", "1000000", "6.2", Quality.INVALID, None),  # beyond what 6 digits show
    ],
)
def test_quality_and_delta(previous: str, current: str, capacity: str | None,
                           quality: Quality, delta: str | None) -> None:
    assert register_quality(D(previous), D(current), capacity) is quality
    expected = None if delta is None else D(delta)
    assert register_delta(D(previous), D(current), capacity) == expected


def test_first_value_only_checked_against_the_capacity() -> None:
    assert register_quality(None, D("5"), "6.2") is Quality.OK
    assert register_quality(None, D("1000000"), "6.2") is Quality.INVALID


@given(start=st.integers(0, 999_999_99), step=st.integers(0, 400_000_00))
def test_growth_is_always_ok_across_a_rollover(start: int, step: int) -> None:
    previous = D(start).scaleb(-2)
    current = (D(start + step) % D(1_000_000_00)).scaleb(-2)
    assert register_quality(previous, current, "6.2") is Quality.OK
    assert register_delta(previous, current, "6.2") == D(step).scaleb(-2)
