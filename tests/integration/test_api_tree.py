"""The object tree and the information pages on the real TimescaleDB (DESIGN §5, S001 §10).

The registry is built by the real import (:func:`timeseries.registry.import_registry`):

- contract 321654988 with energy objects 3216549881 «Склад Ромашка» (meter M-C),
  3216549882 (connection points 2 and 10, meters M-A and M-B) and 3216549883 (no children);
- contract 77-B with energy object 0001 (meter B1);
- contract 2024/7 (a slash in its number) with meter S1; contract 77-C without meters;
- meter NEW-1 seen on the wire but not placed.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from api.formats import local_isoformat
from api.tree_schemas import ContractSummary, ContractTree, MeterInformation, NodeInformation
from isu.apikey import ContractScope, create_key
from tests.integration.api_support import api_client, insert_meter
from timeseries.registry import import_registry
from timeseries.registry_model import parse_json

pytestmark = pytest.mark.services

MOSCOW = ZoneInfo("Europe/Moscow")
METER_A = {
    "meter_id": "M-A",
    "model": "Меркурий 234 ARTM-03",
    "serial_number": "40680048",
    "mac_address": "8DC80DFEFF840D04",
    "commissioned_on": "2023-04-24",
    "isu_connected_on": "2023-04-24",
    "installed_on": "2023-04-20",
    "install_place": "ВРУ-1, щит учёта",
    "verified_on": "2022-08-01",
    "next_verification_on": "2038-08-01",
    "capacity": "6,2",
    "ct_ratio": "40",
    "vt_ratio": "2.5",
    "accuracy_class": "0,5S/1,0",
    "rated_voltage_v": "230",
    "rated_current_a": "5(10)",
    "phases": 3,
    "attributes": {"Пломба": "№ 0012345"},
}


def _point(number: str, name: str, *meters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"number": number, "name": name, "meters": list(meters), **fields}


def _connection(number: str, name: str, *points: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"number": number, "name": name, "metering_points": list(points), **fields}


def _object(number: str, name: str, *connections: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"number": number, "name": name, "connection_points": list(connections), **fields}


TREE = {
    "schema": 1,
    "contracts": [
        {
            "number": "321654988",
            "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
            "consumer_name": 'ООО "Пример"',
            "consumer_inn": "7700000002",
            "signed_on": "2023-04-01",
            "zone_schedule": "three-zone",
            "attributes": {"Категория": "III"},
            "energy_objects": [
                _object(
                    "3216549882",
                    "Стенд МЭС с СКЗИ-3ф ЮЛ",
                    _connection(
                        "10",
                        "ТП-5, ввод 10",
                        _point(
                            "1", "Щит 10", {"meter_id": "M-B", "time_zone": "Asia/Yekaterinburg"}
                        ),
                    ),
                    _connection(
                        "2",
                        "ТП-5, ввод 2",
                        _point("1", "ВРУ-1, ввод 1", METER_A, ats_code="770000000000101"),
                        voltage_kv="0.4",
                        max_power_kw="150",
                        grid_company="ПАО «Россети Московский регион»",
                    ),
                    address="г. Москва, 123592, ул. Кулакова, д. 25, кор. 3",
                    phone_1="+7(495)980-59-00",
                    phone_2="+7 (499) 550-03-33 доб. 6106",
                    email="info@example.ru",
                ),
                _object("3216549883", "Пустой объект"),
                _object(
                    "3216549881",
                    "Склад Ромашка",
                    _connection(
                        "1",
                        "Ввод склада",
                        _point("1", "Учёт склада", {"meter_id": "M-C", "model": "Меркурий 230"}),
                    ),
                ),
            ],
        },
        {
            "number": "77-B",
            "name": "Другой договор",
            "energy_objects": [
                _object(
                    "0001",
                    "Чужой объект",
                    _connection("1", "Ввод", _point("1", "Точка", {"meter_id": "B1"})),
                )
            ],
        },
        {
            "number": "2024/7",
            "name": "Договор с косой чертой",
            "energy_objects": [
                _object(
                    "1", "Объект", _connection("1", "Ввод", _point("1", "Т", {"meter_id": "S1"}))
                )
            ],
        },
        {"number": "77-C", "name": "Без приборов", "energy_objects": [_object("1", "Пусто")]},
    ],
}


@pytest.fixture
def dsn(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        import_registry(conn, parse_json(json.dumps(TREE)))
        insert_meter(conn, "NEW-1", model="CE308")
    return fresh_database


def key_for(dsn: str, *scopes: ContractScope) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        key, _ = create_key(conn, f"key-{secrets.token_hex(4)}", scopes=list(scopes))
    return key


def node_id(dsn: str, table: str, number: str, parent_number: str | None = None) -> str:
    """``eo:<id>`` etc. of the node ``number`` (inside the parent numbered ``parent_number``)."""
    parents = {
        "energy_objects": ("eo", None),
        "connection_points": ("cp", "energy_objects AS p ON p.id = t.energy_object_id"),
        "metering_points": ("mp", "connection_points AS p ON p.id = t.connection_point_id"),
    }
    prefix, join = parents[table]
    query = f"SELECT t.id FROM {table} AS t"
    params: list[str] = [number]
    if join is not None:
        query += f" JOIN {join} WHERE t.number = %s AND p.number = %s"
        params.append(parent_number or "")
    else:
        query += " WHERE t.number = %s"
    with psycopg.connect(dsn) as conn:
        [(found,)] = conn.execute(query, params).fetchall()
    return f"{prefix}:{found}"


def updated_at(dsn: str, query: str, *params: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    moment: datetime = row[0]
    return moment


def shape(node: dict[str, Any]) -> Any:
    """A tree as nested ``(number, name, children)``."""
    return (node["number"], node["name"], [shape(child) for child in node["children"]])


# --- GET /api/v1/contracts ----------------------------------------------------------------


async def test_contracts_with_meters_by_scope(dsn: str) -> None:
    scoped = {
        "admin": None,
        "one contract": key_for(dsn, ContractScope("321654988")),
        "one energy object": key_for(dsn, ContractScope("77-B", ("0001",))),
        "contract without meters": key_for(dsn, ContractScope("77-C")),
    }
    seen = {}
    for label, key in scoped.items():
        kwargs = {} if key is None else {"key": key}
        async with api_client(dsn, **kwargs) as client:
            response = await client.get("/api/v1/contracts")
        assert response.status_code == 200, response.text
        body = response.json()
        for contract in body:
            ContractSummary.model_validate(contract)
        seen[label] = [(c["number"], c["name"]) for c in body]
    assert seen == {
        # by number, digits as numbers; 77-C has no meters, so it is not listed
        "admin": [
            ("77-B", "Другой договор"),
            ("2024/7", "Договор с косой чертой"),
            ("321654988", "Стенд МЭС с СКЗИ-3ф ЮЛ"),
        ],
        "one contract": [("321654988", "Стенд МЭС с СКЗИ-3ф ЮЛ")],
        "one energy object": [("77-B", "Другой договор")],
        "contract without meters": [],
    }


# --- GET /api/v1/contracts/{number}/tree --------------------------------------------------


async def test_the_tree_has_one_card_per_energy_object_sorted_by_number(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/contracts/321654988/tree")
    assert response.status_code == 200, response.text
    body = response.json()
    ContractTree.model_validate(body)
    assert body["contract"] == {"number": "321654988", "name": "Стенд МЭС с СКЗИ-3ф ЮЛ"}
    assert [shape(tree) for tree in body["trees"]] == [
        (
            "3216549881",
            "Склад Ромашка",
            [("1", "Ввод склада", [("1", "Учёт склада", [("M-C", "Меркурий 230", [])])])],
        ),
        (
            "3216549882",
            "Стенд МЭС с СКЗИ-3ф ЮЛ",
            [
                (  # 2 before 10
                    "2",
                    "ТП-5, ввод 2",
                    [
                        (
                            "1",
                            "ВРУ-1, ввод 1",
                            [("40680048", "Меркурий 234 ARTM-03 № 40680048", [])],
                        )
                    ],
                ),
                ("10", "ТП-5, ввод 10", [("1", "Щит 10", [("M-B", "M-B", [])])]),
            ],
        ),
        ("3216549883", "Пустой объект", []),
    ]
    stand = body["trees"][1]
    point = stand["children"][0]["children"][0]
    assert (stand["id"], stand["kind"]) == (
        node_id(dsn, "energy_objects", "3216549882"),
        "energy_object",
    )
    assert stand["children"][0]["id"] == node_id(dsn, "connection_points", "2", "3216549882")
    assert (point["id"], point["kind"]) == (
        node_id(dsn, "metering_points", "1", "2"),
        "metering_point",
    )
    assert point["meter_id"] is None
    assert point["children"] == [
        {
            "id": "meter:M-A",
            "kind": "meter",
            "number": "40680048",
            "name": "Меркурий 234 ARTM-03 № 40680048",
            "meter_id": "M-A",
            "model": "Меркурий 234 ARTM-03",
            "serial_number": "40680048",
            "children": [],
        }
    ]


async def test_a_contract_number_with_a_slash(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/contracts/2024/7/tree")
    assert response.status_code == 200, response.text
    assert response.json()["contract"]["number"] == "2024/7"
    assert [tree["number"] for tree in response.json()["trees"]] == ["1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"energy_object": "3216549882"}, ["3216549882"]),
        ({"energy_object": "9999"}, []),
        ({}, ["3216549881", "3216549882", "3216549883"]),
        # a connection point's name keeps its whole tree, the other connection point included
        ({"q": "ввод 10"}, ["3216549882"]),
        ({"q": "СКЛАД"}, ["3216549881"]),  # any case, Cyrillic
        ({"q": "ромашка"}, ["3216549881"]),  # the energy object's own name
        ({"q": "меркурий"}, ["3216549881", "3216549882"]),  # a meter's name
        ({"q": "пустой"}, ["3216549883"]),
        ({"q": "%"}, []),  # a plain character, not a wildcard
        ({"q": ""}, ["3216549881", "3216549882", "3216549883"]),
        ({"q": "меркурий", "energy_object": "3216549881"}, ["3216549881"]),
        ({"q": "ввод 10", "energy_object": "3216549881"}, []),
    ],
)
async def test_energy_object_and_q_keep_whole_trees(
    dsn: str, params: dict[str, str], expected: list[str]
) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/contracts/321654988/tree", params=params)
    assert response.status_code == 200, response.text
    body = ContractTree.model_validate(response.json())
    assert [tree.number for tree in body.trees] == expected
    if params == {"q": "ввод 10"}:
        # the whole card, not just the matching branch
        assert [cp.number for cp in body.trees[0].children] == ["2", "10"]


async def test_an_energy_object_key_sees_only_its_trees(dsn: str) -> None:
    key = key_for(dsn, ContractScope("321654988", ("3216549881",)))
    async with api_client(dsn, key=key) as client:
        tree = await client.get("/api/v1/contracts/321654988/tree")
        own = await client.get(f"/api/v1/nodes/{node_id(dsn, 'energy_objects', '3216549881')}")
        other = await client.get(f"/api/v1/nodes/{node_id(dsn, 'energy_objects', '3216549882')}")
        meter = await client.get("/api/v1/meters/M-A")
    assert tree.status_code == 200
    assert [t["number"] for t in tree.json()["trees"]] == ["3216549881"]
    assert own.status_code == 200
    assert (other.status_code, meter.status_code) == (404, 404)


# --- GET /api/v1/nodes/{id} ---------------------------------------------------------------


async def test_node_pages_carry_their_blocks_with_as_of(dsn: str) -> None:
    eo = node_id(dsn, "energy_objects", "3216549882")
    cp = node_id(dsn, "connection_points", "2", "3216549882")
    mp = node_id(dsn, "metering_points", "1", "2")
    async with api_client(dsn) as client:
        bodies = {node: (await client.get(f"/api/v1/nodes/{node}")) for node in (eo, cp, mp)}
    for response in bodies.values():
        assert response.status_code == 200, response.text
        NodeInformation.model_validate(response.json())
    stamp = updated_at(dsn, "SELECT updated_at FROM energy_objects WHERE number = %s", "3216549882")
    assert bodies[eo].json() == {
        "id": eo,
        "kind": "energy_object",
        "number": "3216549882",
        "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
        "contract": "321654988",
        "parent_id": None,
        "blocks": [
            {
                "type": "energy_object",
                "title": "Характеристики энергообъекта",
                "as_of": local_isoformat(stamp, MOSCOW),
                "address": "г. Москва, 123592, ул. Кулакова, д. 25, кор. 3",
                "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
                "number": "3216549882",
                "phone_1": "+7(495)980-59-00",
                "phone_2": "+7 (499) 550-03-33 доб. 6106",
                "email": "info@example.ru",
                "time_zone": "Europe/Moscow",
                "attributes": {},
            }
        ],
    }
    assert "+03:00" in bodies[eo].json()["blocks"][0]["as_of"]
    connection = bodies[cp].json()
    assert (connection["kind"], connection["parent_id"]) == ("connection_point", eo)
    assert connection["blocks"][0] | {"as_of": None} == {
        "type": "connection_point",
        "title": "Характеристики точки подключения",
        "as_of": None,
        "name": "ТП-5, ввод 2",
        "number": "2",
        "voltage_kv": "0.4",
        "max_power_kw": "150",
        "grid_company": "ПАО «Россети Московский регион»",
        "attributes": {},
    }
    point = bodies[mp].json()
    assert (point["kind"], point["parent_id"], point["name"]) == (
        "metering_point",
        cp,
        "ВРУ-1, ввод 1",
    )
    assert point["blocks"][0]["ats_code"] == "770000000000101"
    assert point["blocks"][0]["title"] == "Характеристики точки учёта"


async def test_a_meter_node_has_the_meter_blocks(dsn: str) -> None:
    async with api_client(dsn) as client:
        node = await client.get("/api/v1/nodes/meter:M-A")
        meter = await client.get("/api/v1/meters/M-A")
    assert node.status_code == 200, node.text
    body = NodeInformation.model_validate(node.json())
    assert (body.kind, body.number, body.parent_id) == (
        "meter",
        "40680048",
        node_id(dsn, "metering_points", "1", "2"),
    )
    assert node.json()["blocks"] == meter.json()["blocks"]


# --- GET /api/v1/meters/{meter_id} --------------------------------------------------------


async def test_meter_information_blocks(dsn: str) -> None:
    async with api_client(dsn) as client:
        response = await client.get("/api/v1/meters/M-A")
    assert response.status_code == 200, response.text
    body = response.json()
    MeterInformation.model_validate(body)
    meter_at = local_isoformat(
        updated_at(dsn, "SELECT registry_updated_at FROM meters WHERE meter_id = %s", "M-A"),
        MOSCOW,
    )
    contract_at = local_isoformat(
        updated_at(dsn, "SELECT updated_at FROM contracts WHERE number = %s", "321654988"), MOSCOW
    )
    assert {key: body[key] for key in ("meter_id", "node_id", "contract", "time_zone")} == {
        "meter_id": "M-A",
        "node_id": "meter:M-A",
        "contract": "321654988",
        "time_zone": "Europe/Moscow",
    }
    blocks = {block.pop("type"): block for block in body["blocks"]}
    assert list(blocks) == [
        "identification",
        "life_cycle",
        "metrology",
        "model_passport",
        "installation",
        "characteristics",
        "consumer",
        "contract",
    ]
    assert {kind: block.pop("as_of") for kind, block in blocks.items()} == {
        "identification": meter_at,
        "life_cycle": meter_at,
        "metrology": meter_at,
        "model_passport": meter_at,
        "installation": meter_at,  # the meter was written after its metering point
        "characteristics": meter_at,
        "consumer": contract_at,
        "contract": contract_at,
    }
    assert blocks["identification"] == {
        "title": "Идентификационные данные",
        "meter_id": "M-A",
        "mac_address": "8DC80DFEFF840D04",
        "model": "Меркурий 234 ARTM-03",
        "serial_number": "40680048",
    }
    assert blocks["life_cycle"] == {
        "title": "Жизненный цикл и состояние ИПУ",
        "commissioned_on": "2023-04-24",
        "isu_connected_on": "2023-04-24",
        "registered": True,
    }
    assert blocks["metrology"] == {
        "title": "Метрологический статус и характеристики ИПУ",
        "verified_on": "2022-08-01",
        "next_verification_on": "2038-08-01",
    }
    assert blocks["model_passport"] == {
        "title": "Электротехнические и метрологические характеристики модели ИПУ"
        " (из паспорта модели)",
        "model": "Меркурий 234 ARTM-03",
        "accuracy_class": "0,5S/1,0",
        "rated_voltage_v": "230",
        "rated_current_a": "5(10)",
        "phases": 3,
    }
    assert blocks["installation"] == {
        "title": "Данные установки",
        "installed_on": "2023-04-20",
        "install_place": "ВРУ-1, щит учёта",
        "metering_point": "1",
        "metering_point_name": "ВРУ-1, ввод 1",
        "ats_code": "770000000000101",
    }
    assert blocks["characteristics"] == {
        "title": "Характеристики",
        "capacity": "6.2",
        "ct_ratio": "40",
        "vt_ratio": "2.5",
        "ratio": "100",
        "time_zone": "Europe/Moscow",
        "attributes": {"Пломба": "№ 0012345"},
    }
    assert blocks["consumer"] == {
        "title": "Характеристики Потребителя",
        "name": 'ООО "Пример"',
        "inn": "7700000002",
    }
    assert blocks["contract"] == {
        "title": "Характеристики договора",
        "number": "321654988",
        "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
        "signed_on": "2023-04-01",
        "zone_schedule": "three-zone",
        "energy_object": "3216549882",
        "energy_object_name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
        "attributes": {"Категория": "III"},
    }


async def test_fields_the_registry_lacks_are_null(dsn: str) -> None:
    async with api_client(dsn) as client:
        sparse = await client.get("/api/v1/meters/M-B")
        unassigned = await client.get("/api/v1/meters/NEW-1")
    assert sparse.status_code == 200, sparse.text
    body = MeterInformation.model_validate(sparse.json())
    assert body.time_zone == "Asia/Yekaterinburg"
    blocks = {block["type"]: block for block in sparse.json()["blocks"]}
    assert blocks["identification"]["as_of"].endswith("+05:00")  # the meter's own zone
    assert blocks["metrology"]["verified_on"] is None
    assert blocks["model_passport"]["phases"] is None
    assert blocks["characteristics"]["capacity"] is None
    assert blocks["characteristics"]["ratio"] == "1"
    assert blocks["consumer"]["name"] == 'ООО "Пример"'  # the contract's, not the meter's
    assert unassigned.status_code == 200, unassigned.text
    body = MeterInformation.model_validate(unassigned.json())
    assert (body.contract, body.parent_id) == (None, None)
    blocks = {block["type"]: block for block in unassigned.json()["blocks"]}
    assert blocks["identification"]["model"] == "CE308"
    assert blocks["life_cycle"]["registered"] is False
    assert all(
        blocks[kind]["as_of"] is None
        for kind in ("identification", "installation", "consumer", "contract")
    )
    assert blocks["contract"]["number"] is None
    assert blocks["contract"]["attributes"] == {}


# --- scope and errors ---------------------------------------------------------------------


async def test_another_contracts_nodes_and_meters_are_not_found(dsn: str) -> None:
    key = key_for(dsn, ContractScope("77-B"))
    eo = node_id(dsn, "energy_objects", "3216549882")
    cp = node_id(dsn, "connection_points", "2", "3216549882")
    mp = node_id(dsn, "metering_points", "1", "2")
    async with api_client(dsn, key=key) as client:
        own = await client.get("/api/v1/contracts/77-B/tree")
        answers = {
            path: await client.get(path)
            for path in (
                "/api/v1/contracts/321654988/tree",
                f"/api/v1/nodes/{eo}",
                f"/api/v1/nodes/{cp}",
                f"/api/v1/nodes/{mp}",
                "/api/v1/nodes/meter:M-A",
                "/api/v1/nodes/meter:NEW-1",
                "/api/v1/meters/M-A",
                "/api/v1/meters/NEW-1",
            )
        }
        unknown = {
            path: await client.get(path)
            for path in (
                "/api/v1/contracts/999/tree",
                "/api/v1/nodes/eo:999999",
                "/api/v1/nodes/meter:NOPE",
                "/api/v1/meters/NOPE",
            )
        }
    assert own.status_code == 200
    assert [t["number"] for t in own.json()["trees"]] == ["0001"]
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(
        answers, 404
    )
    assert answers["/api/v1/contracts/321654988/tree"].json() == {
        "detail": "contract '321654988' not found"
    }
    assert unknown["/api/v1/contracts/999/tree"].json() == {"detail": "contract '999' not found"}
    assert answers[f"/api/v1/nodes/{eo}"].json() == {"detail": f"node '{eo}' not found"}
    assert unknown["/api/v1/nodes/eo:999999"].json() == {"detail": "node 'eo:999999' not found"}
    assert answers["/api/v1/meters/M-A"].json() == {"detail": "meter 'M-A' not found"}
    assert unknown["/api/v1/meters/NOPE"].json() == {"detail": "meter 'NOPE' not found"}


async def test_every_route_needs_a_key(dsn: str) -> None:
    async with api_client(dsn, key=None) as client:
        for path in (
            "/api/v1/contracts",
            "/api/v1/contracts/321654988/tree",
            "/api/v1/nodes/meter:M-A",
            "/api/v1/meters/M-A",
        ):
            response = await client.get(path)
            assert response.status_code == 401, path


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v1/contracts/321654988/tree", {"q": "я" * 101}, "q"),
        ("/api/v1/contracts/321654988/tree", {"energy_object": ""}, "energy_object"),
        ("/api/v1/contracts/321654988/tree", {"energy_object": "1" * 41}, "energy_object"),
        ("/api/v1/contracts/bad number/tree", {}, "number"),
        (f"/api/v1/contracts/{'1' * 41}/tree", {}, "number"),
        ("/api/v1/nodes/xx:1", {}, "node_id"),
        ("/api/v1/nodes/eo:abc", {}, "node_id"),
        ("/api/v1/nodes/eo:0", {}, "node_id"),
        ("/api/v1/nodes/eo:1234567890123456789", {}, "node_id"),
        ("/api/v1/nodes/meter:bad!id", {}, "node_id"),
        ("/api/v1/meters/bad!id", {}, "meter_id"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    dsn: str, path: str, params: dict[str, str], parameter: str
) -> None:
    async with api_client(dsn) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"][0]["parameter"] == parameter
    assert repr(parameter) in body["detail"]


async def test_the_openapi_document_carries_the_examples(dsn: str) -> None:
    async with api_client(dsn) as client:
        document = (await client.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/api/v1/contracts",
        "/api/v1/contracts/{number}/tree",
        "/api/v1/nodes/{node_id}",
        "/api/v1/meters/{meter_id}",
    ):
        for status, answer in paths[path]["get"]["responses"].items():
            assert "example" in answer["content"]["application/json"], (path, status)
    example = paths["/api/v1/meters/{meter_id}"]["get"]["responses"]["200"]["content"]
    MeterInformation.model_validate(example["application/json"]["example"])
    components = document["components"]["schemas"]
    assert components["TreeNode"]["examples"][0]["meter_id"] is None  # nulls kept
    assert components["NodeInformation"]["examples"][0]["parent_id"] is None
