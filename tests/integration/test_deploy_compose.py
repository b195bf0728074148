"""deploy/compose/docker-compose.yml and the Dockerfile.

Without a Docker daemon here, the compose file is checked by Debian's ``docker-compose config``
(it resolves and validates the file), and then every isu service's command runs on this host
with the same configuration files and environment (tests/integration/deploy_support.py), until
its own compose healthcheck passes; so do the healthchecks of TimescaleDB and Mosquitto against
the local services. The whole simulated site then serves its meters through the API.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.localenv import LocalServices, free_port
from tests.integration.deploy_support import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    ENV_SAMPLE,
    TOP,
    HostSite,
    compose_config,
    empty_database,
    require_tool,
)

ISU_SERVICES = {"migrate", "gateway", "api", "sim", "collector"}


@pytest.fixture(scope="module")
def compose_services() -> dict[str, Any]:
    config: dict[str, Any] = compose_config("--profile", "observability")["services"]
    return config


# ----------------------------------------------------------------------------- the file itself


def test_docker_compose_accepts_the_file_with_the_sample_settings() -> None:
    tool = require_tool("docker-compose", "docker-compose")
    done = subprocess.run(
        [tool, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_SAMPLE), "config", "-q"],
        capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("ISU_")},
    )
    assert done.returncode == 0, done.stderr


def test_the_database_password_must_be_set(tmp_path: Path) -> None:
    tool = require_tool("docker-compose", "docker-compose")
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    done = subprocess.run(
        [tool, "-f", str(COMPOSE_FILE), "--env-file", str(empty), "config", "-q"],
        capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("ISU_")},
    )
    assert done.returncode != 0
    assert "ISU_DB_PASSWORD" in done.stderr


def test_the_services_images_volumes_and_healthchecks(compose_services: dict[str, Any]) -> None:
    others = {"timescaledb", "mosquitto", "prometheus", "grafana"}
    assert set(compose_services) == ISU_SERVICES | others
    assert compose_services["timescaledb"]["image"].startswith("timescale/timescaledb:2.")
    assert compose_services["timescaledb"]["image"].endswith("-pg15-oss")  # the Apache edition
    assert compose_services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    for name, spec in compose_services.items():
        assert ":" in spec["image"], name
        assert ":latest" not in spec["image"], name
        if name != "migrate":
            assert "healthcheck" in spec, f"{name} has no healthcheck"
    assert compose_services["migrate"]["restart"] == "no"
    for name in ISU_SERVICES:
        spec = compose_services[name]
        assert spec["build"]["context"] == str(TOP), name
        assert spec["read_only"] is True, name
        assert spec["cap_drop"] == ["ALL"], name
    # Data on named volumes.
    named = {volume.split(":")[0] + ":" + volume.split(":")[1]
             for spec in compose_services.values() for volume in spec.get("volumes", [])
             if not volume.startswith("/")}
    assert named == {"timescaledb-data:/var/lib/postgresql/data", "mosquitto-data:/mosquitto/data",
                     "collector-queue:/var/lib/isu-gateway", "prometheus-data:/prometheus",
                     "grafana-data:/var/lib/grafana"}
    # The collector's queue is on its volume.
    queue = tomllib.loads((COMPOSE_DIR / "collector.toml").read_text(encoding="utf-8"))["queue"]
    assert queue["path"].startswith("/var/lib/isu-gateway/")
    # Published ports only on the host's loopback.
    for name, spec in compose_services.items():
        for port in spec.get("ports", []):
            host = port if isinstance(port, str) else port.get("host_ip", "")
            assert host.startswith("127.0.0.1:") or host == "127.0.0.1", (name, port)


def test_configuration_comes_from_read_only_files_and_secrets_from_the_environment(
    compose_services: dict[str, Any],
) -> None:
    for name, spec in compose_services.items():
        for volume in spec.get("volumes", []):
            if volume.startswith("/"):
                assert volume.endswith(":ro"), (name, volume)
                assert volume.startswith(str(TOP / "deploy")), (name, volume)
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for match in re.finditer(r"^\s*(\w*PASSWORD\w*):\s*(.+)$", text, re.MULTILINE):
        assert match[2].startswith("${"), f"{match[1]} is written in the file"
    for config in COMPOSE_DIR.glob("*.toml"):
        for key, value in _leaves(tomllib.loads(config.read_text(encoding="utf-8"))):
            assert "password" not in key or key in _SECRET_SOURCES, (config.name, key)
            assert not re.match(r"postgresql://[^@/]*:[^@/]*@", str(value)), (config.name, key)
    assert (COMPOSE_DIR / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == ".env"


_SECRET_SOURCES = {"password_env", "password_file", "password_encoding"}


def _leaves(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _leaves(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value, key)
    else:
        yield key, node


def test_the_dockerfile_installs_every_package_and_runs_unprivileged() -> None:
    dockerfile = (TOP / "Dockerfile").read_text(encoding="utf-8")
    pyproject = tomllib.loads((TOP / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {name.rstrip("*") for name in
                pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, re.MULTILINE))
    assert copied == packages
    ignored = {line.strip() for line in (TOP / ".dockerignore").read_text().splitlines()}
    assert not ignored & (packages | {"pyproject.toml", "README.md", "LICENSE"})
    assert re.search(r"^USER isu$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["isu"]' in dockerfile
    assert "--groups dialout" in dockerfile
    assert "/opt/isu-gateway/.venv" in dockerfile  # the path the systemd units use


# ------------------------------------------------------------------------- the commands, on host


@pytest.fixture
def database(local_services: LocalServices) -> Iterator[str]:
    yield from empty_database(local_services)


@pytest.mark.services
def test_every_isu_service_runs_on_the_host_with_the_compose_configuration(
    local_services: LocalServices, database: str, tmp_path: Path
) -> None:
    with HostSite(local_services, database, tmp_path) as site:
        assert site.isu_services.index("migrate") < site.isu_services.index("gateway")
        site.up()
        # The API key command the compose file's header gives, against the same files.
        created = subprocess.run(
            [*site.argv("migrate")[:1], "api-key", "create", "--name", "compose-test",
             "--admin", "--json", "--config", str(site.etc / "gateway.toml")],
            env=site.environment("migrate"), capture_output=True, text=True, check=True,
        )
        key = json.loads(created.stdout)["key"]
        expected = {"m230-40680048", "m230-40680112"}  # deploy/registry.sample.json's
        meters = _wait_for_readings(site.ports.api, key, expected)
        assert expected <= meters, f"served: {meters}\n{site.log('collector')[-3000:]}"
        statuses = site.stop()
    # isu api ends by the signal after its clean shutdown (api/cli.py), the others exit 0.
    assert statuses == {"collector": 0, "api": -signal.SIGTERM, "gateway": 0, "sim": 0}, statuses


def _wait_for_readings(port: int, key: str, expected: set[str]) -> set[str]:
    import time

    deadline = time.monotonic() + 90
    seen: set[str] = set()
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/meters",
            headers={"Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            listed = json.loads(response.read())
        seen = {meter["meter_id"] for meter in listed if meter.get("last_reading_at")}
        if expected <= seen:
            return seen
        time.sleep(1)
    return seen


@pytest.mark.services
def test_the_database_healthcheck_answers_for_the_local_timescaledb(
    compose_services: dict[str, Any], local_services: LocalServices
) -> None:
    test = compose_services["timescaledb"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"]
    tool = require_tool("pg_isready", "postgresql-client-15")
    env = {**os.environ, "PGPORT": str(local_services.postgres.port)}
    # The image's role is isu; pg_isready only asks whether the server accepts connections.
    done = subprocess.run([tool, *test[2:]], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.services
def test_the_compose_broker_configuration_runs_and_passes_its_healthcheck(
    compose_services: dict[str, Any], tmp_path: Path
) -> None:
    import pwd
    import shutil
    import time

    mosquitto = require_tool("mosquitto", "mosquitto")
    port = free_port()
    # Not under tmp_path: pytest's base folder is private to root, and mosquitto drops to its
    # own user, which must reach its data folder.
    data = Path(tempfile.mkdtemp(prefix="isu-compose-broker-", dir="/var/tmp"))
    conf = (COMPOSE_DIR / "mosquitto.conf").read_text(encoding="utf-8")
    assert "listener 1883\n" in conf
    assert "persistence_location /mosquitto/data/\n" in conf
    conf = conf.replace("listener 1883\n", f"listener {port} 127.0.0.1\n").replace(
        "persistence_location /mosquitto/data/\n", f"persistence_location {data}/\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("mosquitto")
        os.chown(data, owner.pw_uid, owner.pw_gid)
    path = tmp_path / "mosquitto.conf"
    path.write_text(conf, encoding="utf-8")
    # `config` prints the file's $$ (a literal $) escaped again.
    test = [arg.replace("$$", "$") if arg != "1883" else str(port)
            for arg in compose_services["mosquitto"]["healthcheck"]["test"][1:]]
    test[0] = shutil.which(test[0]) or pytest.fail("mosquitto_sub is not installed "
                                                   "(apt-get install mosquitto-clients)")
    broker = subprocess.Popen([mosquitto, "-c", str(path)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            done = subprocess.run(test, capture_output=True, timeout=15, check=False)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert done.returncode == 0, done.stderr
    finally:
        broker.terminate()
        output = broker.communicate(timeout=10)[0].decode(errors="replace")
        shutil.rmtree(data, ignore_errors=True)
    assert "Error" not in output, output
