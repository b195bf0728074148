"""The interval block split into the tariff zones of the meter's contract (docs/api.md).

The registry is imported as ``isu registry import`` does it; intervals are generated in SQL. The
API's clock stands at 2026-11-22 12:30 UTC (15:30 in Moscow) unless a test moves it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.integration.api_support import api_client, insert_meter, utc
from timeseries.registry import import_registry
from timeseries.registry_model import parse_json

pytestmark = pytest.mark.services

#: 30 November 23:59:59 in Moscow: the whole of November is "the month so far".
END_OF_NOVEMBER = utc("2026-11-30T20:59:59")
MONTH_START = utc("2026-10-31T21:00")  # 1 November 00:00 in Moscow


def _meter_point(meter_id: str, **meter: Any) -> dict[str, Any]:
    return {
        "number": meter_id,
        "name": f"point {meter_id}",
        "meters": [{"meter_id": meter_id, **meter}],
    }


def _contract(number: str, meters: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    energy_object = {
        "number": "1",
        "name": f"object of {number}",
        "time_zone": fields.pop("time_zone", "Europe/Moscow"),
        "connection_points": [{"number": "1", "name": "input 1", "metering_points": meters}],
    }
    return {
        "number": number,
        "name": f"contract {number}",
        **fields,
        "energy_objects": [energy_object],
    }


TREE = {
    "schema": 1,
    "contracts": [
        _contract(
            "77-TWO",
            [
                _meter_point("TWO-1", ct_ratio="10"),
                _meter_point("TWO-EST"),
                _meter_point("TWO-INV"),
            ],
            zone_schedule="two-zone",
        ),
        _contract(
            "77-CUSTOM",
            [_meter_point("CUS-1")],
            zone_schedule="custom",
            zone_switches=[["00:00", 2], ["07:30", 1], ["22:00", 2]],
        ),
        _contract(
            "66-THREE",
            [_meter_point("EKB-3")],
            zone_schedule="three-zone",
            time_zone="Asia/Yekaterinburg",
        ),
        _contract("77-NONE", [_meter_point("NONE-1")]),
    ],
}

#: Every half-hour of ``[first, last]`` for the four kinds: value in the meter's unit per kind.
_HALF_HOURS = """
INSERT INTO interval_readings (meter_id, obis, ts, period_s, value, unit, quality, read_at,
                               message_id)
SELECT %(meter)s, '1.0.' || k.c || '.29.0.255', ts, %(period_s)s, k.value, k.unit,
       CASE WHEN ts = %(odd_ts)s THEN %(odd_quality)s ELSE 3 END, ts, 'm1'
FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz,
                     make_interval(secs => %(period_s)s)) AS ts,
     (VALUES (1, 500::numeric, 'Wh'), (2, 0, 'kWh'), (3, 0.125, 'kvarh'), (4, 1, 'varh'))
       AS k(c, value, unit)
