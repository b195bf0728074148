"""The modbus driver against a scripted peer: requests, values, and every kind of bad answer."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ModbusPDU

from core.errors import (
    ConfigError,
    MeterInternalError,
    ObjectUnavailableError,
    TransportTimeoutError,
    UnexpectedResponseError,
)
from core.model import Stream
from drivers.base import MeterEndpoint, check_endpoint, create_driver
from drivers.modbus.values import encode_number
from tests.unit.modbus.support import exception_answer, registers_answer, scripted, write_map

POINTS = """
[[point]]
obis = "1.0.1.8.1.255"
address = 0
type = "u32"
unit = "Wh"
stream = "current"

[[point]]
obis = "1.0.1.8.2.255"
address = 2
type = "u32"
unit = "Wh"
stream = "current"

[[point]]
obis = "1.0.32.7.0.255"
address = 10
type = "float32"
unit = "V"
resolution = "0.1"
stream = "instant"

[[point]]
obis = "1.0.1.7.0.255"
address = 12
type = "s32"
unit = "W"
scale = "0.1"
stream = "instant"

[[point]]
field = "serial_number"
address = 30
type = "u32"
stream = "info"
"""


def _registers() -> list[int]:
    registers = [0] * 40
    registers[0:2] = encode_number(123456, "u32")
    registers[2:4] = encode_number(1000, "u32")
    registers[10:12] = encode_number(230.1, "float32")
    registers[12:14] = encode_number(-15, "s32")
    registers[30:32] = encode_number(40012345, "u32")
    return registers


REGISTERS = _registers()


def answer(request: ModbusPDU) -> ModbusPDU:
    return registers_answer(request, REGISTERS[request.address:request.address + request.count])


@pytest.fixture
def map_path(tmp_path: Path) -> Path:
    return write_map(tmp_path, "test-meter", POINTS, max_gap=10)


def _endpoint(meter: str, map_path: Path, unit: int = 7, **options: object) -> MeterEndpoint:
    return MeterEndpoint(meter, "modbus", unit, timeout_s=0.2,
                         options={"map": str(map_path), **options})


ALL = [Stream.CURRENT, Stream.INSTANT, Stream.INFO]


async def test_every_stream_in_the_fewest_requests(map_path: Path) -> None:
    async with scripted(answer) as (stream, peer):
        driver = create_driver(stream, _endpoint("m-all", map_path))
        result = await driver.read(ALL)
    # 0..13 bridges the 6-register gap; 30..31 is 16 registers further than max_gap.
    assert [(r.function_code, r.address, r.count, r.dev_id) for r in peer.requests] == [
        (3, 0, 14, 7), (3, 30, 2, 7)]
    current = {item.obis: (item.value, item.unit) for item in result.readings[Stream.CURRENT]}
    assert current == {
        "1.0.1.8.0.255": (Decimal("124.456"), "kWh"),  # the zones' sum (DESIGN §3)
        "1.0.1.8.1.255": (Decimal("123.456"), "kWh"),
        "1.0.1.8.2.255": (Decimal("1.000"), "kWh"),
    }
    instant = {item.obis: item.value for item in result.readings[Stream.INSTANT]}
    assert instant == {"1.0.32.7.0.255": Decimal("230.1"), "1.0.1.7.0.255": Decimal("-0.0015")}
    assert {item.field: item.value for item in result.info} == {
        "serial_number": "40012345", "register_map": "test-meter"}
    assert result.errors == {}


async def test_only_the_streams_asked_are_read(map_path: Path) -> None:
    async with scripted(answer) as (stream, peer):
        result = await create_driver(stream, _endpoint("m-one", map_path)).read([Stream.INFO])
    assert [(r.address, r.count) for r in peer.requests] == [(30, 2)]
    assert result.streams() == [Stream.INFO]


async def test_an_unsupported_stream_is_named(map_path: Path) -> None:
    async with scripted(answer) as (stream, _peer):
        result = await create_driver(stream, _endpoint("m-uns", map_path)).read(
            [Stream.INSTANT, Stream.INTERVAL])
    assert isinstance(result.errors[Stream.INTERVAL], ObjectUnavailableError)
    assert Stream.INSTANT in result.readings


async def test_a_missing_register_costs_only_itself_and_is_then_skipped(map_path: Path) -> None:
    def lacks_power(request: ModbusPDU) -> ModbusPDU:
        if request.address <= 12 < request.address + request.count:
            return exception_answer(request, 2)
        return answer(request)

    async with scripted(lacks_power) as (stream, peer):
        driver = create_driver(stream, _endpoint("m-missing", map_path))
        result = await driver.read([Stream.CURRENT, Stream.INSTANT])
        first = [(r.address, r.count) for r in peer.requests]
        peer.requests.clear()
        again = await create_driver(stream, _endpoint("m-missing", map_path)).read(
            [Stream.CURRENT, Stream.INSTANT])
        second = [(r.address, r.count) for r in peer.requests]
    # The block is refused, then read point by point; the power point alone is missing.
    assert first == [(0, 14), (0, 2), (2, 2), (10, 2), (12, 2)]
    assert [item.obis for item in result.readings[Stream.INSTANT]] == ["1.0.32.7.0.255"]
    assert len(result.readings[Stream.CURRENT]) == 3
    assert second == [(0, 12)]  # planned without it from then on
    assert [item.obis for item in again.readings[Stream.INSTANT]] == ["1.0.32.7.0.255"]


async def test_a_refused_point_is_tried_again_later(map_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    refusing = True

    def lacks_volts(request: ModbusPDU) -> ModbusPDU:
        if refusing and request.address <= 10 < request.address + request.count:
            return exception_answer(request, 2)
        return answer(request)

    async with scripted(lacks_volts) as (stream, peer):
        endpoint = _endpoint("m-passing", map_path)
        first = await create_driver(stream, endpoint).read([Stream.INSTANT])
        refusing = False
        skipped = await create_driver(stream, endpoint).read([Stream.INSTANT])
        peer.requests.clear()
        monkeypatch.setattr("drivers.modbus.driver.MISSING_RETRY_S", 0.0)
        again = await create_driver(stream, endpoint).read([Stream.INSTANT])
    assert [item.obis for item in first.readings[Stream.INSTANT]] == ["1.0.1.7.0.255"]
    assert [item.obis for item in skipped.readings[Stream.INSTANT]] == ["1.0.1.7.0.255"]
    assert [(r.address, r.count) for r in peer.requests] == [(10, 4)]
    assert len(again.readings[Stream.INSTANT]) == 2


async def test_a_stream_whose_points_were_all_refused_says_so(tmp_path: Path) -> None:
    path = write_map(tmp_path, "volts-only", POINTS.split("[[point]]\nobis = \"1.0.1.7")[0])

    def refuse_volts(request: ModbusPDU) -> ModbusPDU:
        if request.address == 10:
            return exception_answer(request, 2)
        return answer(request)

    async with scripted(refuse_volts) as (stream, _peer):
        endpoint = _endpoint("m-refused", path)
        await create_driver(stream, endpoint).read([Stream.INSTANT, Stream.CURRENT])
        result = await create_driver(stream, endpoint).read([Stream.INSTANT, Stream.CURRENT])
    assert "refused every instant point" in str(result.errors[Stream.INSTANT])
    assert Stream.CURRENT in result.readings


async def test_a_device_failure_is_typed_and_names_the_registers(map_path: Path) -> None:
    async with scripted(lambda request: exception_answer(request, 4)) as (stream, _peer):
        with pytest.raises(MeterInternalError, match=r"m-fail: Modbus exception 04 \(server "
                                                     r"device failure\).*registers 0\.\.13"):
            await create_driver(stream, _endpoint("m-fail", map_path)).read(
                [Stream.CURRENT, Stream.INSTANT])


async def test_a_silent_unit_ends_the_read_after_its_retries(map_path: Path) -> None:
    async with scripted(lambda request: None) as (stream, peer):
        driver = create_driver(stream, _endpoint("m-silent", map_path, retries=2))
        with pytest.raises(TransportTimeoutError, match="no answer from unit 7"):
            await driver.read(ALL)
    assert len(peer.requests) == 3  # one block, tried three times; the rest not at all


async def test_a_corrupt_answer_is_repeated(map_path: Path) -> None:
    calls: list[int] = []
    framer = FramerRTU(DecodePDU(is_server=True))

    def corrupt_once(request: ModbusPDU) -> ModbusPDU | bytes:
        calls.append(request.address)
        if len(calls) == 1:
            frame = bytearray(framer.buildFrame(answer(request)))
            frame[-1] ^= 0xFF
            return bytes(frame)
        return answer(request)

    async with scripted(corrupt_once) as (stream, _peer):
        result = await create_driver(stream, _endpoint("m-crc", map_path)).read([Stream.INSTANT])
    assert calls == [10, 10]
    assert len(result.readings[Stream.INSTANT]) == 2


async def test_another_units_answer_is_passed_over(map_path: Path) -> None:
    framer = FramerRTU(DecodePDU(is_server=True))

    def stranger_first(request: ModbusPDU) -> bytes:
        other = answer(request)
        other.dev_id = 9
        return framer.buildFrame(other) + framer.buildFrame(answer(request))

    async with scripted(stranger_first) as (stream, _peer):
        result = await create_driver(stream, _endpoint("m-other", map_path)).read([Stream.INFO])
    assert result.info[0].value == "40012345"


async def test_modbus_tcp_framing_and_a_stale_transaction_is_passed_over(map_path: Path) -> None:
    from pymodbus.framer import FramerSocket

    framer = FramerSocket(DecodePDU(is_server=True))

    def stale_first(request: ModbusPDU) -> bytes:
        stale = answer(request)
        stale.transaction_id = (request.transaction_id - 1) % 65536
        stale.registers = [0] * len(stale.registers)
        return framer.buildFrame(stale) + framer.buildFrame(answer(request))

    async with scripted(stale_first, framing="tcp") as (stream, peer):
        result = await create_driver(stream, _endpoint("m-tcp", map_path, framing="tcp")).read(
            [Stream.INFO])
    assert result.info[0].value == "40012345"
    assert peer.requests[0].transaction_id != 0


async def test_a_nan_leaves_out_its_point(map_path: Path) -> None:
    registers = list(REGISTERS)
    registers[10:12] = encode_number(float("nan"), "float32")

    def with_nan(request: ModbusPDU) -> ModbusPDU:
        return registers_answer(request, registers[request.address:request.address + request.count])

    async with scripted(with_nan) as (stream, _peer):
        result = await create_driver(stream, _endpoint("m-nan", map_path)).read([Stream.INSTANT])
    assert [item.obis for item in result.readings[Stream.INSTANT]] == ["1.0.1.7.0.255"]


async def test_a_register_at_its_types_maximum_is_no_value_where_the_map_says_so(
        tmp_path: Path) -> None:
    registers = list(REGISTERS)
    registers[2:4] = [0xFFFF, 0xFFFF]  # zone 2 of A+: the variant has no tariffs
    registers[12:14] = [0x7FFF, 0xFFFF]  # s32 power: no value either

    def lacking(request: ModbusPDU) -> ModbusPDU:
        return registers_answer(request, registers[request.address:request.address + request.count])

    extra = 'no_value = "max"\n'
    marked = write_map(tmp_path, "marked", POINTS, max_gap=10, extra=extra)
    plain = write_map(tmp_path, "plain", POINTS, max_gap=10)
    async with scripted(lacking) as (stream, _peer):
        result = await create_driver(stream, _endpoint("m-marked", marked)).read(
            [Stream.CURRENT, Stream.INSTANT])
        unmarked = await create_driver(stream, _endpoint("m-plain", plain)).read(
            [Stream.CURRENT])
    current = {item.obis: item.value for item in result.readings[Stream.CURRENT]}
    # Zone 2 is missing, so there is no total: zone 1 alone would be a wrong one.
    assert current == {"1.0.1.8.1.255": Decimal("123.456")}
    assert [item.obis for item in result.readings[Stream.INSTANT]] == ["1.0.32.7.0.255"]
    assert {item.obis: item.value for item in unmarked.readings[Stream.CURRENT]}[
        "1.0.1.8.2.255"] == Decimal("4294967.295")


async def test_a_short_answer_is_an_error_not_a_value(map_path: Path) -> None:
    def short(request: ModbusPDU) -> ModbusPDU:
        return registers_answer(request, REGISTERS[request.address:request.address + 1])

    async with scripted(short) as (stream, _peer):
        with pytest.raises(UnexpectedResponseError, match="1 registers answered a read of 2"):
            await create_driver(stream, _endpoint("m-short", map_path)).read([Stream.INFO])


@pytest.mark.parametrize(("options", "unit", "message"), [
    ({}, 1, "needs its register map"),
    ({"map": "no-such-meter"}, 1, "no shipped map of that name"),
    ({"framing": "ascii"}, 1, "framing must be one of"),
    ({"retries": 9}, 1, "retries must be an integer 0..5"),
    ({"max_registers": 200}, 1, "max_registers must be an integer"),
    ({"colour": "red"}, 1, "unknown modbus option"),
    ({"framing": "rtu"}, 0, "outside 1..247"),
    ({"framing": "tcp"}, 256, "outside 0..255"),
])
def test_options_are_checked_before_any_io(map_path: Path, options: dict[str, object],
                                            unit: int, message: str) -> None:
    full = {"map": str(map_path), **options} if "map" not in options else options
    if options == {}:
        full = {}
    with pytest.raises(ConfigError, match=message):
        check_endpoint(MeterEndpoint("m-opt", "modbus", unit, options=full))
