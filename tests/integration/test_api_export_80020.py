"""``GET /api/v1/contracts/{number}/export/80020`` on the real TimescaleDB.

The registry (imported as ``isu registry import`` does) holds:

- ``EXP-LOCAL``: sender 7700000000, periods in local time; energy object in Yekaterinburg
  (UTC+5) with point 770000000000101 (meter E1, CT 40, a half-hour profile) and point
  770000000000102 (meter E2, ratio 1, an hourly profile);
- ``EXP-MSK``: the same sender, periods in Moscow time; energy object in Yekaterinburg with
  point 770000000000201 (meter E3, hourly);
- ``EXP-OTHER``: sender 7700000009, point 770000000000301 (meter E4);
- ``EXP-NOINN``: no sender or area INN; ``EXP-NOCODE``: one point without an ATS code and one
  with a code of 5 digits; ``EXP-TWO``: one point with two meters that overlap; ``EXP-OFF``: an
  interval off the day's grid.

The operating day is 21 November 2026; the API's clock stands at 22 November, 15:30 Moscow.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import psycopg
import pytest

from isu.apikey import ContractScope, create_key
from tests.integration.api_support import api_client, insert_interval, utc
from timeseries.registry import import_registry
from timeseries.registry_model import parse_json

pytestmark = pytest.mark.services

DAY = "2026-11-21"
URL = "/api/v1/contracts/{}/export/80020"
SENDER = "7700000000"
A_PLUS, A_MINUS, R_PLUS = "1.0.1.29.0.255", "1.0.2.29.0.255", "1.0.3.29.0.255"
#: 00:00 of the day in Yekaterinburg (UTC+5) and in Moscow (UTC+3).
LOCAL_START = utc("2026-11-20T19:00")
MOSCOW_START = utc("2026-11-20T21:00")


def _point(number: str, code: str | None, *meters: dict[str, Any]) -> dict[str, Any]:
    point: dict[str, Any] = {"number": number, "name": f"ВРУ-1, ввод {number}"}
    if code is not None:
        point["ats_code"] = code
    point["meters"] = list(meters)
    return point


def _contract(
    number: str,
    *points: dict[str, Any],
    sender: str | None = SENDER,
    area: str | None = "7700000001",
    ats_time: str = "local",
    zone: str = "Asia/Yekaterinburg",
) -> dict[str, Any]:
    contract: dict[str, Any] = {
        "number": number,
        "name": f"Договор {number}",
        "sender_name": 'ООО "Пример Учёт"',
        "area_name": 'Потребитель "Завод N1"',
        "ats_time": ats_time,
        "energy_objects": [
            {
                "number": "0001",
                "name": "Завод",
                "time_zone": zone,
                "connection_points": [
                    {"number": "1", "name": "ТП-5, ввод 1", "metering_points": list(points)}
                ],
            }
        ],
    }
    if sender is not None:
        contract["sender_inn"] = sender
    if area is not None:
        contract["area_inn"] = area
    return contract


TREE = {
    "schema": 1,
    "contracts": [
        _contract(
            "EXP-LOCAL",
            _point("1", "770000000000101", {"meter_id": "E1", "ct_ratio": "40"}),
            _point("2", "770000000000102", {"meter_id": "E2"}),
        ),
        _contract(
            "EXP-MSK",
            _point("1", "770000000000201", {"meter_id": "E3"}),
            area="7700000003",
            ats_time="moscow",
        ),
        _contract(
            "EXP-OTHER",
            _point("1", "770000000000301", {"meter_id": "E4"}),
            sender="7700000009",
            zone="Europe/Moscow",
        ),
        _contract(
            "EXP-NOINN", _point("1", "770000000000401", {"meter_id": "E5"}), sender=None, area=None
        ),
        _contract(
            "EXP-NOCODE",
            _point("1", None, {"meter_id": "E6"}),
            _point("2", "12345", {"meter_id": "E7"}),
            sender="7700000005",
        ),
        _contract(
            "EXP-TWO",
            _point("1", "770000000000601", {"meter_id": "T1"}, {"meter_id": "T2"}),
            sender="7700000007",
        ),
        _contract(
            "EXP-OFF",
            _point("1", "770000000000701", {"meter_id": "F1"}),
            sender="7700000008",
        ),
    ],
}

#: E1's A+ is 12.5 Wh per half-hour, 0.5 kWh after CT 40: rounded one by one it would be 48
#: kWh a day, carried over it is the exact 24 (less the missing interval at local 05:00).
E1_MISSING = LOCAL_START + timedelta(hours=5)
E1_INCOMPLETE = LOCAL_START + timedelta(hours=6)


def _half_hours(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(minutes=30 * i) for i in range(count)]


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        import_registry(conn, parse_json(json.dumps(TREE)))
        starts = [ts for ts in _half_hours(LOCAL_START, 48) if ts not in (E1_MISSING,)]
        ok = [ts for ts in starts if ts != E1_INCOMPLETE]
        insert_interval(conn, "E1", [(A_PLUS, ts, "12.5") for ts in ok], unit="Wh")
        insert_interval(conn, "E1", [(A_PLUS, E1_INCOMPLETE, "12.5")], unit="Wh", quality=2)
        insert_interval(conn, "E1", [(R_PLUS, ts, "0.1") for ts in _half_hours(LOCAL_START, 48)])
        # The neighbours of the day stay out of it (they would be off the day's grid).
        insert_interval(
            conn,
            "E1",
            [
                (A_PLUS, LOCAL_START - timedelta(minutes=30), "999"),
                (A_PLUS, LOCAL_START + timedelta(days=1), "999"),
            ],
            unit="Wh",
        )
        hours = [LOCAL_START + timedelta(hours=i) for i in range(24)]
        insert_interval(conn, "E2", [(A_PLUS, ts, "1.6") for ts in hours], period_s=3600)
        # E3: value n at the n-th hour of the Moscow day; 99 in the local hours before it.
        msk = [(A_PLUS, MOSCOW_START + timedelta(hours=i), str(i + 1)) for i in range(24)]
        early = [(A_PLUS, LOCAL_START + timedelta(hours=i), "99") for i in range(2)]
        insert_interval(conn, "E3", msk + early, period_s=3600)
        insert_interval(conn, "E4", [(A_PLUS, MOSCOW_START, "3")], period_s=3600)
        for meter_id in ("T1", "T2"):
            insert_interval(conn, meter_id, [(A_PLUS, LOCAL_START, "1")], period_s=3600)
        # F1: an hourly interval that starts at a quarter past, off the day's grid.
        insert_interval(
            conn, "F1", [(A_PLUS, LOCAL_START + timedelta(minutes=15), "1")], period_s=3600
        )
    return fresh_database


def _scoped_key(dsn: str, name: str, scope: ContractScope) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        key, _ = create_key(conn, name, scopes=[scope])
    return key


def _counters(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT sender_inn, last_number FROM ats_message_counters").fetchall()
    return dict(rows)


def _channel(root: ET.Element, code: str, channel: str) -> list[tuple[str, str, str, str]]:
    """``(start, end, status, value)`` of every period of one channel of one point."""
    [element] = root.findall(
        f"./area/measuringpoint[@code='{code}']/measuringchannel[@code='{channel}']"
    )
    return [
        (p.attrib["start"], p.attrib["end"], p[0].attrib["status"], p[0].text or "")
        for p in element.findall("period")
    ]


async def _export(client: httpx.AsyncClient, contract: str, day: str = DAY) -> httpx.Response:
    return await client.get(URL.format(contract), params={"day": day})


async def test_a_local_contract_exports_billing_values_with_carry_over(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await _export(client, "EXP-LOCAL")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml; charset=windows-1251"
    assert response.headers["content-disposition"] == (
        'attachment; filename="80020_7700000000_20261121_1.xml"'
    )
    body = response.content
    assert body.startswith(b'<?xml version="1.0" encoding="windows-1251"?>\n')
    assert '<name>ООО "Пример Учёт"</name>'.encode("cp1251") in body  # real cp1251 bytes
    root = ET.fromstring(body)  # the declaration tells the parser the encoding
    assert (root.attrib["class"], root.attrib["number"]) == ("80020", "1")
    assert root.findtext("datetime/day") == "20261121"
    assert root.findtext("datetime/timestamp") == "20261122173000"  # 12:30 UTC in UTC+5
    assert (root.findtext("sender/inn"), root.findtext("sender/name")) == (
        SENDER,
        'ООО "Пример Учёт"',
    )
    assert (root.findtext("area/inn"), root.findtext("area/name")) == (
        "7700000001",
        'Потребитель "Завод N1"',
    )
    points = root.findall("area/measuringpoint")
    assert [(p.attrib["code"], p.attrib["name"]) for p in points] == [
        ("770000000000101", "ВРУ-1, ввод 1"),
        ("770000000000102", "ВРУ-1, ввод 2"),
    ]
    for point in points:
        assert [c.attrib["code"] for c in point] == ["01", "02", "03", "04"]

    a_plus = _channel(root, "770000000000101", "01")
    assert len(a_plus) == 48
    assert (a_plus[0][:2], a_plus[-1][:2]) == (("0000", "0030"), ("2330", "0000"))
    # Local 05:00 is missing: status 1 and 0; local 06:00 is incomplete: status 1, value kept.
    assert a_plus[10] == ("0500", "0530", "1", "0")
    assert a_plus[12][:3] == ("0600", "0630", "1")
    assert [p[2] for i, p in enumerate(a_plus) if i not in (10, 12)] == ["0"] * 46
    values = [int(p[3]) for p in a_plus]
    assert set(values) == {0, 1}  # 0.5 kWh carried over, never 1 every time
    exact = Decimal("0.5") * 47
    assert sum(values) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)) == 24
    assert _channel(root, "770000000000101", "03") == [
        (p[0], p[1], "0", "4") for p in a_plus
    ]  # 0.1 kvarh times 40
    # Channels without data are written whole, flagged non-commercial, never silent zeros.
    assert {(p[2], p[3]) for p in _channel(root, "770000000000101", "02")} == {("1", "0")}
    hourly = _channel(root, "770000000000102", "01")
    assert len(hourly) == 24
    assert hourly[0][:2] == ("0000", "0100")
    assert sum(int(p[3]) for p in hourly) == 38  # 24 * 1.6 = 38.4
    assert {int(p[3]) for p in hourly} == {1, 2}
    assert {p[2] for p in hourly} == {"0"}


async def test_a_moscow_contract_names_the_periods_in_moscow_time(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await _export(client, "EXP-MSK")
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.findtext("datetime/timestamp") == "20261122153000"
    assert root.findtext("area/inn") == "7700000003"
    a_plus = _channel(root, "770000000000201", "01")
    # Moscow 00:00 is 02:00 in Yekaterinburg: the local hours before it are not this day's.
    assert [p[:2] for p in a_plus[:2]] == [("0000", "0100"), ("0100", "0200")]
    assert [int(p[3]) for p in a_plus] == list(range(1, 25))
    assert {p[2] for p in a_plus} == {"0"}


async def test_each_export_takes_the_next_number_of_its_sender(dsn: str) -> None:
    async with api_client(dsn) as client:
        first = await _export(client, "EXP-LOCAL")
        again = await _export(client, "EXP-LOCAL")  # the same day again: a new message
        same_sender = await _export(client, "EXP-MSK")
        other_sender = await _export(client, "EXP-OTHER")
    numbers = [
        ET.fromstring(r.content).attrib["number"] for r in (first, again, same_sender, other_sender)
    ]
    assert numbers == ["1", "2", "3", "1"]
    assert again.headers["content-disposition"].endswith('_20261121_2.xml"')
    assert other_sender.headers["content-disposition"] == (
        'attachment; filename="80020_7700000009_20261121_1.xml"'
    )
    assert _counters(dsn) == {SENDER: 3, "7700000009": 1}


async def test_concurrent_exports_never_share_a_number(dsn: str) -> None:
    async with api_client(dsn) as client:
        answers = await asyncio.gather(*(_export(client, "EXP-LOCAL") for _ in range(6)))
    assert [r.status_code for r in answers] == [200] * 6
    numbers = sorted(int(ET.fromstring(r.content).attrib["number"]) for r in answers)
    assert numbers == [1, 2, 3, 4, 5, 6]


async def test_a_contract_outside_the_scope_is_not_found(dsn: str) -> None:
    other = _scoped_key(dsn, "other", ContractScope("EXP-OTHER"))
    part = _scoped_key(dsn, "part", ContractScope("EXP-LOCAL", ("0001",)))
    whole = _scoped_key(dsn, "whole", ContractScope("EXP-LOCAL"))
    async with api_client(dsn, key=other) as client:
        outside = await _export(client, "EXP-LOCAL")
        unknown = await _export(client, "EXP-NONE")
        own = await _export(client, "EXP-OTHER")
    async with api_client(dsn, key=part) as client:
        partial = await _export(client, "EXP-LOCAL")
    async with api_client(dsn, key=whole) as client:
        allowed = await _export(client, "EXP-LOCAL")
    assert outside.status_code == unknown.status_code == partial.status_code == 404
    assert outside.json() == {"detail": "contract 'EXP-LOCAL' not found"}
    assert unknown.json() == {"detail": "contract 'EXP-NONE' not found"}
    assert (own.status_code, allowed.status_code) == (200, 200)
    async with api_client(dsn, key=None) as client:
        assert (await _export(client, "EXP-LOCAL")).status_code == 401


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-11-23", None, "0", "1700000000",
                                 "2026-11-21T00:00"])
async def test_a_bad_day_is_422_naming_day(dsn: str, day: str | None) -> None:
    async with api_client(dsn) as client:
        params = {} if day is None else {"day": day}
        response = await client.get(URL.format("EXP-LOCAL"), params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"].startswith("query parameter 'day'")
    assert body["errors"][0]["parameter"] == "day"
    assert _counters(dsn) == {}


async def test_a_contract_without_inn_is_409_naming_what_is_missing(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await _export(client, "EXP-NOINN")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith("contract 'EXP-NOINN': the registry gives no sender_inn, area_inn")
    assert _counters(dsn) == {}


async def test_metering_points_without_a_usable_code_are_named_and_nothing_is_counted(
    dsn: str,
) -> None:
    async with api_client(dsn) as client:
        response = await _export(client, "EXP-NOCODE")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "metering point 0001/1/1 «ВРУ-1, ввод 1» has no ATS code" in detail
    assert "metering point 0001/1/2 «ВРУ-1, ввод 2» has ATS code '12345', not 15 digits" in detail
    assert _counters(dsn) == {}


async def test_two_meters_with_the_same_interval_are_refused(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await _export(client, "EXP-TWO")
    assert response.status_code == 409
    assert (
        "meters T1 and T2 both have an interval at 2026-11-21T00:00:00+05:00"
        in (response.json()["detail"])
    )
    assert _counters(dsn) == {}


async def test_a_file_the_builder_refuses_gives_its_number_back(dsn: str) -> None:
    async with api_client(dsn) as client:
        refused = await _export(client, "EXP-OFF")
        fine = await _export(client, "EXP-OTHER")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(
        "contract 'EXP-OFF': metering point 770000000000701, channel 01,"
        " 2026-11-21T00:15:00+05:00: not a period start of 2026-11-21"
    )
    assert fine.status_code == 200
    # The builder refused after the number was taken; the transaction gave it back.
    assert _counters(dsn) == {"7700000009": 1}


async def test_an_api_on_a_read_replica_writes_the_counter_on_the_primary(dsn: str) -> None:
    # A session that refuses writes stands for a hot-standby replica (docs/scale-out.md).
    replica = psycopg.conninfo.make_conninfo(dsn, options="-c default_transaction_read_only=on")
    with psycopg.connect(dsn, autocommit=True) as conn:
        key, _ = create_key(conn, "replica-test", admin=True)
    async with api_client(replica, key=key) as client:
        read = await client.get("/api/v1/contracts")
        refused = await _export(client, "EXP-LOCAL")
    assert read.status_code == 200
    assert refused.status_code == 503  # logged: a read replica needs database.primary_dsn
    assert _counters(dsn) == {}
    async with api_client(replica, key=key, primary_dsn=dsn) as client:
        exported = await _export(client, "EXP-LOCAL")
    assert exported.status_code == 200, exported.text
    assert ET.fromstring(exported.content).attrib["number"] == "1"
    assert _counters(dsn) == {SENDER: 1}
