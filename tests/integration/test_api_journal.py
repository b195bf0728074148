"""``GET /api/v1/meters/{meter_id}/journal`` and ``…/journal/kinds`` against the real TimescaleDB.

Meter M230-0042 (Moscow, UTC+3) has events around December 2023 (the cabinet manual's month,
its «Журнал» figure); EKB-0001 (Yekaterinburg, UTC+5) shows that the month starts at local
midnight. Contracts 77-A (meter A1) and 77-B (meter B1) check the keys' scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from core.events import EVENT_KINDS
from isu.apikey import ContractScope, create_key
from tests.integration.api_support import api_client, import_two_contracts, insert_meter, utc

pytestmark = pytest.mark.services

MOSCOW = ZoneInfo("Europe/Moscow")

POWER, TAMPER, DATA, TIME = (
    "События питания",
    "Внешние воздействия",
    "Коррекция данных",
    "Коррекция времени",
)

Event = tuple[datetime, str, int, str, str, bool, int | None]


def insert_events(
    conn: psycopg.Connection[Any], meter_id: str, events: Iterable[Event], *, quality: int = 3
) -> None:
    """``events`` of ``(ts, journal, code, kind name, text, critical, phase)``, as stored."""
    for ts, journal, code, kind, text, critical, phase in events:
        conn.execute(
            "INSERT INTO events (meter_id, journal, code, ts, kind, text, critical, phase,"
            " quality, read_at, message_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'm1')",
            (meter_id, journal, code, ts, kind, text, critical, phase, quality, ts),
        )


VOLTAGE_TEXT = "Отклонение напряжения на 10% в плюс или минус"
SEAL_TEXT = "Вскрытие пломбы крышки клеммной колодки"

DECEMBER = [  # in the month, in time order (ties by journal, then code)
    (utc("2023-11-30T21:00:00"), "spodes:2", 9, POWER, "Включение ПУ", False, None),
    (utc("2023-11-30T21:00:30"), "spodes:2", 11, POWER, VOLTAGE_TEXT, False, 1),
    (utc("2023-11-30T21:00:30"), "spodes:4", 36, TAMPER, SEAL_TEXT, True, None),
    (utc("2023-11-30T21:00:30"), "spodes:4", 40, TAMPER, "Воздействие магнитного поля", True, None),
    (utc("2023-12-10T09:00:00"), "mercury230:13", 1, DATA, "Перепрограммирование", True, None),
    (utc("2023-12-15T12:00:00"), "mercury230:12", 2, TAMPER, "Закрытие крышки", False, None),
    (utc("2023-12-20T12:00:00"), "vendor:7", 3, "Особые события", "Неизвестное", False, None),
    (utc("2023-12-31T20:59:59"), "collector:clock", 1, TIME, "Коррекция сборщиком", False, None),
]
OUTSIDE = [
    (utc("2023-11-30T20:59:59"), "spodes:2", 9, POWER, "ноябрь", False, None),
    (utc("2023-12-31T21:00:00"), "spodes:2", 9, POWER, "январь", False, None),
]


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        insert_meter(conn, "M230-0042", registered=True)
        insert_events(conn, "M230-0042", DECEMBER[:4] + DECEMBER[5:] + OUTSIDE)
        insert_events(conn, "M230-0042", [DECEMBER[4]], quality=1)  # estimated time
        insert_meter(conn, "EKB-0001", time_zone="Asia/Yekaterinburg")
        insert_events(
            conn,
            "EKB-0001",
            [
                (utc("2023-11-30T18:59:59"), "spodes:2", 9, POWER, "ноябрь", False, None),
                (utc("2023-11-30T19:00:00"), "spodes:2", 9, POWER, "декабрь", False, None),
                (utc("2023-12-31T18:59:59"), "spodes:2", 9, POWER, "декабрь", False, None),
                (utc("2023-12-31T19:00:00"), "spodes:2", 9, POWER, "январь", False, None),
            ],
        )
        insert_events(  # the API's clock stands in November 2026
            conn, "EKB-0001", [(utc("2026-11-01T10:00"), "spodes:2", 9, POWER, "x", False, None)]
        )
        import_two_contracts(conn)
        for meter_id in ("A1", "B1"):
            insert_events(conn, meter_id, [DECEMBER[0]])
    return fresh_database


async def journal(dsn: str, meter_id: str = "M230-0042", **params: Any) -> dict[str, Any]:
    async with api_client(dsn) as client:
        response = await client.get(f"/api/v1/meters/{meter_id}/journal", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def keys(body: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(e["ts"], e["journal"], e["code"]) for e in body["events"]]


def expected(events: Iterable[Event]) -> list[tuple[str, str, int]]:
    """The keys of ``events`` as a Moscow meter's journal shows them."""
    return [(ts.astimezone(MOSCOW).isoformat(), journal, code) for ts, journal, code, *_ in events]


async def test_a_month_of_events_oldest_first_one_row_each(dsn: str) -> None:
    body = await journal(dsn, month="2023-12")
    assert body["month"] == "2023-12"
    assert body["time_zone"] == "Europe/Moscow"
    assert body["start"] == "2023-12-01T00:00:00+03:00"
    assert body["end"] == "2024-01-01T00:00:00+03:00"
    assert (body["total"], body["limit"], body["offset"], body["order"]) == (8, 100, 0, "asc")
    assert (body["kinds"], body["critical"]) == ([], None)
    assert keys(body) == expected(DECEMBER)
    assert body["events"][2] == {
        "ts": "2023-12-01T00:00:30+03:00",
        "journal": "spodes:4",
        "code": 36,
        "kind": "tamper",
        "kind_title": "Внешние воздействия",
        "text": "Вскрытие пломбы крышки клеммной колодки",
        "description": "Внешние воздействия: Вскрытие пломбы крышки клеммной колодки",
        "critical": True,
        "phase": None,
        "quality": "ok",
    }
    assert body["events"][1]["phase"] == 1
    assert body["events"][4]["quality"] == "estimated"
    # a kind name the catalogue does not know is kept as stored, under the id 'other'
    assert (body["events"][6]["kind"], body["events"][6]["kind_title"]) == (
        "other",
        "Особые события",
    )
    assert body["events"][7]["ts"] == "2023-12-31T23:59:59+03:00"


