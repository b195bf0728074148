"""Register values: numbers across word and byte orders, and exact decimals from them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus.values import (
    DATA_TYPES,
    decode_number,
    encode_number,
    model_value,
    register_count,
    to_model_unit,
    type_max,
)

# MODBUS Application Protocol Specification V1.1b3, §6.3 (Read Holding Registers), example:
# the response 03 06 02 2B 00 00 00 64 carries registers 108..110 = 0x022B, 0x0000, 0x0064,
# "the contents of register 108 are shown as the two byte values of 02 2B hex, or 555 decimal".
SPEC_RESPONSE_REGISTERS = [0x022B, 0x0000, 0x0064]


def test_the_specification_example_registers_read_as_u16_values() -> None:
    assert [decode_number([r], "u16") for r in SPEC_RESPONSE_REGISTERS] == [555, 0, 100]


# Worked examples from vendors' protocol documents (docs/modbus-maps.md, "Byte vectors").
# Eastron "SDM630 Protocol 2018 v2.0" §3.8.1 p. 11 (also the SDM630MCT-ML manual V1.2 §4.4):
# "43 66 33 34" is 230.2 V.
SDM630_V20_VOLTS = ([0x4366, 0x3334], "230.2")
# Eastron SDM630 v2.0 §3.7 p. 10 and "SDM630Modbus … V1.8" §3.7: "43 70 80 00" is 240.5.
SDM630_V18_EXAMPLE = ([0x4370, 0x8000], "240.5")
# Wenzhou Taiye "TAC4300CT series Modbus Protocol v1.0", "Example", pp. 9-10: phase 1 voltage in
# ULONG format "00 00 61 AA" = 25002 × 0.01 V.
TAIYE_ULONG_VOLTS = ([0x0000, 0x61AA], 25002)
# "GNM3D Series and GNM3T Series Communication Protocol" V1R1 §2.3 p. 8: the overflow mark
# 7FFF FFFFh travels as "FFFF 7FFF" (§2.1: word order LSW → MSW).
GNM3D_OVERFLOW = ([0xFFFF, 0x7FFF], 0x7FFFFFFF)


def test_vendor_examples() -> None:
    for registers, text in (SDM630_V20_VOLTS, SDM630_V18_EXAMPLE):
        number = decode_number(registers, "float32")
        assert model_value(number, scale=Decimal(1), resolution=Decimal("0.1")) == Decimal(text)
    registers, raw = TAIYE_ULONG_VOLTS
    assert decode_number(registers, "u32") == raw
    assert model_value(raw, scale=Decimal("0.01"), resolution=None) == Decimal("250.02")
    registers, raw = GNM3D_OVERFLOW
    assert decode_number(registers, "s32", "little") == raw == type_max("s32")
    assert encode_number(raw, "s32", "little") == registers


def test_type_max_is_what_devices_send_for_no_value() -> None:
    assert type_max("u16") == 0xFFFF
    assert type_max("s16") == 0x7FFF
    assert type_max("u64") == 2 ** 64 - 1
    assert type_max("s64") == 2 ** 63 - 1


# IEEE 754 binary32 of 230.0 is 0x43660000 (sign 0, biased exponent 134, fraction 0x660000);
# each row is how a device sending it in that order fills its two registers.
FLOAT_230 = [
    ("big", "big", [0x4366, 0x0000]),  # ABCD: Eastron SDM, most meters
    ("little", "big", [0x0000, 0x4366]),  # CDAB: low word first
    ("big", "little", [0x6643, 0x0000]),  # BADC
    ("little", "little", [0x0000, 0x6643]),  # DCBA
]


@pytest.mark.parametrize(("word_order", "byte_order", "registers"), FLOAT_230)
def test_float32_in_each_order(word_order: str, byte_order: str, registers: list[int]) -> None:
    assert decode_number(registers, "float32", word_order, byte_order) == 230.0
    assert encode_number(230.0, "float32", word_order, byte_order) == registers


# 0x0001E240 = 123456 as a u32: high word 0x0001, low word 0xE240.
U32_123456 = [
    ("big", "big", [0x0001, 0xE240]),
    ("little", "big", [0xE240, 0x0001]),
    ("big", "little", [0x0100, 0x40E2]),
    ("little", "little", [0x40E2, 0x0100]),
]


@pytest.mark.parametrize(("word_order", "byte_order", "registers"), U32_123456)
def test_u32_in_each_order(word_order: str, byte_order: str, registers: list[int]) -> None:
    assert decode_number(registers, "u32", word_order, byte_order) == 123456
    assert encode_number(123456, "u32", word_order, byte_order) == registers


def test_signed_and_wide_types() -> None:
    assert decode_number([0xFFFF], "s16") == -1
    assert decode_number([0xFFFF, 0xFFFE], "s32") == -2
    assert decode_number([0x0000, 0x0000, 0x0001, 0x0000], "u64") == 65536
    assert decode_number([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], "s64") == -1
    assert decode_number([0x0000, 0x0000, 0x0001, 0x0000], "u64", "little") == 2 ** 32
    assert decode_number([0x406C, 0xC000, 0, 0], "float64") == 230.0


def test_register_counts() -> None:
    assert {t: register_count(t) for t in DATA_TYPES} == {
        "u16": 1, "s16": 1, "u32": 2, "s32": 2, "u64": 4, "s64": 4, "float32": 2, "float64": 4}


def test_a_wrong_number_of_registers_and_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="takes 2 registers"):
        decode_number([1], "u32")
    with pytest.raises(ValueError, match="does not fit"):
        encode_number(70000, "u16")
    with pytest.raises(ValueError, match="does not fit"):
        encode_number(-1, "u32")


@given(st.sampled_from(DATA_TYPES), st.sampled_from(["big", "little"]),
       st.sampled_from(["big", "little"]), st.data())
def test_round_trip(data_type: str, word_order: str, byte_order: str, data: st.DataObject) -> None:
    if data_type.startswith("float"):
        width = 32 if data_type == "float32" else 64
        value: float | int = data.draw(st.floats(allow_nan=False, width=width))
    else:
        bits = register_count(data_type) * 16
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if data_type[0] == "s" \
            else (0, 2 ** bits - 1)
        value = data.draw(st.integers(low, high))
    registers = encode_number(value, data_type, word_order, byte_order)
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode_number(registers, data_type, word_order, byte_order) == value


def test_a_float_is_rounded_to_its_resolution_from_its_exact_value() -> None:
    # 230.1 as float32 is 230.100006103515625 exactly.
    number = decode_number(encode_number(230.1, "float32"), "float32")
    assert number != 230.1
    assert model_value(number, scale=Decimal(1), resolution=Decimal("0.1")) == Decimal("230.1")
    assert model_value(0.125, scale=Decimal(1), resolution=Decimal("0.01")) == Decimal("0.12")


def test_integers_are_scaled_exactly() -> None:
    assert model_value(123456789, scale=Decimal("0.01"), resolution=None) == Decimal("1234567.89")
    assert str(model_value(7, scale=Decimal("0.1"), resolution=None)) == "0.7"


def test_nan_and_infinity_are_no_value() -> None:
    for number in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="no value"):
            model_value(number, scale=Decimal(1), resolution=Decimal("0.1"))


def test_units_become_the_models() -> None:
    assert to_model_unit(Decimal("123456"), "Wh") == (Decimal("123.456"), "kWh")
    assert to_model_unit(Decimal("1.5"), "MWh") == (Decimal("1500"), "kWh")
    assert to_model_unit(Decimal("2300"), "W") == (Decimal("2.300"), "kW")
    assert to_model_unit(Decimal("12"), "varh") == (Decimal("0.012"), "kvarh")
    assert to_model_unit(Decimal("230.1"), "V") == (Decimal("230.1"), "V")
    assert to_model_unit(Decimal("150"), "mA") == (Decimal("0.150"), "A")
