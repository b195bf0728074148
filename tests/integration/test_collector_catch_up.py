"""Catch-up with real parts: the mercury230 driver reads simulated meters over TCP through the
collector, which is stopped while the meters go on recording; when it comes back it reads every
missed profile interval and journal entry the meters hold, exactly once.

No broker is needed: MQTT points at a closed port, so every message stays in the disk queue,
which is what the test inspects (the ledger lives in the same file).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.config import CollectorConfig
from collector.service import Collector
from core.messages import parse_message
from core.model import Stream
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.fleet import SimulatorFleet, make_meters

HALF_HOUR = timedelta(minutes=30)


def _config(tmp_path: Path, port: int, meter_ids: list[str]) -> CollectorConfig:
    return CollectorConfig.model_validate(
        {
            "collector_id": "site-catch-up",
            "mqtt": {"host": "127.0.0.1", "port": 9, "reconnect_initial_s": 5},
            "queue": {"path": str(tmp_path / "queue.sqlite3")},
            "bus": [
                {
                    "name": "line-1",
                    "transport": "tcp",
                    "host": "127.0.0.1",
                    "port": port,
                    "timeout_s": 1.0,
                    "meter": [
                        {
                            "id": meter_id,
                            "protocol": "mercury230",
                            "address": index + 1,
                            "streams": ["current", "interval", "events"],
                        }
                        for index, meter_id in enumerate(meter_ids)
                    ],
                }
            ],
        }
    )


def _queued(collector: Collector, stream: Stream) -> Counter[tuple[str, str, datetime]]:
    """How often each (meter, channel, ts) item of ``stream`` stands in the queue."""
    seen: Counter[tuple[str, str, datetime]] = Counter()
    for queued in collector.queue.sync.pending(0.0, 0.0, limit=100_000):
        message = parse_message(queued.payload)
        if message.stream is stream:
            for item in message.items:
                channel = getattr(item, "obis", None) or f"{item.journal}/{item.code}"  # type: ignore[union-attr]
                seen[(message.meter, channel, item.ts)] += 1
    return seen


async def test_a_collector_that_was_down_reads_every_missed_interval_and_event_once(
    tmp_path: Path,
) -> None:
    # The meters' clock stands half a day behind the real one, so that everything they record
    # is in the driver's past while its default window (the last day) still covers it.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=12)
    clock = ManualClock(start + timedelta(minutes=5))
    meters = make_meters(first_address=1, count=2, clock=clock, seed=21, history_days=2)
    ids = [meter.meter_id for meter in meters]
    async with SimulatorFleet.single_bus(meters) as fleet:
        config = _config(tmp_path, fleet.buses[0].port, ids)
        async with Collector(config) as collector:
            await collector.poll_once()
            first = _queued(collector, Stream.INTERVAL)
            marks = {meter_id: collector.queue.sync.ledger(meter_id) for meter_id in ids}
        assert first, "the first contact reads the driver's default window of the profile"
        for meter_id in ids:
            assert {"interval", "events"} <= set(marks[meter_id])

        # The collector is down for three hours; one meter loses its supply for ten minutes.
        clock.advance(3600)
        meters[0].power_failure(600)
        clock.advance(2 * 3600)

        async with Collector(config) as collector:
            await collector.poll_once()
            after = _queued(collector, Stream.INTERVAL)
            events = _queued(collector, Stream.EVENTS)
            marks_after = {meter_id: collector.queue.sync.ledger(meter_id) for meter_id in ids}

    assert max(after.values()) == 1, "an interval was read twice"
    new = set(after) - set(first)
    for meter_id in ids:
        stamps = sorted(
            ts for meter, obis, ts in new if meter == meter_id and obis == "1.0.1.29.0.255"
        )
        last_before = datetime.fromtimestamp(marks[meter_id]["interval"], UTC)
        # Every half-hour since the last one read, up to the meter's last complete one — except
        # the slots of the outage, which the meter has no record of.
        expected = [last_before + HALF_HOUR * step for step in range(1, 7)]
        if meter_id == ids[0]:
            assert set(stamps) <= set(expected)
            assert len(stamps) >= 5
        else:
            assert stamps == expected
        assert marks_after[meter_id]["interval"] == expected[-1].timestamp()
    assert max(events.values()) == 1, "a journal entry was read twice"
    outage = [key for key in events if key[0] == ids[0] and key[2] >= start + timedelta(hours=1)]
    assert outage, "the power failure reached the queue"
