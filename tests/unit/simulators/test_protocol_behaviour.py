"""How a bus of simulated meters behaves: addressing, channel, refusals, faults, and agreement
between what the meters hold and what the shared codec decodes from their answers."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.obis import EnergyKind
from drivers.mercury.answer import decode_answer
from drivers.mercury.crc import append_crc, crc16_modbus
from drivers.mercury.frame import AccessLevel, EnergyArray, Param
from drivers.mercury.instant import InstantValues as WireValues
from drivers.mercury.request import (
    ChannelTestRequest,
    CloseChannelRequest,
    OpenChannelRequest,
    ReadEnergyRequest,
    ReadJournalRequest,
    ReadParamRequest,
    ReadTimeRequest,
    Request,
)
from drivers.mercury.values import EnergyRegisters, MeterTime
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.faults import Fault, FaultMode, apply_fault
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.protocol import Bus
from simulators.mercury230.settings import MeterSettings

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def status(address: int, code: int) -> bytes:
    return append_crc(bytes((address, code)))


def open_request(address: int, level: int = 1) -> bytes:
    password = "111111" if level == 1 else "222222"
    return OpenChannelRequest.create(address, level, password).to_bytes()


def make_bus(clock: ManualClock, *addresses: int, **settings: Any) -> Bus:
    meters = []
    for address in addresses:
        arguments: dict[str, Any] = {"serial": f"4068{address:04d}", "seed": address, **settings}
        meters.append(SimulatedMeter(MeterSettings(**arguments, address=address), clock=clock))
    return Bus(meters)


def ask(bus: Bus, request: Request) -> bytes | None:
    return bus.exchange(request.to_bytes())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def bus(clock: ManualClock) -> Bus:
    return make_bus(clock, 1, 2, 3)


def test_each_meter_answers_its_own_address_only(bus: Bus) -> None:
    for address in (1, 2, 3):
        assert bus.exchange(open_request(address)) == status(address, 0)
    assert bus.exchange(open_request(4)) is None
    identity = ask(bus, ReadParamRequest(2, Param.SERIAL_NUMBER))
    assert identity is not None
    assert identity[:5] == bytes((2, 40, 68, 0, 2))


def test_silence_on_bad_crc_truncation_and_wrong_length(bus: Bus) -> None:
    good = ReadParamRequest(1, Param.SERIAL_NUMBER).to_bytes()
    assert bus.exchange(good[:-1] + bytes((good[-1] ^ 1,))) is None
    assert bus.exchange(good[:-1]) is None
    # 08 00 takes no argument: a CRC-valid 6-byte 08 00 is a request of the wrong length.
    assert bus.exchange(append_crc(bytes((1, 0x08, 0x00, 0x00)))) is None
    assert bus.exchange(append_crc(bytes((1, 0x08, 0x11)))) is None  # 08 11 without BWRI
    assert bus.exchange(b"") is None


def test_requests_that_need_no_channel(bus: Bus) -> None:
    assert ask(bus, ChannelTestRequest(3)) == ChannelTestRequest(3).to_bytes()
    assert ask(bus, ReadParamRequest(3, Param.SERIAL_NUMBER)) is not None
    assert ask(bus, CloseChannelRequest(3)) == status(3, 0)
    for request in (
        ReadTimeRequest(3),
        ReadParamRequest(3, Param.FIRMWARE),
        ReadEnergyRequest(3, EnergyArray.FROM_RESET, 0),
    ):
        assert ask(bus, request) == status(3, 5)


def test_the_channel_lapses_240_s_after_the_last_request(bus: Bus, clock: ManualClock) -> None:
    firmware = ReadParamRequest(1, Param.FIRMWARE)
    assert bus.exchange(open_request(1)) == status(1, 0)
    clock.advance(200)
    assert ask(bus, firmware) != status(1, 5)  # and this restarts the timer
    clock.advance(239)
    assert ask(bus, firmware) != status(1, 5)
    clock.advance(240)
    assert ask(bus, firmware) == status(1, 5)
    assert bus.exchange(open_request(1, level=2)) == status(1, 0)
    assert ask(bus, firmware) != status(1, 5)
    assert ask(bus, CloseChannelRequest(1)) == status(1, 0)
    assert ask(bus, firmware) == status(1, 5)


def test_wrong_password_or_level_is_refused(bus: Bus) -> None:
    assert ask(bus, OpenChannelRequest.create(1, AccessLevel.USER, "222222")) == status(1, 3)
    assert ask(bus, ReadParamRequest(1, Param.FIRMWARE)) == status(1, 5)
    level3 = append_crc(bytes((1, 0x01, 0x03)) + bytes([3] * 6))
    assert bus.exchange(level3) == status(1, 1)


def test_unknown_or_unserved_requests_get_status_1(bus: Bus) -> None:
    bus.exchange(open_request(1))
    for request in (
        ReadJournalRequest(1, 0x01, 0xFE),  # all ten at once: not served
        ReadJournalRequest(1, 0x31, 0),  # dips and swells: not kept
        ReadEnergyRequest(1, EnergyArray.MONTH, 0, month=1),
        ReadEnergyRequest(1, EnergyArray.FROM_RESET, 5),
        ReadParamRequest(1, Param.AUX_VALUE, b"\x70"),
        ReadParamRequest(1, Param.FIXED_VALUES, b"\x08"),
        ReadParamRequest(1, Param.VARIANT, b"\x00"),
    ):
        assert ask(bus, request) == status(1, 1), request
    write_time = append_crc(bytes.fromhex("01 03 0C 00 55 10 03 05 03 08 01"))
    assert bus.exchange(write_time) == status(1, 1)


def test_broadcast_is_executed_by_all_and_answered_by_none(bus: Bus) -> None:
    assert bus.exchange(open_request(0xFE)) is None
    for address in (1, 2, 3):
        assert ask(bus, ReadParamRequest(address, Param.FIRMWARE)) != status(address, 5)


def test_universal_address_collides_on_a_shared_line(bus: Bus, clock: ManualClock) -> None:
    garbled = ask(bus, ReadParamRequest(0, Param.SERIAL_NUMBER))
    assert garbled is not None
    assert crc16_modbus(garbled[:-2]) != int.from_bytes(garbled[-2:], "little")
    alone = make_bus(clock, 7)
    assert alone.exchange(open_request(0)) == status(0, 0)
    assert ask(alone, ReadParamRequest(0, Param.NETWORK_ADDRESS)) == append_crc(bytes((0, 0, 7)))


def test_energy_answers_carry_the_meter_registers(bus: Bus) -> None:
    meter = bus.meters[0]
    meter.freeze()
    bus.exchange(open_request(1))
    for tariff in range(5):
        request = ReadEnergyRequest(1, EnergyArray.FROM_RESET, tariff)
        reply = ask(bus, request)
        assert reply is not None
        registers = decode_answer(request, reply[1:-2])
        assert isinstance(registers, EnergyRegisters)
        for kind in EnergyKind:
            assert registers.wh(kind) == meter.register(kind, tariff)


def test_time_answer_is_the_meter_clock_with_drift(clock: ManualClock) -> None:
    bus = make_bus(clock, 5, drift_s=-30, time_zone="Asia/Yekaterinburg", summer_season=True)
    bus.exchange(open_request(5))
    request = ReadTimeRequest(5)
    reply = ask(bus, request)
    assert reply is not None
    meter_time = decode_answer(request, reply[1:-2])
    assert isinstance(meter_time, MeterTime)
    assert meter_time.local == datetime(2024, 3, 1, 13, 59, 30)  # 09:00 UTC = 14:00 at UTC+5
    assert meter_time.weekday == 5  # Friday
    assert int(meter_time.season) == 0


@pytest.mark.parametrize(
    ("bwri", "count"),
    [(0x00, 4), (0x04, 4), (0x08, 4), (0x11, 3), (0x21, 3), (0x30, 4), (0x40, 1), (0x51, 3)],
)
def test_all_phase_values_decode_consistently(bus: Bus, bwri: int, count: int) -> None:
    meter = bus.meters[0]
    bus.exchange(open_request(1))
    request = ReadParamRequest(1, Param.PHASE_VALUES, bytes((bwri,)))
    reply = ask(bus, request)
    assert reply is not None
    values = decode_answer(request, reply[1:-2])
    assert isinstance(values, WireValues)
    amounts = values.amounts
    assert len(amounts) == count
    instant = meter.instant()
    if bwri == 0x00:
        assert amounts == tuple(
            (value / 1000).quantize(Decimal("0.00001"))
            for value in (instant.p_sum, instant.p1, instant.p2, instant.p3)
        )
        assert amounts[0] == sum(amounts[1:])
    if bwri == 0x11:
        assert all(Decimal(220) <= u <= Decimal(240) for u in amounts)
    if bwri == 0x40:
        assert amounts == (instant.frequency,)


def test_line_voltage_is_about_root_three_times_the_phase_voltage(bus: Bus) -> None:
    bus.exchange(open_request(1))
    request = ReadParamRequest(1, Param.AUX_VALUE, b"\x81")
    reply = ask(bus, request)
    assert reply is not None
    values = decode_answer(request, reply[1:-2])
    assert isinstance(values, WireValues)
    assert Decimal(380) <= values.amounts[0] <= Decimal(416)


@pytest.mark.parametrize("mode", list(FaultMode))
def test_each_fault_mode(bus: Bus, mode: FaultMode) -> None:
    request = ChannelTestRequest(2).to_bytes()
    bus.meters[1].fault = Fault(mode, delay_s=1.5)
    outcome = bus.respond(ChannelTestRequest(2))
    reply = bus.exchange(request)
    if mode is FaultMode.SILENCE:
        assert outcome is not None
        assert outcome.reply is None
        assert reply is None
        return
    assert reply is not None
    if mode is FaultMode.SLOW:
        assert outcome is not None
        assert outcome.delay_s == 1.5
        assert reply == request
    elif mode is FaultMode.INTERNAL_ERROR:
        assert reply == status(2, 2)  # W13's 00 02 80 71 at address 2
    elif mode is FaultMode.TRUNCATE:
        assert reply == request[:-2]
    else:
        assert reply != request
        assert len(reply) == len(request)
    # The other meters are not affected.
    assert bus.exchange(ChannelTestRequest(3).to_bytes()) == ChannelTestRequest(3).to_bytes()


def test_fault_probability(bus: Bus) -> None:
    meter = bus.meters[0]
    meter.fault = Fault(FaultMode.SILENCE, probability=0.3)
    replies = [bus.exchange(ChannelTestRequest(1).to_bytes()) for _ in range(400)]
    silent = replies.count(None)
    assert 70 < silent < 170
    meter.fault = Fault(FaultMode.SILENCE, probability=0.0)
    assert all(bus.exchange(ChannelTestRequest(1).to_bytes()) for _ in range(50))
    assert apply_fault(None, b"abc", random.Random(1)).reply == b"abc"


def test_addresses_on_a_bus_are_unique(clock: ManualClock) -> None:
    bus = make_bus(clock, 1)
    with pytest.raises(ValueError, match="taken"):
        bus.add(SimulatedMeter(MeterSettings(serial="40680001"), clock=clock))
