"""``isu demo`` as a user runs it: separate processes on the local services, every meter's
readings served by the API within a minute."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from core.localenv import LocalServices
from tests.integration.test_collector_mqtt import forget_collector
from tests.integration.test_gateway import forget_session

pytestmark = pytest.mark.services


def test_demo_serves_every_meter_within_a_minute(
    tmp_path: Path, local_services: LocalServices
) -> None:
    site = f"demo-test-{secrets.token_hex(4)}"
    database = f"isu_demo_test_{secrets.token_hex(4)}"
    command = [sys.executable, "-m", "isu", "demo", "--exit-when-ready", "--api-port", "0"]
    command += ["--meters", "20", "--site-id", site, "--database", database]
    command += ["--workdir", str(tmp_path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        pattern = r"readings of all (\d+) meters served ([\d.]+) s after start"
        served = re.search(pattern, done.stdout)
        assert served is not None, done.stdout
        assert int(served[1]) == 20
        assert float(served[2]) < 60
        assert re.search(r"^API: http://127\.0\.0\.1:\d+/api/v1/meters$", done.stdout, re.M)
        ui = re.search(r"^UI: (http://127\.0\.0\.1:\d+/ui/) \(sign in", done.stdout, re.M)
        assert ui is not None, done.stdout
        assert re.search(r"^API key \(admin\): isu_[A-Za-z0-9_-]{43}$", done.stdout, re.M)
        for name in ("sim", "registry", "gateway", "collector", "api"):
            assert (tmp_path / "logs" / f"{name}.log").is_file()
        # The demo's registry places every simulated meter in the tree.
        assert (tmp_path / "registry.json").is_file()
        with psycopg.connect(local_services.postgres.dsn_for(database)) as conn:
            placed = conn.execute(
                "SELECT count(*) FROM meters AS m"
                " JOIN metering_points AS mp ON mp.id = m.metering_point_id WHERE m.registered"
            ).fetchone()
            objects = conn.execute("SELECT count(*) FROM energy_objects").fetchone()
        assert placed == (20,)
        assert objects == (2,)
    finally:
        mqtt = (local_services.mqtt.host, local_services.mqtt.port)
        asyncio.run(forget_collector(mqtt, site))
        forget_session(*mqtt, f"isu-demo-gateway-{site}")
        with psycopg.connect(local_services.postgres.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