"""


def _fill(
    conn: psycopg.Connection[Any],
    meter_id: str,
    first: datetime,
    last: datetime,
    *,
    period_s: int = 1800,
    odd_ts: datetime | None = None,
    odd_quality: int = 3,
) -> None:
    conn.execute(
        _HALF_HOURS,
        {
            "meter": meter_id,
            "first": first,
            "last": last,
            "period_s": period_s,
            "odd_ts": odd_ts,
            "odd_quality": odd_quality,
        },
    )


def _one(conn: psycopg.Connection[Any], meter_id: str, rows: list[tuple[str, str]]) -> None:
    """A+ intervals of 30 minutes: ``(start UTC, kWh)``."""
    for start, value in rows:
        conn.execute(
            "INSERT INTO interval_readings (meter_id, obis, ts, period_s, value, unit, quality,"
            " read_at, message_id) VALUES (%s, '1.0.1.29.0.255', %s, 1800, %s, 'kWh', 3, %s, 'm1')",
            (meter_id, utc(start), Decimal(value), utc(start)),
        )


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        import_registry(conn, parse_json(json.dumps(TREE)))
        # the whole of November, and October before it, which the block must not read
        _fill(conn, "TWO-1", utc("2026-10-01T00:00"), utc("2026-11-30T20:30"))
        # November so far, one half-hour estimated / invalid (the night of 5 November)
        so_far = (MONTH_START, utc("2026-11-22T12:00"))
        _fill(conn, "TWO-EST", *so_far, odd_ts=utc("2026-11-05T00:00"), odd_quality=1)
        _fill(conn, "TWO-INV", *so_far, odd_ts=utc("2026-11-05T00:00"), odd_quality=0)
        # hours that straddle the contract's 07:30 switch (04:30 UTC): up to 14:00-15:00 local
        _fill(conn, "CUS-1", MONTH_START, utc("2026-11-22T11:00"), period_s=3600)
        # Yekaterinburg (UTC+5), three zones: 06:30, 07:00, 09:30, 10:00, 22:30, 23:00 local
        _one(
            conn,
            "EKB-3",
            [
                ("2026-11-02T01:30", "1"),  # T2 night
                ("2026-11-02T02:00", "2"),  # T1 peak from 07:00
                ("2026-11-02T04:30", "4"),  # T1 peak
                ("2026-11-02T05:00", "8"),  # T3 semi-peak from 10:00
                ("2026-11-02T17:30", "16"),  # T3 semi-peak
                ("2026-11-02T18:00", "32"),  # T2 night from 23:00
            ],
        )
        _one(conn, "NONE-1", [("2026-11-03T09:00", "0.25"), ("2026-11-03T20:00", "0.5")])
        insert_meter(conn, "FREE-1")  # seen on the wire, not in the registry
        _one(conn, "FREE-1", [("2026-11-03T09:00", "0.25"), ("2026-11-03T20:00", "0.5")])
    return fresh_database


async def interval_block(dsn: str, meter_id: str, now: datetime | None = None) -> dict[str, Any]:
    async with api_client(dsn, **({} if now is None else {"now": now})) as client:
        response = await client.get(f"/api/v1/meters/{meter_id}/readings")
    assert response.status_code == 200, response.text
    block: dict[str, Any] = response.json()["blocks"][2]
    assert block["type"] == "interval"
    return block


def table(block: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    assert [row["kind"] for row in block["rows"]] == ["A+", "A-", "R+", "R-"]
    for row in block["rows"]:
        assert list(row["values"]) == [*block["zones"], "sum"]
        shown = [row["values"][zone] for zone in block["zones"]]
        if row["values"]["sum"] is None:
            assert shown == [None] * len(shown)
        else:  # the shown zones add up to the shown sum, to the thousandth
            assert sum(Decimal(v) for v in shown) == Decimal(row["values"]["sum"])
    return {row["kind"]: row["values"] for row in block["rows"]}


async def test_a_two_zone_contract_splits_a_whole_month_then_applies_the_ratio(dsn: str) -> None:
    block = await interval_block(dsn, "TWO-1", END_OF_NOVEMBER)
    assert block["as_of"] == "2026-12-01T00:00:00+03:00"
    assert (block["zone_schedule"], block["quality"]) == ("two-zone", "ok")
    assert block["zones"] == ["T1", "T2"]
    # 30 days of 32 day and 16 night half-hours; ratio 10 applied to the meter's own values
    assert table(block) == {
        "A+": {"T1": "4800.000", "T2": "2400.000", "sum": "7200.000"},  # 0.5 kWh * 10
        "A-": {"T1": "0.000", "T2": "0.000", "sum": "0.000"},
        "R+": {"T1": "1200.000", "T2": "600.000", "sum": "1800.000"},  # 0.125 kvarh * 10
        "R-": {"T1": "9.600", "T2": "4.800", "sum": "14.400"},  # 1 varh * 10
    }
    names = [(row["kind"], row["name"], row["unit"]) for row in block["rows"]]
    assert names == [
        ("A+", "активная принятая", "кВт*ч"),
        ("A-", "активная отпущенная", "кВт*ч"),
        ("R+", "реактивная принятая", "кВар*ч"),
        ("R-", "реактивная отпущенная", "кВар*ч"),
    ]


async def test_a_custom_schedule_splits_hours_that_straddle_its_switch(dsn: str) -> None:
    block = await interval_block(dsn, "CUS-1")
    assert block["as_of"] == "2026-11-22T15:00:00+03:00"
    assert (block["zone_schedule"], block["quality"]) == ("custom", "ok")
    assert block["zones"] == ["T1", "T2"]
    # 21 whole days of 14.5 day hours and 9.5 night hours, then 22 November 00:00-15:00 with
    # 7.5 hours of each; the 07:00-08:00 hour gives half of its energy to each zone
    # (312 and 207 hours of 0.5 kWh)
    assert table(block)["A+"] == {"T1": "156.000", "T2": "103.500", "sum": "259.500"}


async def test_three_zones_in_the_energy_objects_local_time(dsn: str) -> None:
    block = await interval_block(dsn, "EKB-3")
    assert block["zone_schedule"] == "three-zone"
    assert block["zones"] == ["T1", "T2", "T3"]
    assert block["as_of"] == "2026-11-02T23:30:00+05:00"
    assert table(block)["A+"] == {"T1": "6.000", "T2": "33.000", "T3": "24.000", "sum": "63.000"}
    assert table(block)["R+"] == {"T1": None, "T2": None, "T3": None, "sum": None}
    assert block["quality"] == "incomplete"  # six half-hours of three weeks


@pytest.mark.parametrize("meter_id", ["NONE-1", "FREE-1"])
async def test_without_a_contract_schedule_the_single_rate_applies(dsn: str, meter_id: str) -> None:
    block = await interval_block(dsn, meter_id)
    assert (block["zone_schedule"], block["zones"]) == ("single", ["T1"])
    assert table(block)["A+"] == {"T1": "0.750", "sum": "0.750"}


@pytest.mark.parametrize(
    ("meter_id", "quality", "a_plus"),
    [
        # 689 day and 350 night half-hours of 0.5 kWh from 1 November 00:00 to 22 November 15:30
        ("TWO-EST", "estimated", {"T1": "344.500", "T2": "175.000", "sum": "519.500"}),
        # the invalid night half-hour is left out, and the block says so
        ("TWO-INV", "incomplete", {"T1": "344.500", "T2": "174.500", "sum": "519.000"}),
    ],
)
async def test_quality_marks_the_block(
    dsn: str, meter_id: str, quality: str, a_plus: dict[str, str]
) -> None:
    block = await interval_block(dsn, meter_id)
    assert block["quality"] == quality
    assert block["as_of"] == "2026-11-22T15:30:00+03:00"
    assert table(block)["A+"] == a_plus


async def test_register_blocks_keep_their_shape(dsn: str) -> None:
    async with api_client(dsn) as client:
        body = (await client.get("/api/v1/meters/TWO-1/readings")).json()
    day_end, period_end, _, current = body["blocks"]
    for block in (day_end, period_end, current):
        assert (block["as_of"], block["quality"], block["zone_schedule"]) == (None, None, None)
        assert block["zones"] == []


async def test_a_month_of_half_hours_answers_quickly(dsn: str) -> None:
    # Four kinds of 1440 half-hours, read once and split in Python (docs/api.md, "Performance").
    async with api_client(dsn, now=END_OF_NOVEMBER) as client:
        await client.get("/api/v1/meters/TWO-1/readings")  # warm the pool and the caches
        started = time.perf_counter()
        for _ in range(5):
            response = await client.get("/api/v1/meters/TWO-1/readings")
            assert response.status_code == 200
        elapsed_s = (time.perf_counter() - started) / 5
    print(f"readings of a month of half-hours: {elapsed_s * 1000:.0f} ms")
    assert elapsed_s < 2.0  # generous on shared CI machines; a query per interval would not pass
