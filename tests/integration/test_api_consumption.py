"""``GET /api/v1/meters/{meter_id}/consumption`` against the real TimescaleDB.

M230-0042 is in Moscow (UTC+3) with ratio 1; EKB-0001 is in Yekaterinburg (UTC+5) with ratio
20 × 5 = 100, so its months start at 19:00 UTC. Contracts 77-A (meter A1) and 77-B (meter B1)
check the keys' scope. The API's clock stands at 22 November 2026 (``NOW``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from isu.apikey import ContractScope, create_key
from tests.integration.api_support import (
    api_client,
    import_two_contracts,
    insert_interval,
    insert_meter,
    utc,
)

pytestmark = pytest.mark.services

IA_PLUS, IA_MINUS, IR_PLUS, IR_MINUS = (f"1.0.{c}.29.0.255" for c in (1, 2, 3, 4))
FEBRUARY_S = 28 * 86400


def _copy_hours(conn: psycopg.Connection[Any], meter: str, code: str, start: datetime,
                hours: int, value: str) -> None:  # fmt: skip
    with conn.cursor().copy(
        "COPY interval_readings (meter_id, obis, ts, period_s, value, unit, quality, read_at,"
        " message_id) FROM STDIN"
    ) as copy:
        for hour in range(hours):
            ts = start + timedelta(hours=hour)
            copy.write_row((meter, code, ts, 3600, Decimal(value), "kWh", 3, ts, "m1"))


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        insert_meter(conn, "M230-0042", registered=True)
        # February 2026 whole: 672 hours of 0.5 kWh A+ and 0.125 kvarh R+.
        february = utc("2026-01-31T21:00")  # 01.02.2026 00:00 in Moscow
        _copy_hours(conn, "M230-0042", IA_PLUS, february, 28 * 24, "0.5")
        _copy_hours(conn, "M230-0042", IR_PLUS, february, 28 * 24, "0.125")
        # January: two half-hours, one in Wh, one invalid (left out); the last minutes of 2025
        # in Moscow belong to December 2025, not to this year.
        insert_interval(conn, "M230-0042", [(IA_PLUS, utc("2026-01-10T09:00"), "1250")], unit="Wh")
        insert_interval(conn, "M230-0042", [(IA_PLUS, utc("2026-01-10T09:30"), "9")], quality=0)
        insert_interval(conn, "M230-0042", [(IA_PLUS, utc("2025-12-31T20:30"), "7")])
        # March: one estimated half-hour of A-.
        insert_interval(conn, "M230-0042", [(IA_MINUS, utc("2026-03-05T10:00"), "0.25")], quality=1)

        insert_meter(conn, "EKB-0001", time_zone="Asia/Yekaterinburg", ct_ratio="20", vt_ratio="5")
        insert_interval(
            conn,
            "EKB-0001",
            [
                (IA_PLUS, utc("2026-03-31T18:30"), "0.001"),  # 23:30 on 31 March, local
                (IA_PLUS, utc("2026-03-31T19:00"), "0.002"),  # 00:00 on 1 April, local
            ],
        )
        import_two_contracts(conn)
    return fresh_database


def _by_month(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {month["month"]: month for month in body["months"]}


async def test_twelve_local_months_with_sums_quality_and_coverage(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters/M230-0042/consumption?year=2026")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("meter_id", "time_zone", "ratio", "year")} == {
        "meter_id": "M230-0042",
        "time_zone": "Europe/Moscow",
        "ratio": "1",
        "year": 2026,
    }
    assert body["units"] == {"A+": "кВт*ч", "A-": "кВт*ч", "R+": "кВар*ч", "R-": "кВар*ч"}
    months = _by_month(body)
    assert list(months) == [f"2026-{m:02d}" for m in range(1, 13)]
    assert months["2026-02"] == {
        "month": "2026-02",
        "start": "2026-02-01T00:00:00+03:00",
        "end": "2026-03-01T00:00:00+03:00",
        "values": {"A+": "336.000", "A-": None, "R+": "84.000", "R-": None},
        "quality": "ok",  # every hour of the month, for each kind that has intervals
        "covered_s": FEBRUARY_S,
        "span_s": FEBRUARY_S,
    }
    # 1250 Wh counted as 1.250 kWh; the invalid 9 kWh left out, so the month is incomplete.
    assert months["2026-01"]["values"] == {"A+": "1.250", "A-": None, "R+": None, "R-": None}
    assert months["2026-01"]["quality"] == "incomplete"
    assert months["2026-01"]["covered_s"] == 1800
    assert months["2026-03"]["values"]["A-"] == "0.250"
    assert months["2026-03"]["quality"] == "estimated"  # worse than incomplete, so it stays
    assert months["2026-12"] == {
        "month": "2026-12",
        "start": "2026-12-01T00:00:00+03:00",
        "end": "2027-01-01T00:00:00+03:00",
        "values": {"A+": None, "A-": None, "R+": None, "R-": None},
        "quality": None,
        "covered_s": 0,
        "span_s": 31 * 86400,
    }


async def test_the_default_year_is_the_current_one_in_the_meters_zone(dsn: str) -> None:
    async with api_client(dsn) as client:  # the clock stands at 22 November 2026
        body = (await client.get("/api/v1/meters/M230-0042/consumption")).json()
        before = (await client.get("/api/v1/meters/M230-0042/consumption?year=2025")).json()
    assert body["year"] == 2026
    assert _by_month(before)["2025-12"]["values"]["A+"] == "7.000"  # 23:30 on 31 December


async def test_months_follow_the_meters_zone_and_the_ratio_is_applied(dsn: str) -> None:
    async with api_client(dsn) as client:
        body = (await client.get("/api/v1/meters/EKB-0001/consumption?year=2026")).json()
    months = _by_month(body)
    assert body["ratio"] == "100"
    assert months["2026-03"]["end"] == "2026-04-01T00:00:00+05:00"
    assert months["2026-03"]["values"]["A+"] == "0.100"  # 0.001 kWh × 100
    assert months["2026-04"]["values"]["A+"] == "0.200"
    assert months["2026-04"]["quality"] == "incomplete"  # half an hour of a month


async def test_scope_unknown_meters_and_bad_years(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        key, _ = create_key(conn, "cabinet-a", scopes=[ContractScope("77-A")])
    async with api_client(dsn, key=key) as client:
        own = await client.get("/api/v1/meters/A1/consumption?year=2026")
        other = await client.get("/api/v1/meters/B1/consumption?year=2026")
        unknown = await client.get("/api/v1/meters/NO-SUCH/consumption")
        too_early = await client.get("/api/v1/meters/A1/consumption?year=1969")
        not_a_year = await client.get("/api/v1/meters/A1/consumption?year=next")
    async with api_client(dsn, key=None) as anonymous:
        refused = await anonymous.get("/api/v1/meters/A1/consumption")
    assert own.status_code == 200
    assert [m["quality"] for m in own.json()["months"]] == [None] * 12
    assert other.status_code == unknown.status_code == 404
    assert other.json() == {"detail": "meter 'B1' not found"}
    assert too_early.status_code == not_a_year.status_code == 422
    assert too_early.json()["errors"][0]["parameter"] == "year"
    assert refused.status_code == 401


async def test_a_year_of_half_hours_is_summed_in_the_database(dsn: str) -> None:
    start = utc("2024-12-31T21:00")  # 01.01.2025 00:00 in Moscow
    with psycopg.connect(dsn, autocommit=True) as conn:
        insert_meter(conn, "YEAR-1", ct_ratio="40")
        with conn.cursor().copy(
            "COPY interval_readings (meter_id, obis, ts, period_s, value, unit, quality, read_at,"
            " message_id) FROM STDIN"
        ) as copy:
            for step in range(365 * 48):
                ts = start + timedelta(minutes=30 * step)
                for code in (IA_PLUS, IA_MINUS, IR_PLUS, IR_MINUS):
                    copy.write_row(("YEAR-1", code, ts, 1800, Decimal("0.125"), "kWh", 3, ts, "m"))
    async with api_client(dsn) as client:
        await client.get("/api/v1/meters/YEAR-1/consumption?year=2025")  # warm the pool
        started = time.monotonic()
        response = await client.get("/api/v1/meters/YEAR-1/consumption?year=2025")
        elapsed = time.monotonic() - started
    months = _by_month(response.json())
    assert months["2025-02"]["values"]["A+"] == "6720.000"  # 1344 half-hours × 0.125 × 40
    assert all(month["quality"] == "ok" for month in months.values())
    assert sum(month["covered_s"] for month in months.values()) == 365 * 86400
    # 70,080 rows summed in the server: a regression guard, generous for a busy machine.
    assert elapsed < 1.0, f"a year's consumption took {elapsed:.2f} s"
