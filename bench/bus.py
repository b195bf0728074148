"""Bus efficiency: how close a full poll of an RS-485 line gets to what the line and meters allow.

Run from the top of the checkout (no services needed)::

    python -m bench.bus                                  # 16 meters at 9600 baud, 20 ms answers
    python -m bench.bus --meters 2 --profile-hours 1     # the tiny size CI runs

Simulated Mercury 230 meters share one serial line on a pseudo-terminal, paced at the baud (the
simulator writes no byte sooner than the line could carry it, and starts an answer only after
the request is off the line plus the meter's answer delay). The ``mercury230`` driver reads each
meter in turn over ``drivers.transport.serial`` — a full poll: current registers, instantaneous
values, the load profile of the last ``--profile-hours`` (30-minute records) and the journals —
while a counting stream tallies every byte and request.

The baseline, taken in the same run from the same counts, is what the bus and the meters allow::

    allowed = wire time of every byte exchanged
            + the protocol's mandated silence that ends each request (the inter-byte timeout of
              the baud table, docs/reference/mercury-protocol.md §1.5: 5 ms at 9600) × exchanges
              (the driver finds the end of an answer from its length, so it waits no gap)
            + the meters' configured answer delay × exchanges

    bus efficiency    = allowed ÷ elapsed          (target ≥ 0.9)
    wire utilisation  = wire time ÷ elapsed

The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from core.model import Stream
from drivers.base import MeterEndpoint, create_driver
from drivers.transport.counting import CountingStream, TrafficCounts
from drivers.transport.serial import open_serial
from drivers.transport.timing import inter_byte_timeout_s, wire_time_s
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.fleet import make_meters
from simulators.mercury230.protocol import Bus
from simulators.mercury230.server import PtyBusServer

__all__ = ["run"]


async def run(meters: int, baud: int, answer_delay_ms: float, profile_hours: int) -> dict[str, Any]:
    # The meters' clock stands half a day behind, so the profile read is all in the driver's past.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = ManualClock(now - timedelta(hours=12))
    fleet = make_meters(
        first_address=1,
        count=meters,
        clock=clock,
        seed=1,
        history_days=max(1, profile_hours // 24 + 1),
        answer_delay_s=answer_delay_ms / 1000,
    )
    server = PtyBusServer(Bus(fleet, name="bench"), baud=baud)
    await server.start()
    counts = TrafficCounts()
    read_items = 0
    failed: list[str] = []
    try:
        stream = CountingStream(await open_serial(server.device, baud), counts)
        since = clock() - timedelta(hours=profile_hours)
        started = time.perf_counter()
        for meter in fleet:
            endpoint = MeterEndpoint(
                meter_id=meter.meter_id, protocol="mercury230", address=meter.address, timeout_s=1.0
            )
            driver = create_driver(stream, endpoint)
            live = await driver.read([Stream.CURRENT, Stream.INSTANT])
            history = await driver.read([Stream.INTERVAL, Stream.EVENTS], since=since)
            for result in (live, history):
                read_items += sum(len(result.items(s)) for s in result.streams())
                failed += [f"{meter.meter_id}:{s.value}" for s in result.errors]
        elapsed = time.perf_counter() - started
        await stream.close()
    finally:
        await server.close()

    wire_s = wire_time_s(counts.bytes_total, baud)
    gaps_s = counts.writes * inter_byte_timeout_s(baud)
    answers_s = counts.writes * answer_delay_ms / 1000
    allowed_s = wire_s + gaps_s + answers_s
    return {
        "meters": meters,
        "baud": baud,
        "answer_delay_ms": answer_delay_ms,
        "profile_hours": profile_hours,
        "exchanges": counts.writes,
        "bytes": counts.bytes_total,
        "items_read": read_items,
        "streams_failed": failed,
        "elapsed_s": round(elapsed, 3),
        "wire_s": round(wire_s, 3),
        "mandated_gaps_s": round(gaps_s, 3),
        "answer_delays_s": round(answers_s, 3),
        "allowed_s": round(allowed_s, 3),
        "bus_efficiency": round(allowed_s / elapsed, 3),
        "wire_utilisation": round(wire_s / elapsed, 3),
        "overhead_per_exchange_ms": round((elapsed - allowed_s) / counts.writes * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bus", description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=16)
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--answer-delay-ms", type=float, default=20.0)
    parser.add_argument("--profile-hours", type=int, default=24)
    args = parser.parse_args()
    figures = asyncio.run(run(args.meters, args.baud, args.answer_delay_ms, args.profile_hours))
    print(
        f"{figures['meters']} meters at {figures['baud']} baud: {figures['exchanges']} exchanges, "
        f"{figures['bytes']} bytes, {figures['items_read']} items in {figures['elapsed_s']} s"
    )
    print(
        f"  allowed {figures['allowed_s']} s = wire {figures['wire_s']} s + gaps "
        f"{figures['mandated_gaps_s']} s + answers {figures['answer_delays_s']} s"
    )
    print(
        f"  bus efficiency {figures['bus_efficiency']} (target 0.9), wire utilisation "
        f"{figures['wire_utilisation']}, overhead {figures['overhead_per_exchange_ms']} ms/exchange"
    )
    if figures["streams_failed"]:
        print(f"  streams not read: {', '.join(figures['streams_failed'])}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
