"""A unit's request path without a socket: the order of the device's checks (fault, function,
quantity, address), the readable ranges a map allows, what a request refreshes, and faults."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException

from core.errors import ConfigError
from drivers.modbus.maps import load_map
from simulators.mercury230.clock import ManualClock
from simulators.modbus.faults import ModbusFault
from simulators.modbus.meter import ModbusMeter
from simulators.modbus.server import ModbusBus
from simulators.modbus.unit import ModbusUnit
from tests.unit.modbus.support import write_map

#: Function 3: points at 10-11, 12-13 and 20-21 (a gap of 6), 40 (a gap of 18); function 4: 0-1.
POINTS = """
[[point]]
obis = "1.0.1.8.0.255"
address = 10
type = "u32"
unit = "Wh"
stream = "current"
[[point]]
obis = "1.0.3.8.0.255"
address = 12
type = "u32"
unit = "varh"
stream = "current"
[[point]]
obis = "1.0.32.7.0.255"
address = 20
type = "float32"
unit = "V"
resolution = "0.1"
stream = "instant"
[[point]]
field = "serial_number"
address = 40
type = "u16"
stream = "info"
[[point]]
obis = "1.0.14.7.0.255"
address = 0
type = "u32"
unit = "Hz"
scale = "0.001"
stream = "instant"
function = 4
"""


def make_unit(tmp_path: Path, fault: ModbusFault | None = None, **limits: int) -> ModbusUnit:
    register_map = load_map(write_map(tmp_path, "small", POINTS, max_registers=limits.get(
        "max_registers", 40), max_gap=limits.get("max_gap", 6)))
    meter = ModbusMeter(register_map, 3, clock=ManualClock(datetime(2024, 3, 5, tzinfo=UTC)),
                        serial="4242")
    return ModbusUnit(meter, fault=fault)


async def read(unit: ModbusUnit, function: int, address: int, count: int,
               values: list[int] | None = None) -> tuple[ExcCodes | None, list[int]]:
    start, end = unit.spans.get(function, (0, 16))
    block = [0] * (end - start)
    answer = await unit.action(function, start, address, count, block, values)
    return answer, block[address - start:address - start + count]


async def test_points_and_short_gaps_read_others_are_refused(tmp_path: Path) -> None:
    unit = make_unit(tmp_path)
    answer, registers = await read(unit, 3, 10, 12)  # 10..21: the gap 14..19 reads 0
    assert answer is None
    assert registers[4:10] == [0] * 6
    assert registers[:2] == unit.meter.registers_of("1.0.1.8.0.255")
    assert registers[10:] == unit.meter.registers_of("1.0.32.7.0.255")
    assert (await read(unit, 3, 11, 1))[0] is None  # half a point
    assert (await read(unit, 3, 9, 2))[0] == ExcCodes.ILLEGAL_ADDRESS  # 9 is no point
    assert (await read(unit, 3, 20, 21))[0] == ExcCodes.ILLEGAL_ADDRESS  # gap 22..39 > 6
    assert (await read(unit, 3, 40, 1))[0] is None
    assert (await read(unit, 4, 0, 2))[0] is None
    assert (await read(unit, 4, 10, 2))[0] == ExcCodes.ILLEGAL_ADDRESS  # function 3's only
    assert unit.counters() == {"requests": 7, "answered": 4, "refused": 3, "silenced": 0}


async def test_the_quantity_is_checked_before_the_address(tmp_path: Path) -> None:
    unit = make_unit(tmp_path, max_registers=8, max_gap=6)
    assert (await read(unit, 3, 10, 8))[0] is None
    assert (await read(unit, 3, 10, 9))[0] == ExcCodes.ILLEGAL_VALUE
    assert (await read(unit, 3, 0, 9))[0] == ExcCodes.ILLEGAL_VALUE  # nothing there, either
    assert (await read(unit, 3, 10, 1, values=[7]))[0] == ExcCodes.ILLEGAL_FUNCTION
    assert (await read(unit, 1, 10, 1))[0] == ExcCodes.ILLEGAL_FUNCTION


async def test_faults_come_first_and_strike_their_share(tmp_path: Path) -> None:
    silent = make_unit(tmp_path, ModbusFault("silence"))
    with pytest.raises(NoSuchIdException):
        await read(silent, 3, 9, 100)  # unreadable and too long, yet just silent
    assert silent.silenced == 1
    busy = make_unit(tmp_path, ModbusFault("exception", code=6, registers=(20, 21)))
    assert (await read(busy, 3, 10, 4))[0] is None  # does not touch 20..21
    assert (await read(busy, 3, 12, 10))[0] == ExcCodes.DEVICE_BUSY
    assert (await read(busy, 4, 0, 2))[0] is None
    flaky = make_unit(tmp_path, ModbusFault("exception", probability=0.3, code=4))
    answers = [(await read(flaky, 3, 10, 2))[0] for _ in range(400)]
    assert 80 < answers.count(ExcCodes.DEVICE_FAILURE) < 160
    again = make_unit(tmp_path, ModbusFault("exception", probability=0.3, code=4))
    assert [(await read(again, 3, 10, 2))[0] for _ in range(400)] == answers  # seeded


def test_fault_values_are_checked_and_round_trip_as_json() -> None:
    fault = ModbusFault.from_json({"fault": "exception", "code": 2, "registers": [5, 9],
                                   "probability": 0.5})
    assert fault.as_json() == {"fault": "exception", "probability": 0.5, "code": 2,
                               "registers": [5, 9]}
    assert ModbusFault.from_json({"fault": "slow", "delay_s": 1}).as_json() == {
        "fault": "slow", "probability": 1.0, "delay_s": 1.0}
    rng = random.Random(1)
    assert not fault.strikes(rng, 10, 5)
    assert not fault.strikes(rng, 0, 5)
    assert ModbusFault("silence", registers=(5, 9)).strikes(rng, 9, 1)
    bad_faults: list[tuple[dict[str, Any], str]] = [
        ({"fault": "corrupt_crc"}, "corrupt_crc"),
        ({"fault": "exception", "code": 9}, "exception code 9"),
        ({"fault": "slow", "probability": 2}, "probability"),
        ({"fault": "silence", "registers": [9, 5]}, "registers"),
        ({"fault": "silence", "registers": 5}, "first, last")]
    for bad, message in bad_faults:
        with pytest.raises(ValueError, match=message):
            ModbusFault.from_json(bad)


def test_a_bus_refuses_bad_and_repeated_unit_ids(tmp_path: Path) -> None:
    unit = make_unit(tmp_path)
    ModbusBus([unit], framing="rtu")
    with pytest.raises(ConfigError, match="used twice"):
        ModbusBus([unit, make_unit(tmp_path)])
    with pytest.raises(ConfigError, match="framing 'ascii'"):
        ModbusBus([unit], framing="ascii")
    unit.meter.unit = 250
    with pytest.raises(ConfigError, match=r"unit id 250 is outside 1\.\.247 \(rtu\)"):
        ModbusBus([unit], framing="rtu")
    ModbusBus([unit], framing="tcp")
