"""HDLC frames, addresses, control bytes, the stream reader, parameters, segmentation and
sequence numbers, checked against the GOST traces (tests/unit/dlms/vectors.py)."""

from __future__ import annotations

import pytest

from core.errors import ChecksumError, FrameError, TruncatedError, UnexpectedResponseError
from drivers.dlms.crc import crc16_x25
from drivers.dlms.hdlc import (
    NEED_DATA,
    Control,
    FrameKind,
    HdlcAddress,
    HdlcFrame,
    HdlcReader,
)
from drivers.dlms.hdlc_link import (
    HdlcParameters,
    HdlcSequence,
    Reassembler,
    add_llc,
    segment,
    strip_llc,
)
from tests.unit.dlms import vectors as v

SERVER = HdlcAddress.server(1, 0x10)
PUBLIC = HdlcAddress.client(16)
READER = HdlcAddress.client(32)
CONFIGURATOR = HdlcAddress.client(48)

ALL_FRAMES = {
    name: value
    for name, value in vars(v).items()
    if name.startswith("GOST_") and isinstance(value, bytes)
}


def test_crc_check_value() -> None:
    assert crc16_x25(b"123456789") == 0x906E


@pytest.mark.parametrize("name", sorted(ALL_FRAMES))
def test_every_gost_frame_decodes_and_reencodes(name: str) -> None:
    raw = ALL_FRAMES[name]
    frame = HdlcFrame.from_bytes(raw)
    assert frame.to_bytes() == raw
    assert frame.length == len(raw) - 2


@pytest.mark.parametrize(
    ("raw", "kind", "destination", "source"),
    [
        (v.GOST_12_1_SNRM, FrameKind.SNRM, SERVER, PUBLIC),
        (v.GOST_12_1_UA, FrameKind.UA, PUBLIC, SERVER),
        (v.GOST_12_1_DISC, FrameKind.DISC, SERVER, PUBLIC),
        (v.GOST_12_1_DM, FrameKind.DM, PUBLIC, SERVER),
        (v.GOST_12_2_SNRM, FrameKind.SNRM, SERVER, READER),
        (v.GOST_12_2_UA, FrameKind.UA, READER, SERVER),
        (v.GOST_13_4_RR, FrameKind.RR, SERVER, CONFIGURATOR),
    ],
)
def test_frames_without_information(
    raw: bytes, kind: FrameKind, destination: HdlcAddress, source: HdlcAddress
) -> None:
    frame = HdlcFrame.from_bytes(raw)
    assert frame.control.kind is kind
    assert frame.control.poll_final
    assert (frame.destination, frame.source) == (destination, source)
    assert frame.info == b""
    assert not frame.segmented
    assert HdlcFrame(destination, source, frame.control).to_bytes() == raw


def test_snrm_built_from_scratch() -> None:
    # GOST table 12.1; gurux and dlms-cosem build the same bytes (notes §4.1).
    assert HdlcFrame(SERVER, PUBLIC, Control(FrameKind.SNRM)).to_bytes() == v.GOST_12_1_SNRM


def test_information_frames_carry_llc_and_sequence_numbers() -> None:
    aarq = HdlcFrame.from_bytes(v.GOST_12_1_AARQ)
    assert aarq.control == Control(FrameKind.I, True, 0, 0)
    assert strip_llc(aarq.info, command=True)[:2] == bytes.fromhex("60 1D")
    aare = HdlcFrame.from_bytes(v.GOST_12_1_AARE)
    assert aare.control == Control(FrameKind.I, True, 0, 1)
    assert strip_llc(aare.info, command=False)[:2] == bytes.fromhex("61 29")
    get = HdlcFrame.from_bytes(v.GOST_12_1_GET)
    assert get.control == Control(FrameKind.I, True, 2, 1)  # 0x34: one exchange in between
    # GOST 13.4: 0x54 N(S)=2 N(R)=2, 0x76 N(S)=3 N(R)=3, 0x98 N(S)=4 N(R)=4, RR 0x71 N(R)=3
    assert HdlcFrame.from_bytes(v.GOST_13_4_BY_ENTRY).control == Control(FrameKind.I, True, 2, 2)
    assert HdlcFrame.from_bytes(v.GOST_13_4_GET_NEXT_1).control == Control(
        FrameKind.I, True, 3, 3
    )
    assert HdlcFrame.from_bytes(v.GOST_13_4_GET_NEXT_2).control == Control(
        FrameKind.I, True, 4, 4
    )
    assert HdlcFrame.from_bytes(v.GOST_13_4_RR).control == Control(FrameKind.RR, True, 0, 3)


