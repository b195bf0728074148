"""``isu demo``: a whole simulated site end to end on the local services.

It starts, as separate processes exactly as on a real site: ``isu sim`` with a fleet of Mercury
230 meters on several RS-485 lines behind TCP converters, ``isu gateway``, ``isu collector`` and
``isu api``, each with a configuration file written to the work directory. It creates an admin
API key (replacing the previous demo's), waits until the API serves current readings of every
meter, prints the API's address and the key, and runs until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg

from core.errors import ConfigError
from core.localenv import LocalServices, free_port, load_local_services, services_file
from core.model import ID_PATTERN
from isu.apikey import create_key, revoke_key

__all__ = ["add_demo_arguments", "run_demo"]

_PASSWORD = "111111"  # noqa: S105 - the factory level-1 password of Mercury 230 meters
_KEY_NAME = "isu-demo"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--meters", type=int, default=20, help="simulated meters (default 20)")
    parser.add_argument("--buses", type=int, default=2, help="RS-485 lines they share (default 2)")
    parser.add_argument(
        "--api-port", type=int, default=8080, help="HTTP port (default 8080; 0 = any)"
    )
    parser.add_argument("--period-s", type=float, default=10.0, help="poll period (default 10 s)")
    parser.add_argument(
        "--site-id",
        default="demo-site",
        help="the collector's id; the gateway's MQTT client is isu-demo-gateway-SITE",
    )
    parser.add_argument("--database", default="isu_demo", help="database name (default isu_demo)")
    parser.add_argument("--workdir", type=Path, help="configs and logs (default .local/demo)")
    parser.add_argument("--ready-timeout-s", type=float, default=60.0, help="default 60 s")
    parser.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="stop everything once every meter's readings are served (for tests and CI)",
    )


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]


class _Site:
    """The demo's processes; stops them all, whatever happened."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.children: list[_Child] = []

    def start(self, name: str, *args: str, capture_stdout: bool = False) -> _Child:
        log = (self.workdir / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own command with our own arguments
            [sys.executable, "-m", "isu", *args],
            stdout=subprocess.PIPE if capture_stdout else log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        child = _Child(name, process, log)
        self.children.append(child)
        return child

    def run(self, name: str, *args: str) -> None:
        """Run a one-shot ``isu`` command to its end; its output goes to its log."""
        with (self.workdir / "logs" / f"{name}.log").open("ab") as log:
            done = subprocess.run(  # noqa: S603 - our own command with our own arguments
                [sys.executable, "-m", "isu", *args],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                timeout=120,
                check=False,
            )
        if done.returncode != 0:
            raise ConfigError(
                f"isu {name} exited with status {done.returncode}; "
                f"see {self.workdir / 'logs' / (name + '.log')}"
            )

    def check_alive(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise ConfigError(
                    f"isu {child.name} exited with status {code}; "
                    f"see {self.workdir / 'logs' / (child.name + '.log')}"
                )

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.log.close()


def _fleet_toml(meters: int, buses: int) -> str:
    lines = ['protocol = "mercury230"', "seed = 1", ""]
    for bus in range(buses):
        count = meters // buses + (1 if bus < meters % buses else 0)
        lines += ["[[bus]]", f'name = "line-{bus + 1}"', 'listen = "127.0.0.1:0"', ""]
        for address in range(1, count + 1):
            # Forty days of history: this month's and last month's snapshots, a journal.
            lines += ["[[bus.meter]]", f"address = {address}", "history_days = 40"]
            if address % 5 == 0:
                lines.append('schedule = "three-zone"')
            lines.append("")
    return "\n".join(lines)


#: Every stream, so that each block and screen of the API has data (issue: the demo fills every
#: block); the history streams catch up from the collector's ledger after the first read.
_DEMO_STREAMS = ["current", "instant", "clock", "info", "daily", "monthly", "interval", "events"]


def _collector_toml(
    site: str, layout: dict[str, Any], mqtt: tuple[str, int], period_s: float, workdir: Path
) -> str:
    lines = [
        f'collector_id = "{site}"',
        "",
        "[mqtt]",
        f'host = "{mqtt[0]}"',
        f"port = {mqtt[1]}",
        "",
        "[queue]",
        f'path = "{workdir / "collector-queue.sqlite3"}"',
        "ack_timeout_s = 30",
        "",
        "[poll]",
        f"period_s = {period_s}",
        "",
    ]
    for bus in layout["buses"]:
        host, _, port = bus["listen"].rpartition(":")
        lines += ["[[bus]]", f'name = "{bus["name"]}"', 'transport = "tcp"']
        lines += [f'host = "{host}"', f"port = {port}", "timeout_s = 1.0", ""]
        for meter in bus["meters"]:
            lines += ["[[bus.meter]]", f'id = "{meter["meter_id"]}"', 'protocol = "mercury230"']
            lines += [
                f"address = {meter['address']}",
                f'password_file = "{workdir / "meter-password"}"',
            ]
            lines += [f"streams = {json.dumps(_DEMO_STREAMS)}", ""]
    return "\n".join(lines)


def demo_registry(site: str, layout: dict[str, Any]) -> dict[str, Any]:
    """The object tree of the simulated site: one contract, an energy object per line, a
    connection point per line and a metering point per meter, with ATS codes (docs/registry.md).
    Every fifth meter sits behind 100/5 current transformers, as commercial meters often do."""
    energy_objects = []
    for index, bus in enumerate(layout["buses"], start=1):
        points = []
        for meter in bus["meters"]:
            ct = "20" if meter["address"] % 5 == 0 else "1"
            points.append(
                {
                    "number": str(meter["address"]),
                    "name": f"Щит {index}, ввод {meter['address']}",
                    "ats_code": f"7700000000{index:02d}{meter['address']:03d}",
                    "meters": [
                        {
                            "meter_id": meter["meter_id"],
                            "model": "Меркурий 230 ART-03",
                            "serial_number": meter["serial"],
                            "commissioned_on": "2024-03-01",
                            "isu_connected_on": "2024-03-15",
                            "verified_on": "2023-11-01",
                            "next_verification_on": "2039-11-01",
                            "capacity": "6.2",
                            "ct_ratio": ct,
                            "phases": 3,
                        }
                    ],
                }
            )
        energy_objects.append(
            {
                "number": f"{index:04d}",
                "name": f"Корпус {index} ({bus['name']})",
                "address": f"г. Москва, ул. Демонстрационная, д. {index}",
                "time_zone": "Europe/Moscow",
                "connection_points": [
                    {"number": "1", "name": f"ТП-{index}, ввод 1", "metering_points": points}
                ],
            }
        )
    return {
        "schema": 1,
        "contracts": [
            {
                "number": "770000000001",
                "name": f"Демонстрационный объект {site}",
                "sender_inn": "7700000000",
                "sender_name": "Демонстрационный сбыт",
                "area_inn": "7700000001",
                "area_name": "Демонстрационный потребитель",
                "zone_schedule": "two-zone",
                "energy_objects": energy_objects,
            }
        ],
    }


def _gateway_toml(site: str, services: LocalServices, dsn: str) -> str:
    return "\n".join(
        [
            "[mqtt]",
            f'host = "{services.mqtt.host}"',
            f"port = {services.mqtt.port}",
            f'client_id = "isu-demo-gateway-{site}"',
            f'collectors = ["{site}"]',
            "",
            "[database]",
            f'dsn = "{dsn}"',
            "",
        ]
    )


def _api_toml(dsn: str, port: int) -> str:
    return "\n".join(
        ["[http]", 'host = "127.0.0.1"', f"port = {port}", "", "[database]", f'dsn = "{dsn}"', ""]
    )


def _ensure_database(services: LocalServices, name: str) -> str:
    try:
        with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise ConfigError(f"cannot prepare database {name!r}: {exc}") from exc
    return services.postgres.dsn_for(name)


def _admin_key(dsn: str) -> str:
    """A new admin key named ``isu-demo``; the previous demo's key is revoked first."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            with contextlib.suppress(ConfigError):  # no previous demo key
                revoke_key(conn, name=_KEY_NAME)
            key, _ = create_key(conn, _KEY_NAME, admin=True)
    except psycopg.Error as exc:
        raise ConfigError(f"cannot create the demo's API key: {exc}") from exc
    return key


def _get_json(url: str, key: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our loopback API
        return json.loads(response.read())


def _served_meters(api: str, key: str, expected: set[str]) -> set[str]:
    """The expected meters whose every readings block the API serves: end of day, end of
    billing period, interval consumption and current values (the history streams included)."""
    try:
        listed = {meter["meter_id"] for meter in _get_json(f"{api}/api/v1/meters", key)}
    except (urllib.error.URLError, OSError, ValueError):
        return set()
    served = set()
    for meter_id in sorted(expected & listed):
        try:
            readings = _get_json(f"{api}/api/v1/meters/{meter_id}/readings", key)
        except (urllib.error.URLError, OSError, ValueError):
            continue
        if all(block["as_of"] is not None for block in readings["blocks"]):
            served.add(meter_id)
    return served


def _read_layout(child: _Child, timeout_s: float) -> dict[str, Any]:
    assert child.process.stdout is not None
    deadline = time.monotonic() + timeout_s
    line = b""
    os.set_blocking(child.process.stdout.fileno(), False)
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        chunk = child.process.stdout.readline()
        line += chunk or b""
        if not chunk:
            if child.process.poll() is not None:
                break
            time.sleep(0.05)
    if not line.endswith(b"\n"):
        raise ConfigError("isu sim did not say where it listens; see its log")
    layout: dict[str, Any] = json.loads(line)
    return layout


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(args: argparse.Namespace) -> int:
    if args.meters < 1 or args.buses < 1 or args.buses > args.meters:
        raise ConfigError("--meters must be at least 1 and --buses between 1 and --meters")
    if not re.fullmatch(ID_PATTERN, args.site_id):
        raise ConfigError(f"--site-id {args.site_id!r} may use only letters, digits and ._-")
    services = load_local_services()
    workdir: Path = (args.workdir or services_file().parent / "demo").resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    (workdir / "meter-password").write_text(_PASSWORD + "\n", encoding="utf-8")
    (workdir / "meter-password").chmod(0o600)
    dsn = _ensure_database(services, args.database)
    api_port = args.api_port or free_port()
    api = f"http://127.0.0.1:{api_port}"

    (workdir / "fleet.toml").write_text(_fleet_toml(args.meters, args.buses), encoding="utf-8")
    (workdir / "gateway.toml").write_text(
        _gateway_toml(args.site_id, services, dsn), encoding="utf-8"
    )
    (workdir / "api.toml").write_text(_api_toml(dsn, api_port), encoding="utf-8")

    site = _Site(workdir)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # a plain kill stops the whole site too
    try:
        sim = site.start("sim", "sim", "--config", str(workdir / "fleet.toml"), capture_stdout=True)
        layout = _read_layout(sim, timeout_s=30)
        mqtt = (services.mqtt.host, services.mqtt.port)
        collector_toml = _collector_toml(args.site_id, layout, mqtt, args.period_s, workdir)
        (workdir / "collector.toml").write_text(collector_toml, encoding="utf-8")
        registry = json.dumps(demo_registry(args.site_id, layout), ensure_ascii=False, indent=1)
        (workdir / "registry.json").write_text(registry, encoding="utf-8")
        site.run(
            "registry",
            "registry",
            "import",
            str(workdir / "registry.json"),
            "--config",
            str(workdir / "gateway.toml"),
        )
        key = _admin_key(dsn)  # the registry import applied the migrations
        site.start("gateway", "gateway", "--config", str(workdir / "gateway.toml"))
        site.start("api", "api", "--config", str(workdir / "api.toml"))
        site.start("collector", "collector", "--config", str(workdir / "collector.toml"))
        expected = {meter["meter_id"] for bus in layout["buses"] for meter in bus["meters"]}
        print(
            f"isu demo: {len(expected)} simulated meters on {len(layout['buses'])} lines; "
            f"configs and logs in {workdir}",
            flush=True,
        )
        served: set[str] = set()
        deadline = started + args.ready_timeout_s
        while time.monotonic() < deadline:
            site.check_alive()
            served = _served_meters(api, key, expected)
            if served == expected:
                break
            time.sleep(1.0)
        elapsed = time.monotonic() - started
        if served != expected:
            missing = ", ".join(sorted(expected - served)[:5])
            print(
                f"isu demo: only {len(served)} of {len(expected)} meters served after "
                f"{elapsed:.0f} s (missing {missing}…); see {workdir / 'logs'}",
                file=sys.stderr,
            )
            return 1
        print(
            f"isu demo: readings of all {len(expected)} meters served {elapsed:.1f} s after start",
            flush=True,
        )
        print(f"UI: {api}/ui/ (sign in with the key below)", flush=True)
        print(f"API: {api}/api/v1/meters", flush=True)
        print(f"API documentation: {api}/api/v1/docs", flush=True)
        print(f"API key (admin): {key}", flush=True)
        print(f'  curl -H "Authorization: Bearer {key}" {api}/api/v1/meters', flush=True)
        if args.exit_when_ready:
            return 0
        print("Ctrl-C stops the demo.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                site.check_alive()
                time.sleep(1.0)
        return 0
    finally:
        site.stop()
