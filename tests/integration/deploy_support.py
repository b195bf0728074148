"""Running the isu services of ``deploy/compose/docker-compose.yml`` on this host.

The compose file is read through ``docker-compose config`` (Debian's docker-compose 1.29 prints
the resolved file as YAML), so the tests see what compose itself would run. :class:`HostSite`
then starts every service built from the product's Dockerfile as a process here, in the order
of its ``depends_on``: the same command line, the same environment and the same configuration
files, copied with only what must differ on a shared test host replaced (:func:`host_overrides`):
the addresses of TimescaleDB and Mosquitto (the local services of deploy/local/services.sh),
free ports instead of the containers' fixed ones, a scratch database, and ids unique to the test
so that it never meets other tests on the shared broker. A service is ready when its own compose
healthcheck, run here with the same port substitution, succeeds.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from core.localenv import LocalServices, free_port

__all__ = [
    "COMPOSE_DIR",
    "COMPOSE_FILE",
    "ENV_SAMPLE",
    "TOP",
    "HostSite",
    "compose_config",
    "dump_toml",
    "empty_database",
    "require_tool",
]

TOP = Path(__file__).resolve().parents[2]
COMPOSE_DIR = TOP / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_SAMPLE = COMPOSE_DIR / "env.sample"
ISU = Path(sys.executable).with_name("isu")
READY_TIMEOUT_S = 60.0


def require_tool(name: str, package: str) -> str:
    """The tool's path; a missing tool fails the test (never skips it), naming its package."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: apt-get install {package} "
                    "(deploy/local/services.sh install does it as root)")
    return found


