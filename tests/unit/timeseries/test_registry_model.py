"""The registry file: JSON and CSV give the same tree; every problem is named by its place."""

from __future__ import annotations

import json
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import ConfigError
from timeseries.registry_model import (
    RegistryDocument,
    given_fields,
    load_registry_file,
    parse_csv,
    parse_json,
)

TOP = Path(__file__).resolve().parents[3]
SAMPLE_JSON = TOP / "deploy" / "registry.sample.json"
SAMPLE_CSV = TOP / "deploy" / "registry.sample.csv"
HEADER = "contract.number;contract.name;energy_object.number;energy_object.name;meter.meter_id"


def _tree(**contract: object) -> dict[str, object]:
    return {"schema": 1, "contracts": [{"number": "100", "name": "Договор", **contract}]}


def _meters(*meters: dict[str, object]) -> dict[str, object]:
    point = {"number": "1", "name": "ТУ", "meters": list(meters)}
    cp = {"number": "1", "name": "ТП", "metering_points": [point]}
    return _tree(energy_objects=[{"number": "1", "name": "ЭО", "connection_points": [cp]}])


def test_the_json_sample_holds_the_whole_tree() -> None:
    document = load_registry_file(SAMPLE_JSON)
    assert document.counts() == {
        "contracts": 1,
        "energy_objects": 1,
        "connection_points": 2,
        "metering_points": 2,
        "meters": 2,
    }
    meter = (
        document.contracts[0].energy_objects[0].connection_points[0].metering_points[0].meters[0]
    )
    assert meter.capacity == "6.2"  # written «6,2» as the cabinet does
    assert meter.ct_ratio == Decimal(40)
    assert meter.mac_address == "8DC80DFEFF840D04"


def test_the_csv_sample_describes_the_same_meters_as_the_json_sample() -> None:
    from_json = load_registry_file(SAMPLE_JSON)
    from_csv = load_registry_file(SAMPLE_CSV)
    assert from_csv.counts() == from_json.counts()

    def meters(document: RegistryDocument) -> dict[str, tuple[object, ...]]:
        found = {}
        for contract in document.contracts:
            for eo in contract.energy_objects:
                for cp in eo.connection_points:
                    for mp in cp.metering_points:
                        for m in mp.meters:
                            found[m.meter_id] = (
                                contract.number,
                                eo.number,
                                cp.number,
                                mp.ats_code,
                                m.serial_number,
                                m.capacity,
                                m.ct_ratio,
                            )
        return found

    assert meters(from_csv) == meters(from_json)


def test_only_the_fields_a_file_gives_are_written() -> None:
    document = parse_json(json.dumps(_meters({"meter_id": "m-1", "model": None})))
    meter = (
        document.contracts[0].energy_objects[0].connection_points[0].metering_points[0].meters[0]
    )
    assert given_fields(meter) == {"meter_id": "m-1", "model": None}


def test_a_custom_zone_schedule_is_a_list_of_switch_points() -> None:
    document = parse_json(
        json.dumps(
            _tree(zone_schedule="custom", zone_switches=[["00:00", 2], ["08:00", 1], ["22:00", 2]])
        )
    )
    assert document.contracts[0].zone_switches == [(time(0), 2), (time(8), 1), (time(22), 2)]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_tree(colour="red"), "contracts[0].colour: Extra inputs are not permitted"),
        (_tree(sender_inn="12345"), "contracts[0].sender_inn: String should match pattern"),
        (_tree(zone_schedule="custom"), "zone_switches go with zone_schedule"),
        (_tree(zone_schedule="custom", zone_switches=[["07:00", 1]]), "must start at 00:00"),
        (
            _tree(energy_objects=[{"number": "1", "time_zone": "Mars/Olympus"}]),
            "contracts[0].energy_objects[0].time_zone: unknown time zone 'Mars/Olympus'",
        ),
        (
            _tree(energy_objects=[{"number": "1"}, {"number": "1"}]),
            "contracts[0].energy_objects: number '1' appears twice",
        ),
        (_meters({"meter_id": "a b"}), "meters[0].meter_id: String should match pattern"),
        (_meters({"meter_id": "m-1", "capacity": "6"}), "capacity '6'"),
        (_meters({"meter_id": "m-1", "ct_ratio": "0"}), "ct_ratio: Input should be greater than 0"),
        (_meters({"meter_id": "m-1", "phases": 2}), "phases: Input should be 1 or 3"),
        (
            _meters(
                {
                    "meter_id": "m-1",
                    "verified_on": "2024-01-01",
                    "next_verification_on": "2023-01-01",
                }
            ),
            "must be after verified_on",
        ),
        (
            _meters({"meter_id": "m-1"}, {"meter_id": "m-1"}),
            "meters[1].meter_id: 'm-1' is already at contracts[0].energy_objects[0]",
        ),
        ({"contracts": []}, "schema: Field required"),
        ({"schema": 2, "contracts": []}, "schema: Input should be 1"),
    ],
)
def test_json_problems_are_named_by_their_path(document: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_json(json.dumps(document), "tree.json")
    assert str(caught.value).startswith("tree.json: ")
    assert expected in str(caught.value)


def test_not_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"tree\.json: not valid JSON"):
        parse_json("{", "tree.json")


