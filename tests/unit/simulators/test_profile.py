"""Profile memory of the simulated Mercury 230: property and wrap-around."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.obis import EnergyKind
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.fleet import make_meters
from simulators.mercury230.profile import ProfileMemory

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), period=st.sampled_from([15, 30, 60]),
       export=st.sampled_from([0.0, 3.0]))
def test_each_day_of_profile_adds_up_to_its_snapshot_delta(
    seed: int, period: int, export: float
) -> None:
    clock = ManualClock(START)
    [meter] = make_meters(1, 1, clock=clock, seed=seed, history_days=3,
                          profile_period_min=period, export_peak_kw=export)
    profile = meter.profile
    assert profile is not None
    for day in (date(2024, 2, 28), date(2024, 2, 29)):  # whole days of the history
        first = datetime.combine(day, datetime.min.time()) + profile.period
        stamps = [first + k * profile.period for k in range(24 * 60 // period)]
        found = [profile.slots.get(profile.slot(stamp)) for stamp in stamps]
        # A slot wholly without supply (the seeded history's power failures) is a hole.
        records = [r for r, stamp in zip(found, stamps, strict=True)
                   if r is not None and r.recorded_at == stamp]
        assert len(records) >= len(stamps) - 8
        for position, kind in enumerate(EnergyKind):
            if kind not in meter.archive.daily[day]:
                continue
            counts = [(r.p_plus, r.p_minus, r.q_plus, r.q_minus)[position] for r in records]
            delta_wh = (meter.archive.daily[day + timedelta(days=1)][kind][0]
                        - meter.archive.daily[day][kind][0])
            assert abs(sum(c or 0 for c in counts) - delta_wh) <= len(records)  # A = 500


def test_the_memory_wraps_and_says_so() -> None:
    memory = ProfileMemory(30, 4, index_pointer=True)
    memory.baseline((0, None, 0, None))
    stamps = [datetime(2024, 1, 1, 0, 30) + timedelta(minutes=30 * k) for k in range(6)]
    for k, stamp in enumerate(stamps):
        memory.capture(stamp, (10 * (k + 1), None, 0, None), dark=False, incomplete=False)
    pointer = memory.pointer()
    assert pointer.pointer == 1
    assert pointer.status & 0x01
    assert memory.read(0x10).recorded_at == stamps[-1]  # type: ignore[union-attr]
    assert memory.read(0x00).recorded_at == stamps[-2]  # type: ignore[union-attr]
    assert memory.read(0x40) is None
    assert memory.slots[0].p_minus is None
    assert memory.slots[0].p_plus == 10


def test_byte_address_pointer() -> None:
    memory = ProfileMemory(30, 4096, index_pointer=False)
    for k in range(3):
        memory.capture(datetime(2024, 1, 1, 1) + timedelta(minutes=30 * k), (k, k, k, k),
                       dark=False, incomplete=False)
    assert memory.pointer().pointer == 0x20
    assert memory.slots[0].incomplete  # the profile began mid-interval
