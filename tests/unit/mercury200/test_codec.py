"""Frames and typed values of the Mercury 200 family against the §3.5 vectors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from core.errors import ChecksumError, ConfigError, FrameError, TruncatedError
from drivers.mercury.m200.answer import Payload, answer_length, decode_answer
from drivers.mercury.m200.frame import Command, MeterModel, Request, Response, address_for_serial
from drivers.mercury.m200.values import (
    BatteryVoltage,
    EnergyTariffs,
    EventTime,
    FirmwareInfo,
    FrequencyStatus,
    InstantValues,
    ManufactureDate,
    MeterClock,
    ModelInfo,
    SerialNumber,
    bcd_decode,
    bcd_encode,
)
from tests.unit.mercury200 import vectors as v

REQUESTS = [
    (v.MS_INSTANT_REQ, v.MS_ADDRESS, Command.INSTANT, b""),
    (v.MS_ENERGY_REQ, v.MS_ADDRESS, Command.ENERGY, b""),
    (v.WB_ENERGY_REQ, v.WB_ADDRESS, Command.ENERGY, b""),
    (v.WB_INSTANT_REQ, v.WB_ADDRESS, Command.INSTANT, b""),
    (v.WB_BATTERY_REQ, v.WB_ADDRESS, Command.BATTERY, b""),
    (v.ASDX_FIRMWARE_REQ, v.ASDX_ADDRESS, Command.FIRMWARE, b""),
    (v.ASDX_LAST_OFF_REQ, v.ASDX_ADDRESS, Command.LAST_POWER_OFF, b""),
    (v.IOB_MONTH_REQ, v.IOB_ADDRESS, Command.MONTHLY_ENERGY, b"\x0f"),
]

ANSWERS = [
    (v.MS_INSTANT_RESP, InstantValues(Decimal("235.8"), Decimal("2.64"), 588)),
    (v.MS_ENERGY_RESP, EnergyTariffs((62142, 20834, 0, 0))),
    (v.WB_ENERGY_RESP, EnergyTariffs((62142, 20834, 11111, 22222))),
    (v.WB_INSTANT_RESP, InstantValues(Decimal("123.4"), Decimal("56.78"), 765432)),
    (v.WB_BATTERY_RESP, BatteryVoltage(Decimal("3.91"))),
    (v.ASDX_ENERGY_RESP, EnergyTariffs((265616, 137091, 0, 0))),
    (v.IOB_MONTH_RESP, EnergyTariffs((7006300, None, None, None))),
    (v.IOB_BATTERY_RESP, BatteryVoltage(Decimal("3.05"))),
]


def _request_for(response: Response) -> Request:
    argument = b"\x0f" if response.command == Command.MONTHLY_ENERGY else b""
    return Request(response.address, response.command, argument)


@pytest.mark.parametrize(("frame", "address", "command", "argument"), REQUESTS)
def test_request_vectors_round_trip(
    frame: bytes, address: int, command: Command, argument: bytes
) -> None:
    request = Request.from_bytes(frame)
    assert request == Request(address, command, argument)
    assert request.to_bytes() == frame


@pytest.mark.parametrize(("frame", "payload"), ANSWERS)
def test_answer_vectors_decode_and_encode(frame: bytes, payload: Payload) -> None:
    response = Response.from_bytes(frame)
    request = _request_for(response)
    assert len(response.data) == answer_length(request)
    assert decode_answer(request, response.data) == payload
    assert Response(response.address, response.command, payload.to_bytes()).to_bytes() == frame


def test_energy_in_kwh_and_total_of_zones_in_use() -> None:
    energy = Response.from_bytes(v.WB_ENERGY_RESP)
    tariffs = EnergyTariffs.from_bytes(energy.data)
    assert tariffs.kwh(1) == Decimal("621.42")
    assert tariffs.kwh(4) == Decimal("222.22")
    assert tariffs.total_kwh == Decimal("1163.09")
    month = EnergyTariffs.from_bytes(Response.from_bytes(v.IOB_MONTH_RESP).data)
    assert month.kwh(2) is None
    assert month.zones == (1,)
    assert month.total_kwh == Decimal("70063.00")


def test_monthly_request_arguments() -> None:
    assert Request.monthly(v.IOB_ADDRESS, None).to_bytes() == v.IOB_MONTH_REQ
    assert Request.monthly(1, 1).argument == b"\x00"
    assert Request.monthly(1, 12).argument == b"\x0b"
    with pytest.raises(FrameError):
        Request.monthly(1, 13)


def test_bad_crc_and_truncation() -> None:
    broken = v.MS_ENERGY_RESP[:-1] + bytes([v.MS_ENERGY_RESP[-1] ^ 0xFF])
    with pytest.raises(ChecksumError):
        Response.from_bytes(broken)
    with pytest.raises(TruncatedError):
        Response.from_bytes(v.MS_ENERGY_RESP[:6])
    with pytest.raises(TruncatedError):
        EnergyTariffs.from_bytes(Response.from_bytes(v.MS_ENERGY_RESP).data[:15])
    with pytest.raises(FrameError):
        InstantValues.from_bytes(bytes(8))


def test_not_bcd_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        bcd_decode(b"\x1a")
    with pytest.raises(FrameError):
        bcd_encode(100, 1)
    with pytest.raises(FrameError):
        InstantValues(Decimal("230.05"), Decimal("1"), 1).to_bytes()
    assert bcd_encode(5, 1) == b"\x05"  # zero-padded (pitfall §6.8)


def test_clock_layout_and_weekday() -> None:
    # Friday 2024-03-01 09:05:07: DOW 5; Sunday is 0 and a holiday is 7 (§2).
    clock = MeterClock(datetime(2024, 3, 1, 9, 5, 7))
    assert clock.to_bytes() == bytes.fromhex("05 09 05 07 01 03 24")
    assert MeterClock.from_bytes(clock.to_bytes()) == clock
    assert MeterClock(datetime(2024, 3, 3, 0, 0)).weekday == 0
    holiday = MeterClock(datetime(2024, 3, 8, 12, 0), holiday=True)
    assert holiday.to_bytes()[0] == 7
    assert MeterClock.from_bytes(holiday.to_bytes()).holiday
    with pytest.raises(FrameError):
        MeterClock.from_bytes(bytes.fromhex("05 25 00 00 01 03 24"))
    with pytest.raises(FrameError):
        MeterClock.from_bytes(bytes(7))


def test_event_time_never_happened() -> None:
    assert EventTime.from_bytes(bytes(7)).local is None
    assert EventTime(None).to_bytes() == bytes(7)
    moment = datetime(2023, 12, 31, 23, 59, 58)
    assert EventTime.from_bytes(EventTime(moment).to_bytes()).local == moment


def test_serial_is_binary_big_endian() -> None:
    # Pitfall §6.7: 2F is plain 32-bit BE, not BCD.
    assert SerialNumber.from_bytes(bytes.fromhex("00 A6 B7 20")).value == 10925856
    assert SerialNumber(411486).to_bytes() == bytes.fromhex("00 06 47 5E")


def test_other_values_round_trip() -> None:
    values: list[Payload] = [
        ManufactureDate(date(2021, 7, 15)),
        FrequencyStatus(Decimal("49.98"), 1, 0x02),
        FirmwareInfo("1.2", date(2019, 5, 1)),
        ModelInfo(8),
    ]
    for value in values:
        assert type(value).from_bytes(value.to_bytes()) == value
    assert FrequencyStatus(Decimal("50.00"), 0, 0x03).current_imbalance
    assert ManufactureDate(date(2021, 7, 15)).to_bytes() == bytes.fromhex("15 07 21")


def test_address_from_serial() -> None:
    assert address_for_serial(411486, MeterModel.M200_02) == v.MS_ADDRESS
    assert address_for_serial("38411486", "200.02") == 411486
    assert address_for_serial(10925856, "206") == v.ASDX_ADDRESS
    assert address_for_serial("1238030255", MeterModel.M203) == 38030255
    with pytest.raises(ConfigError):
        address_for_serial(1, "203.2TD")
    with pytest.raises(ConfigError):
        address_for_serial("12a", "206")


def test_frames_reject_what_does_not_fit() -> None:
    with pytest.raises(FrameError):
        Request(1 << 32, Command.ENERGY)
    with pytest.raises(FrameError):
        Response(1, Command.ENERGY, b"")
    with pytest.raises(FrameError):
        answer_length(Request(1, 0x99))
    with pytest.raises(FrameError):
        answer_length(Request(1, Command.PARAMETER, b"\x01"))