def test_csv_rows_share_their_upper_nodes_and_take_commas_too() -> None:
    text = (
        "contract.number,contract.name,energy_object.number,energy_object.name,meter.meter_id\n"
        "100,Договор,1,ЭО,\n"
        "100,,1,,\n"
        "100,,2,ЭО-2,\n"
    )
    document = parse_csv(text)
    assert [eo.number for eo in document.contracts[0].energy_objects] == ["1", "2"]


def test_a_csv_row_that_contradicts_an_earlier_one_is_named() -> None:
    text = f"{HEADER}\n100;Договор;1;ЭО;\n100;Другой;1;ЭО;\n"
    with pytest.raises(
        ConfigError,
        match=r"row 3, column contract.name: 'Другой' differs from "
        r"'Договор' in row 2",
    ):
        parse_csv(text, "tree.csv")


def test_csv_problems_name_row_and_column() -> None:
    text = (
        "contract.number;contract.name;meter.meter_id;meter.ct_ratio;meter.attributes.Пломба\n"
        "100;Договор;m-1;-1;№ 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_csv(text, "tree.csv")
    message = str(caught.value)
    # a meter row must name its energy object, connection point and metering point first
    assert "row 2: energy_object.number is empty" in message


def test_csv_value_errors_name_the_column() -> None:
    text = "contract.number;contract.name;contract.sender_inn\n100;Договор;12\n"
    expected = r"row 2, column contract\.sender_inn: String should match"
    with pytest.raises(ConfigError, match=expected):
        parse_csv(text, "tree.csv")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("contract.number;meter.colour", "column 'meter.colour': not a registry column"),
        ("contract.number;meter.meters", "column 'meter.meters': not a registry column"),
        ("contract.number;meter.model.x", "only attributes.<name> has a third part"),
        ("contract.number;meter.attributes", "write attributes.<name>"),
        ("contract.name", "the column contract.number is required"),
    ],
)
def test_csv_headers_are_checked(header: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse_csv(f"{header}\n", "tree.csv")


def test_a_csv_row_with_a_missing_cell_is_named() -> None:
    with pytest.raises(ConfigError, match="row 2: 2 cells, the header has 5"):
        parse_csv(f"{HEADER}\n100;Договор\n", "tree.csv")


def test_files_must_be_utf8_json_or_csv(tmp_path: Path) -> None:
    cp1251 = tmp_path / "tree.csv"
    cp1251.write_bytes(f"{HEADER}\n100;Договор;;;\n".encode("cp1251"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_registry_file(cp1251)
    other = tmp_path / "tree.xml"
    other.write_text("<tree/>")
    with pytest.raises(ConfigError, match=r"ends in \.json or \.csv"):
        load_registry_file(other)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_registry_file(tmp_path / "missing.json")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\n100;Договор;;;\n".encode())
    assert load_registry_file(bom).contracts[0].name == "Договор"
