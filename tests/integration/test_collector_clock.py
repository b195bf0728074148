"""The clock policy with real parts: the collector corrects a simulated Mercury 230 whose clock
drifts, within the protocol's ±240 s once a day, and records each correction as an event."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from collector.config import CollectorConfig
from collector.service import Collector
from core.messages import parse_message
from core.model import EventItem, Stream
from simulators.mercury230.fleet import SimulatorFleet, make_meters


def _config(tmp_path: Path, port: int, meters: list[tuple[str, int]]) -> CollectorConfig:
    return CollectorConfig.model_validate(
        {
            "collector_id": "site-clock",
            "mqtt": {"host": "127.0.0.1", "port": 9, "reconnect_initial_s": 5},
            "queue": {"path": str(tmp_path / "queue.sqlite3")},
            "bus": [
                {
                    "name": "line-1",
                    "transport": "tcp",
                    "host": "127.0.0.1",
                    "port": port,
                    "meter": [
                        {
                            "id": meter_id,
                            "protocol": "mercury230",
                            "address": address,
                            "streams": ["clock"],
                            "clock_policy": "correct",
                            "clock_threshold_s": 10,
                        }
                        for meter_id, address in meters
                    ],
                }
            ],
        }
    )


def _corrections(collector: Collector) -> dict[str, list[EventItem]]:
    found: dict[str, list[EventItem]] = {}
    for queued in collector.queue.sync.pending(0.0, 0.0, limit=1000):
        message = parse_message(queued.payload)
        if message.stream is Stream.EVENTS:
            found.setdefault(message.meter, []).extend(message.items)  # type: ignore[arg-type]
    return found


async def test_drift_is_corrected_within_the_limit_once_a_day(tmp_path: Path) -> None:
    fast, far = make_meters(first_address=1, count=2, seed=4, frozen=True)
    fast.drift_s = 95.0  # runs 95 s fast
    far.drift_s = -400.0  # 400 s slow: more than one day's correction
    async with SimulatorFleet.single_bus([fast, far]) as fleet:
        config = _config(tmp_path, fleet.buses[0].port, [(fast.meter_id, 1), (far.meter_id, 2)])
        async with Collector(config) as collector:
            await collector.poll_once()
            assert abs(fast.drift_s) <= 1.5
            after_first = far.drift_s
            assert abs(after_first + 160) <= 1  # moved forward by the limit, 240 s
            events = _corrections(collector)
            (fast_event,) = events[fast.meter_id]
            assert fast_event.journal == "collector:clock"
            assert "на -95 с" in fast_event.text or "на -94 с" in fast_event.text
            (far_event,) = events[far.meter_id]
            assert "на +240 с" in far_event.text

            await collector.poll_once()  # the same day: no second attempt
            assert far.drift_s == after_first
            assert sum(len(items) for items in _corrections(collector).values()) == 2
            states = collector.meter_states()
    assert states[far.meter_id].consecutive_failures == 0


async def test_the_meter_journal_entry_of_a_correction_is_still_read(tmp_path: Path) -> None:
    (meter,) = make_meters(first_address=1, count=1, seed=5, frozen=True)
    meter.drift_s = -60.0  # slow: its "before" stamp is a minute behind the correction
    async with SimulatorFleet.single_bus([meter]) as fleet:
        config = _config(tmp_path, fleet.buses[0].port, [(meter.meter_id, 1)])
        bus = config.buses[0].model_dump()
        bus["meter"] = [bus.pop("meters")[0] | {"streams": ["clock", "events"]}]
        config = CollectorConfig.model_validate(
            config.model_dump(exclude={"buses"}) | {"bus": [bus]}
        )
        async with Collector(config) as collector:
            await collector.poll_once()  # reads the journals, then corrects the clock
            corrected = [
                e for e in _corrections(collector)[meter.meter_id] if e.journal == "collector:clock"
            ]
            assert len(corrected) == 1
            await collector.poll_once()  # the meter's own entry of that correction comes now
            journal = [
                event
                for event in _corrections(collector)[meter.meter_id]
                if event.journal == "mercury230:02"
                and event.code == 1
                and event.ts >= corrected[0].ts.replace(microsecond=0) - timedelta(minutes=2)
            ]
    assert journal, "the meter's clock-correction journal entry was skipped"
