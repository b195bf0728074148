"""Decoding arbitrary bytes only ever raises our protocol errors, never IndexError,
ValueError, struct.error or RecursionError; what decodes re-encodes to bytes that decode
to the same value."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress

from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ProtocolError
from drivers.dlms.acse import AareApdu, AarqApdu
from drivers.dlms.apdu import parse_apdu
from drivers.dlms.axdr import BitString, Data, DataType
from drivers.dlms.cosem_datetime import ClockStatus, CosemDate, CosemDateTime, CosemTime
from drivers.dlms.crc import crc_bytes
from drivers.dlms.hdlc import NEED_DATA, HdlcFrame, HdlcReader
from drivers.dlms.hdlc_link import HdlcParameters
from drivers.dlms.initiate import InitiateRequest, InitiateResponse
from drivers.dlms.wrapper import WrapperFrame, WrapperReader
from tests.unit.dlms import vectors as v

DECODERS: list[Callable[[bytes], object]] = [
    HdlcFrame.from_bytes,
    HdlcParameters.from_bytes,
    WrapperFrame.from_bytes,
    Data.from_bytes,
    CosemDateTime.from_bytes,
    parse_apdu,
    AarqApdu.from_bytes,
    AareApdu.from_bytes,
    InitiateRequest.from_bytes,
    InitiateResponse.from_bytes,
]
SEEDS = [
    v.GOST_12_1_AARQ[12:-3],
    v.GOST_12_2_AARQ[12:-3],
    v.GOST_12_1_AARE[12:-3],
    v.GOST_13_4_BY_RANGE[11:-3],
    v.GOST_13_3_SET[12:-3],
    v.GOST_13_2_RESP_A3[12:-3],
]


def _ours(call: Callable[[bytes], object], data: bytes) -> object:
    with suppress(ProtocolError):
        return call(data)
    return None


@given(st.binary(max_size=60))
def test_decoders(data: bytes) -> None:
    for decoder in DECODERS:
        _ours(decoder, data)


@given(st.sampled_from(SEEDS), st.integers(0, 200), st.integers(0, 255))
def test_mutated_apdus(seed: bytes, position: int, byte: int) -> None:
    data = bytearray(seed)
    data[position % len(data)] = byte
    apdu = _ours(parse_apdu, bytes(data))
    if apdu is not None:
        assert parse_apdu(apdu.to_bytes()) == apdu  # type: ignore[attr-defined]


@given(st.sampled_from(SEEDS), st.integers(1, 80))
def test_cut_apdus(seed: bytes, cut: int) -> None:
    _ours(parse_apdu, seed[: max(0, len(seed) - cut)])


@given(st.binary(max_size=60))
def test_data_round_trip(data: bytes) -> None:
    value = _ours(Data.from_bytes, data)
    if isinstance(value, Data):
        assert Data.from_bytes(value.to_bytes()) == value


@given(st.binary(min_size=5, max_size=40))
def test_hdlc_with_a_valid_fcs(body: bytes) -> None:
    # A syntactically framed candidate: format with the right length, valid FCS.
    length = len(body) + 4
    head = (0xA000 | length).to_bytes(2, "big") + body
    _ours(HdlcFrame.from_bytes, b"\x7e" + head + crc_bytes(head) + b"\x7e")


def _drain(reader: HdlcReader) -> list[HdlcFrame]:
    frames: list[HdlcFrame] = []
    while True:
        try:
            frame = reader.next_frame()
        except ProtocolError:
            continue
        if frame is NEED_DATA:
            return frames
        frames.append(frame)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=16), max_size=10))
def test_hdlc_reader_finds_a_frame_after_garbage(garbage: list[bytes]) -> None:
    reader = HdlcReader()
    for chunk in garbage:
        reader.feed(chunk)
        _drain(reader)
    reader.feed(v.GOST_12_1_UA)
    frames = _drain(reader)
    if not frames:
        # A garbage flag and format announced a longer frame that swallowed the UA; the
        # session's inter-octet timeout drops it, and the meter's repeat is then found.
        assert reader.pending >= len(v.GOST_12_1_UA)
        reader.drop_partial()
        reader.feed(v.GOST_12_1_UA)
        frames = _drain(reader)
    assert frames[-1] == HdlcFrame.from_bytes(v.GOST_12_1_UA)


@given(st.lists(st.binary(max_size=16), max_size=10))
def test_wrapper_reader(chunks: list[bytes]) -> None:
    reader = WrapperReader()
    with suppress(ProtocolError):
        for chunk in chunks:
            reader.feed(chunk)
            while reader.next_frame() is not NEED_DATA:
                pass


def _integers(kind: DataType, bits: int, signed: bool) -> st.SearchStrategy[Data]:
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return st.integers(low, high).map(lambda value: Data(kind, value))


_BYTE_OR_NONE = st.one_of(st.none(), st.integers(0, 254))
_SCALARS = st.one_of(
    st.just(Data(DataType.NULL_DATA)),
    st.booleans().map(lambda value: Data(DataType.BOOLEAN, value)),
    _integers(DataType.DOUBLE_LONG, 32, True),
    _integers(DataType.DOUBLE_LONG_UNSIGNED, 32, False),
    _integers(DataType.INTEGER, 8, True),
    _integers(DataType.LONG, 16, True),
    _integers(DataType.UNSIGNED, 8, False),
    _integers(DataType.LONG_UNSIGNED, 16, False),
    _integers(DataType.LONG64, 64, True),
    _integers(DataType.LONG64_UNSIGNED, 64, False),
    _integers(DataType.ENUM, 8, False),
    _integers(DataType.BCD, 8, False),
    st.floats(width=32, allow_nan=False).map(lambda value: Data(DataType.FLOAT32, value)),
    st.floats(allow_nan=False).map(lambda value: Data(DataType.FLOAT64, value)),
    st.binary(max_size=140).map(Data.octets),
    st.text(max_size=20).map(lambda value: Data(DataType.UTF8_STRING, value)),
    st.binary(max_size=20).map(
        lambda value: Data(DataType.VISIBLE_STRING, value.decode("latin-1"))
    ),
    st.binary(max_size=4).flatmap(
        lambda data: st.integers(max(0, len(data) * 8 - 7), len(data) * 8).map(
            lambda bits: Data(DataType.BIT_STRING, BitString(bits, data))
        )
    ),
    st.builds(
        lambda y, mo, d, w, h, mi, s, hu, dev, cs: Data(
            DataType.DATE_TIME,
            CosemDateTime(
                CosemDate(y, mo, d, w),
                CosemTime(h, mi, s, hu),
                dev,
                None if cs is None else ClockStatus(cs),
            ),
        ),
        st.one_of(st.none(), st.integers(0, 0xFFFE)),
        _BYTE_OR_NONE, _BYTE_OR_NONE, _BYTE_OR_NONE, _BYTE_OR_NONE,
        _BYTE_OR_NONE, _BYTE_OR_NONE, _BYTE_OR_NONE,
        st.one_of(st.none(), st.integers(-0x7FFF, 0x7FFF)),
        _BYTE_OR_NONE,
    ),
)
VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(lambda items: Data.array(*items)),
        st.lists(children, max_size=5).map(lambda items: Data.structure(*items)),
    ),
    max_leaves=12,
)


@given(VALUES)
def test_every_value_round_trips(value: Data) -> None:
    assert Data.from_bytes(value.to_bytes()) == value
