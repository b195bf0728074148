"""API keys end to end on the real TimescaleDB: ``isu api-key`` and the API's 401 and 404 rules.

The tree: contract 77-A with energy objects 0001 (meter A1) and 0002 (meter A2), contract 77-B
with energy object 0001 (meter B1), and meter NEW-1 seen on the wire but not placed.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.errors import ConfigError
from isu.apikey import KEY_PREFIX, ContractScope, create_key, list_keys, revoke_key
from isu.cli import main
from tests.integration.api_support import api_client, insert_meter, insert_registers, utc
from timeseries.registry import import_registry
from timeseries.registry_model import parse_json

pytestmark = pytest.mark.services


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    # `isu` points the root logger at the standard error of the moment, which capsys swaps.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


ROOT = Path(__file__).resolve().parents[2]
ALL = ["A1", "A2", "B1", "NEW-1"]


def _meter(meter_id: str) -> dict[str, Any]:
    return {"number": meter_id, "name": f"point {meter_id}", "meters": [{"meter_id": meter_id}]}


def _object(number: str, *meters: str) -> dict[str, Any]:
    return {
        "number": number,
        "name": f"object {number}",
        "connection_points": [
            {"number": "1", "name": "input 1", "metering_points": [_meter(m) for m in meters]}
        ],
    }


TREE = {
    "schema": 1,
    "contracts": [
        {
            "number": "77-A",
            "name": "Contract A",
            "energy_objects": [_object("0001", "A1"), _object("0002", "A2")],
        },
        {"number": "77-B", "name": "Contract B", "energy_objects": [_object("0001", "B1")]},
    ],
}


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        import_registry(conn, parse_json(json.dumps(TREE)))
        insert_meter(conn, "NEW-1")
        for meter_id in ALL:
            insert_registers(
                conn, meter_id, "current", utc("2026-11-22T12:00"), {"1.0.1.8.0.255": "1"}
            )
    return fresh_database


def create(dsn: str, name: str, *, admin: bool = False, scopes: list[ContractScope]) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        key, _ = create_key(conn, name, admin=admin, scopes=scopes)
    return key


def isu(dsn: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``isu`` as a user runs it, finding the database through ``$ISU_DATABASE_DSN``."""
    return subprocess.run(
        [sys.executable, "-m", "isu", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={"ISU_DATABASE_DSN": dsn, "PATH": "/usr/bin:/bin"},
    )


async def visible(dsn: str, key: str) -> tuple[list[str], dict[str, int]]:
    """The meters the key lists, and the status of each meter's readings."""
    async with api_client(dsn, key=key) as client:
        listed = await client.get("/api/v1/meters")
        assert listed.status_code == 200, listed.text
        statuses = {
            meter_id: (await client.get(f"/api/v1/meters/{meter_id}/readings")).status_code
            for meter_id in ALL
        }
    return [meter["meter_id"] for meter in listed.json()], statuses


# --- the command --------------------------------------------------------------------------


def test_create_stores_only_the_hash_and_list_never_shows_the_key(dsn: str) -> None:
    key = create(dsn, "cabinet", scopes=[ContractScope("77-A", ("0002",))])
    assert key.startswith(KEY_PREFIX)
    assert len(key) == len(KEY_PREFIX) + 43
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT api_keys::text FROM api_keys").fetchall()
        [info] = list_keys(conn)
    assert key not in repr(stored)
    assert (info.name, info.admin, info.revoked_at) == ("cabinet", False, None)
    assert info.scopes == (ContractScope("77-A", ("0002",)),)
    assert key.startswith(info.prefix)
    assert len(info.prefix) < 10
    assert key not in json.dumps(info.as_dict())


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        ([ContractScope("77-Z")], "no contract numbered '77-Z'"),
        ([ContractScope("77-B", ("0002",))], "contract '77-B' has no energy object numbered"),
        ([], "give either --admin or at least one --contract"),
    ],
)
def test_unknown_contracts_and_energy_objects_are_refused(
    dsn: str, scopes: list[ContractScope], message: str
) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(ConfigError, match=message):
            create_key(conn, "bad", scopes=scopes)
        assert list_keys(conn) == []  # nothing written


