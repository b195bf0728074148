"""The collector reads SPODES meters with the ``dlms`` driver exactly as Mercury meters: an HDLC
line of two simulated meters and a wrapper meter, stopped while the meters go on recording;
when it comes back it reads every missed profile interval, daily snapshot and journal entry
once, from its ledger. A meter configured on the line that never answers costs its own
timeouts and nothing else.

No broker is needed: MQTT points at a closed port, so every message stays in the disk queue,
which is what the test inspects (the ledger lives in the same file).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig
from collector.service import Collector
from core.messages import parse_message
from core.model import Stream
from simulators.dlms.cli import DlmsSimulator
from simulators.dlms.meter import SpodesMeter, SpodesSettings
from simulators.mercury230.clock import ManualClock

HALF_HOUR = timedelta(minutes=30)
STREAMS = ["current", "daily", "interval", "events", "clock"]


def _meter(meter_id: str, transport: str, address: int) -> dict[str, Any]:
    return {"id": meter_id, "protocol": "dlms", "address": address, "streams": STREAMS,
            "options": {"transport": transport}}


def _config(tmp_path: Path, line_port: int, wrapper_port: int) -> CollectorConfig:
    bus = {"transport": "tcp", "host": "127.0.0.1", "timeout_s": 1.0}
    return CollectorConfig.model_validate({
        "collector_id": "site-dlms",
        "mqtt": {"host": "127.0.0.1", "port": 9, "reconnect_initial_s": 5},
        "queue": {"path": str(tmp_path / "queue.sqlite3")},
        "bus": [
            bus | {"name": "rs485-line", "port": line_port,
                   "meter": [_meter("line-16", "hdlc", 16), _meter("line-17", "hdlc", 17),
                             _meter("ghost-20", "hdlc", 20) | {"options": {"retries": 0}}]},
            bus | {"name": "wrapper", "port": wrapper_port,
                   "meter": [_meter("wrapped", "wrapper", 1)]},
        ],
    })


def _queued(collector: Collector, stream: Stream) -> Counter[tuple[str, str, datetime]]:
    seen: Counter[tuple[str, str, datetime]] = Counter()
    for queued in collector.queue.sync.pending(0.0, 0.0, limit=100_000):
        message = parse_message(queued.payload)
        if message.stream is stream:
            for item in message.items:
                channel = getattr(item, "obis", None) or f"{item.journal}/{item.code}"  # type: ignore[union-attr]
                seen[(message.meter, channel, item.ts)] += 1
    return seen


@asynccontextmanager
async def _simulators(meters: list[SpodesMeter]) -> AsyncIterator[tuple[int, int]]:
    async with DlmsSimulator(meters[:2], transport="hdlc") as line, \
            DlmsSimulator(meters[2], transport="wrapper") as wrapper:
        assert line.tcp is not None
        assert wrapper.tcp is not None
        yield line.tcp.port, wrapper.tcp.port


async def test_a_collector_that_was_down_reads_every_missed_item_of_dlms_meters_once(
    tmp_path: Path,
) -> None:
    # The meters' clock stands 20 hours behind the real one, so that everything they record
    # is in the driver's past while its default windows (the last day of profile, the last two
    # days of daily snapshots) still cover it, whatever the time of day.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=20)
    clock = ManualClock(start + timedelta(minutes=5))
    meters = [SpodesMeter(SpodesSettings(serial=f"5000{index:04d}", seed=index, history_days=2),
                          clock=clock) for index in range(3)]
    ids = ["line-16", "line-17", "wrapped"]
    ghost = "ghost-20"
    async with _simulators(meters) as (line_port, wrapper_port):
        config = _config(tmp_path, line_port, wrapper_port)
        async with Collector(config) as collector:
            await collector.poll_once()
            first = _queued(collector, Stream.INTERVAL)
            first_daily = _queued(collector, Stream.DAILY)
            current = _queued(collector, Stream.CURRENT)
            marks = {meter_id: collector.queue.sync.ledger(meter_id) for meter_id in ids}
        assert {meter for meter, _, _ in first} == set(ids)
        assert {meter for meter, _, _ in current} == set(ids)
        for meter_id in ids:
            assert {"interval", "events", "daily"} <= set(marks[meter_id])

        # Down for 19 hours; one meter loses its supply for ten minutes and another has its
        # terminal cover opened.
        clock.advance(3600)
        meters[0].power_failure(600)
        meters[2].open_cover()
        clock.advance(18 * 3600)

        async with Collector(config) as collector:
            await collector.poll_once()
            after = _queued(collector, Stream.INTERVAL)
            daily = _queued(collector, Stream.DAILY)
            events = _queued(collector, Stream.EVENTS)
            marks_after = {meter_id: collector.queue.sync.ledger(meter_id)
                           for meter_id in [*ids, ghost]}

    assert not any(meter == ghost for meter, _, _ in after)
    assert marks_after[ghost] == {}
    assert max(after.values()) == 1, "an interval was read twice"
    assert max(daily.values()) == 1, "a daily snapshot was read twice"
    assert max(events.values()) == 1, "a journal entry was read twice"
    new = set(after) - set(first)
    for index, meter_id in enumerate(ids):
        stamps = sorted(ts for meter, obis, ts in new
                        if meter == meter_id and obis == "1.0.1.29.0.255")
        last_before = datetime.fromtimestamp(marks[meter_id]["interval"], UTC)
        # Every half-hour the meter recorded after the last one read (through its outage).
        expected = sorted((entry.stamp - HALF_HOUR).astimezone(UTC)
                          for entry in meters[index].load_profile
                          if entry.stamp - HALF_HOUR > last_before)
        assert len(expected) == 38
        assert stamps == expected, meter_id
        assert marks_after[meter_id]["interval"] == expected[-1].timestamp()
        snapshots = {ts for meter, _, ts in set(daily) - set(first_daily) if meter == meter_id}
        last_daily = datetime.fromtimestamp(marks[meter_id]["daily"], UTC)
        assert snapshots == {entry.stamp.astimezone(UTC) for entry in meters[index].daily
                             if entry.stamp > last_daily}
    power = [key for key in events if key[0] == "line-16" and key[1].startswith("spodes:2/")]
    assert len(power) >= 2, "the power failure's off and on reached the queue"
    assert ("wrapped", "spodes:4/3") in {(meter, channel) for meter, channel, _ in events}
