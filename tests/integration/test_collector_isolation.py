"""Isolation of a dead meter (issue 5): a meter that never answers changes the cycle time of the
other buses by no more than 5 %, and delays the meters on its own bus by no more than its own
timeout budget.

Three TCP converters (buses ``a``, ``b``, ``c``) of three simulated Mercury 230 meters each; every
answer comes ``ANSWER_DELAY_S`` late, like a real meter's processing time, so a bus cycle is
mostly waiting on the meters rather than CPU. One in-process collector publishes to the local
Mosquitto; the test subscribes as the gateway would and measures only what the collector
publishes:

- the **cycle time** of a bus: the poll period is shorter than a cycle, so every bus reads its
  meters back to back, round the bus, and the interval between two consecutive ``read_at`` of
  one meter's ``clock`` messages is one cycle of its bus;
- the **attempts of the silent meter**: its retained state (``isu/v1/{id}/{meter}/state``), whose
  ``last_error_at`` stamps the end of each failed attempt and ``consecutive_failures`` counts
  them.

Healthy and silent windows alternate (meter ``a-2`` silenced, then answering again, four times
each), and every window gives each bus the same number of cycles, so a change in the load of a
shared machine during the test weighs on both sides alike; the figures are medians.

**The silent meter's own timeout budget**, from the code: the ``mercury230`` driver's read starts
by opening the channel; a meter that never answers fails that first exchange after the bus's
``timeout_s`` and the driver gives up (it retries only an expired channel, which needs an
answer). The bus poller reads all live streams in that one driver read and stops at a transport
error when nothing was read, and it repeats a read only after a lost connection, never after a
timeout. So one attempt holds the bus for 1 exchange × ``timeout_s`` (``pause_s`` is 0 here, and
``read_deadline_s``, which would cut a longer read, is far above it): budget = ``TIMEOUT_S``.

Asserted:

- buses ``b`` and ``c``: the median cycle with ``a-2`` silent is within 5 % of the healthy one;
- bus ``a``: the poll that follows an attempt of the silent meter starts later than a poll
  usually follows the one before by at most the budget plus ``TOLERANCE_S`` (the bookkeeping of
  the failure) plus the jitter those ordinary gaps show in the same run (how much any poll is
  late anyway on a busy machine); the median delay is within ``TOLERANCE_S`` of ``timeout_s``
  (the figure is real); cycles without an attempt are shorter than the healthy ones (the dead
  meter costs them nothing);
- the silent meter backs off: consecutive attempts are spaced by its backoff (its period, then
  twice that, … up to ``backoff_max_s``, shortened by at most the 20 % jitter); at the cap, whole
  cycles of bus ``a`` go by between two attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import aiomqtt
import pytest

from collector.config import CollectorConfig
from collector.service import Collector
from core.messages import MeterState, parse_message, parse_topic
from core.model import Stream, utc_now
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.fleet import SimulatorFleet, make_meters
from simulators.mercury230.protocol import Bus
from simulators.mercury230.server import BusServer
from tests.integration.test_collector_mqtt import forget_collector

pytestmark = pytest.mark.services

logger = logging.getLogger(__name__)

BUSES = ("a", "b", "c")
METERS_PER_BUS = 3
#: Each answer's lateness, as a meter behind a converter at 9600 baud; a ``clock`` read is 3
#: exchanges (open, time, close), so ~0.3 s of waiting per meter and ~1 s per cycle.
ANSWER_DELAY_S = 0.1
STREAM = Stream.CLOCK
TIMEOUT_S = 0.4
#: Shorter than a bus cycle (~1 s): the buses poll back to back.
PERIOD_S = 0.5
#: Backoff delays are 0.5, 1, 2 s: the cap is a few cycles of bus a.
BACKOFF_MAX_S = 2.0
#: See the module docstring: one unanswered exchange.
SILENT_BUDGET_S = 1 * TIMEOUT_S
#: The bookkeeping of a failure: the discard of stale input, the state report.
TOLERANCE_S = 0.05
#: Largest share by which a backoff delay is shortened (``collector.backoff.Backoff``).
BACKOFF_JITTER = 0.2
MAX_CYCLE_CHANGE = 0.05

SILENT_BUS = "a"
OTHER_BUSES = ("b", "c")
SILENT_METER = "a-2"
OTHERS = ("a-1", "a-3")
#: Healthy and silent windows, alternating, this many of each.
WINDOWS = 4
#: Cycles each window gives each bus (as intervals of its meters: cycles × meters).
SAMPLES = 2 * METERS_PER_BUS
#: Attempts to see in the last silent window: the 3rd and 4th are spaced by the cap.
SILENT_ATTEMPTS = 4


def _address(bus_index: int, position: int) -> int:
    return 10 * bus_index + position + 1


@pytest.fixture(autouse=True)
async def _tidy_broker(mqtt_address: tuple[str, int], topic_prefix_id: str) -> AsyncIterator[None]:
    yield
    await forget_collector(mqtt_address, topic_prefix_id)


@dataclass(frozen=True)
class Window:
    kind: Literal["healthy", "silent"]
    start: datetime
    end: datetime


@dataclass
class Observed:
    """What the collector published: each meter's read times and the silent meter's failures."""

    reads: dict[str, set[datetime]] = field(default_factory=lambda: defaultdict(set))
    #: The silent meter's failed attempts: ``last_error_at`` → ``consecutive_failures``.
    failures: dict[datetime, int] = field(default_factory=dict)

    def take(self, topic: str, payload: bytes) -> None:
        leaf = parse_topic(topic).leaf
        if leaf == "state":
            state = MeterState.model_validate_json(payload)
            if (
                state.meter == SILENT_METER
                and state.consecutive_failures
                and state.last_error_at is not None
            ):
                self.failures[state.last_error_at] = state.consecutive_failures
        elif leaf == STREAM.value:
            message = parse_message(payload)
            self.reads[message.meter].add(message.read_at)

    def intervals(
        self, meter: str, start: datetime, end: datetime | None = None
    ) -> list[tuple[datetime, datetime]]:
        """Consecutive reads ``(r0, r1)`` of ``meter`` within ``[start, end]``."""
        return [
            (r0, r1)
            for r0, r1 in itertools.pairwise(sorted(self.reads[meter]))
            if r0 >= start and (end is None or r1 <= end)
        ]

    def cycles(self, bus: str, start: datetime, end: datetime | None = None) -> list[float]:
        """The first ``SAMPLES`` cycles of ``bus`` within ``[start, end]``, in seconds."""
        intervals = sorted(
            interval
            for position in range(METERS_PER_BUS)
            for interval in self.intervals(f"{bus}-{position + 1}", start, end)
        )
        return [(r1 - r0).total_seconds() for r0, r1 in intervals[:SAMPLES]]

    def attempts(self, start: datetime) -> list[datetime]:
        return sorted(failed_at for failed_at in self.failures if failed_at > start)


async def eventually(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def stop(*tasks: asyncio.Task[None]) -> None:
    """Cancel ``tasks`` and wait, a while, for them to end (an error they ended with is raised)."""
    for task in tasks:
        task.cancel()
    done, pending = await asyncio.wait(tasks, timeout=10)
    assert not pending, f"{[task.get_name() for task in pending]} did not stop when cancelled"
    for task in done:
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            task.result()


def _config(
    cid: str, mqtt_address: tuple[str, int], queue: Path, ports: list[int]
) -> CollectorConfig:
    return CollectorConfig.model_validate(
        {
            "collector_id": cid,
            "mqtt": {"host": mqtt_address[0], "port": mqtt_address[1]},
            "queue": {"path": str(queue), "ack_timeout_s": 600},
            "poll": {"period_s": PERIOD_S, "backoff_max_s": BACKOFF_MAX_S},
            "bus": [
                {
                    "name": bus,
                    "transport": "tcp",
                    "host": "127.0.0.1",
                    "port": port,
                    "timeout_s": TIMEOUT_S,
                    "meter": [
                        {
                            "id": f"{bus}-{position + 1}",
                            "protocol": "mercury230",
                            "address": _address(index, position),
                            "streams": [STREAM.value],
                        }
                        for position in range(METERS_PER_BUS)
                    ],
                }
                for index, (bus, port) in enumerate(zip(BUSES, ports, strict=True))
            ],
        }
    )


async def test_a_silent_meter_costs_only_its_own_timeout_on_its_own_bus(
    tmp_path: Path, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> None:
    cid = topic_prefix_id
    servers = [
        BusServer(
            Bus(
                make_meters(
                    first_address=_address(index, 0),
                    count=METERS_PER_BUS,
                    seed=10 * index,
                    frozen=True,
                    history_days=0,
                    answer_delay_s=ANSWER_DELAY_S,
                ),
                name=bus,
            )
        )
        for index, bus in enumerate(BUSES)
    ]
    observed = Observed()
    windows: list[Window] = []

    async def fresh_read(meter: str) -> None:
        before = len(observed.reads[meter])
        await eventually(lambda: len(observed.reads[meter]) > before, timeout_s=10)

    def window_done(start: datetime, kind: str, last: bool = False) -> bool:
        measured = BUSES if kind == "healthy" else OTHER_BUSES
        if not all(len(observed.cycles(bus, start)) >= SAMPLES for bus in measured):
            return False
        if not last:
            return True
        # The last silent window also waits for the backoff to reach its cap, and for the cycle
        # of bus a that holds the last attempt to end.
        attempts = observed.attempts(start)
        return len(attempts) >= SILENT_ATTEMPTS and all(
            max(observed.reads[meter]) > attempts[-1] for meter in OTHERS
        )

    async with (
        asyncio.timeout(90),
        SimulatorFleet(servers) as fleet,
        aiomqtt.Client(*mqtt_address, identifier=f"gw-{cid}") as client,
    ):
        await client.subscribe(f"isu/v1/{cid}/+/+", qos=1)

        async def listen() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                observed.take(str(message.topic), message.payload)

        config = _config(
            cid, mqtt_address, tmp_path / "queue.sqlite3", [server.port for server in servers]
        )
        silent = fleet.meter(_address(BUSES.index(SILENT_BUS), 1))
        async with Collector(config) as collector:
            listener = asyncio.create_task(listen(), name="listener")
            run = asyncio.create_task(collector.run(), name="collector")
            try:
                # Warm-up: every bus connected and round once.
                await eventually(
                    lambda: all(
                        len(observed.reads[f"{bus}-{p + 1}"]) >= 2
                        for bus in BUSES
                        for p in range(METERS_PER_BUS)
                    ),
                    timeout_s=10,
                )
                for index in range(WINDOWS):
                    # Healthy from the silent meter's first read after its fault is cleared.
                    await fresh_read(SILENT_METER)
                    start = utc_now()
                    await eventually(functools.partial(window_done, start, "healthy"), timeout_s=15)
                    windows.append(Window("healthy", start, utc_now()))
                    # Silenced just after one of its reads, so that its first failure is a meter
                    # that never answers, not one that stops half-way through a read.
                    await fresh_read(SILENT_METER)
                    silent.fault = Fault(FaultMode.SILENCE)
                    start = utc_now()
                    last = index == WINDOWS - 1
                    await eventually(
                        functools.partial(window_done, start, "silent", last), timeout_s=25
                    )
                    windows.append(Window("silent", start, utc_now()))
                    if not last:
                        silent.fault = None
                failed_polls = {
                    meter: collector.metrics.registry.get_sample_value(
                        "isu_collector_polls_total",
                        {"bus": meter.split("-")[0], "meter": meter, "outcome": "failed"},
                    )
                    or 0.0
                    for meter in collector.meter_states()
                }
            finally:
                await stop(run, listener)

    # Every attempt of the silent meter was reported (its failure count goes 1, 2, … in each
    # silent window; one more attempt may have ended after the last report came in), and no
    # other meter ever failed.
    attempts = sorted(observed.failures.items())
    counts = [count for _, count in attempts]
    assert all(now in (before + 1, 1) for before, now in itertools.pairwise([0, *counts])), counts
    assert len(attempts) <= failed_polls.pop(SILENT_METER) <= len(attempts) + 1
    assert set(failed_polls.values()) == {0.0}, failed_polls
    failed_at = [at for at, _ in attempts]

    # --- other buses: the cycle changes by at most 5 % -------------------------------------------
    def pooled(bus: str, kind: str) -> list[float]:
        return [
            cycle_s
            for window in windows
            if window.kind == kind
            for cycle_s in observed.cycles(bus, window.start, window.end)
        ]

    figures: dict[str, tuple[float, float]] = {}
    for bus in BUSES:
        healthy, with_silent = pooled(bus, "healthy"), pooled(bus, "silent")
        assert len(healthy) == WINDOWS * SAMPLES
        assert bus == SILENT_BUS or len(with_silent) == WINDOWS * SAMPLES
        figures[bus] = (statistics.median(healthy), statistics.median(with_silent))
    for window in windows:
        logger.info(
            "%s window of %.1f s: median cycles %s",
            window.kind,
            (window.end - window.start).total_seconds(),
            ", ".join(
                f"{bus} {statistics.median(observed.cycles(bus, window.start, window.end)):.3f} s"
                for bus in BUSES
            ),
        )
    logger.info(
        "median bus cycles, healthy → with %s silent: %s",
        SILENT_METER,
        ", ".join(f"{bus} {h:.3f} s → {s:.3f} s" for bus, (h, s) in figures.items()),
    )
    for bus in OTHER_BUSES:
        healthy_s, silent_s = figures[bus]
        assert abs(silent_s - healthy_s) <= MAX_CYCLE_CHANGE * healthy_s, (bus, figures)

    # --- bus a: an attempt delays the next poll by at most the silent meter's budget ------------
    # The reads of the other meters of bus a follow each other; from the start of one to the start
    # of the next is one read, plus the silent meter's attempt when it was tried in between.
    delayed: list[float] = []
    plain: list[float] = []
    cycles_without: list[float] = []
    for window in windows:
        if window.kind != "silent":
            continue
        starts = sorted(
            r for meter in OTHERS for r in observed.reads[meter] if window.start <= r <= window.end
        )
        for r0, r1 in itertools.pairwise(starts):
            tried = any(r0 < at < r1 for at in failed_at)
            (delayed if tried else plain).append((r1 - r0).total_seconds())
        cycles_without += [
            (r1 - r0).total_seconds()
            for meter in OTHERS
            for r0, r1 in observed.intervals(meter, window.start, window.end)
            if not any(r0 < at < r1 for at in failed_at)
        ]
    assert len(delayed) >= SILENT_ATTEMPTS
    read_s = statistics.median(plain)
    jitter_s = max(plain) - read_s
    extra = [gap_s - read_s for gap_s in delayed]
    healthy_a = pooled(SILENT_BUS, "healthy")
    logger.info(
        "bus %s with %s silent: %d polls delayed by an attempt, by %.3f s (median), %.3f s (max); "
        "budget %.3f s; a read without one %.3f s (median, %d), jitter %.3f s; cycles without an "
        "attempt %.3f s (median) against %.3f s healthy",
        SILENT_BUS,
        SILENT_METER,
        len(delayed),
        statistics.median(extra),
        max(extra),
        SILENT_BUDGET_S,
        read_s,
        len(plain),
        jitter_s,
        statistics.median(cycles_without),
        statistics.median(healthy_a),
    )
    # Beyond what any poll of the bus varies by anyway (the jitter measured alongside).
    assert max(extra) <= SILENT_BUDGET_S + TOLERANCE_S + jitter_s, (extra, jitter_s)
    # Typically: its timeout and the bookkeeping of a failure, no more (and the figure is real).
    assert TIMEOUT_S - TOLERANCE_S <= statistics.median(extra) <= SILENT_BUDGET_S + TOLERANCE_S
    # Cycles without an attempt do not pay for the dead meter at all: two reads, not three.
    assert statistics.median(cycles_without) < statistics.median(healthy_a)

    # --- the silent meter backs off ---------------------------------------------------------------
    # After failure k its next attempt is due after a backoff of PERIOD_S × 2**(k-1), capped at
    # BACKOFF_MAX_S and shortened by at most the jitter; the attempt itself then takes its
    # timeout, after at most one round of the other meters due before it.
    at_cap = 0
    for (done, k), (next_done, next_k) in itertools.pairwise(attempts):
        if next_k != k + 1:
            continue  # it answered in between: a new silent window
        backoff_s = min(BACKOFF_MAX_S, PERIOD_S * 2 ** (k - 1))
        spacing_s = (next_done - done).total_seconds()
        assert spacing_s >= (1 - BACKOFF_JITTER) * backoff_s + TIMEOUT_S - 0.01, (k, spacing_s)
        assert spacing_s <= backoff_s + max(healthy_a) + SILENT_BUDGET_S + TOLERANCE_S, (
            k,
            spacing_s,
        )
        if backoff_s == BACKOFF_MAX_S:
            at_cap += 1
            # Whole cycles of bus a went by without it: each other meter read twice or more.
            for meter in OTHERS:
                between = [r for r in observed.reads[meter] if done < r < next_done]
                assert len(between) >= 2, (meter, k, spacing_s)
    assert at_cap >= 1
