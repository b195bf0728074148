"""The IEC 62056-47 wrapper: the peer vectors, round trips and the stream splitter."""

from __future__ import annotations

import pytest

from core.errors import FrameError, TruncatedError
from drivers.dlms.hdlc import NEED_DATA
from drivers.dlms.wrapper import WrapperFrame, WrapperReader
from tests.unit.dlms import vectors as v

FRAMES = [v.PEER_WRAPPER_GET, v.PEER_WRAPPER_LLS_AARQ, WrapperFrame(1, 32, b"").to_bytes()]


@pytest.mark.parametrize("raw", FRAMES)
def test_round_trip(raw: bytes) -> None:
    assert WrapperFrame.from_bytes(raw).to_bytes() == raw


def test_peer_header() -> None:
    frame = WrapperFrame.from_bytes(v.PEER_WRAPPER_GET)
    assert frame == WrapperFrame(0x20, 0x01, v.PEER_WRAPPER_GET[8:])
    assert len(frame.apdu) == 0x0D


def test_errors() -> None:
    with pytest.raises(TruncatedError):
        WrapperFrame.from_bytes(v.PEER_WRAPPER_GET[:7])
    with pytest.raises(TruncatedError):
        WrapperFrame.from_bytes(v.PEER_WRAPPER_GET[:-1])
    with pytest.raises(FrameError, match="after"):
        WrapperFrame.from_bytes(v.PEER_WRAPPER_GET + b"\x00")
    with pytest.raises(FrameError, match="version"):
        WrapperFrame.from_bytes(b"\x00\x02" + v.PEER_WRAPPER_GET[2:])
    with pytest.raises(FrameError):
        WrapperFrame(0x10000, 1, b"")


def _drain(reader: WrapperReader) -> list[WrapperFrame]:
    frames = []
    while (frame := reader.next_frame()) is not NEED_DATA:
        frames.append(frame)
    return frames


def test_reader_one_byte_at_a_time() -> None:
    reader = WrapperReader()
    frames: list[WrapperFrame] = []
    for byte in b"".join(FRAMES):
        reader.feed(bytes((byte,)))
        frames += _drain(reader)
    assert [frame.to_bytes() for frame in frames] == FRAMES
    assert reader.pending == 0


def test_reader_several_frames_in_one_read() -> None:
    reader = WrapperReader()
    reader.feed(b"".join(FRAMES) + FRAMES[0][:5])
    assert [frame.to_bytes() for frame in _drain(reader)] == FRAMES
    assert reader.pending == 5


def test_reader_refuses_garbage() -> None:
    # The wrapper has no flag to resynchronise on: garbage ends the connection.
    reader = WrapperReader()
    reader.feed(b"\x7e" + v.PEER_WRAPPER_GET)
    with pytest.raises(FrameError):
        reader.next_frame()
