"""The collector's bus efficiency metric on a serial line paced at its baud: simulated Mercury
230 meters on a pseudo-terminal, read through the collector's serial bus."""

from __future__ import annotations

from pathlib import Path

from collector.config import CollectorConfig
from collector.service import Collector
from simulators.mercury230.fleet import make_meters
from simulators.mercury230.protocol import Bus
from simulators.mercury230.server import PtyBusServer


async def test_the_collector_reports_how_much_of_the_bus_time_the_line_needed(
    tmp_path: Path,
) -> None:
    meters = make_meters(first_address=1, count=2, seed=8, frozen=True, answer_delay_s=0.0)
    server = PtyBusServer(Bus(meters, name="line"), baud=9600)
    await server.start()
    try:
        config = CollectorConfig.model_validate(
            {
                "collector_id": "site-efficiency",
                "mqtt": {"host": "127.0.0.1", "port": 9, "reconnect_initial_s": 5},
                "queue": {"path": str(tmp_path / "queue.sqlite3")},
                "bus": [
                    {
                        "name": "rs485-1",
                        "transport": "serial",
                        "device": server.device,
                        "baud": 9600,
                        "meter": [
                            {"id": meter.meter_id, "protocol": "mercury230", "address": index + 1}
                            for index, meter in enumerate(meters)
                        ],
                    }
                ],
            }
        )
        async with Collector(config) as collector:
            states = await collector.poll_once()
            registry = collector.metrics.registry
            busy = registry.get_sample_value(
                "isu_collector_bus_busy_seconds_total", {"bus": "rs485-1"}
            )
            wire = registry.get_sample_value(
                "isu_collector_bus_wire_seconds_total", {"bus": "rs485-1"}
            )
            efficiency = registry.get_sample_value(
                "isu_collector_bus_efficiency", {"bus": "rs485-1"}
            )
    finally:
        await server.close()
    assert all(state.consecutive_failures == 0 for state in states.values())
    assert busy is not None
    assert wire is not None
    assert efficiency is not None
    assert 0 < wire < busy  # the simulated line is paced: reads take at least the wire time
    assert efficiency == wire / busy
    assert efficiency > 0.5  # nothing else on this line: most of the time is the line's
