"""Poll plans: periods aligned to the meter's local clock, snapshot times, a fixed jitter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.plan import StreamPlan, parse_plan_entry
from collector.service import Collector
from core.messages import parse_message
from core.model import Stream
from tests.unit.collector.fake_driver import BENCH, FakeMeter, MemoryBuses, make_config, tcp_bus

MOSCOW = ZoneInfo("Europe/Moscow")
EKB = ZoneInfo("Asia/Yekaterinburg")


def _local(text: str, zone: ZoneInfo = MOSCOW) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_periods_are_aligned_to_local_time_plus_a_fixed_jitter() -> None:
    plan = StreamPlan(period_s=300)
    jitter = plan.jitter_s("m-1")
    assert 0 <= jitter <= 30  # at most 10 % of the period
    after = _local("2026-11-22T12:03:10")
    assert plan.next_run(after, MOSCOW, "m-1") == _local("2026-11-22T12:05:00") + timedelta(
        seconds=jitter
    )
    # Hourly in a zone 5 hours ahead of UTC: on the local hour, not the UTC one.
    hourly = StreamPlan(period_s=3600)
    run = hourly.next_run(_local("2026-11-22T12:30:00", EKB), EKB, "m-2")
    assert run.astimezone(EKB).replace(second=0, microsecond=0).minute * 60 <= hourly.jitter_s(
        "m-2"
    )
    assert run.astimezone(EKB).hour == 13
    # Different meters are spread, the same meter always gets the same offset.
    assert plan.jitter_s("m-1") == plan.jitter_s("m-1")
    assert len({plan.jitter_s(f"m-{n}") for n in range(20)}) > 10


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2026-11-22T00:04:00", "2026-11-22T00:05:00"),
        ("2026-11-22T00:10:00", "2026-11-23T00:05:00"),
        ("2026-12-31T23:00:00", "2027-01-01T00:05:00"),
    ],
)
def test_daily_snapshots_are_read_after_local_midnight(after: str, expected: str) -> None:
    plan = StreamPlan(at=time(0, 5))
    jitter = timedelta(seconds=plan.jitter_s("m-1"))
    assert plan.next_run(_local(after), MOSCOW, "m-1") == _local(expected) + jitter


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2026-11-22T12:00:00", "2026-12-01T00:10:00"),
        ("2026-12-01T00:00:00", "2026-12-01T00:10:00"),
        ("2026-12-05T00:00:00", "2027-01-01T00:10:00"),
    ],
)
def test_monthly_snapshots_are_read_after_the_first(after: str, expected: str) -> None:
    plan = StreamPlan(at=time(0, 10), monthly=True)
    jitter = timedelta(seconds=plan.jitter_s("m-1"))
    assert plan.next_run(_local(after), MOSCOW, "m-1") == _local(expected) + jitter


def test_plan_entries_are_checked() -> None:
    assert parse_plan_entry(Stream.INSTANT, 60) == StreamPlan(period_s=60.0)
    assert parse_plan_entry(Stream.DAILY, "00:05") == StreamPlan(at=time(0, 5))
    with pytest.raises(ValueError, match="only daily and monthly"):
        parse_plan_entry(Stream.CURRENT, "00:05")
    with pytest.raises(ValueError, match="not a local time"):
        parse_plan_entry(Stream.DAILY, "midnight")
    with pytest.raises(ValueError, match="a period must be"):
        parse_plan_entry(Stream.EVENTS, 0)


def test_a_plan_names_only_the_meter_s_streams(tmp_path: Path) -> None:
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0] |= {"streams": ["current"], "plan": {"interval": 60}}
    with pytest.raises(ValueError, match=r"plan\.interval: the stream is not in streams"):
        make_config(tmp_path, [bus])


async def test_each_stream_is_read_on_its_own_plan(tmp_path: Path) -> None:
    meter = BENCH["m-1"] = FakeMeter()
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0] |= {"streams": ["current", "interval"], "plan": {"interval": 0.8}}
    config = make_config(tmp_path, [bus], poll={"period_s": 0.2})
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        task = asyncio.create_task(collector.run())
        await asyncio.sleep(1.7)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        current = [
            q
            for q in collector.queue.sync.pending(0.0, 0.0, 1000)
            if parse_message(q.payload).stream is Stream.CURRENT
        ]
    # current every 0.2 s (about 9 reads); interval at start, then every 0.8 s (2 or 3 reads).
    assert len(current) >= 6
    assert 2 <= len(meter.interval_since) <= 4
    assert len(meter.interval_since) < len(current)


def test_next_run_is_strictly_after(tmp_path: Path) -> None:
    plan = StreamPlan(period_s=60)
    moment = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    for _ in range(100):
        following = plan.next_run(moment, MOSCOW, "m-9")
        assert following > moment
        assert following - moment <= timedelta(seconds=60)
        moment = following