def test_a_name_names_one_key_in_force(dsn: str) -> None:
    create(dsn, "ops", admin=True, scopes=[])
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(ConfigError, match="already named 'ops'"):
            create_key(conn, "ops", admin=True)
        first = revoke_key(conn, name="ops")
        assert first.revoked_at is not None
        create_key(conn, "ops", admin=True)  # the name is free again
        again = revoke_key(conn, key_id=first.id)  # revoking twice changes nothing
        assert again.revoked_at == first.revoked_at
        with pytest.raises(ConfigError, match="no API key with id 999"):
            revoke_key(conn, key_id=999)
        with pytest.raises(ConfigError, match="no API key in force is named 'nobody'"):
            revoke_key(conn, name="nobody")
        keys = list_keys(conn)
    assert [(k.name, k.revoked_at is None) for k in keys] == [("ops", False), ("ops", True)]


def test_the_isu_command_creates_lists_and_revokes(dsn: str) -> None:
    scopes = ["--contract", "77-A", "--energy-object", "0001", "--energy-object", "0002"]
    made = isu(dsn, "api-key", "create", "--name", "shop", *scopes, "--contract", "77-B")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith(KEY_PREFIX)
    assert "\n" not in key
    assert "not shown again" in made.stderr
    assert "contract 77-A energy objects 0001, 0002; contract 77-B" in made.stderr
    as_json = isu(dsn, "api-key", "create", "--name", "ops", "--admin", "--json")
    assert as_json.returncode == 0, as_json.stderr
    created = json.loads(as_json.stdout)
    assert created["admin"] is True
    assert created["key"].startswith(KEY_PREFIX)

    listed = isu(dsn, "api-key", "list")
    assert listed.returncode == 0, listed.stderr
    assert "shop" in listed.stdout
    assert "admin" in listed.stdout
    assert key not in listed.stdout
    assert created["key"] not in listed.stdout
    listed_json = json.loads(isu(dsn, "api-key", "list", "--json").stdout)
    assert listed_json[0]["scopes"] == [
        {"contract": "77-A", "energy_objects": ["0001", "0002"]},
        {"contract": "77-B", "energy_objects": []},
    ]

    revoked = isu(dsn, "api-key", "revoke", "--name", "shop")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith(f"revoked key {listed_json[0]['id']} 'shop' at ")
    assert json.loads(isu(dsn, "api-key", "list", "--json").stdout)[0]["revoked_at"]


def test_the_isu_command_says_what_is_wrong(dsn: str) -> None:
    unknown = isu(dsn, "api-key", "create", "--name", "x", "--contract", "nope")
    assert unknown.returncode == 2
    assert "no contract numbered 'nope'" in unknown.stderr
    gone = isu(dsn, "api-key", "revoke", "--id", "42")
    assert (gone.returncode, gone.stderr.strip()) == (2, "isu api-key: no API key with id 42")
    orphan = isu(dsn, "api-key", "create", "--name", "x", "--energy-object", "0001")
    assert orphan.returncode == 2  # argparse: --energy-object without its --contract
    assert "must follow the --contract" in orphan.stderr
    both = isu(dsn, "api-key", "create", "--name", "x", "--admin", "--contract", "77-A")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr


