"""``isu migrate``: pending migrations listed, applied once, and the exit statuses."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from core.localenv import LocalServices
from isu.cli import main
from timeseries.migrate import available_migrations

pytestmark = pytest.mark.services


@pytest.fixture
def empty_database(local_services: LocalServices) -> Iterator[str]:
    name = f"isu_test_{secrets.token_hex(6)}"
    admin = local_services.postgres.dsn
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield local_services.postgres.dsn_for(name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["migrate", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_migrations_are_listed_applied_once_and_then_none_pending(
        empty_database: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISU_DATABASE_DSN", empty_database)
    versions = [migration.version for migration in available_migrations()]

    code, before = _run(capsys, "--status")
    assert code == 3
    assert before["pending"] == versions
    assert before["applied_now"] == []

    code, first = _run(capsys)
    assert code == 0
    assert first["applied_now"] == versions
    assert first["pending"] == []

    code, second = _run(capsys)
    assert code == 0
    assert second["applied_now"] == []
    code, status = _run(capsys, "--status")
    assert code == 0
    rows = status["migrations"]
    assert isinstance(rows, list)
    assert all(row["applied_at"] for row in rows)


def test_without_a_database_it_says_so(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISU_DATABASE_DSN", raising=False)
    assert main(["migrate"]) == 2
    assert "no database" in capsys.readouterr().err
    monkeypatch.setenv("ISU_DATABASE_DSN", "postgresql://127.0.0.1:9/none?connect_timeout=2")
    assert main(["migrate"]) == 1
    assert "migrations failed" in capsys.readouterr().err
