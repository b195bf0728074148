"""``isu registry import`` against the real database: idempotent, partial, all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.errors import ConfigError
from isu.registry import registry_json_schema
from tests.integration.test_store import register
from timeseries.registry import import_registry
from timeseries.registry_model import load_registry_file, parse_csv, parse_json
from timeseries.store import Store

pytestmark = pytest.mark.services

TOP = Path(__file__).resolve().parents[2]
SAMPLE_JSON = TOP / "deploy" / "registry.sample.json"
SAMPLE_CSV = TOP / "deploy" / "registry.sample.csv"
LEVELS = ("contracts", "energy_objects", "connection_points", "metering_points", "meters")


def _import(dsn: str, path: Path, *, dry_run: bool = False) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        return import_registry(conn, load_registry_file(path), dry_run=dry_run).as_dict()


def _stamps(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT 'c', number, updated_at FROM contracts"
            " UNION ALL SELECT 'eo', number, updated_at FROM energy_objects"
            " UNION ALL SELECT 'cp', number, updated_at FROM connection_points"
            " UNION ALL SELECT 'mp', number, updated_at FROM metering_points"
            " UNION ALL SELECT 'm', meter_id, registry_updated_at FROM meters ORDER BY 1, 2"
        ).fetchall()


def test_the_sample_creates_the_tree_and_a_second_import_changes_nothing(
    fresh_database: str,
) -> None:
    first = _import(fresh_database, SAMPLE_JSON)
    assert first["dry_run"] is False
    assert {level: first[level]["created"] for level in LEVELS} == {
        "contracts": 1,
        "energy_objects": 1,
        "connection_points": 2,
        "metering_points": 2,
        "meters": 2,
    }
    stamps = _stamps(fresh_database)
    second = _import(fresh_database, SAMPLE_JSON)
    assert all(
        second[level] == {"created": 0, "updated": 0, "unchanged": first[level]["created"]}
        for level in LEVELS
    )
    assert _stamps(fresh_database) == stamps  # «as of» stays when nothing changed
    with psycopg.connect(fresh_database) as conn:
        row = conn.execute(
            "SELECT m.registered, m.capacity, m.ct_ratio, m.attributes, mp.ats_code, eo.time_zone,"
            " c.zone_schedule, c.sender_inn"
            " FROM meters m JOIN metering_points mp ON mp.id = m.metering_point_id"
            " JOIN connection_points cp ON cp.id = mp.connection_point_id"
            " JOIN energy_objects eo ON eo.id = cp.energy_object_id"
            " JOIN contracts c ON c.id = eo.contract_id WHERE m.meter_id = 'm230-40680048'"
        ).fetchone()
    assert row == (
        True,
        "6.2",
        40,
        {"Пломба": "№ 0012345"},
        "770000000000101",
        "Europe/Moscow",
        "three-zone",
        "7700000000",
    )


def test_the_csv_sample_over_the_json_sample_changes_only_what_differs(
    fresh_database: str,
) -> None:
    _import(fresh_database, SAMPLE_JSON)
    report = _import(fresh_database, SAMPLE_CSV)
    assert sum(report[level]["created"] for level in LEVELS) == 0
    # the CSV gives the same values for every column it has, so nothing moved
    assert sum(report[level]["updated"] for level in LEVELS) == 0


def test_a_partial_file_updates_what_it_gives_and_keeps_the_rest(fresh_database: str) -> None:
    _import(fresh_database, SAMPLE_JSON)
    partial = parse_csv(
        "contract.number;energy_object.number;connection_point.number;metering_point.number;"
        "meter.meter_id;meter.ct_ratio\n321654988;3216549882;1;1;m230-40680048;80\n"
    )
    with psycopg.connect(fresh_database) as conn:
        report = import_registry(conn, partial).as_dict()
        row = conn.execute(
            "SELECT ct_ratio, model, serial_number FROM meters WHERE meter_id = 'm230-40680048'"
        ).fetchone()
    assert report["meters"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert report["contracts"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert row == (80, "Меркурий 234 ARTM-03", "40680048")


def test_json_null_clears_a_field(fresh_database: str) -> None:
    _import(fresh_database, SAMPLE_JSON)
    document = json.loads(SAMPLE_JSON.read_text(encoding="utf-8"))
    document["contracts"][0]["energy_objects"][0]["phone_2"] = None
    with psycopg.connect(fresh_database) as conn:
        report = import_registry(conn, parse_json(json.dumps(document))).as_dict()
        phone = conn.execute("SELECT phone_2 FROM energy_objects").fetchone()
    assert report["energy_objects"]["updated"] == 1
    assert phone == (None,)


def test_an_unassigned_meter_with_readings_becomes_registered(fresh_database: str) -> None:
    with Store(fresh_database, pool_max_size=1) as store:
        store.write([register("c1", "m230-40680112", "1.000")])
    with psycopg.connect(fresh_database) as conn:
        before = conn.execute(
            "SELECT registered, metering_point_id FROM meters WHERE meter_id = 'm230-40680112'"
        ).fetchone()
    assert before == (False, None)
    report = _import(fresh_database, SAMPLE_JSON)
    assert report["meters"] == {"created": 1, "updated": 1, "unchanged": 0}
    with psycopg.connect(fresh_database) as conn:
        after = conn.execute(
            "SELECT m.registered, m.time_zone, count(r.*) FROM meters m"
            " JOIN register_readings r USING (meter_id) WHERE meter_id = 'm230-40680112'"
            " GROUP BY 1, 2"
        ).fetchone()
    assert after == (True, "Asia/Yekaterinburg", 2)  # both registers of the message


def test_a_new_node_without_a_name_fails_and_nothing_is_written(fresh_database: str) -> None:
    document = parse_json(
        json.dumps(
            {
                "schema": 1,
                "contracts": [
                    {"number": "1", "name": "Первый"},
                    {"number": "2", "energy_objects": []},
                ],
            }
        )
    )
    with psycopg.connect(fresh_database) as conn:
        with pytest.raises(ConfigError, match=r"contracts\[1\]: a new contract needs name"):
            import_registry(conn, document)
        assert conn.execute("SELECT count(*) FROM contracts").fetchone() == (0,)


def test_an_ats_code_held_by_another_point_is_refused(fresh_database: str) -> None:
    _import(fresh_database, SAMPLE_JSON)
    taken = parse_csv(
        "contract.number;contract.name;energy_object.number;energy_object.name;"
        "connection_point.number;connection_point.name;metering_point.number;metering_point.name;"
        "metering_point.ats_code\n9;Другой;1;ЭО;1;ТП;1;ТУ;770000000000101\n"
    )
    with psycopg.connect(fresh_database) as conn:
        with pytest.raises(ConfigError, match="770000000000101"):
            import_registry(conn, taken)
        assert conn.execute("SELECT count(*) FROM contracts").fetchone() == (1,)


def test_a_dry_run_writes_nothing(fresh_database: str) -> None:
    report = _import(fresh_database, SAMPLE_JSON, dry_run=True)
    assert report["dry_run"] is True
    assert report["meters"]["created"] == 2
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM meters").fetchone() == (0,)


def _isu(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isu", *args],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_imports_with_a_config_file_or_the_environment(
    fresh_database: str, tmp_path: Path
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ISU_DATABASE_DSN"}
    missing = _isu("registry", "import", str(SAMPLE_CSV), env=env)
    assert missing.returncode == 2
    assert "give --config FILE or set $ISU_DATABASE_DSN" in missing.stderr

    (tmp_path / "db.dsn").write_text(fresh_database + "\n")
    config = tmp_path / "gateway.toml"
    config.write_text('[mqtt]\nhost = "127.0.0.1"\n\n[database]\ndsn_file = "db.dsn"\n')
    done = _isu("registry", "import", str(SAMPLE_JSON), "--config", str(config), "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["meters"]["created"] == 2

    again = _isu(
        "registry", "import", str(SAMPLE_CSV), env={**env, "ISU_DATABASE_DSN": fresh_database}
    )
    assert again.returncode == 0, again.stderr
    assert "meters: 0 created, 0 updated, 2 unchanged" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("contract.number;contract.colour\n1;red\n", encoding="utf-8")
    refused = _isu("registry", "import", str(bad), env={**env, "ISU_DATABASE_DSN": fresh_database})
    assert refused.returncode == 2
    assert "column 'contract.colour': not a registry column" in refused.stderr


def test_the_published_schema_is_the_one_the_command_prints() -> None:
    published = json.loads((TOP / "docs" / "registry.schema.json").read_text(encoding="utf-8"))
    assert published == registry_json_schema()
    printed = _isu("registry", "schema", env=dict(os.environ))
    assert printed.returncode == 0
    assert json.loads(printed.stdout) == published
