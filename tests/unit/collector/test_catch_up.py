"""Catch-up: history streams are read since the ledger's mark, exactly once, across restarts.

The ledger lives in the disk queue and moves in the same transaction as the messages it
describes; the fake meter's profile memory stands in for a meter's load profile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from collector.service import Collector
from core.errors import ObjectUnavailableError, TransportTimeoutError
from core.messages import parse_message
from core.model import ReadingItem, Stream
from tests.unit.collector.fake_driver import BENCH, FakeMeter, MemoryBuses, make_config, tcp_bus

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def _intervals(first: int, count: int) -> list[ReadingItem]:
    return [
        ReadingItem(
            obis="1.0.1.29.0.255",
            ts=T0 + timedelta(minutes=30 * index),
            value=Decimal(index) / 1000,
            unit="kWh",
            period_s=1800,
        )
        for index in range(first, first + count)
    ]


def _config(tmp_path: Path, streams: list[str]):  # type: ignore[no-untyped-def]
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0]["streams"] = streams
    return make_config(tmp_path, [bus])


def _queued_intervals(collector: Collector) -> list[datetime]:
    stamps = []
    for queued in collector.queue.sync.pending(0.0, 0.0, limit=100_000):
        message = parse_message(queued.payload)
        if message.stream is Stream.INTERVAL:
            stamps += [item.ts for item in message.items]
    return sorted(stamps)


async def test_each_interval_is_read_once_and_the_ledger_follows(tmp_path: Path) -> None:
    meter = BENCH["m-1"] = FakeMeter(profile=_intervals(0, 4))
    async with Collector(_config(tmp_path, ["interval"]), open_stream=MemoryBuses()) as collector:
        await collector.poll_once()  # first contact: the driver's default window (2 newest)
        assert _queued_intervals(collector) == [item.ts for item in meter.profile[2:]]
        mark = collector.queue.sync.ledger("m-1")["interval"]
        assert mark == meter.profile[-1].ts.timestamp()

        await collector.poll_once()  # nothing new: asked since the mark, nothing queued
        assert meter.interval_since[-1] == meter.profile[-1].ts + timedelta(microseconds=1)
        assert len(_queued_intervals(collector)) == 2

        meter.profile += _intervals(4, 3)
        await collector.poll_once()
        assert _queued_intervals(collector) == [item.ts for item in meter.profile[2:]]
        assert collector.queue.sync.ledger("m-1")["interval"] == meter.profile[-1].ts.timestamp()


async def test_a_restarted_collector_catches_up_from_its_ledger(tmp_path: Path) -> None:
    meter = BENCH["m-1"] = FakeMeter(profile=_intervals(0, 2))
    config = _config(tmp_path, ["current", "interval"])
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
    # The collector is down while the meter records ten more half-hours.
    meter.profile += _intervals(2, 10)
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
        stamps = _queued_intervals(collector)
    assert stamps == [item.ts for item in meter.profile]  # all twelve, none twice
    assert len(set(stamps)) == 12


async def test_a_refused_history_stream_keeps_its_mark_and_the_live_streams_flow(
    tmp_path: Path,
) -> None:
    meter = BENCH["m-1"] = FakeMeter(profile=_intervals(0, 3))
    async with Collector(
        _config(tmp_path, ["current", "interval"]), open_stream=MemoryBuses()
    ) as collector:
        await collector.poll_once()
        mark = collector.queue.sync.ledger("m-1")["interval"]
        meter.profile += _intervals(3, 2)
        meter.stream_errors[Stream.INTERVAL] = ObjectUnavailableError("meter m-1: no profile now")
        states = await collector.poll_once()
        assert collector.queue.sync.ledger("m-1")["interval"] == mark
        assert states["m-1"].last_error_class == "ObjectUnavailableError"
        current = [
            q
            for q in collector.queue.sync.pending(0.0, 0.0, 1000)
            if parse_message(q.payload).stream is Stream.CURRENT
        ]
        assert len(current) == 2  # the live stream was read both times

        del meter.stream_errors[Stream.INTERVAL]
        await collector.poll_once()
        assert meter.interval_since[-1] == datetime.fromtimestamp(mark, UTC) + timedelta(
            microseconds=1
        )
        assert _queued_intervals(collector) == [item.ts for item in meter.profile[1:]]


async def test_a_meter_that_does_not_answer_leaves_the_ledger_alone(tmp_path: Path) -> None:
    meter = BENCH["m-1"] = FakeMeter(
        profile=_intervals(0, 3), failure=TransportTimeoutError("meter m-1: no answer")
    )
    async with Collector(_config(tmp_path, ["interval"]), open_stream=MemoryBuses()) as collector:
        states = await collector.poll_once()
        assert collector.queue.sync.ledger("m-1") == {}
        assert states["m-1"].last_error_class == "TransportTimeoutError"
    assert meter.reads == 1


def _current_qualities(collector: Collector) -> list[tuple[Decimal, str]]:
    seen = []
    for queued in collector.queue.sync.pending(0.0, 0.0, limit=100_000):
        message = parse_message(queued.payload)
        if message.stream is Stream.CURRENT:
            seen += [(item.value, item.quality.value) for item in message.items]  # type: ignore[union-attr]
    return seen


async def test_a_register_that_goes_back_is_stored_invalid(tmp_path: Path) -> None:
    meter = BENCH["m-1"] = FakeMeter(fixed_value=Decimal("500.0"))
    async with Collector(_config(tmp_path, ["current"]), open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
        meter.fixed_value = Decimal("499.9")  # no capacity given: any decrease is implausible
        await collector.poll_once()
        meter.fixed_value = Decimal("500.1")
        await collector.poll_once()
        assert _current_qualities(collector) == [
            (Decimal("500.0"), "ok"),
            (Decimal("499.9"), "invalid"),
            (Decimal("500.1"), "ok"),
        ]


async def test_a_rollover_at_the_capacity_is_plausible(tmp_path: Path) -> None:
    meter = BENCH["m-1"] = FakeMeter(fixed_value=Decimal("99.5"))
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0] |= {"streams": ["current"], "capacity": "2.1"}  # counts up to 99.9
    async with Collector(make_config(tmp_path, [bus]), open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
        meter.fixed_value = Decimal("0.4")  # rolled over: 0.9 kWh consumed
        await collector.poll_once()
        meter.fixed_value = Decimal("60.0")
        await collector.poll_once()
        meter.fixed_value = Decimal("10.0")  # back by 50: a reset or a swap, not a rollover
        await collector.poll_once()
        assert [quality for _, quality in _current_qualities(collector)] == [
            "ok",
            "ok",
            "ok",
            "invalid",
        ]


async def test_at_the_queue_bound_history_waits_with_the_meter_and_live_data_flows(
    tmp_path: Path,
) -> None:
    meter = BENCH["m-1"] = FakeMeter(profile=_intervals(0, 2))
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0]["streams"] = ["current", "interval"]
    config = make_config(tmp_path, [bus], queue={"max_messages": 3})
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await collector.poll_once()  # current + interval: 2 messages
        mark = collector.queue.sync.ledger("m-1")["interval"]
        meter.profile += _intervals(2, 4)
        await collector.poll_once()  # current + interval (4 new): 4 messages, over the bound
        assert collector.queue.depth() == 4
        assert collector.history_paused()
        reads_before = len(meter.interval_since)
        meter.profile += _intervals(6, 2)
        await collector.poll_once()  # at the bound: only current is read
        assert len(meter.interval_since) == reads_before
        assert collector.metrics.registry.get_sample_value("isu_collector_history_paused") == 1
        assert collector.queue.sync.ledger("m-1")["interval"] > mark
        held = collector.queue.sync.ledger("m-1")["interval"]

        # The gateway acknowledges everything; the next poll reads what waited, once.
        collector.queue.sync.acknowledge(
            [q.id for q in collector.queue.sync.pending(0.0, 0.0, 1000)]
        )
        assert not collector.history_paused()
        await collector.poll_once()
        assert meter.interval_since[-1] == datetime.fromtimestamp(held, UTC) + timedelta(
            microseconds=1
        )
        assert _queued_intervals(collector) == [item.ts for item in meter.profile[6:]]
