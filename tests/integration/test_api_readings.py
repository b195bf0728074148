"""``GET /api/v1/meters/{meter_id}/readings`` against the real TimescaleDB.

The API's clock stands at 2026-11-22 12:30 UTC (15:30 in Moscow, 17:30 in Yekaterinburg).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from api.queries import interval_groups
from api.readings import IntervalGroup, IntervalRow, group_intervals
from tests.integration.api_support import (
    NOW,
    api_client,
    insert_interval,
    insert_meter,
    insert_registers,
    utc,
)

pytestmark = pytest.mark.services

A_PLUS, A_MINUS, R_PLUS, R_MINUS = (f"1.0.{c}.8.{{}}.255" for c in (1, 2, 3, 4))


def zones(code: str, *values: str) -> dict[str, str]:
    """``values`` of zones 0 (total), 1, 2… of one kind, ``""`` for a zone not stored."""
    return {code.format(zone): value for zone, value in enumerate(values) if value != ""}


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        # Moscow, ratio 1: the cabinet's example (the cabinet manual's «Показания» tab, docs/api.md)
        insert_meter(conn, "M230-0042", serial_number="22305560", registered=True)
        insert_registers(
            conn,
            "M230-0042",
            "monthly",
            utc("2026-10-31T21:00"),  # 1 November 00:00 local: end of October
            zones(A_PLUS, "8.116", "8.05", "0.066", "0")
            | zones(A_MINUS, "2.013", "2.001", "0.012", "0")
            | zones(R_PLUS, "3.822", "3.789", "0.033", "0")
            | zones(R_MINUS, "1.411", "1.384", "0.027", "0"),
        )
        insert_registers(  # an older period: not shown
            conn, "M230-0042", "monthly", utc("2026-09-30T21:00"), zones(A_PLUS, "1", "1")
        )
        # daily: zones without totals for A+, a total alone for R+, nothing for A- and R-
        insert_registers(
            conn,
            "M230-0042",
            "daily",
            utc("2026-11-21T21:00"),
            zones(A_PLUS, "", "100.5", "20.25") | zones(R_PLUS, "5"),
        )
        insert_registers(  # the day before had a zone 3: it does not show in the newest one
            conn, "M230-0042", "daily", utc("2026-11-20T21:00"), zones(A_PLUS, "", "1", "1", "1")
        )
        # current: four zones; R- in varh; an invalid A- total; A- zones only in an older read
        insert_registers(
            conn,
            "M230-0042",
            "current",
            utc("2026-11-22T12:00"),
            zones(A_PLUS, "10.5", "4", "3", "2", "1.5") | zones(R_PLUS, "0.5", "0.5"),
        )
        insert_registers(
            conn,
            "M230-0042",
            "current",
            utc("2026-11-22T12:00"),
            zones(R_MINUS, "1500", "1500"),
            unit="varh",
        )
        insert_registers(
            conn, "M230-0042", "current", utc("2026-11-22T12:00"), zones(A_MINUS, "7"), quality=0
        )
        insert_registers(
            conn, "M230-0042", "current", utc("2026-11-22T11:30"), zones(A_MINUS, "", "7")
        )
        interval = "1.0.1.29.0.255"
        insert_interval(
            conn,
            "M230-0042",
            [
                (interval, utc("2026-10-31T20:30"), "9"),  # October, local: left out
                (interval, utc("2026-10-31T21:00"), "0.5"),  # the first half-hour of November
                (interval, utc("2026-11-22T11:30"), "0.25"),  # ends 12:00 UTC = as_of
                (interval, NOW, "7"),  # starts now: not yet
                ("1.0.3.29.0.255", utc("2026-11-10T10:00"), "0.125"),
            ],
        )
        insert_interval(
            conn, "M230-0042", [(interval, utc("2026-11-05T10:00"), "3")], quality=0
        )  # invalid: left out

        # Yekaterinburg (UTC+5), ratio 20 * 5 = 100
        insert_meter(conn, "EKB-0001", time_zone="Asia/Yekaterinburg", ct_ratio="20", vt_ratio="5")
        insert_registers(
            conn,
            "EKB-0001",
            "current",
            utc("2026-11-22T10:00"),
            zones(A_PLUS, "1.234", "1", "0.234"),
        )
        insert_interval(  # 00:00 on 1 November in Yekaterinburg is 19:00 UTC on 31 October
            conn, "EKB-0001", [("1.0.1.29.0.255", utc("2026-10-31T19:00"), "0.01")], period_s=3600
        )

        insert_meter(conn, "NEW-1")  # seen, but no readings yet

        # A meter that sends zones without totals (against DESIGN §3, but it must not break)
        insert_meter(conn, "Z-1")
        insert_registers(conn, "Z-1", "daily", utc("2026-11-20T21:00"), zones(A_PLUS, "", "1", "1"))
        insert_registers(conn, "Z-1", "daily", utc("2026-11-21T21:00"), zones(A_PLUS, "", "2"))
        insert_registers(conn, "Z-1", "current", utc("2026-11-22T10:00"), zones(A_PLUS, "5"))
        insert_registers(conn, "Z-1", "current", utc("2026-11-22T11:00"), zones(A_PLUS, "", "6"))
    return fresh_database


async def readings(dsn: str, meter_id: str) -> dict[str, Any]:
    async with api_client(dsn) as client:
        response = await client.get(f"/api/v1/meters/{meter_id}/readings")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def table(block: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    assert [row["kind"] for row in block["rows"]] == ["A+", "A-", "R+", "R-"]
    return {row["kind"]: row["values"] for row in block["rows"]}


async def test_four_blocks_in_order_with_titles(dsn: str) -> None:
    body = await readings(dsn, "M230-0042")
    assert body["meter_id"] == "M230-0042"
    assert body["time_zone"] == "Europe/Moscow"
    assert body["ratio"] == "1"
    assert [(b["type"], b["title"]) for b in body["blocks"]] == [
        ("day_end", "Показания на конец суток"),
        ("period_end", "Показания на конец расчетного периода"),
        ("interval", "Расход э/энергии суммарный за интервал"),
        ("current", "Текущие значения показаний ПУ"),
    ]
    rows = body["blocks"][0]["rows"]
    assert [(r["name"], r["unit"]) for r in rows] == [
        ("активная принятая", "кВт*ч"),
        ("активная отпущенная", "кВт*ч"),
        ("реактивная принятая", "кВар*ч"),
        ("реактивная отпущенная", "кВар*ч"),
    ]


async def test_period_end_is_the_newest_monthly_snapshot(dsn: str) -> None:
    block = (await readings(dsn, "M230-0042"))["blocks"][1]
    assert block["as_of"] == "2026-11-01T00:00:00+03:00"
    assert block["zones"] == ["T1", "T2", "T3"]
    assert table(block) == {
        "A+": {"T1": "8.050", "T2": "0.066", "T3": "0.000", "sum": "8.116"},
        "A-": {"T1": "2.001", "T2": "0.012", "T3": "0.000", "sum": "2.013"},
        "R+": {"T1": "3.789", "T2": "0.033", "T3": "0.000", "sum": "3.822"},
        "R-": {"T1": "1.384", "T2": "0.027", "T3": "0.000", "sum": "1.411"},
    }


async def test_day_end_sums_zones_when_no_total_is_stored(dsn: str) -> None:
    block = (await readings(dsn, "M230-0042"))["blocks"][0]
    assert block["as_of"] == "2026-11-22T00:00:00+03:00"
    assert block["zones"] == ["T1", "T2"]
    assert table(block) == {
        "A+": {"T1": "100.500", "T2": "20.250", "sum": "120.750"},
        "A-": {"T1": None, "T2": None, "sum": None},
        "R+": {"T1": None, "T2": None, "sum": "5.000"},
        "R-": {"T1": None, "T2": None, "sum": None},
    }


async def test_current_is_one_snapshot_with_the_zones_in_use(dsn: str) -> None:
    block = (await readings(dsn, "M230-0042"))["blocks"][3]
    assert block["as_of"] == "2026-11-22T15:00:00+03:00"
    assert block["zones"] == ["T1", "T2", "T3", "T4"]
    assert table(block) == {
        "A+": {"T1": "4.000", "T2": "3.000", "T3": "2.000", "T4": "1.500", "sum": "10.500"},
        # the newest A- total is invalid, its zone T1 only in an older read
        "A-": {"T1": None, "T2": None, "T3": None, "T4": None, "sum": None},
        "R+": {"T1": "0.500", "T2": None, "T3": None, "T4": None, "sum": "0.500"},
        "R-": {"T1": "1.500", "T2": None, "T3": None, "T4": None, "sum": "1.500"},
    }


async def test_interval_sums_the_month_so_far(dsn: str) -> None:
    block = (await readings(dsn, "M230-0042"))["blocks"][2]
    assert block["as_of"] == "2026-11-22T15:00:00+03:00"  # end of the last interval
    # no contract: the single-rate schedule (docs/api.md); most half-hours are missing
    assert (block["zone_schedule"], block["quality"]) == ("single", "incomplete")
    assert block["zones"] == ["T1"]
    assert table(block) == {
        "A+": {"T1": "0.750", "sum": "0.750"},
        "A-": {"T1": None, "sum": None},
        "R+": {"T1": "0.125", "sum": "0.125"},
        "R-": {"T1": None, "sum": None},
    }


async def test_ratio_and_offset_of_a_meter_in_yekaterinburg(dsn: str) -> None:
    body = await readings(dsn, "EKB-0001")
    assert body["time_zone"] == "Asia/Yekaterinburg"
    assert body["ratio"] == "100"
    day_end, period_end, interval, current = body["blocks"]
    assert current["as_of"] == "2026-11-22T15:00:00+05:00"
    assert current["zones"] == ["T1", "T2"]
    assert table(current)["A+"] == {"T1": "100.000", "T2": "23.400", "sum": "123.400"}
    # the month starts at local midnight: this hour belongs to November in Yekaterinburg
    assert interval["as_of"] == "2026-11-01T01:00:00+05:00"
    assert interval["quality"] == "ok"  # the month so far is that one hour, and it is there
    assert table(interval)["A+"] == {"T1": "1.000", "sum": "1.000"}
    assert day_end["as_of"] is None
    assert period_end["as_of"] is None


async def test_a_meter_without_readings_has_four_empty_blocks(dsn: str) -> None:
    body = await readings(dsn, "NEW-1")
    assert [block["type"] for block in body["blocks"]] == [
        "day_end",
        "period_end",
        "interval",
        "current",
    ]
    for block in body["blocks"]:
        assert block["as_of"] is None
        assert block["quality"] is None
        assert block["zones"] == []
        assert table(block) == {kind: {"sum": None} for kind in ("A+", "A-", "R+", "R-")}


async def test_snapshots_without_totals_are_found_too(dsn: str) -> None:
    day_end, _, _, current = (await readings(dsn, "Z-1"))["blocks"]
    assert day_end["as_of"] == "2026-11-22T00:00:00+03:00"
    assert day_end["zones"] == ["T1"]
    assert table(day_end)["A+"] == {"T1": "2.000", "sum": "2.000"}
    # a read with zones only, newer than the last read with a total
    assert current["as_of"] == "2026-11-22T14:00:00+03:00"
    assert table(current)["A+"] == {"T1": "6.000", "sum": "6.000"}


async def test_unknown_meter_is_404(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters/NO-SUCH-METER/readings")
    assert response.status_code == 404
    assert response.json() == {"detail": "meter 'NO-SUCH-METER' not found"}


async def test_bad_meter_id_is_422_naming_it(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters/no%20such/readings")
    assert response.status_code == 422
    assert response.json()["errors"][0]["parameter"] == "meter_id"


@pytest.mark.parametrize("zone_name", ["Europe/Moscow", "Asia/Yekaterinburg", "Europe/Berlin"])
async def test_the_database_groups_intervals_as_the_python_reference_does(
    fresh_database: str, zone_name: str
) -> None:
    """``interval_groups`` (SQL) and ``group_intervals`` (Python) agree on a month with hours
    and half-hours, every quality, two units and a daylight-saving change (Berlin)."""
    rng = random.Random(5)
    start = datetime(2024, 3, 1, tzinfo=ZoneInfo(zone_name)).astimezone(UTC)
    rows: list[IntervalRow] = []
    cursor = start
    while cursor < start + timedelta(days=31):
        period = 3600 if rng.random() < 0.3 else 1800
        for obis in ("1.0.1.29.0.255", "1.0.3.29.0.255"):
            if rng.random() < 0.95:
                unit = "Wh" if rng.random() < 0.2 else ("kWh" if "1.29" in obis else "kvarh")
                value = Decimal(rng.randrange(0, 5000)).scaleb(-3)
                rows.append(IntervalRow(obis, cursor, period, value, unit, rng.choice([0, 1, 2, 3,
                                                                                         3, 3])))
        cursor += timedelta(seconds=period)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        insert_meter(conn, "M1")
        for row in rows:
            insert_interval(conn, "M1", [(row.obis, row.ts, str(row.value))], period_s=row.period_s,
                            unit=row.unit, quality=row.quality)
    async with await psycopg.AsyncConnection.connect(fresh_database) as conn:
        groups = await interval_groups(conn, "M1", start, start + timedelta(days=40), zone_name)
    def key(group: IntervalGroup) -> tuple[Any, ...]:
        return (group.obis, group.unit, group.quality, group.period_s, group.first)

    expected = sorted(group_intervals(rows, ZoneInfo(zone_name)), key=key)
    assert len(expected) < len(rows) / 2
    assert sorted(groups, key=key) == expected