def compose_config(*args: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``docker-compose config`` of the compose file with env.sample's settings, parsed."""
    tool = require_tool("docker-compose", "docker-compose")
    done = subprocess.run(
        [tool, "--project-directory", str(COMPOSE_DIR), "-f", str(COMPOSE_FILE),
         "--env-file", str(ENV_SAMPLE), *args, "config"],
        capture_output=True, text=True, check=False, env=_compose_env(env),
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = yaml.safe_load(done.stdout)
    return document


def _compose_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    # The variables of env.sample must come from the file, not from whoever runs the tests.
    env = {key: value for key, value in os.environ.items() if not key.startswith("ISU_")}
    env.update(extra or {})
    return env


def empty_database(services: LocalServices) -> Iterator[str]:
    """A new database with only the TimescaleDB extension (no migrations); dropped afterwards."""
    name = f"isu_deploy_{secrets.token_hex(6)}"
    with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield services.postgres.dsn_for(name)
    finally:
        with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------- TOML


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _dump_table(path: list[str], table: dict[str, Any], array: bool, lines: list[str]) -> None:
    if path:
        name = ".".join(path)
        lines += ["", f"[[{name}]]" if array else f"[{name}]"]
    for key, value in table.items():
        if not isinstance(value, dict) and not _is_tables(value):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            _dump_table([*path, key], value, False, lines)
        elif _is_tables(value):
            for item in value:
                _dump_table([*path, key], item, True, lines)


def dump_toml(document: dict[str, Any]) -> str:
    """TOML for the plain documents our configuration files are (tables, arrays of tables)."""
    lines: list[str] = []
    _dump_table([], document, False, lines)
    text = "\n".join(lines).lstrip("\n") + "\n"
    assert tomllib.loads(text) == document
    return text


def _set(document: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


# ------------------------------------------------------------------------------------ the site


@dataclass
class _Ports:
    api: int = field(default_factory=free_port)
    gateway_metrics: int = field(default_factory=free_port)
    collector_metrics: int = field(default_factory=free_port)
    sim: int = field(default_factory=free_port)


def host_overrides(
    services: LocalServices, dsn: str, site_id: str, ports: _Ports, workdir: Path
) -> dict[str, dict[tuple[str | int, ...], Any]]:
    """Per configuration file, the keys a host run replaces, and nothing else."""
    mqtt: dict[tuple[str | int, ...], Any] = {
        ("mqtt", "host"): services.mqtt.host,
        ("mqtt", "port"): services.mqtt.port,
    }
    return {
        "gateway.toml": {
            **mqtt,
            ("mqtt", "client_id"): f"gw-{site_id}",
            ("mqtt", "collectors"): [site_id],   # only this test's collector on the shared broker
            ("mqtt", "session_expiry_s"): 60,
            ("database", "dsn"): dsn,
            ("metrics", "listen"): f"127.0.0.1:{ports.gateway_metrics}",
        },
        "api.toml": {
            ("http", "host"): "127.0.0.1",
            ("http", "port"): ports.api,
            ("database", "dsn"): dsn,
        },
        "collector.toml": {
            **mqtt,
            ("collector_id",): site_id,
            ("queue", "path"): str(workdir / "collector-queue.sqlite3"),
            ("metrics", "listen"): f"127.0.0.1:{ports.collector_metrics}",
            ("bus", 0, "host"): "127.0.0.1",
            ("bus", 0, "port"): ports.sim,
        },
        "fleet.toml": {("bus", 0, "listen"): f"127.0.0.1:{ports.sim}"},
    }


def container_ports(ports: _Ports) -> dict[str, dict[int, int]]:
    """Per service, the container port its healthcheck names → the port used on this host."""
    return {
        "gateway": {9108: ports.gateway_metrics},
        "collector": {9108: ports.collector_metrics},
        "api": {8080: ports.api},
        "sim": {40001: ports.sim},
    }


@dataclass
class _Running:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


class HostSite:
    """The compose file's isu services as processes on this host; a context manager."""

    def __init__(self, services: LocalServices, dsn: str, workdir: Path) -> None:
        self.config = compose_config()["services"]
        self.site_id = f"t{secrets.token_hex(5)}"
        self.dsn = dsn
        self.ports = _Ports()
        self.workdir = workdir
        self.etc = workdir / "etc-isu"
        self.etc.mkdir(parents=True)
        self.overrides = host_overrides(services, dsn, self.site_id, self.ports, workdir)
        self.running: list[_Running] = []
        self.mqtt = services.mqtt

    @property
    def isu_services(self) -> list[str]:
        """The services built from the product's Dockerfile, each after what it depends on."""
        ours = {name for name, spec in self.config.items() if "build" in spec}
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order or name not in ours:
                return
            for dependency in self.config[name].get("depends_on", {}):
                visit(dependency)
            order.append(name)

        for name in sorted(ours):
            visit(name)
        return order

    def argv(self, name: str) -> list[str]:
        """The service's command on this host: its mounted files replaced by host copies."""
        mounts = self._mounts(name)
        return [str(ISU), *(mounts.get(arg, arg) for arg in self.config[name]["command"])]

    def environment(self, name: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.update({key: str(value) for key, value in
                    (self.config[name].get("environment") or {}).items()})
        return env

    def healthcheck(self, name: str) -> list[str] | None:
        spec = self.config[name].get("healthcheck")
        if spec is None:
            return None
        test = list(spec["test"])
        assert test[0] == "CMD", f"{name}: healthcheck {test}"
        argv = [arg.replace("$$", "$") for arg in test[1:]]  # `config` escapes a literal $ again
        for container, host in container_ports(self.ports).get(name, {}).items():
            argv = [re.sub(rf"\b{container}\b", str(host), arg) for arg in argv]
        if argv[0] == "python":
            argv[0] = sys.executable
        return argv

    def _mounts(self, name: str) -> dict[str, str]:
        """Container path → host copy, for the service's read-only file mounts."""
        found = {}
        for volume in self.config[name].get("volumes", []):
            source, target, *mode = volume.split(":")
            if not source.startswith("/"):
                continue  # a named volume: on the host, the overridden path stands for it
            assert mode == ["ro"], f"{name}: {volume} is not read-only"
            copy = self.etc / Path(target).name
            if not copy.exists():
                self._copy(Path(source), copy)
            found[target] = str(copy)
        return found

    def _copy(self, source: Path, copy: Path) -> None:
        changes = self.overrides.get(source.name)
        if changes is None:
            shutil.copyfile(source, copy)
            return
        document = tomllib.loads(source.read_text(encoding="utf-8"))
        for path, value in changes.items():
            _set(document, path, value)
        copy.write_text(dump_toml(document), encoding="utf-8")

    # Running.

    def start(self, name: str) -> None:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as sink:
            process = subprocess.Popen(
                self.argv(name), env=self.environment(name), stdout=sink, stderr=sink,
                cwd=self.workdir,
            )
        self.running.append(_Running(name, process, log))

    def run_once(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        """A one-shot service (compose: service_completed_successfully)."""
        log = self.workdir / f"{name}.log"
        with log.open("ab") as sink:
            done = subprocess.run(
                self.argv(name), env=self.environment(name), stdout=sink, stderr=sink,
                timeout=timeout_s, check=False, cwd=self.workdir,
            )
        assert done.returncode == 0, f"{name} exited {done.returncode}:\n{log.read_text()}"

    def wait_healthy(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        check = self.healthcheck(name)
        assert check is not None, f"{name} has no healthcheck"
        child = next(item for item in self.running if item.name == name)
        deadline = time.monotonic() + timeout_s
        while True:
            if child.process.poll() is not None:
                raise AssertionError(f"{name} exited {child.process.returncode} before it was "
                                     f"healthy:\n{child.log.read_text()[-4000:]}")
            done = subprocess.run(check, capture_output=True, timeout=30, check=False)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not healthy in {timeout_s:.0f} s "
                                     f"({done.stderr.decode()[-500:]}):\n"
                                     f"{child.log.read_text()[-4000:]}")
            time.sleep(0.5)

    def up(self) -> None:
        """Every isu service, as compose would: one-shots to completion, the others healthy."""
        for name in self.isu_services:
            if self.config[name].get("restart") == "no":
                self.run_once(name)
            else:
                self.start(name)
                self.wait_healthy(name)

    def stop(self) -> dict[str, int]:
        """SIGTERM in reverse order (compose down); the exit statuses."""
        statuses: dict[str, int] = {}
        for child in reversed(self.running):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
            try:
                statuses[child.name] = child.process.wait(30)
            except subprocess.TimeoutExpired:
                child.process.kill()
                statuses[child.name] = child.process.wait()
        self.running = []
        return statuses

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def __enter__(self) -> HostSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        with contextlib.suppress(Exception):
            _forget_session(self.mqtt.host, self.mqtt.port, f"gw-{self.site_id}")


def _forget_session(host: str, port: int, client_id: str) -> None:
    from tests.integration.test_gateway import forget_session

    forget_session(host, port, client_id)