def test_main_runs_in_process_with_a_config_file(
    dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, dsn)
    argv = ["api-key", "create", "--name", "cfg", "--contract", "77-B", "--config", config]
    assert main(argv) == 0
    key = capsys.readouterr().out.strip()
    assert main(["api-key", "list", "--json", "--config", config]) == 0
    [info] = json.loads(capsys.readouterr().out)
    assert info["name"] == "cfg"
    assert key not in json.dumps(info)
    assert main(["api-key", "list", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "no such configuration file" in capsys.readouterr().err


def test_without_a_database_the_command_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ISU_DATABASE_DSN", raising=False)
    assert main(["api-key", "list"]) == 2
    assert "give --config FILE or set $ISU_DATABASE_DSN" in capsys.readouterr().err


# --- the API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer isu_unknown-key", "Basic YTpi", "bearer"],
)
async def test_without_a_key_in_force_data_answers_401(dsn: str, header: str | None) -> None:
    async with api_client(dsn, key=None) as client:
        headers = {} if header is None else {"Authorization": header}
        for path in ("/api/v1/meters", "/api/v1/meters/A1/readings", "/api/v1/meters/x/readings"):
            response = await client.get(path, headers=headers)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["detail"]
        for path in ("/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/api/v1/docs"):
            assert (await client.get(path, headers=headers)).status_code == 200, path


async def test_an_admin_key_sees_every_meter_placed_or_not(dsn: str) -> None:
    key = create(dsn, "ops", admin=True, scopes=[])
    listed, statuses = await visible(dsn, key)
    assert listed == ALL
    assert set(statuses.values()) == {200}


async def test_a_contract_key_sees_its_meters_only(dsn: str) -> None:
    key = create(dsn, "cabinet-a", scopes=[ContractScope("77-A")])
    listed, statuses = await visible(dsn, key)
    assert listed == ["A1", "A2"]
    assert statuses == {"A1": 200, "A2": 200, "B1": 404, "NEW-1": 404}
    async with api_client(dsn, key=key) as client:
        other = await client.get("/api/v1/meters/B1/readings")
        unknown = await client.get("/api/v1/meters/NO-SUCH/readings")
        bad = await client.get("/api/v1/meters?q=" + "x" * 101)
    # another contract's meter is answered exactly like one that does not exist
    assert other.json() == {"detail": "meter 'B1' not found"}
    assert unknown.json() == {"detail": "meter 'NO-SUCH' not found"}
    assert other.headers.keys() == unknown.headers.keys()
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["parameter"] == "q"


async def test_an_energy_object_key_sees_that_object_only(dsn: str) -> None:
    key = create(dsn, "shop", scopes=[ContractScope("77-A", ("0002",))])
    listed, statuses = await visible(dsn, key)
    assert listed == ["A2"]
    assert statuses == {"A1": 404, "A2": 200, "B1": 404, "NEW-1": 404}


async def test_scopes_over_two_contracts_add_up(dsn: str) -> None:
    key = create(dsn, "both", scopes=[ContractScope("77-A", ("0001",)), ContractScope("77-B")])
    listed, _ = await visible(dsn, key)
    assert listed == ["A1", "B1"]


async def test_a_revoked_key_stops_within_the_cache_time(dsn: str) -> None:
    key = create(dsn, "leaving", scopes=[ContractScope("77-B")])
    async with (
        api_client(dsn, key=key) as cached,
        api_client(dsn, key=key, key_cache_s=0) as uncached,
    ):
        assert (await cached.get("/api/v1/meters")).status_code == 200
        assert (await uncached.get("/api/v1/meters")).status_code == 200
        with psycopg.connect(dsn, autocommit=True) as conn:
            revoke_key(conn, name="leaving")
        # the key is trusted for key_cache_s after its last check, then refused
        assert (await cached.get("/api/v1/meters")).status_code == 200
        refused = await uncached.get("/api/v1/meters")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "unknown or revoked API key"}
    async with api_client(dsn, key=key) as fresh:
        assert (await fresh.get("/api/v1/meters")).status_code == 401


async def test_a_cached_key_costs_no_query(dsn: str) -> None:
    key = create(dsn, "busy", scopes=[ContractScope("77-A")])
    async with api_client(dsn, key=key) as client:
        assert (await client.get("/api/v1/meters/A1/readings")).status_code == 200
        with psycopg.connect(dsn, autocommit=True) as conn:
            # were the key looked up again, it would now be refused
            conn.execute("UPDATE api_keys SET revoked_at = now()")
        assert (await client.get("/api/v1/meters/A1/readings")).status_code == 200


def write_config(folder: Path, dsn: str) -> str:
    config = folder / "api.toml"
    config.write_text(f'[database]\ndsn = "{dsn}"\n', encoding="utf-8")
    return str(config)


async def test_the_key_never_reaches_the_log(dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    made = isu(dsn, "--log-level", "DEBUG", "api-key", "create", "--name", "logged",
               "--contract", "77-A")  # fmt: skip
    key = made.stdout.strip()
    assert made.returncode == 0, made.stderr
    assert "INFO isu.apikey: created API key" in made.stderr  # the command did log
    assert key not in made.stderr
    caplog.set_level(logging.DEBUG)
    async with api_client(dsn, key=key, key_cache_s=0) as client:
        await client.get("/api/v1/meters")
        await client.get("/api/v1/meters/B1/readings")
        await client.get("/api/v1/meters", headers={"Authorization": "Bearer isu_wrong"})
    assert "unknown or revoked API key" in caplog.text  # the API did log the refusal
    assert key not in caplog.text
    assert "isu_wrong" not in caplog.text
    for argv in (["revoke", "--name", "logged"], ["list"], ["list", "--json"]):
        done = isu(dsn, "--log-level", "DEBUG", "api-key", *argv)
        assert done.returncode == 0, done.stderr
        assert key not in done.stdout + done.stderr