def test_one_byte_server_address() -> None:
    frame = HdlcFrame.from_bytes(v.GOST_13_4_BY_RANGE)  # GOST 13.4 uses the form 03
    assert frame.destination == HdlcAddress(1)
    assert frame.source == CONFIGURATOR


@pytest.mark.parametrize(
    ("address", "wire"),
    [
        (HdlcAddress(1), "03"),
        (HdlcAddress.client(16), "21"),
        (HdlcAddress.server(1, 0x10), "02 21"),
        (HdlcAddress.server(1, 17), "02 23"),
        # a physical address above 127 needs 4 bytes (3 is illegal: the dlms-cosem bug, §5.4)
        (HdlcAddress.server(1, 0x148), "00 02 04 91"),
        (HdlcAddress(1, 0x10, 4), "00 02 00 21"),
        (HdlcAddress(0x3FFF, 0x3FFF, 4), "FE FE FE FF"),
    ],
)
def test_address_forms(address: HdlcAddress, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert address.to_bytes() == raw
    assert HdlcAddress.parse(raw) == (address, len(raw))


def test_three_byte_address_is_refused() -> None:
    with pytest.raises(FrameError, match="3 bytes"):
        HdlcAddress.parse(bytes.fromhex("02 02 91"))
    with pytest.raises(FrameError):
        HdlcAddress(1, 0x10, 3)
    with pytest.raises(FrameError):
        HdlcAddress(1, 0x80, 2)


@pytest.mark.parametrize("byte", range(256))
def test_every_control_byte_round_trips_or_is_refused(byte: int) -> None:
    try:
        control = Control.from_byte(byte)
    except FrameError:
        assert byte & 0x03 == 0x03 or byte & 0x0F in (0x09, 0x0D)
        return
    assert control.to_byte() == byte


def test_bad_fcs_and_hcs() -> None:
    bad_fcs = bytearray(v.GOST_12_1_AARQ)
    bad_fcs[-2] ^= 0x01
    with pytest.raises(ChecksumError, match="FCS"):
        HdlcFrame.from_bytes(bytes(bad_fcs))
    bad_hcs = bytearray(v.GOST_12_1_AARQ)
    bad_hcs[7] ^= 0x01
    body = bytes(bad_hcs[1:-3])
    bad_hcs[-3:-1] = crc16_x25(body).to_bytes(2, "little")  # a valid FCS over a bad HCS
    with pytest.raises(ChecksumError, match="HCS"):
        HdlcFrame.from_bytes(bytes(bad_hcs))


def test_truncated_and_malformed_frames() -> None:
    with pytest.raises(TruncatedError):
        HdlcFrame.from_bytes(v.GOST_12_1_AARQ[:-1])
    with pytest.raises(FrameError, match="7E"):
        HdlcFrame.from_bytes(v.GOST_12_1_AARQ + b"\x00")
    with pytest.raises(FrameError, match="type 3"):
        HdlcFrame.from_bytes(bytes.fromhex("7E B0 08 02 21 21 93 05 D1 7E"))


def test_segmented_flag_round_trips() -> None:
    frame = HdlcFrame(CONFIGURATOR, SERVER, Control(FrameKind.I, False, 0, 3), b"\x01" * 10, True)
    raw = frame.to_bytes()
    assert raw[1] == 0xA8
    assert HdlcFrame.from_bytes(raw) == frame


# --- the stream reader ---


def _drain(reader: HdlcReader) -> list[HdlcFrame]:
    frames: list[HdlcFrame] = []
    while True:
        try:
            frame = reader.next_frame()
        except FrameError:
            continue
        if frame is NEED_DATA:
            return frames
        frames.append(frame)


STREAM = [v.GOST_13_4_BY_ENTRY, v.GOST_13_4_RR, v.GOST_13_4_BY_RANGE, v.GOST_13_4_GET_NEXT_1]


def test_reader_whole_stream_with_garbage() -> None:
    reader = HdlcReader()
    reader.feed(b"\x00\x7e\xff garbage \x7e\xa0" + b"".join(STREAM) + b"\x13\x37")
    assert [frame.to_bytes() for frame in _drain(reader)] == STREAM


def test_reader_one_byte_at_a_time() -> None:
    data = b"\x7e\x7e\x01" + b"".join(STREAM)
    reader = HdlcReader()
    frames: list[HdlcFrame] = []
    for byte in data:
        reader.feed(bytes((byte,)))
        frames += _drain(reader)
    assert [frame.to_bytes() for frame in frames] == STREAM


def test_reader_shared_flags() -> None:
    shared = STREAM[0] + b"".join(frame[1:] for frame in STREAM[1:])  # 7E between frames once
    reader = HdlcReader()
    reader.feed(shared)
    assert [frame.to_bytes() for frame in _drain(reader)] == STREAM


def test_reader_bad_frame_then_good_one() -> None:
    bad = bytearray(v.GOST_13_4_RR)
    bad[-2] ^= 0xFF
    reader = HdlcReader()
    reader.feed(bytes(bad) + v.GOST_12_1_UA)
    with pytest.raises(ChecksumError):
        reader.next_frame()
    assert reader.next_frame() == HdlcFrame.from_bytes(v.GOST_12_1_UA)
    assert reader.next_frame() is NEED_DATA


def test_reader_drop_partial() -> None:
    reader = HdlcReader()
    reader.feed(v.GOST_12_1_AARQ[:20])
    assert reader.next_frame() is NEED_DATA
    assert reader.drop_partial() == v.GOST_12_1_AARQ[:20]
    reader.feed(v.GOST_12_1_UA)
    assert reader.next_frame() == HdlcFrame.from_bytes(v.GOST_12_1_UA)


# --- SNRM/UA parameters ---


def test_parameters_as_gost_proposes_them() -> None:
    # GOST table 12.1 (notes §2.2) proposes 128/128 and window 7, the window in 4 bytes; the
    # table's bytes have no FCS, so this checks our canonical form, not a transcription.
    proposal = HdlcParameters(128, 128, 7, 7)
    raw = proposal.to_bytes()
    assert raw == bytes.fromhex("81 80 12 05 01 80 06 01 80 07 04 00 00 00 07 08 04 00 00 00 07")
    assert HdlcParameters.from_bytes(raw) == proposal


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("81 80 07 05 02 04 00 06 01 80", HdlcParameters(1024, 128)),
        ("81 80 0C 07 01 01 08 04 00 00 00 01 09 01 00", HdlcParameters(None, None, 1, 1)),
        ("", HdlcParameters()),
    ],
)
def test_parameter_widths_and_unknown_ones(wire: str, expected: HdlcParameters) -> None:
    assert HdlcParameters.from_bytes(bytes.fromhex(wire)) == expected


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("81 80 05 05 02 04", TruncatedError),
        ("81 81 03 05 01 80", FrameError),
        ("81 80 03 05 03 01", TruncatedError),
        ("81 80 05 05 03 01 02 03", FrameError),
    ],
)
def test_bad_parameters(wire: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        HdlcParameters.from_bytes(bytes.fromhex(wire))


def test_snrm_with_parameters_round_trips() -> None:
    frame = HdlcFrame(SERVER, PUBLIC, Control(FrameKind.SNRM), HdlcParameters(128, 128, 1, 1)
                      .to_bytes())
    assert HdlcFrame.from_bytes(frame.to_bytes()) == frame


# --- LLC, segmentation, sequence numbers ---


def test_llc() -> None:
    assert add_llc(b"\xc0", command=True) == b"\xe6\xe6\x00\xc0"
    with pytest.raises(FrameError):
        strip_llc(b"\xe6\xe7\x00\xc4", command=True)
    with pytest.raises(TruncatedError):
        strip_llc(b"\xe6", command=False)


def test_segment_and_reassemble() -> None:
    info = add_llc(bytes(range(256)) * 2, command=False)
    pieces = segment(info, 128)
    assert [len(piece) for piece in pieces] == [128, 128, 128, 128, 3]
    sender, receiver = HdlcSequence(), HdlcSequence()
    reassembler = Reassembler()
    whole = None
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        frame = HdlcFrame(PUBLIC, SERVER, sender.next_i(), piece, segmented=not last)
        frame = HdlcFrame.from_bytes(frame.to_bytes())
        receiver.accept(frame.control)
        whole = reassembler.add(frame)
        assert (whole is None) != last
        if not last:  # the client acknowledges each segment with RR
            sender.accept(receiver.rr())
    assert whole == info
    assert not reassembler.in_progress


def test_sequence_follows_the_gost_13_4_exchange() -> None:
    client = HdlcSequence()
    client.send_seq, client.receive_seq = 2, 2  # after the AARQ/AARE and one GET
    assert client.next_i() == HdlcFrame.from_bytes(v.GOST_13_4_BY_ENTRY).control
    client.accept(Control(FrameKind.I, True, 2, 3))  # the meter's answer
    assert client.rr() == HdlcFrame.from_bytes(v.GOST_13_4_RR).control


def test_sequence_errors() -> None:
    seq = HdlcSequence()
    with pytest.raises(UnexpectedResponseError, match="N\\(S\\)"):
        seq.accept(Control(FrameKind.I, True, 1, 0))
    with pytest.raises(UnexpectedResponseError, match="N\\(R\\)"):
        seq.accept(Control(FrameKind.RR, True, 0, 1))
    with pytest.raises(UnexpectedResponseError):
        seq.accept(Control(FrameKind.UA))
    with pytest.raises(UnexpectedResponseError):
        Reassembler().add(HdlcFrame(PUBLIC, SERVER, Control(FrameKind.RR)))


def test_sequence_wraps_at_eight() -> None:
    seq = HdlcSequence()
    controls = [seq.next_i() for _ in range(9)]
    assert [control.send_seq for control in controls] == [0, 1, 2, 3, 4, 5, 6, 7, 0]


# --- gurux_dlms 1.0.203 frames (vectors.py "GX") ---


@pytest.mark.parametrize(
    ("raw", "destination", "parameters"),
    [
        (v.GX_SNRM_MAX_INFO_512, SERVER, HdlcParameters(512, 512)),
        (v.GX_SNRM_WINDOW_7, SERVER, HdlcParameters(None, None, 7, 7)),
        (v.GX_SNRM_SERVER_4_BYTES, HdlcAddress(1, 0x148, 4), HdlcParameters()),
    ],
)
def test_gurux_snrm_frames(
    raw: bytes, destination: HdlcAddress, parameters: HdlcParameters
) -> None:
    source = READER if raw is v.GX_SNRM_SERVER_4_BYTES else PUBLIC
    built = HdlcFrame(destination, source, Control(FrameKind.SNRM), parameters.to_bytes())
    assert built.to_bytes() == raw
    frame = HdlcFrame.from_bytes(raw)
    assert frame == built
    assert HdlcParameters.from_bytes(frame.info) == parameters
