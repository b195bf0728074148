"""The injectable clock, the meter's own clock, the channel timer and the instant values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.mercury230.channel import CHANNEL_TIMEOUT_S, Channel
from simulators.mercury230.clock import ManualClock, system_clock
from simulators.mercury230.instant import instant_from_sample
from simulators.mercury230.load import DailyLoad
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.settings import (
    MeterSettings,
    PasswordEncoding,
    default_address,
    encode_password,
)

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_manual_clock_moves_only_forward_and_stays_utc() -> None:
    clock = ManualClock(datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=3))))
    assert clock() == START
    assert clock.advance(90) == START + timedelta(seconds=90)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2024, 1, 1))
    clock.set(START)
    assert clock() == START


def test_system_clock_is_aware_utc() -> None:
    assert system_clock().tzinfo is UTC


def test_meter_time_is_true_time_plus_drift_in_local_time() -> None:
    clock = ManualClock(START)
    meter = SimulatedMeter(
        MeterSettings(serial="40680048", drift_s=-75, history_days=0, time_zone="Asia/Vladivostok"),
        clock=clock,
    )
    local = meter.meter_time()
    assert local.utcoffset() == timedelta(hours=10)
    assert local.replace(tzinfo=None) == datetime(2024, 3, 1, 18, 58, 45)
    clock.advance(60)
    assert meter.meter_time().replace(tzinfo=None) == datetime(2024, 3, 1, 18, 59, 45)


def test_channel_lapses_240_s_after_the_last_valid_request() -> None:
    channel = Channel()
    assert channel.level_at(START) is None
    channel.open(1, START)
    assert channel.level_at(START + timedelta(seconds=CHANNEL_TIMEOUT_S - 1)) == 1
    channel.touch(START + timedelta(seconds=200))
    assert channel.level_at(START + timedelta(seconds=439)) == 1
    assert channel.level_at(START + timedelta(seconds=440)) is None
    # A lapsed channel is not revived by a request.
    channel.touch(START + timedelta(seconds=441))
    assert channel.level_at(START + timedelta(seconds=441)) is None


def test_channel_close_and_reopen_at_another_level() -> None:
    channel = Channel()
    channel.open(1, START)
    channel.open(2, START + timedelta(seconds=10))
    assert channel.level_at(START + timedelta(seconds=11)) == 2
    channel.close()
    assert channel.level_at(START + timedelta(seconds=12)) is None


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    seed=st.integers(0, 2**40),
    export=st.sampled_from([0.0, 5.0]),
)
def test_instant_values_agree_with_each_other(moment: datetime, seed: int, export: float) -> None:
    values = instant_from_sample(DailyLoad(seed, export_peak_kw=export).sample(moment))
    assert values.p_sum == values.p1 + values.p2 + values.p3
    assert values.q_sum == values.q1 + values.q2 + values.q3
    for p, q, s, u, i in (
        (values.p1, values.q1, values.s1, values.u1, values.i1),
        (values.p2, values.q2, values.s2, values.u2, values.i2),
        (values.p3, values.q3, values.s3, values.u3, values.i3),
    ):
        assert Decimal(220) <= u <= Decimal(240)
        assert s >= abs(p)
        assert s >= abs(q)
        assert abs(i * u - s) <= u * Decimal("0.0005") + Decimal("0.01")
    assert values.s_sum >= abs(values.p_sum)
    assert abs(values.pf_sum) <= Decimal("1")
    if values.pf_sum:
        assert (values.pf_sum < 0) == (values.p_sum < 0)
    assert Decimal("49.9") <= values.frequency <= Decimal("50.1")


def test_pinned_instant_values_override_the_load() -> None:
    meter = SimulatedMeter(
        MeterSettings(serial="40680048", history_days=0), clock=ManualClock(START)
    )
    meter.pin_instant(u1="241.28", p_sum=Decimal("5530.95"))
    values = meter.instant()
    assert values.u1 == Decimal("241.28")
    assert values.p_sum == Decimal("5530.95")
    with pytest.raises(ValueError, match="unknown"):
        meter.pin_instant(u9=1)
    meter.unpin_instant()
    assert meter.instant().u1 != Decimal("241.28")


def test_passwords_and_default_address() -> None:
    assert encode_password("111111", PasswordEncoding.BINARY) == bytes([1] * 6)
    assert encode_password("111111", PasswordEncoding.ASCII) == b"111111"
    assert encode_password(bytes.fromhex("121314151617"), PasswordEncoding.BINARY) == bytes.fromhex(
        "121314151617"
    )
    with pytest.raises(ValueError, match="6 characters"):
        encode_password("12345", PasswordEncoding.ASCII)
    with pytest.raises(ValueError, match="digits"):
        encode_password("abcdef", PasswordEncoding.BINARY)
    # DOC3 appendix В examples and the mercury-base vector M3.
    assert [default_address(s) for s in ("38395190", "38395790", "38395700", "40680048")] == [
        190,
        90,
        1,
        48,
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("serial", "4068004"),
        ("address", 0),
        ("address", 241),
        ("kn", 0),
        ("password1", "11111"),
        ("time_zone", "Mars/Olympus"),
        ("history_days", -1),
    ],
)
def test_settings_reject_what_a_mercury_230_cannot_be(field: str, value: object) -> None:
    arguments: dict[str, object] = {"serial": "40680048", field: value}
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        MeterSettings(**arguments)  # type: ignore[arg-type]
