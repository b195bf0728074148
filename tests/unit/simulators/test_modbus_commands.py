"""Control commands of a Modbus fleet, run in-process (the control port only frames them)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import load_toml
from simulators.mercury230.clock import ManualClock
from simulators.modbus.config import ModbusFleetConfig
from simulators.modbus.fleet import ModbusFleet
from tests.unit.modbus.support import write_map

POINTS = """
[[point]]
obis = "1.0.1.8.0.255"
address = 0
type = "u32"
unit = "Wh"
stream = "current"
[[point]]
obis = "1.0.32.7.0.255"
address = 2
type = "float32"
unit = "V"
resolution = "0.1"
stream = "instant"
"""


@pytest.fixture
def fleet(tmp_path: Path) -> ModbusFleet:
    path = tmp_path / "fleet.toml"
    map_file = write_map(tmp_path, "tiny", POINTS)
    path.write_text(f"""
protocol = "modbus"
[[bus]]
listen = "127.0.0.1:0"
map = "{map_file}"
units = 2
[[bus]]
name = "second"
listen = "127.0.0.1:0"
map = "{map_file}"
units = 1
""", encoding="utf-8")
    clock = ManualClock(datetime(2024, 3, 5, 9, 0, tzinfo=UTC))
    return ModbusFleet.from_config(load_toml(path, ModbusFleetConfig), clock=clock)


def test_list_and_state(fleet: ModbusFleet) -> None:
    listed = fleet.command({"cmd": "list"})
    assert listed["ok"] is True
    assert listed["now"] == "2024-03-05T09:00:00Z"
    assert [len(bus["units"]) for bus in listed["buses"]] == [2, 1]
    state = fleet.command({"cmd": "state", "meter": 2})["state"]
    assert state["unit"] == 2
    assert state["bus"] == "bus-1"
    assert state["meter_id"] == "modbus-70000002"
    assert state["requests"] == state["silenced"] == 0
    assert state["fault"] is None
    assert set(state["values"]) == {"1.0.1.8.0.255", "1.0.32.7.0.255"}
    assert len(fleet.command({"cmd": "state"})["states"]) == 3
    assert fleet.command({"cmd": "state", "unit": "modbus-70001001"})["state"]["bus"] == "second"


def test_unit_ids_repeated_on_buses_need_the_bus(fleet: ModbusFleet) -> None:
    assert 'add "bus"' in fleet.command({"cmd": "state", "meter": 1})["error"]
    assert fleet.command({"cmd": "state", "meter": 1, "bus": 1})["state"]["bus"] == "second"
    assert fleet.command({"cmd": "state", "meter": 5})["error"] == "no unit 5"
    assert "no bus 7" in fleet.command({"cmd": "state", "bus": 7})["error"]


def test_fault_set_and_clear(fleet: ModbusFleet) -> None:
    answer = fleet.command({"meter": 2, "fault": "exception", "code": 6, "registers": [0, 1]})
    assert answer == {"ok": True, "units": [2], "fault": {
        "fault": "exception", "probability": 1.0, "code": 6, "registers": [0, 1]}}
    assert fleet.unit(2).fault is not None
    assert fleet.command({"meter": 2, "fault": None}) == {"ok": True, "units": [2],
                                                           "fault": None}
    assert fleet.unit(2).fault is None
    assert fleet.command({"bus": 0, "fault": "silence"})["units"] == [1, 2]
    assert fleet.command({"meter": 2, "fault": "garbage"})["ok"] is False


def test_set_energy_goes_up_unless_forced_and_pins_instant_values(fleet: ModbusFleet) -> None:
    meter = fleet.unit("modbus-70000001").meter
    now = meter.value_of("1.0.1.8.0.255")
    answer = fleet.command({"cmd": "set", "meter": "modbus-70000001", "point": "1.0.1.8.0.255",
                            "value": int(now) + 1000})
    assert answer == {"ok": True, "units": [1], "values": {"1": str(int(now) + 1000)}}
    refused = fleet.command({"cmd": "set", "meter": "modbus-70000001",
                             "point": "1.0.1.8.0.255", "value": 5})
    assert "only goes up" in refused["error"]
    forced = fleet.command({"cmd": "set", "meter": "modbus-70000001", "point": "1.0.1.8.0.255",
                            "value": 5, "force": True})
    assert forced["values"] == {"1": "5"}
    fleet.command({"cmd": "set", "meter": "modbus-70000001", "point": "1.0.32.7.0.255",
                   "value": "231.7"})
    assert meter.value_of("1.0.32.7.0.255") == Decimal("231.7")
    assert "no point" in fleet.command({"cmd": "set", "meter": "modbus-70000001",
                                        "point": "1.0.99.7.0.255", "value": 1})["error"]
    assert fleet.command({"cmd": "set", "point": "1.0.32.7.0.255", "value": "x"})["ok"] is False


def test_advance_freeze_and_counters(fleet: ModbusFleet) -> None:
    unit = fleet.unit("modbus-70000001")
    before = unit.meter.value_of("1.0.1.8.0.255")
    assert fleet.command({"cmd": "freeze", "meter": "modbus-70000001"}) == {"ok": True,
                                                                           "units": [1]}
    assert fleet.command({"cmd": "advance", "seconds": 3600})["now"] == "2024-03-05T10:00:00Z"
    assert unit.meter.value_of("1.0.1.8.0.255") == before
    fleet.command({"cmd": "unfreeze", "meter": "modbus-70000001"})
    fleet.command({"cmd": "advance", "seconds": 3600})
    assert unit.meter.value_of("1.0.1.8.0.255") > before
    unit.requests = 5
    fleet.command({"cmd": "reset_counters"})
    assert unit.requests == 0
    assert "unknown command 'power_failure'" in fleet.command({"cmd": "power_failure"})["error"]
