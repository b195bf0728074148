"""Modbus throughput: readings per second from Modbus TCP units, requests per reading, and
readings per collector CPU-second.

Run from the top of the checkout, with the local services started::

    python -m bench.modbus                       # 100 Modbus TCP units of 40 points each
    python -m bench.modbus --units 4 --window-s 4 --baseline-s 2    # the tiny size CI runs

``isu sim --config`` serves ``--units`` simulated Modbus TCP meters, each on its own port as a
meter with its own Ethernet port would be, all with one register map of 40 points: the 20
energy registers A+, A-, R+, R- × total and zones 1..4 (u32, Wh, holding registers) and 20
instantaneous values (float32, input registers): U, I, P, Q, S, cos φ per phase, total P and
Q. ONE ``isu collector --config`` reads ``current`` and ``instant`` from every unit every
``--period-s`` (a TCP bus per unit) and publishes to the local Mosquitto; ``isu gateway`` stores
into a fresh database and acknowledges, as on a site. Warm-up lasts until every unit has been
read twice. Then, over ``--window-s``:

    readings               = increase of isu_collector_items_read_total
    readings per second    = readings / window
    requests               = increase of the requests the simulated units served (their
                             control port's ``state``)
    requests per reading   = requests / readings                          (target ≤ 0.1)
    readings per CPU-s     = readings / the collector process's user + system time

The baseline, taken in the same run after the collector has stopped (the machines are shared
and noisy): the same reads by a bare loop in this process — one task per unit, the ``modbus``
driver's ``read()`` of the same streams over its own TCP connection, back to back, with no
schedule, no messages, no disk queue, no MQTT — for ``--baseline-s``. Its readings per
CPU-second are what the driver, pymodbus's framing and the transport cost by themselves;
``collector_cost_x`` is the collector's CPU per reading over the baseline's.

The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.collector import (
    MAX_INFLIGHT,
    Site,
    cpu_times,
    forget_collector,
    gateway_toml,
    increase_by_label,
    memory_mb,
    read_layout,
    scrape,
    scratch_database,
    wait_until,
    warmed_up,
)
from core.localenv import LocalServices, free_port, load_local_services
from core.model import Stream
from core.obis import INSTANT_CHANNELS, EnergyKind, energy_obis
from drivers.base import MeterEndpoint, create_driver
from drivers.modbus.driver import ModbusDriver
from drivers.transport.tcp import open_tcp

__all__ = ["bench_map", "run"]

TARGET_REQUESTS_PER_READING = 0.1
STREAMS = (Stream.CURRENT, Stream.INSTANT)
MAP_NAME = "bench-40"
#: U, I, P, Q, S, cos φ of each phase, then total P and Q.
_INSTANT = list(INSTANT_CHANNELS)[:20]
_REGISTER_UNIT = {"kW": "W", "kvar": "var", "kVA": "VA"}


def bench_map() -> str:
    """The 40-point map every simulated unit serves and the collector reads."""
    lines = ["# The benchmark's meter: 20 energy registers and 20 instantaneous values.",
             "[model]", f'name = "{MAP_NAME}"', 'manufacturer = "isu-gateway"',
             'model = "benchmark meter, 40 points"', "function = 3", "max_registers = 125",
             "max_gap = 0", ""]
    address = 0
    for kind in EnergyKind:
        for zone in range(5):
            lines += ["[[point]]", f'obis = "{energy_obis(kind, zone)}"', f"address = {address}",
                      'type = "u32"', f'unit = "{"Wh" if kind.unit == "kWh" else "varh"}"',
                      'stream = "current"', ""]
            address += 2
    for index, obis in enumerate(_INSTANT[:20]):
        unit = INSTANT_CHANNELS[obis].unit
        lines += ["[[point]]", f'obis = "{obis}"', f"address = {2 * index}", 'type = "float32"',
                  f'unit = "{_REGISTER_UNIT.get(unit, unit)}"',
                  'resolution = "0.01"', 'stream = "instant"', "function = 4", ""]
    return "\n".join(lines)


def fleet_toml(units: int, map_path: Path) -> str:
    lines = ['protocol = "modbus"', "seed = 1", "", "[control]", 'listen = "127.0.0.1:0"', ""]
    for number in range(1, units + 1):
        lines += ["[[bus]]", f'name = "unit-{number:03d}"', 'listen = "127.0.0.1:0"',
                  'framing = "tcp"', "", "[[bus.unit]]", "unit = 1", f'map = "{map_path}"',
                  f'serial = "{30_000_000 + number}"', ""]
    return "\n".join(lines)


def collector_toml(collector_id: str, services: LocalServices, buses: list[dict[str, Any]],
                   map_path: Path, period_s: float, queue: Path, metrics_port: int) -> str:
    streams = ", ".join(f'"{stream.value}"' for stream in STREAMS)
    lines = [f'collector_id = "{collector_id}"', "", "[mqtt]", f'host = "{services.mqtt.host}"',
             f"port = {services.mqtt.port}", f"max_inflight = {MAX_INFLIGHT}", "", "[queue]",
             f'path = "{queue}"', "", "[poll]", f"period_s = {period_s}", "", "[metrics]",
             f'listen = "127.0.0.1:{metrics_port}"', ""]
    for bus in buses:
        host, _, port = bus["listen"].rpartition(":")
        lines += ["[[bus]]", f'name = "{bus["name"]}"', 'transport = "tcp"', f'host = "{host}"',
                  f"port = {port}", ""]
        for unit in bus["units"]:
            lines += ["[[bus.meter]]", f'id = "{unit["meter_id"]}"', 'protocol = "modbus"',
                      f"address = {unit['unit']}", f"streams = [{streams}]",
                      f'options = {{ map = "{map_path}", framing = "tcp" }}', ""]
    return "\n".join(lines)


def requests_served(control: str) -> int:
    """Requests the simulated units have served, from their control port."""
    host, _, port = control.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(b'{"cmd": "state"}\n')
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = connection.recv(1 << 20)
            if not chunk:
                break
            answer += chunk
    document = json.loads(answer)
    if not document.get("ok"):
        raise SystemExit(f"the simulator's control port refused state: {document}")
    return sum(int(state["requests"]) for state in document["states"])


async def baseline(buses: list[dict[str, Any]], map_path: Path, seconds: float) -> dict[str, Any]:
    """Back-to-back reads of every unit by a bare driver loop in this process."""
    readings = requests = 0
    stop_at = time.monotonic() + seconds

    async def one_unit(bus: dict[str, Any]) -> None:
        nonlocal readings, requests
        host, _, port = bus["listen"].rpartition(":")
        unit = bus["units"][0]
        stream = await open_tcp(host, int(port))
        endpoint = MeterEndpoint(unit["meter_id"], "modbus", unit["unit"],
                                 options={"map": str(map_path), "framing": "tcp"})
        try:
            while time.monotonic() < stop_at:
                driver = create_driver(stream, endpoint)
                result = await driver.read(STREAMS)
                readings += sum(len(result.items(each)) for each in STREAMS)
                assert isinstance(driver, ModbusDriver)
                requests += driver.requests
        finally:
            await stream.close()

    cpu_before = sum(cpu_times(os.getpid()))
    started = time.monotonic()
    await asyncio.gather(*(one_unit(bus) for bus in buses))
    elapsed = time.monotonic() - started
    cpu = sum(cpu_times(os.getpid())) - cpu_before
    return {"seconds": round(elapsed, 1), "readings": readings, "requests": requests,
            "cpu_s": round(cpu, 2), "readings_per_cpu_s": round(readings / cpu) if cpu else None,
            "requests_per_reading": round(requests / readings, 4) if readings else None}


def run(units: int, period_s: float, window_s: float, baseline_s: float,
        warmup_timeout_s: float) -> dict[str, Any]:
    services = load_local_services()
    collector_id = f"bench-modbus-{secrets.token_hex(4)}"
    metrics_port, gateway_port = free_port(), free_port()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isu-bench-")))
        site = Site(workdir)
        stack.callback(site.close)
        map_path = workdir / f"{MAP_NAME}.toml"
        map_path.write_text(bench_map(), encoding="utf-8")
        (workdir / "fleet.toml").write_text(fleet_toml(units, map_path), encoding="utf-8")
        sim = site.start("sim", "sim", "--config", str(workdir / "fleet.toml"), stdout=True)
        layout = read_layout(sim, 300)
        buses, control = layout["buses"], layout["control"]
        meter_ids = [unit["meter_id"] for bus in buses for unit in bus["units"]]

        dsn = stack.enter_context(scratch_database(services))
        (workdir / "gateway.toml").write_text(
            gateway_toml(collector_id, services, dsn, gateway_port), encoding="utf-8")
        site.start("gateway", "gateway", "--config", str(workdir / "gateway.toml"))
        wait_until(lambda: scrape(gateway_port).get(("isu_gateway_mqtt_connected", ())) == 1,
                   60, "the gateway to connect", site)
        (workdir / "collector.toml").write_text(collector_toml(
            collector_id, services, buses, map_path, period_s,
            workdir / "collector-queue.sqlite3", metrics_port), encoding="utf-8")

        def forget() -> None:
            site.close()
            asyncio.run(forget_collector(services, collector_id, meter_ids))

        stack.callback(forget)
        started = time.monotonic()
        collector = site.start("collector", "collector", "--config",
                               str(workdir / "collector.toml"))
        wait_until(lambda: warmed_up(metrics_port, units), warmup_timeout_s,
                   "every unit to be read twice", site)
        warmup_s = time.monotonic() - started

        before, cpu_before = scrape(metrics_port), cpu_times(collector.pid)
        requests_before = requests_served(control)
        window_started = time.monotonic()
        while time.monotonic() - window_started < window_s:
            site.check_alive()
            time.sleep(min(0.5, max(0.0, window_s - (time.monotonic() - window_started))))
        after, cpu_after = scrape(metrics_port), cpu_times(collector.pid)
        requests = requests_served(control) - requests_before
        measured_s = time.monotonic() - window_started
        memory = memory_mb(collector.pid)
        site.stop("collector")
        site.stop("gateway")
        base = asyncio.run(baseline(buses, map_path, baseline_s))

    items = increase_by_label(before, after, "isu_collector_items_read_total", "stream")
    polls = increase_by_label(before, after, "isu_collector_polls_total", "outcome")
    readings = sum(items.values())
    cpu = (cpu_after[0] - cpu_before[0]) + (cpu_after[1] - cpu_before[1])
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "units": units,
        "points_per_unit": 40,
        "period_s": period_s,
        "warmup_s": round(warmup_s, 1),
        "window_s": round(measured_s, 1),
        "polls": sum(polls.values()),
        "polls_by_outcome": polls,
        "readings": readings,
        "readings_by_stream": items,
        "readings_per_s": round(readings / measured_s, 1),
        "requests": requests,
        "requests_per_reading": round(requests / readings, 4) if readings else None,
        "collector_cpu_s": round(cpu, 2),
        "readings_per_cpu_s": round(readings / cpu) if cpu else None,
        "cpu_per_reading_us": round(cpu / readings * 1e6, 1) if readings else None,
        "rss_peak_mb": round(memory["VmHWM"], 1),
        "baseline": base,
    }
    if figures["cpu_per_reading_us"] and base["readings"] and base["cpu_s"]:
        base_us = base["cpu_s"] / base["readings"] * 1e6
        figures["baseline_cpu_per_reading_us"] = round(base_us, 1)
        figures["collector_cost_x"] = round(figures["cpu_per_reading_us"] / base_us, 2)
    figures["meets_target"] = (figures["requests_per_reading"] is not None
                               and figures["requests_per_reading"] <= TARGET_REQUESTS_PER_READING)
    return figures


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.modbus",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=100, help="Modbus TCP units, 40 points each")
    parser.add_argument("--period-s", type=float, default=1.0, help="current + instant")
    parser.add_argument("--window-s", type=float, default=60.0, help="measured after warm-up")
    parser.add_argument("--baseline-s", type=float, default=20.0)
    parser.add_argument("--warmup-timeout-s", type=float, default=300.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    figures = run(args.units, args.period_s, args.window_s, args.baseline_s,
                  args.warmup_timeout_s)
    base = figures["baseline"]
    print(f"{figures['units']} Modbus TCP units × 40 points, one collector, period "
          f"{figures['period_s']} s: {figures['readings']} readings in {figures['window_s']} s "
          f"= {figures['readings_per_s']} readings/s (warm-up {figures['warmup_s']} s)")
    print(f"  requests: {figures['requests']}, {figures['requests_per_reading']} per reading "
          f"(target ≤ {TARGET_REQUESTS_PER_READING}); collector {figures['collector_cpu_s']} "
          f"CPU-s, {figures['readings_per_cpu_s']} readings/CPU-s, RSS peak "
          f"{figures['rss_peak_mb']} MB")
    print(f"  baseline (bare driver loop, same run): {base['readings_per_cpu_s']} readings/CPU-s, "
          f"{base['requests_per_reading']} requests per reading; collector cost "
          f"×{figures.get('collector_cost_x')}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
