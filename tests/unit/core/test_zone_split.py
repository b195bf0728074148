"""Interval energy split into tariff zones (core.zone_split, docs/archives.md)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import Quality
from core.obis import EnergyKind
from core.tariffs import SINGLE_RATE, THREE_ZONE, TWO_ZONE, ZoneSchedule
from core.zone_split import IntervalEnergy, split_by_zone, zone_shares

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")  # a zone with DST, to check the split follows wall time
#: A contract schedule with a switch at 07:30, off the hour grid.
HALF_PAST = ZoneSchedule("half-past", ((time(0, 0), 2), (time(7, 30), 1), (time(23, 0), 2)))

A_PLUS = EnergyKind.A_PLUS


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


def interval(start: datetime, value: str, period_s: int = 1800, **kwargs: object) -> IntervalEnergy:
    return IntervalEnergy(A_PLUS, start, period_s, Decimal(value), **kwargs)  # type: ignore[arg-type]


def test_aligned_half_hours_go_whole_to_their_zone() -> None:
    rows = [interval(moscow(22, 6, 30), "1.250"), interval(moscow(22, 7, 0), "2.500")]
    result = split_by_zone(rows, TWO_ZONE, MOSCOW)
    totals = result.kinds[A_PLUS]
    assert totals.zones == {1: Decimal("2.500"), 2: Decimal("1.250")}
    assert totals.total == Decimal("3.750")
    assert str(totals.zones[1]) == "2.500"  # the input's precision, no extra digits
    assert result.split == 0
    assert result.end == moscow(22, 7, 30)


def test_hour_profile_straddling_a_half_past_switch_is_split_in_proportion() -> None:
    result = split_by_zone([interval(moscow(22, 7, 0), "1.000", 3600)], HALF_PAST, MOSCOW)
    assert result.kinds[A_PLUS].zones == {1: Decimal("0.5"), 2: Decimal("0.5")}
    assert result.split == 1


def test_uneven_split_keeps_the_exact_total() -> None:
    # 20 of 60 minutes before 07:00 (night), 40 after (day): 1/3 and 2/3 of 1 kWh.
    result = split_by_zone([interval(moscow(22, 6, 40), "1.000", 3600)], TWO_ZONE, MOSCOW)
    totals = result.kinds[A_PLUS]
    assert totals.zones[2] == Decimal("0.333333333")
    assert totals.zones[1] == Decimal("0.666666667")
    assert sum(totals.zones.values()) == totals.total == Decimal("1.000")


def test_interval_across_local_midnight_splits_only_at_switches() -> None:
    # 22:30..01:30 Moscow: 30 min of day (T1), 150 min of night (T2), midnight is no switch.
    result = split_by_zone([interval(moscow(22, 22, 30), "6", 3 * 3600)], TWO_ZONE, MOSCOW)
    assert result.kinds[A_PLUS].zones == {1: Decimal(1), 2: Decimal(5)}


def test_three_zone_day_of_hour_intervals() -> None:
    rows = [interval(moscow(22, 0) + timedelta(hours=h), "1", 3600) for h in range(24)]
    result = split_by_zone(rows, THREE_ZONE, MOSCOW)
    assert result.kinds[A_PLUS].zones == {1: Decimal(7), 2: Decimal(8), 3: Decimal(9)}
    assert result.split == 0


def test_switch_points_are_local_wall_time_in_the_objects_zone() -> None:
    # 04:00..05:00 UTC is 07:00..08:00 in Yekaterinburg (+05:00) but 09:00.. in Moscow.
    start = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    ekb = split_by_zone([interval(start, "1", 3600)], TWO_ZONE, ZoneInfo("Asia/Yekaterinburg"))
    assert ekb.kinds[A_PLUS].zones == {1: Decimal(1), 2: Decimal(0)}
    msk = split_by_zone([interval(start, "1", 3600)], TWO_ZONE, MOSCOW)
    assert msk.kinds[A_PLUS].zones == {1: Decimal(0), 2: Decimal(1)}


def test_dst_day_has_no_fixed_count_of_half_hours() -> None:
    # Berlin, 25.10.2026: clocks go back at 03:00, the day has 25 hours (50 half-hours).
    start = datetime(2026, 10, 25, tzinfo=BERLIN).astimezone(UTC)
    rows = [interval(start + timedelta(minutes=30 * n), "1") for n in range(50)]
    result = split_by_zone(rows, TWO_ZONE, BERLIN)
    # Night is 00:00..07:00 wall time = 8 real hours that day; day 07:00..23:00 = 16 hours.
    assert result.kinds[A_PLUS].zones == {1: Decimal(32), 2: Decimal(18)}
    assert result.split == 0


def test_zone_shares_of_a_fall_back_hour_follow_real_time() -> None:
    # A switch inside the repeated hour: 02:30 Berlin happens twice on 25.10.2026.
    schedule = ZoneSchedule("odd", ((time(0, 0), 1), (time(2, 30), 2), (time(4, 0), 1)))
    start = datetime(2026, 10, 25, 2, 0, tzinfo=BERLIN)  # first 02:00 (+02:00)
    pieces = zone_shares(schedule, BERLIN, start, 3 * 3600)
    assert sum(length for _, length in pieces) == 3 * 3600 * 1_000_000
    assert pieces[0] == (1, 30 * 60 * 1_000_000)


def test_invalid_intervals_are_left_out_and_others_mark_the_result() -> None:
    rows = [
        interval(moscow(22, 8), "1", quality=Quality.INVALID),
        interval(moscow(22, 9), "2", quality=Quality.INCOMPLETE),
        interval(moscow(22, 10), "3"),
    ]
    result = split_by_zone(rows, SINGLE_RATE, MOSCOW)
    assert result.kinds[A_PLUS].total == Decimal(5)
    assert result.left_out == 1
    assert result.quality is Quality.INCOMPLETE
    assert result.marked


def test_estimated_ranks_below_incomplete_and_all_ok_is_unmarked() -> None:
    rows = [
        interval(moscow(22, 9), "2", quality=Quality.ESTIMATED),
        interval(moscow(22, 10), "3", quality=Quality.INCOMPLETE),
    ]
    assert split_by_zone(rows, SINGLE_RATE, MOSCOW).quality is Quality.ESTIMATED
    assert not split_by_zone([interval(moscow(22, 9), "1")], SINGLE_RATE, MOSCOW).marked


def test_kinds_are_kept_apart_and_absent_kinds_are_missing() -> None:
    rows = [
        interval(moscow(22, 9), "2"),
        IntervalEnergy(EnergyKind.R_PLUS, moscow(22, 9), 1800, Decimal("0.5")),
    ]
    result = split_by_zone(rows, TWO_ZONE, MOSCOW)
    assert set(result.kinds) == {EnergyKind.A_PLUS, EnergyKind.R_PLUS}
    assert result.kinds[EnergyKind.R_PLUS].zones == {1: Decimal("0.5"), 2: Decimal(0)}


def test_no_intervals_gives_nothing() -> None:
    result = split_by_zone([], TWO_ZONE, MOSCOW)
    assert result.kinds == {}
    assert result.end is None
    assert not result.marked


@pytest.mark.parametrize(
    ("start", "period_s"),
    [(datetime(2026, 11, 22, 7, 0), 1800), (datetime(2026, 11, 22, 7, 0, tzinfo=UTC), 0)],
)
def test_bad_intervals_are_refused(start: datetime, period_s: int) -> None:
    with pytest.raises(ValueError, match="interval"):
        IntervalEnergy(A_PLUS, start, period_s, Decimal(1))


# --- properties -------------------------------------------------------------------------------

_SCHEDULES = st.sampled_from([SINGLE_RATE, TWO_ZONE, THREE_ZONE, HALF_PAST])
_ZONES = st.sampled_from([MOSCOW, BERLIN, ZoneInfo("Asia/Kamchatka"), UTC])
_VALUES = st.decimals(min_value=-1000, max_value=10**6, places=3, allow_nan=False)
_STARTS = st.datetimes(
    min_value=datetime(2010, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@st.composite
def _any_intervals(draw: st.DrawFn) -> list[IntervalEnergy]:
    count = draw(st.integers(0, 12))
    return [
        IntervalEnergy(
            draw(st.sampled_from(list(EnergyKind))),
            draw(_STARTS),
            draw(st.integers(1, 3 * 86400)),
            draw(_VALUES),
            draw(st.sampled_from(list(Quality))),
        )
        for _ in range(count)
    ]


@settings(max_examples=200, deadline=None)
@given(_any_intervals(), _SCHEDULES, _ZONES)
def test_zones_always_add_up_to_the_total(
    rows: list[IntervalEnergy], schedule: ZoneSchedule, zone: ZoneInfo
) -> None:
    result = split_by_zone(rows, schedule, zone)
    counted = [row for row in rows if row.quality is not Quality.INVALID]
    for kind, totals in result.kinds.items():
        assert sum(totals.zones.values()) == totals.total
        assert totals.total == sum((r.value for r in counted if r.kind == kind), Decimal(0))
        assert tuple(totals.zones) == schedule.zones
    assert result.left_out == len(rows) - len(counted)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2 * 48 - 1), _VALUES), max_size=20),
    st.sampled_from([1800, 900]),
    _SCHEDULES,
)
def test_aligned_intervals_are_never_split(
    slots: list[tuple[int, Decimal]], period_s: int, schedule: ZoneSchedule
) -> None:
    day = datetime(2026, 11, 21, tzinfo=MOSCOW)
    rows = [
        interval((day + timedelta(seconds=slot * period_s)).astimezone(UTC), str(v), period_s)
        for slot, v in slots
    ]
    result = split_by_zone(rows, schedule, MOSCOW)
    assert result.split == 0
    for tariff, share in result.kinds[A_PLUS].zones.items() if rows else ():
        expected = sum(
            (
                r.value
                for r in rows
                if schedule.zone_at(r.start.astimezone(MOSCOW).time()) == tariff
            ),
            Decimal(0),
        )
        assert share == expected
