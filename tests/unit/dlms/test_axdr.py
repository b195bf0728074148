"""A-XDR data, lengths, OBIS codes and COSEM date-time: the notes' vectors and round trips."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from core.errors import FrameError, TruncatedError
from drivers.dlms.axdr import (
    BitString,
    CompactArray,
    Data,
    DataType,
    TypeDescription,
    decode_length,
    encode_length,
)
from drivers.dlms.cosem_datetime import (
    DAY_LAST,
    MONTH_DST_BEGIN,
    ClockStatus,
    CosemDate,
    CosemDateTime,
    CosemTime,
)
from drivers.dlms.obis import Obis
from tests.unit.dlms import vectors as v

# notes §2.5, GOST 13.2 trace: scaler_unit of 1.0.21.7.0.255 = 10^-2 W
SCALER_UNIT = bytes.fromhex("02 02 0F FE 16 1B")
# notes §4.1, GOST 13.3: the clock value set, as octet-string(12)
GOST_CLOCK = bytes.fromhex("09 0C 07 E0 0A 1F FF 08 2E 26 01 00 00 00")


def test_scaler_unit() -> None:
    value = Data.from_bytes(SCALER_UNIT)
    assert value == Data.structure(Data(DataType.INTEGER, -2), Data(DataType.ENUM, 27))
    assert [item.as_int() for item in value.items] == [-2, 27]
    assert value.to_bytes() == SCALER_UNIT


def test_gost_clock_value() -> None:
    value = Data.from_bytes(GOST_CLOCK)
    stamp = value.as_datetime()
    assert stamp == CosemDateTime(
        CosemDate(2016, 10, 31, None), CosemTime(8, 46, 38, 1), 0, ClockStatus(0)
    )
    assert stamp.to_datetime() == datetime(2016, 10, 31, 8, 46, 38, 10_000, tzinfo=UTC)
    assert Data.datetime_octets(stamp).to_bytes() == GOST_CLOCK


def test_ams_date_time_with_deviation_and_dst() -> None:
    stamp = CosemDateTime.from_bytes(v.AMS_DATE_TIME)
    assert stamp.date == CosemDate(2024, 6, 15, 6)  # a Saturday
    assert stamp.time == CosemTime(20, 23, 45, 0)
    assert stamp.deviation == -120
    assert stamp.clock_status == ClockStatus.DAYLIGHT_SAVING
    local = stamp.to_datetime()
    assert local.utcoffset() == timedelta(hours=2)  # UTC = local + deviation
    assert stamp.to_utc() == datetime(2024, 6, 15, 18, 23, 45, tzinfo=UTC)
    assert stamp.to_bytes() == v.AMS_DATE_TIME
    assert CosemDateTime.from_datetime(
        local, clock_status=ClockStatus.DAYLIGHT_SAVING
    ).to_bytes() == v.AMS_DATE_TIME


def test_moscow_deviation_is_minus_180() -> None:
    moscow = datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=3)))
    stamp = CosemDateTime.from_datetime(moscow)
    assert stamp.deviation == -180
    assert stamp.clock_status is None
    assert stamp.to_bytes()[-3:] == bytes.fromhex("FF 4C FF")
    assert stamp.to_utc() == datetime(2025, 12, 31, 21, 30, tzinfo=UTC)


def test_not_specified_values() -> None:
    everything_open = bytes.fromhex("FF FF FF FF FF FF FF FF FF 80 00 FF")
    stamp = CosemDateTime.from_bytes(everything_open)
    assert stamp == CosemDateTime(CosemDate(), CosemTime(), None, None)
    assert stamp.to_bytes() == everything_open
    # deviation 0 is UTC, never "unspecified" (the dlms-cosem bug of notes §5.7)
    utc = CosemDateTime.from_bytes(bytes.fromhex("07 EA 01 01 04 00 00 00 00 00 00 00"))
    assert utc.deviation == 0
    assert utc.to_datetime().tzinfo is not None
    naive = CosemDateTime.from_bytes(bytes.fromhex("07 EA 01 01 04 00 00 00 00 80 00 FF"))
    assert naive.to_datetime() == datetime(2026, 1, 1)
    with pytest.raises(FrameError, match="UTC"):
        naive.to_utc()
    with pytest.raises(FrameError):
        stamp.to_datetime()


def test_special_months_and_days_round_trip() -> None:
    rule = CosemDate(None, MONTH_DST_BEGIN, DAY_LAST, 7)  # last Sunday of the DST-begin month
    assert rule.to_bytes() == bytes.fromhex("FF FF FE FE 07")
    assert CosemDate.from_bytes(rule.to_bytes()) == rule
    with pytest.raises(FrameError):
        rule.to_date()


def test_out_of_range_fields_are_kept_but_not_converted() -> None:
    odd = CosemDateTime.from_bytes(bytes.fromhex("07 EA 02 1E 00 19 3C 00 00 00 00 00"))
    assert odd.to_bytes() == bytes.fromhex("07 EA 02 1E 00 19 3C 00 00 00 00 00")
    with pytest.raises(FrameError):
        odd.to_datetime()  # 30 February, 25:60


def test_date_and_time_types() -> None:
    assert CosemDate.from_date(date(2026, 11, 22)) == CosemDate(2026, 11, 22, 7)
    assert CosemTime.from_time(time(23, 59, 58, 990_000)) == CosemTime(23, 59, 58, 99)
    for value in (
        Data(DataType.DATE_TIME, CosemDateTime.from_bytes(v.AMS_DATE_TIME)),
        Data(DataType.DATE, CosemDate(2026, 1, 2, 5)),
        Data(DataType.TIME, CosemTime(1, 2, None, None)),
    ):
        assert Data.from_bytes(value.to_bytes()) == value
    assert Data(DataType.DATE_TIME, CosemDateTime.from_bytes(v.AMS_DATE_TIME)).as_datetime()


ROUND_TRIPS = [
    ("00", Data(DataType.NULL_DATA)),
    ("03 01", Data(DataType.BOOLEAN, True)),
    ("03 00", Data(DataType.BOOLEAN, False)),
    ("04 0A C0 40", Data(DataType.BIT_STRING, BitString(10, bytes.fromhex("C0 40")))),
    ("05 FF FF FF FE", Data(DataType.DOUBLE_LONG, -2)),
    ("06 00 00 10 00", Data(DataType.DOUBLE_LONG_UNSIGNED, 4096)),
    ("09 00", Data.octets(b"")),
    ("0A 03 41 42 43", Data(DataType.VISIBLE_STRING, "ABC")),
    ("0C 04 D0 A2 D0 9F", Data(DataType.UTF8_STRING, "ТП")),
    ("0D 12", Data(DataType.BCD, 0x12)),
    ("0F 80", Data(DataType.INTEGER, -128)),
    ("10 80 00", Data(DataType.LONG, -32768)),
    ("11 FF", Data(DataType.UNSIGNED, 255)),
    ("12 FF FF", Data(DataType.LONG_UNSIGNED, 65535)),
    ("14 80 00 00 00 00 00 00 00", Data(DataType.LONG64, -(1 << 63))),
    ("15 FF FF FF FF FF FF FF FF", Data(DataType.LONG64_UNSIGNED, (1 << 64) - 1)),
    ("16 1E", Data(DataType.ENUM, 30)),
    ("17 3F C0 00 00", Data(DataType.FLOAT32, 1.5)),
    ("18 C0 09 21 FB 54 44 2D 18", Data(DataType.FLOAT64, -math.pi)),
    ("01 00", Data.array()),
    ("01 02 11 01 11 02", Data.array(Data(DataType.UNSIGNED, 1), Data(DataType.UNSIGNED, 2))),
    (
        "02 02 02 00 01 01 00",
        Data.structure(Data.structure(), Data.array(Data(DataType.NULL_DATA))),
    ),
]


@pytest.mark.parametrize(("wire", "value"), ROUND_TRIPS, ids=[w for w, _ in ROUND_TRIPS])
def test_round_trips(wire: str, value: Data) -> None:
    raw = bytes.fromhex(wire)
    assert Data.from_bytes(raw) == value
    assert value.to_bytes() == raw


COMPACT_CASES = [
    # structures {long-unsigned, octet-string}: (1, AA BB), (2, CC)
    (
        "13 02 02 12 09 09 00 01 02 AA BB 00 02 01 CC",
        CompactArray(
            TypeDescription(
                DataType.STRUCTURE,
                elements=(TypeDescription(DataType.LONG_UNSIGNED),
                          TypeDescription(DataType.OCTET_STRING)),
            ),
            (
                Data.structure(Data(DataType.LONG_UNSIGNED, 1), Data.octets(b"\xaa\xbb")),
                Data.structure(Data(DataType.LONG_UNSIGNED, 2), Data.octets(b"\xcc")),
            ),
        ),
    ),
    # arrays of two unsigned: [1, 2], [3, 4]
    (
        "13 01 00 02 11 04 01 02 03 04",
        CompactArray(
            TypeDescription(DataType.ARRAY, 2, (TypeDescription(DataType.UNSIGNED),)),
            (
                Data.array(Data(DataType.UNSIGNED, 1), Data(DataType.UNSIGNED, 2)),
                Data.array(Data(DataType.UNSIGNED, 3), Data(DataType.UNSIGNED, 4)),
            ),
        ),
    ),
    # double-long-unsigned, no items
    ("13 06 00", CompactArray(TypeDescription(DataType.DOUBLE_LONG_UNSIGNED))),
]


@pytest.mark.parametrize(("wire", "compact"), COMPACT_CASES, ids=[w for w, _ in COMPACT_CASES])
def test_compact_arrays(wire: str, compact: CompactArray) -> None:
    raw = bytes.fromhex(wire)
    value = Data(DataType.COMPACT_ARRAY, compact)
    assert Data.from_bytes(raw) == value
    assert value.to_bytes() == raw


def test_compact_array_items_must_match() -> None:
    with pytest.raises(FrameError):
        CompactArray(TypeDescription(DataType.UNSIGNED), (Data(DataType.LONG, 1),))
    with pytest.raises(FrameError):
        TypeDescription(DataType.ARRAY, 2)
    with pytest.raises(FrameError):
        TypeDescription(DataType.UNSIGNED, elements=(TypeDescription(DataType.UNSIGNED),))


def test_long_octet_string_uses_the_long_length_form() -> None:
    value = Data.octets(bytes(300))
    raw = value.to_bytes()
    assert raw[:4] == bytes.fromhex("09 82 01 2C")
    assert Data.from_bytes(raw) == value


@pytest.mark.parametrize(
    ("length", "wire"),
    [(0, "00"), (127, "7F"), (128, "81 80"), (255, "81 FF"), (256, "82 01 00"),
     (0x10000, "83 01 00 00"), (0xFFFFFFFF, "84 FF FF FF FF")],
)
def test_lengths(length: int, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert encode_length(length) == raw
    assert decode_length(raw) == (length, len(raw))


def test_nonminimal_length_is_read() -> None:
    assert Data.from_bytes(bytes.fromhex("09 81 02 AA BB")) == Data.octets(b"\xaa\xbb")


def test_nan_compares_equal_to_itself() -> None:
    value = Data.from_bytes(bytes.fromhex("17 7F C0 00 00"))
    assert value == Data.from_bytes(value.to_bytes())


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("", TruncatedError),
        ("07", FrameError),  # tags 7, 8, 11, 14 are not A-XDR data
        ("1C 00", FrameError),
        ("13 00", TruncatedError),  # a compact-array without its contents
        ("13 00 01 00", FrameError),  # null items take no bytes
        ("13 13 00", FrameError),  # a compact-array describing a compact-array
        ("13 12 03 00 01 02", TruncatedError),  # a long-unsigned cut in half
        ("13 02 05" + " 02 01" * 20, FrameError),  # descriptions nested too deep
        ("06 00 00 01", TruncatedError),
        ("09 05 01 02", TruncatedError),
        ("09 85 00 00 00 00 01", FrameError),
        ("09 80", FrameError),
        ("09 82 01", TruncatedError),
        ("01 03 11 01", TruncatedError),
        ("02 02 11 01", TruncatedError),
        ("0C 02 C3 28", FrameError),  # not UTF-8
        ("19 07 EA 01", TruncatedError),
        ("11 01 00", FrameError),  # trailing byte
        ("01 01" * 20 + "00", FrameError),  # nested too deep
    ],
)
def test_bad_data(wire: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        Data.from_bytes(bytes.fromhex(wire))


def test_values_that_do_not_fit_their_type() -> None:
    cases: tuple[tuple[DataType, object], ...] = (
        (DataType.UNSIGNED, 256),
        (DataType.INTEGER, -129),
        (DataType.BOOLEAN, 1),
        (DataType.LONG, True),
        (DataType.OCTET_STRING, "text"),
        (DataType.VISIBLE_STRING, "ТП"),
        (DataType.NULL_DATA, 0),
        (DataType.COMPACT_ARRAY, ()),
        (DataType.ARRAY, (1, 2)),
        (DataType.FLOAT32, 1e300),
        (DataType.FLOAT32, 1),
    )
    for kind, value in cases:
        with pytest.raises(FrameError):
            Data(kind, value)  # type: ignore[arg-type]
    with pytest.raises(FrameError):
        BitString(9, b"\x00")
    with pytest.raises(FrameError):
        Data(DataType.UNSIGNED, 1).items  # noqa: B018
    with pytest.raises(FrameError):
        Data.octets(b"").as_int()


def test_bit_string_bits() -> None:
    bits = BitString(10, bytes.fromhex("C0 40"))
    assert [bits.bit(i) for i in range(10)] == [True, True] + [False] * 7 + [True]
    with pytest.raises(FrameError):
        bits.bit(10)


def test_obis() -> None:
    code = Obis.parse("1.0.1.8.0.255")
    assert code.to_bytes() == bytes.fromhex("01 00 01 08 00 FF")
    assert str(Obis.from_bytes(code.to_bytes())) == "1.0.1.8.0.255"
    assert Obis.parse("1-0:1.8.0*255") == code
    for bad in ("1.0.1.8.0", "1.0.1.8.0.256", "a.b.c.d.e.f"):
        with pytest.raises(FrameError):
            Obis.parse(bad)
    with pytest.raises(TruncatedError):
        Obis.from_bytes(b"\x01\x00")
