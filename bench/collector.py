"""Collector throughput: readings per collector CPU-second and the collector's memory, site size.

Run from the top of the checkout, with the local services started::

    python -m bench.collector              # 2,000 meters behind 64 TCP converters (~32 per bus)
    python -m bench.collector --converters 2 --meters 6 --sim-processes 1 --period-s 2 \\
        --interval-s 4 --events-s 6 --window-s 6 --baseline-s 3     # the tiny size CI runs

Every part runs in its own process, as on a site: ``isu sim --config`` (``--sim-processes`` of
them) serves the simulated Mercury 230 meters, one TCP listener per converter; ONE
``isu collector --config`` polls them and publishes to the local Mosquitto; ``isu gateway
--config`` stores into a fresh database and sends the end-to-end acknowledgements. The gateway
is there because a site has one: without acknowledgements the collector's disk queue would
grow by every message and publish each again after ``ack_timeout_s``, work no site does. Only
the collector is measured. It publishes with ``max_inflight = 100``: at these rates the default
20 per round trip falls behind, the queue grows, and the window would not pay for publishing all
that it read.

The poll plan of every meter: ``current`` + ``instant`` + ``clock`` every ``--period-s``
(default 15 s) in one driver read, the ``interval`` profile every ``--interval-s`` (60 s) and
the ``events`` journals every ``--events-s`` (120 s), both since their ledger marks
(``[bus.meter.plan]``, collector/plan.py). A site reads every 5–30 minutes; the periods are
compressed so that 2,000 meters keep one collector busy enough to measure. The simulators keep
a 30-minute profile and their journals change rarely, so history reads are mostly the requests
that find nothing new, as on a site.

Warm-up lasts until every meter has been read twice (a meter's first read takes the history's
default window: a day of profile, every journal) and ``--events-s`` has passed. Then, over
``--window-s``:

    readings             = increase of isu_collector_items_read_total, every stream (each
                           register, instantaneous or interval value, clock item and event is one)
    CPU                  = increase of the collector process's user + system time
                           (/proc/PID/stat: every thread — event loop, SQLite worker, metrics)
    readings per CPU-s   = readings / CPU                                   (target ≥ 10,000)
    RSS peak             = VmHWM of the collector process at the end        (target ≤ 150 MB)

The baseline, taken in the same run (the machines are shared and noisy) after the collector has
stopped: the same reads by a bare loop in this process — one task per converter, the
``mercury230`` driver's ``read()`` of the same streams in the same proportions (history on every
``interval_s / period_s``-th and ``events_s / period_s``-th round, since the collector's own
ledger marks), with no schedule, no messages, no disk queue, no MQTT — for ``--baseline-s``.
Its readings per CPU-second (this process's CPU) are what the driver and the transport cost by
themselves; ``collector_cost_x`` is the collector's CPU per reading over the baseline's.

The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import aiomqtt
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from collector.queue import DiskQueue
from core.localenv import LocalServices, free_port, load_local_services
from core.messages import state_topic, status_topic
from core.model import Stream
from drivers.base import MeterEndpoint, create_driver
from drivers.transport.tcp import open_tcp
from timeseries.migrate import apply_migrations

__all__ = ["run"]

TARGET_READINGS_PER_CPU_S = 10_000
TARGET_RSS_MB = 150
#: Publishes awaiting PUBACK (see the module notes; the default is 20).
MAX_INFLIGHT = 100
LIVE = (Stream.CURRENT, Stream.INSTANT, Stream.CLOCK)
HISTORY = (Stream.INTERVAL, Stream.EVENTS)
_TICKS = os.sysconf("SC_CLK_TCK")
_AFTER = timedelta(microseconds=1)  # ``since`` is inclusive: start after the newest item read


@dataclass(frozen=True)
class Plan:
    period_s: float
    interval_s: float
    events_s: float


# --- processes ------------------------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system time of a process, every thread."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def cpu_s(pid: int) -> float:
    return sum(cpu_times(pid))


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a process, MB."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(value.split()[0]) / 1024
    return found


class Site:
    """The child processes, each in its own process group; all stopped whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def start(self, name: str, *args: str, stdout: bool = False) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        self._logs.append(log)
        child = subprocess.Popen(
            [sys.executable, "-m", "isu", *args],
            stdout=subprocess.PIPE if stdout else log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.children[name] = child
        return child

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise SystemExit(
                    f"{name} exited with status {child.returncode}:\n{self.tail(name)}"
                )

    def tail(self, name: str, lines: int = 20) -> str:
        text = (self.workdir / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, name: str, timeout_s: float = 20.0) -> int:
        child = self.children.pop(name)
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if child.stdout is not None:
            child.stdout.close()
        return child.returncode

    def close(self) -> None:
        for name in list(self.children):
            self.stop(name)
        for log in self._logs:
            log.close()


def read_layout(child: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    """The first line ``isu sim`` prints: where its buses listen."""
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout_s)
    line = child.stdout.readline() if ready else b""
    if not line.endswith(b"\n"):
        raise SystemExit(f"isu sim did not say where it listens within {timeout_s:g} s")
    layout: dict[str, Any] = json.loads(line)
    return layout


# --- configuration files --------------------------------------------------------------------


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def fleet_toml(converters: list[tuple[int, int]]) -> str:
    """One simulator's fleet: ``(converter number, meters)`` pairs; serials unique site-wide."""
    lines = ['protocol = "mercury230"', "seed = 1", ""]
    for number, meters in converters:
        lines += ["[[bus]]", f'name = "conv-{number:03d}"', 'listen = "127.0.0.1:0"', ""]
        for address in range(1, meters + 1):
            serial = 40_000_000 + number * 1000 + address
            lines += ["[[bus.meter]]", f"address = {address}", f'serial = "{serial}"']
            lines += ["history_days = 2", ""]
    return "\n".join(lines)


def collector_toml(
    collector_id: str,
    services: LocalServices,
    buses: list[dict[str, Any]],
    plan: Plan,
    queue: Path,
    metrics_port: int,
) -> str:
    streams = ", ".join(f'"{stream.value}"' for stream in (*LIVE, *HISTORY))
    lines = [
        f'collector_id = "{collector_id}"',
        "",
        "[mqtt]",
        f'host = "{services.mqtt.host}"',
        f"port = {services.mqtt.port}",
        f"max_inflight = {MAX_INFLIGHT}",
        "",
        "[queue]",
        f'path = "{queue}"',
        "",
        "[poll]",
        f"period_s = {plan.period_s}",
        "",
        "[metrics]",
        f'listen = "127.0.0.1:{metrics_port}"',
        "",
    ]
    for bus in buses:
        host, _, port = bus["listen"].rpartition(":")
        lines += ["[[bus]]", f'name = "{bus["name"]}"', 'transport = "tcp"']
        lines += [f'host = "{host}"', f"port = {port}", ""]
        for meter in bus["meters"]:
            lines += ["[[bus.meter]]", f'id = "{meter["meter_id"]}"', 'protocol = "mercury230"']
            lines += [f"address = {meter['address']}", f"streams = [{streams}]"]
            lines += [f"plan = {{ interval = {plan.interval_s}, events = {plan.events_s} }}", ""]
    return "\n".join(lines)


def gateway_toml(collector_id: str, services: LocalServices, dsn: str, metrics_port: int) -> str:
    return "\n".join(
        [
            "[mqtt]",
            f'host = "{services.mqtt.host}"',
            f"port = {services.mqtt.port}",
            f'client_id = "{collector_id}-gateway"',
            f'collectors = ["{collector_id}"]',
            "session_expiry_s = 60",
            "",
            "[database]",
            f'dsn = "{dsn}"',
            "",
            "[metrics]",
            f'listen = "127.0.0.1:{metrics_port}"',
            "",
        ]
    )


@contextlib.contextmanager
def scratch_database(services: LocalServices) -> Iterator[str]:
    name = f"isu_bench_{secrets.token_hex(4)}"
    with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = services.postgres.dsn_for(name)
        apply_migrations(dsn)
        yield dsn
    finally:
        with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- metrics --------------------------------------------------------------------------------


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a ``/metrics`` endpoint: (name, sorted labels) → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def by_label(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, label: str
) -> dict[str, float]:
    """The samples of ``name`` summed by one label."""
    totals: dict[str, float] = {}
    for (sample, labels), value in samples.items():
        if sample == name:
            key = dict(labels)[label]
            totals[key] = totals.get(key, 0.0) + value
    return totals


def increase_by_label(
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    label: str,
) -> dict[str, int]:
    """How much the samples of ``name`` grew between two scrapes, by one label (growths of 0
    left out)."""
    then = by_label(before, name, label)
    grown = {key: value - then.get(key, 0.0) for key, value in by_label(after, name, label).items()}
    return {key: int(value) for key, value in sorted(grown.items()) if value}


def wait_until(condition: Any, timeout_s: float, what: str, site: Site) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        site.check_alive()
        with contextlib.suppress(OSError):
            if condition():
                return
        time.sleep(0.5)
    raise SystemExit(f"gave up waiting {timeout_s:g} s for {what}")


def warmed_up(port: int, meters: int) -> bool:
    reads = Counter[str]()
    for (name, labels), value in scrape(port).items():
        label = dict(labels)
        if name == "isu_collector_polls_total" and label["outcome"] in ("ok", "partial"):
            reads[label["meter"]] += int(value)
    return sum(1 for count in reads.values() if count >= 2) >= meters


async def forget_collector(services: LocalServices, collector_id: str, meters: list[str]) -> None:
    """Leave the shared broker as it was: no persistent session, no retained state."""
    address = (services.mqtt.host, services.mqtt.port)
    async with aiomqtt.Client(*address, identifier=collector_id, clean_session=True):
        pass  # a clean session replaces, then discards, the stored one
    async with aiomqtt.Client(*address, max_inflight_messages=100) as client:
        topics = [status_topic(collector_id), *(state_topic(collector_id, m) for m in meters)]
        for start in range(0, len(topics), 100):
            await asyncio.gather(
                *(client.publish(t, b"", qos=1, retain=True) for t in topics[start : start + 100])
            )


# --- the baseline ---------------------------------------------------------------------------


async def baseline(
    buses: list[dict[str, Any]], marks: dict[tuple[str, Stream], float], plan: Plan, seconds: float
) -> dict[str, Any]:
    """The same reads by the bare driver, one task per converter, for ``seconds``."""
    every_interval = max(1, round(plan.interval_s / plan.period_s))
    every_events = max(1, round(plan.events_s / plan.period_s))
    items: Counter[str] = Counter()
    reads = failures = 0
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def one_bus(bus: dict[str, Any]) -> None:
        nonlocal reads, failures
        host, _, port = bus["listen"].rpartition(":")
        stream = await open_tcp(host, int(port))
        try:
            turn = 0
            while loop.time() < stop_at:
                for position, meter in enumerate(bus["meters"]):
                    if loop.time() >= stop_at:
                        break
                    meter_id = meter["meter_id"]
                    endpoint = MeterEndpoint(meter_id, "mercury230", meter["address"])
                    driver = create_driver(stream, endpoint)
                    wanted: list[tuple[tuple[Stream, ...], Stream | None]] = [(LIVE, None)]
                    if (turn + position) % every_interval == 0:
                        wanted.append(((Stream.INTERVAL,), Stream.INTERVAL))
                    if (turn + position) % every_events == 0:
                        wanted.append(((Stream.EVENTS,), Stream.EVENTS))
                    for streams, history in wanted:
                        since = None
                        if history is not None and (meter_id, history) in marks:
                            mark = marks[(meter_id, history)]
                            since = datetime.fromtimestamp(mark, UTC) + _AFTER
                        result = await driver.read(streams, since=since)
                        reads += 1
                        failures += len(result.errors)
                        for read in result.streams():
                            got = result.items(read)
                            items[read.value] += len(got)
                            if history is not None:
                                newest = max(item.ts for item in got).timestamp()
                                marks[(meter_id, history)] = newest
                turn += 1
        finally:
            await stream.close()

    started_cpu = time.process_time()
    started = loop.time()
    await asyncio.gather(*(one_bus(bus) for bus in buses))
    cpu = time.process_time() - started_cpu
    readings = sum(items.values())
    return {
        "seconds": round(loop.time() - started, 2),
        "reads": reads,
        "failures": failures,
        "readings": readings,
        "readings_by_stream": dict(sorted(items.items())),
        "cpu_s": round(cpu, 3),
        "readings_per_cpu_s": round(readings / cpu),
    }


# --- the run --------------------------------------------------------------------------------


def run(
    converters: int,
    meters: int,
    plan: Plan,
    window_s: float,
    baseline_s: float,
    sim_processes: int,
    warmup_timeout_s: float,
) -> dict[str, Any]:
    per_converter = split(meters, converters)
    if min(per_converter) < 1 or max(per_converter) > 240:
        raise SystemExit("give 1..240 meters per converter")
    services = load_local_services()
    collector_id = f"bench-{secrets.token_hex(4)}"
    metrics_port, gateway_port = free_port(), free_port()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isu-bench-")))
        site = Site(workdir)
        stack.callback(site.close)

        numbered = list(enumerate(per_converter, start=1))
        groups = [numbered[index::sim_processes] for index in range(sim_processes)]
        sims = []
        for index, group in enumerate(g for g in groups if g):
            fleet = workdir / f"fleet-{index}.toml"
            fleet.write_text(fleet_toml(group), encoding="utf-8")
            sims.append(site.start(f"sim-{index}", "sim", "--config", str(fleet), stdout=True))
        buses = [bus for sim in sims for bus in read_layout(sim, 600)["buses"]]
        meter_ids = [meter["meter_id"] for bus in buses for meter in bus["meters"]]

        dsn = stack.enter_context(scratch_database(services))
        (workdir / "gateway.toml").write_text(
            gateway_toml(collector_id, services, dsn, gateway_port), encoding="utf-8"
        )
        site.start("gateway", "gateway", "--config", str(workdir / "gateway.toml"))
        wait_until(
            lambda: scrape(gateway_port).get(("isu_gateway_mqtt_connected", ())) == 1,
            60,
            "the gateway to connect",
            site,
        )

        queue = workdir / "collector-queue.sqlite3"
        (workdir / "collector.toml").write_text(
            collector_toml(collector_id, services, buses, plan, queue, metrics_port),
            encoding="utf-8",
        )

        def forget() -> None:
            site.close()  # the collector first: it would take its client id back
            asyncio.run(forget_collector(services, collector_id, meter_ids))

        stack.callback(forget)
        started = time.monotonic()
        config = str(workdir / "collector.toml")
        collector = site.start("collector", "collector", "--config", config)
        wait_until(
            lambda: warmed_up(metrics_port, meters) and time.monotonic() - started >= plan.events_s,
            warmup_timeout_s,
            "every meter to be read twice",
            site,
        )
        warmup_s = time.monotonic() - started

        pids = {name: child.pid for name, child in site.children.items() if name != "collector"}
        before, cpu_before = scrape(metrics_port), cpu_times(collector.pid)
        others_before = {name: cpu_s(pid) for name, pid in pids.items()}
        window_started = time.monotonic()
        while time.monotonic() - window_started < window_s:
            site.check_alive()
            time.sleep(min(1.0, max(0.0, window_s - (time.monotonic() - window_started))))
        after, cpu_after = scrape(metrics_port), cpu_times(collector.pid)
        measured_s = time.monotonic() - window_started
        others = {name: cpu_s(pid) - others_before[name] for name, pid in pids.items()}
        memory = memory_mb(collector.pid)
        collector_exit = site.stop("collector")
        site.stop("gateway")

        ledger = DiskQueue(queue)
        try:
            marks = {
                (meter_id, Stream(stream)): ts
                for meter_id in meter_ids
                for stream, ts in ledger.ledger(meter_id).items()
            }
        finally:
            ledger.close()
        base = asyncio.run(baseline(buses, marks, plan, baseline_s))

    def increase(name: str, label: str) -> dict[str, int]:
        return increase_by_label(before, after, name, label)

    items = increase("isu_collector_items_read_total", "stream")
    polls = increase("isu_collector_polls_total", "outcome")
    errors = increase("isu_collector_poll_errors_total", "error")
    published = increase("isu_collector_messages_published_total", "attempt")
    acknowledged = (
        after[("isu_collector_messages_acknowledged_total", ())]
        - before[("isu_collector_messages_acknowledged_total", ())]
    )
    readings = sum(items.values())
    user, system = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    cpu = user + system
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "converters": converters,
        "meters": meters,
        "sim_processes": len(sims),
        "period_s": plan.period_s,
        "interval_s": plan.interval_s,
        "events_s": plan.events_s,
        "warmup_s": round(warmup_s, 1),
        "window_s": round(measured_s, 1),
        "polls": sum(polls.values()),
        "polls_by_outcome": polls,
        "failures": polls.get("failed", 0) + sum(errors.values()),
        "errors": errors,
        "readings": readings,
        "readings_by_stream": items,
        "collector_cpu_s": round(cpu, 2),
        "collector_cpu_user_s": round(user, 2),
        "collector_cpu_system_s": round(system, 2),
        "collector_cpu_share": round(cpu / measured_s, 3),
        "readings_per_cpu_s": round(readings / cpu),
        "cpu_per_reading_us": round(cpu / readings * 1e6, 1),
        "rss_peak_mb": round(memory["VmHWM"], 1),
        "rss_end_mb": round(memory["VmRSS"], 1),
        "published": sum(published.values()),
        "acknowledged": int(acknowledged),
        "queue_depth_end": int(after[("isu_collector_queue_depth", ())]),
        "collector_exit": collector_exit,
        "others_cpu_s": {name: round(value, 2) for name, value in sorted(others.items())},
        "baseline": base,
        "baseline_cpu_per_reading_us": round(base["cpu_s"] / base["readings"] * 1e6, 1),
    }
    figures["collector_cost_x"] = round(
        figures["cpu_per_reading_us"] / figures["baseline_cpu_per_reading_us"], 2
    )
    figures["meets_targets"] = (
        figures["readings_per_cpu_s"] >= TARGET_READINGS_PER_CPU_S
        and figures["rss_peak_mb"] <= TARGET_RSS_MB
    )
    return figures


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a plain kill stops the children too (the ``finally`` blocks)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.collector", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--converters", type=int, default=64, help="TCP listeners (buses)")
    parser.add_argument("--meters", type=int, default=2000, help="spread evenly over them")
    parser.add_argument("--period-s", type=float, default=15.0, help="current, instant, clock")
    parser.add_argument("--interval-s", type=float, default=60.0, help="the load profile")
    parser.add_argument("--events-s", type=float, default=120.0, help="the journals")
    parser.add_argument("--window-s", type=float, default=120.0, help="measured after warm-up")
    parser.add_argument("--baseline-s", type=float, default=30.0)
    parser.add_argument("--sim-processes", type=int, default=2)
    parser.add_argument("--warmup-timeout-s", type=float, default=900.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    plan = Plan(args.period_s, args.interval_s, args.events_s)
    figures = run(
        args.converters,
        args.meters,
        plan,
        args.window_s,
        args.baseline_s,
        max(1, args.sim_processes),
        args.warmup_timeout_s,
    )
    print(
        f"{figures['meters']} meters on {figures['converters']} converters, one collector: "
        f"{figures['polls']} polls, {figures['readings']} readings in {figures['window_s']} s "
        f"(warm-up {figures['warmup_s']} s)"
    )
    print(
        f"  collector: {figures['collector_cpu_s']} CPU-s, {figures['readings_per_cpu_s']} "
        f"readings/CPU-s (target {TARGET_READINGS_PER_CPU_S}), RSS peak "
        f"{figures['rss_peak_mb']} MB (target {TARGET_RSS_MB}), failures {figures['failures']}"
    )
    base = figures["baseline"]
    print(
        f"  baseline (bare driver): {base['readings']} readings, {base['cpu_s']} CPU-s, "
        f"{base['readings_per_cpu_s']} readings/CPU-s; the collector costs "
        f"x{figures['collector_cost_x']} of it per reading"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
