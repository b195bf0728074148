"""Field decoders and encoders: the pitfalls of docs/reference/mercury-protocol.md §6 and the
edges of each."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from core.errors import (
    AccessError,
    AuthenticationError,
    ConfigError,
    FrameError,
    MeterInternalError,
    RemoteProtocolError,
    SessionExpiredError,
    TruncatedError,
)
from core.obis import EnergyKind
from drivers.mercury.crc import append_crc, crc16_modbus, split_crc
from drivers.mercury.errors import ClockCorrectedTodayError
from drivers.mercury.frame import RequestCode, Status, status_error
from drivers.mercury.instant import (
    Bwri,
    DirectedValue,
    PowerKind,
    Quantity,
    decode_quantity,
    encode_quantity,
)
from drivers.mercury.password import encode_password
from drivers.mercury.values import (
    EnergyRegisters,
    MeterIdentity,
    MeterTime,
    Season,
    decode_energy_word,
    encode_energy_word,
)

P = Bwri(Quantity.POWER, 0, PowerKind.ACTIVE)
Q = Bwri(Quantity.POWER, 0, PowerKind.REACTIVE)
S = Bwri(Quantity.POWER, 0, PowerKind.APPARENT)
COS = Bwri(Quantity.POWER_FACTOR)
U = Bwri(Quantity.VOLTAGE, 1)


def test_crc_examples_of_doc3_appendix_b() -> None:
    # docs/reference/mercury-protocol.md §1.2: DOC3 Appendix Б examples 00 00 01 B0 and 01 00 00 20
    assert append_crc(b"\x00\x00") == bytes.fromhex("00 00 01 B0")
    assert append_crc(b"\x01\x00") == bytes.fromhex("01 00 00 20")
    assert crc16_modbus(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value
    assert split_crc(bytes.fromhex("01 00 00 20")) == b"\x01\x00"


def test_energy_word_order_and_mask() -> None:
    assert decode_energy_word(bytes.fromhex("30 00 28 C5")) == 3_196_200
    assert decode_energy_word(b"\xff\xff\xff\xff") is None
    # No 0x3F mask on energy (pitfall §6.6): values at and above 2^30 Wh survive.
    big = 0xC000_0001
    assert encode_energy_word(big) == bytes((0x00, 0xC0, 0x01, 0x00))
    assert decode_energy_word(encode_energy_word(big)) == big
    for bad in (-1, 0xFFFF_FFFF):
        with pytest.raises(FrameError):
            encode_energy_word(bad)


def test_energy_in_kwh_with_three_decimals() -> None:
    registers = EnergyRegisters(3_196_200, None, 0, 1)
    assert str(registers.kwh(EnergyKind.A_PLUS)) == "3196.200"
    assert registers.kwh(EnergyKind.A_MINUS) is None
    assert str(registers.kwh(EnergyKind.R_PLUS)) == "0.000"
    assert str(registers.kwh(EnergyKind.R_MINUS)) == "0.001"


def test_serial_bytes_are_zero_padded() -> None:
    # Pitfall §6.7: 28 44 00 30 is "40680048", never "4068048".
    identity = MeterIdentity.from_bytes(bytes.fromhex("28 44 00 30 16 01 14"))
    assert identity.serial_number == "40680048"
    assert MeterIdentity.from_bytes(bytes.fromhex("00 00 00 01 00 00 00")).manufactured is None
    with pytest.raises(FrameError):
        MeterIdentity.from_bytes(bytes.fromhex("64 00 00 00 01 01 14"))  # 100 is not 2 digits
    with pytest.raises(FrameError):
        MeterIdentity.from_bytes(bytes.fromhex("01 02 03 04 1F 02 14"))  # 31 February
    with pytest.raises(TruncatedError):
        MeterIdentity.from_bytes(bytes.fromhex("01 02 03"))


def test_meter_time_rules() -> None:
    sunday = MeterTime.at(datetime(2024, 3, 10, 12, 0, 0, 999), Season.SUMMER)
    assert sunday.weekday == 7
    assert sunday.local.microsecond == 0
    assert MeterTime.from_bytes(sunday.to_bytes()) == sunday
    for raw in ("43 14 16 03 27 02 08 02", "43 14 16 03 31 02 08 01", "4A 14 16 03 27 02 08 01",
                "43 14 24 03 27 02 08 01", "43 14 16 08 27 02 08 01"):
        with pytest.raises(FrameError):
            MeterTime.from_bytes(bytes.fromhex(raw))
    with pytest.raises(FrameError):
        MeterTime(datetime.now().astimezone(), 1, Season.WINTER)


def test_three_byte_layout() -> None:
    value = DirectedValue(0x3A5B6C, active_reverse=True)
    assert value.to_bytes() == bytes((0x80 | 0x3A, 0x6C, 0x5B))
    assert DirectedValue.from_bytes(value.to_bytes()) == value
    assert value.to_bytes(4) == bytes((0x3A, 0x80, 0x6C, 0x5B))
    with pytest.raises(FrameError):
        DirectedValue(0x400000).to_bytes(3)
    assert DirectedValue(0x3FFF_FFFF).to_bytes(4) == bytes((0xFF, 0x3F, 0xFF, 0xFF))


@pytest.mark.parametrize(
    ("selector", "amount", "flags"),
    [
        (P, Decimal("-5.53095"), (True, False)),
        (P, Decimal("5.53095"), (False, False)),
        (Q, Decimal("-0.1"), (False, True)),
        (COS, Decimal("-0.557"), (True, False)),
        (U, Decimal("241.28"), (False, False)),
    ],
)
def test_signs_follow_their_direction_bit(
    selector: Bwri, amount: Decimal, flags: tuple[bool, bool]
) -> None:
    value = encode_quantity(selector, amount)
    assert (value.active_reverse, value.reactive_reverse) == flags
    assert decode_quantity(selector, value) == amount


def test_magnitudes_ignore_direction_bits() -> None:
    # DOC3 08 14 08: S carries the reactive-reverse bit but is a magnitude.
    assert decode_quantity(S, DirectedValue(10727, True, True)) == Decimal("0.10727")
    assert decode_quantity(U, DirectedValue(24128, True, True)) == Decimal("241.28")


def test_encode_quantity_rounds_and_checks() -> None:
    assert encode_quantity(U, Decimal("230.005")).magnitude == 23000  # half-even
    assert encode_quantity(U, Decimal("230.015")).magnitude == 23002
    other_bit = encode_quantity(P, Decimal("1"), reactive_reverse=True)
    assert (other_bit.active_reverse, other_bit.reactive_reverse) == (False, True)
    with pytest.raises(FrameError):
        encode_quantity(P, Decimal("1"), active_reverse=True)
    with pytest.raises(FrameError):
        encode_quantity(Bwri(Quantity.TEMPERATURE), Decimal(1))


def test_bwri_round_trip_over_every_byte() -> None:
    for byte in range(256):
        try:
            selector = Bwri.from_byte(byte)
        except FrameError:
            continue
        assert selector.to_byte() == byte


def test_passwords() -> None:
    assert encode_password("123456", "binary") == bytes((1, 2, 3, 4, 5, 6))
    assert encode_password("111111", "ascii") == b"111111"
    for password, encoding in (("12345", "binary"), ("12345a", "binary"), ("12345\x00", "ascii"),
                               ("123456", "hex")):
        with pytest.raises(ConfigError) as info:
            encode_password(password, encoding)
        assert password not in str(info.value)


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (Status.INVALID_REQUEST, RequestCode.READ_PARAM, RemoteProtocolError),
        (Status.INTERNAL_ERROR, RequestCode.READ_PARAM, MeterInternalError),
        (Status.ACCESS_DENIED, RequestCode.READ_PARAM, AccessError),
        (Status.ACCESS_DENIED, RequestCode.OPEN_CHANNEL, AuthenticationError),
        (Status.CLOCK_ALREADY_CORRECTED, RequestCode.WRITE_PARAM, ClockCorrectedTodayError),
        (Status.CHANNEL_NOT_OPEN, 0x77, SessionExpiredError),
    ],
)
def test_status_errors(status: Status, code: int, error: type[Exception]) -> None:
    assert type(status_error(status, code)) is error
    assert status_error(Status.OK, code) is None


def test_manufacture_date_encodes_back() -> None:
    identity = MeterIdentity("40680048", date(2020, 1, 22))
    assert identity.to_bytes() == bytes.fromhex("28 44 00 30 16 01 14")