async def test_newest_first_on_request(dsn: str) -> None:
    body = await journal(dsn, month="2023-12", order="desc")
    assert [e["ts"] for e in body["events"]] == sorted(
        (e["ts"] for e in body["events"]), reverse=True
    )
    assert body["events"][0]["ts"] == "2023-12-31T23:59:59+03:00"


async def test_filters_combine_with_and(dsn: str) -> None:
    critical_tamper = await journal(dsn, month="2023-12", kind="tamper", critical="true")
    assert keys(critical_tamper) == expected(DECEMBER[2:4])
    assert (critical_tamper["kinds"], critical_tamper["critical"]) == (["tamper"], True)
    calm_tamper = await journal(dsn, month="2023-12", kind="tamper", critical="false")
    assert keys(calm_tamper) == expected([DECEMBER[5]])
    assert (await journal(dsn, month="2023-12", kind="power", critical="true"))["total"] == 0
    critical = await journal(dsn, month="2023-12", critical="true")
    assert keys(critical) == expected(DECEMBER[2:5])


async def test_several_kinds_repeated_or_comma_separated(dsn: str) -> None:
    async with api_client(dsn) as client:
        url = "/api/v1/meters/M230-0042/journal?month=2023-12"
        repeated = (await client.get(url + "&kind=power&kind=data_correction")).json()
        commas = (await client.get(url + "&kind=data_correction,power")).json()
        other = (await client.get(url + "&kind=other,time_correction")).json()
    assert keys(repeated) == keys(commas) == expected([*DECEMBER[:2], DECEMBER[4]])
    assert repeated["kinds"] == ["data_correction", "power"]
    assert keys(other) == expected(DECEMBER[6:])


async def test_pages_keep_the_total(dsn: str) -> None:
    pages = [await journal(dsn, month="2023-12", limit=3, offset=o) for o in (0, 3, 6, 9)]
    assert [page["total"] for page in pages] == [8, 8, 8, 8]
    assert [len(page["events"]) for page in pages] == [3, 3, 2, 0]
    assert [key for page in pages for key in keys(page)] == expected(DECEMBER)
    filtered = await journal(dsn, month="2023-12", critical="true", limit=2, offset=2)
    assert (filtered["total"], keys(filtered)) == (3, expected([DECEMBER[4]]))


async def test_the_month_starts_at_local_midnight(dsn: str) -> None:
    body = await journal(dsn, "EKB-0001", month="2023-12")
    assert body["start"] == "2023-12-01T00:00:00+05:00"
    assert body["end"] == "2024-01-01T00:00:00+05:00"
    assert [e["ts"] for e in body["events"]] == [
        "2023-12-01T00:00:00+05:00",
        "2023-12-31T23:59:59+05:00",
    ]
    assert {e["text"] for e in body["events"]} == {"декабрь"}


async def test_the_default_month_is_the_current_local_one(dsn: str) -> None:
    body = await journal(dsn, "EKB-0001")
    assert body["month"] == "2026-11"
    assert [e["text"] for e in body["events"]] == ["x"]


async def test_kinds_lists_the_catalogue(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters/M230-0042/journal/kinds")
        missing = await client.get("/api/v1/meters/NO-SUCH/journal/kinds")
    assert response.status_code == 200
    assert response.json() == [{"id": k.id, "title": k.name} for k in EVENT_KINDS]
    assert response.json()[2] == {"id": "power", "title": "События питания"}
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("month=2023-13", "month"),
        ("month=2023-1", "month"),
        ("month=dec", "month"),
        ("month=0001-01", "month"),
        ("kind=power,nope", "kind"),
        ("critical=maybe", "critical"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("order=up", "order"),
    ],
)
async def test_bad_parameters_are_422_naming_them(dsn: str, query: str, parameter: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get(f"/api/v1/meters/M230-0042/journal?{query}")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"][0]["parameter"] == parameter
    assert f"'{parameter}'" in body["detail"]


async def test_unknown_kind_names_the_known_ones(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters/M230-0042/journal?kind=nope")
    assert response.json()["detail"].startswith("query parameter 'kind': unknown event kind 'nope'")
    assert "power" in response.json()["detail"]


async def test_unknown_meter_is_404(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters/NO-SUCH/journal?month=2023-12")
    assert response.status_code == 404
    assert response.json() == {"detail": "meter 'NO-SUCH' not found"}


async def test_a_key_sees_only_its_contracts_journals(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        key, _ = create_key(conn, "cabinet-a", scopes=[ContractScope("77-A")])
    async with api_client(dsn, key=key) as client:
        own = await client.get("/api/v1/meters/A1/journal?month=2023-12")
        other = await client.get("/api/v1/meters/B1/journal?month=2023-12")
        other_kinds = await client.get("/api/v1/meters/B1/journal/kinds")
        unassigned = await client.get("/api/v1/meters/M230-0042/journal?month=2023-12")
    assert own.status_code == 200
    assert own.json()["total"] == 1
    assert other.status_code == other_kinds.status_code == unassigned.status_code == 404
    assert other.json() == {"detail": "meter 'B1' not found"}
