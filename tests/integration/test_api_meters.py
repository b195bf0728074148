"""``GET /api/v1/meters``, ``/healthz`` and ``/readyz`` against the real TimescaleDB."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from tests.integration.api_support import (
    api_client,
    insert_interval,
    insert_meter,
    insert_registers,
    utc,
)
from timeseries.registry import import_registry
from timeseries.registry_model import load_registry_file


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        insert_meter(
            conn,
            "M230-0042",
            model="Меркурий 230 ART-01",
            serial_number="22305560",
            registered=True,
        )
        insert_meter(
            conn, "EKB-0001", model="CE308", serial_number="ABC-77", time_zone="Asia/Yekaterinburg"
        )
        insert_meter(conn, "NEW-1")
        insert_meter(conn, "a.lower", serial_number="x%_y")
        insert_registers(
            conn, "M230-0042", "daily", utc("2026-11-21T21:00"), {"1.0.1.8.0.255": "1"}
        )
        insert_registers(
            conn, "M230-0042", "current", utc("2026-11-22T12:00"), {"1.0.1.8.0.255": "2"}
        )
        insert_registers(
            conn, "M230-0042", "monthly", utc("2026-10-31T21:00"), {"1.0.1.8.0.255": "0"}
        )
        insert_registers(
            conn, "EKB-0001", "current", utc("2026-11-22T10:00"), {"1.0.1.8.0.255": "3"}
        )
        # interval data alone is no register reading
        insert_interval(conn, "NEW-1", [("1.0.1.29.0.255", utc("2026-11-22T12:00"), "0.5")])
    return fresh_database


SAMPLE_REGISTRY = Path(__file__).resolve().parents[2] / "deploy" / "registry.sample.json"


def ids(body: list[dict[str, object]]) -> list[object]:
    return [meter["meter_id"] for meter in body]


@pytest.mark.services
async def test_meters_are_listed_by_id_with_their_last_reading(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters")
    assert response.status_code == 200
    body = response.json()
    assert ids(body) == ["EKB-0001", "M230-0042", "NEW-1", "a.lower"]
    assert body[1] == {
        "meter_id": "M230-0042",
        "model": "Меркурий 230 ART-01",
        "serial_number": "22305560",
        "contract": None,
        "energy_object": None,
        "registered": True,
        "last_reading_at": "2026-11-22T15:00:00+03:00",
    }
    assert body[0]["last_reading_at"] == "2026-11-22T15:00:00+05:00"
    assert body[0]["registered"] is False
    assert body[2]["last_reading_at"] is None
    assert body[2]["model"] is None


@pytest.mark.services
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ekb", ["EKB-0001"]),  # id, any case
        ("abc-7", ["EKB-0001"]),  # serial number, any case
        ("0042", ["M230-0042"]),
        ("22305560", ["M230-0042"]),
        ("-", ["EKB-0001", "M230-0042", "NEW-1"]),
        ("%", ["a.lower"]),  # a literal character, not a LIKE wildcard
        ("_", ["a.lower"]),
        ("zzz", []),
        ("", ["EKB-0001", "M230-0042", "NEW-1", "a.lower"]),
    ],
)
async def test_q_filters_by_id_or_serial_number(dsn: str, q: str, expected: list[str]) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters", params={"q": q})
    assert response.status_code == 200
    assert ids(response.json()) == expected


@pytest.mark.services
async def test_an_empty_store_lists_no_meters(fresh_database: str) -> None:
    async with api_client(fresh_database) as client:
        response = await client.get("/api/v1/meters")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.services
async def test_ready_when_the_database_answers(fresh_database: str) -> None:
    async with api_client(fresh_database) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_not_ready_while_the_database_is_unreachable() -> None:
    port = closed_port()
    dsn = f"postgresql://postgres@127.0.0.1:{port}/isu"
    async with api_client(dsn, key="isu_any", acquire_timeout_s=0.5) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
        meters = await client.get("/api/v1/meters")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "detail": "the database is unreachable"}
    assert meters.status_code == 503
    assert meters.json()["detail"].startswith("the database is unavailable")
    assert str(port) not in ready.text + meters.text


@pytest.mark.services
async def test_a_meter_in_the_registry_lists_its_contract_and_energy_object(
        fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        import_registry(conn, load_registry_file(SAMPLE_REGISTRY))
    async with api_client(fresh_database) as client:
        body = (await client.get("/api/v1/meters", params={"q": "40680048"})).json()
    assert [(m["meter_id"], m["contract"], m["energy_object"]) for m in body] == [
        ("m230-40680048", "321654988", "3216549882")]
