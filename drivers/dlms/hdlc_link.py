"""What rides on HDLC frames: SNRM/UA parameters, the LLC header, segmentation and the
sequence numbers (IEC 62056-46 §6.4.4.4.3.2, §6.4.4.9; GOST R 58940-2020 §9.4, tables 12.1–12.2).

::

    SNRM/UA info   81 80 LL | 05 n <max info tx> | 06 n <max info rx>
                             | 07 n <window tx>   | 08 n <window rx>       n = 1, 2 or 4
    LLC header     E6 E6 00 on commands (client → server), E6 E7 00 on responses;
                   only the first segment of an APDU carries it
    segmentation   every I-frame but the last has the S bit of its format field set; the
                   receiver answers each segment with RR(N(R)) and the next one follows

Parameters are named from the sender's point of view, as on the wire: a UA's ``max_info_tx``
is what the server will send. ``None`` is a parameter left out (the default is 128 bytes and
window 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.errors import FrameError, TruncatedError, UnexpectedResponseError
from drivers.dlms.hdlc import Control, FrameKind, HdlcFrame

__all__ = [
    "DEFAULT_MAX_INFO",
    "DEFAULT_WINDOW",
    "LLC_COMMAND",
    "LLC_RESPONSE",
    "HdlcParameters",
    "HdlcSequence",
    "Reassembler",
    "add_llc",
    "segment",
    "strip_llc",
]

DEFAULT_MAX_INFO: Final = 128
DEFAULT_WINDOW: Final = 1
LLC_COMMAND: Final = b"\xe6\xe6\x00"
LLC_RESPONSE: Final = b"\xe6\xe7\x00"

_FORMAT_ID: Final = 0x81
_GROUP_ID: Final = 0x80
_MAX_INFO_TX, _MAX_INFO_RX, _WINDOW_TX, _WINDOW_RX = 0x05, 0x06, 0x07, 0x08


@dataclass(frozen=True, slots=True)
class HdlcParameters:
    """The negotiation parameters of an SNRM or a UA information field."""

    max_info_tx: int | None = None
    max_info_rx: int | None = None
    window_tx: int | None = None
    window_rx: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_info_tx", "max_info_rx", "window_tx", "window_rx"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 0xFFFFFFFF:
                raise FrameError(f"HDLC parameter {name} = {value} does not fit 4 bytes")

    def to_bytes(self) -> bytes:
        """Lengths in the fewest bytes, windows in 4 bytes as GOST table 12.1 and Gurux do."""
        body = b""
        for pid, value, window in (
            (_MAX_INFO_TX, self.max_info_tx, False),
            (_MAX_INFO_RX, self.max_info_rx, False),
            (_WINDOW_TX, self.window_tx, True),
            (_WINDOW_RX, self.window_rx, True),
        ):
            if value is None:
                continue
            size = 4 if window or value > 0xFFFF else (1 if value <= 0xFF else 2)
            body += bytes((pid, size)) + value.to_bytes(size, "big")
        if not body:
            return b""
        return bytes((_FORMAT_ID, _GROUP_ID, len(body))) + body

    @classmethod
    def from_bytes(cls, info: bytes) -> HdlcParameters:
        """Parse an SNRM/UA information field; an empty one leaves every parameter out."""
        if not info:
            return cls()
        if len(info) < 3:
            raise TruncatedError(f"an HDLC parameter field of {len(info)} byte(s)")
        if info[0] != _FORMAT_ID or info[1] != _GROUP_ID:
            raise FrameError(f"HDLC parameter format {info[0]:02X} {info[1]:02X}, not 81 80")
        end = 3 + info[2]
        if len(info) < end:
            raise TruncatedError(f"HDLC parameter group of {info[2]} bytes, {len(info) - 3} sent")
        if len(info) > end:
            raise FrameError("bytes after the HDLC parameter group")
        values: dict[int, int] = {}
        offset = 3
        while offset < end:
            if offset + 2 > end:
                raise TruncatedError("an HDLC parameter without its length")
            pid, size = info[offset], info[offset + 1]
            offset += 2
            if offset + size > end:
                raise TruncatedError(f"HDLC parameter {pid:02X} runs past its group")
            if size not in (1, 2, 4):
                raise FrameError(f"HDLC parameter {pid:02X} of {size} bytes (1, 2 or 4)")
            if pid in (_MAX_INFO_TX, _MAX_INFO_RX, _WINDOW_TX, _WINDOW_RX):
                values[pid] = int.from_bytes(info[offset : offset + size], "big")
            offset += size  # an unknown parameter is skipped, as the standard asks
        return cls(
            values.get(_MAX_INFO_TX),
            values.get(_MAX_INFO_RX),
            values.get(_WINDOW_TX),
            values.get(_WINDOW_RX),
        )


def add_llc(apdu: bytes, *, command: bool) -> bytes:
    return (LLC_COMMAND if command else LLC_RESPONSE) + apdu


def strip_llc(info: bytes, *, command: bool) -> bytes:
    """The APDU behind the LLC header expected in this direction."""
    expected = LLC_COMMAND if command else LLC_RESPONSE
    if len(info) < 3:
        raise TruncatedError(f"an LLC header of {len(info)} byte(s)")
    if info[:3] != expected:
        raise FrameError(
            f"LLC header {info[:3].hex(' ').upper()} where {expected.hex(' ').upper()} was due"
        )
    return bytes(info[3:])


def segment(info: bytes, max_info: int = DEFAULT_MAX_INFO) -> list[bytes]:
    """Cut an information field (LLC header included) into pieces of at most ``max_info``."""
    if max_info < 1:
        raise FrameError(f"a maximum information field of {max_info}")
    if not info:
        return [b""]
    return [info[i : i + max_info] for i in range(0, len(info), max_info)]


class Reassembler:
    """Joins the information fields of segmented I-frames (S bit set on all but the last)."""

    def __init__(self, max_size: int = 0x10000) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._max_size = max_size

    @property
    def in_progress(self) -> bool:
        return bool(self._parts)

    def add(self, frame: HdlcFrame) -> bytes | None:
        """The whole information field once the last segment is in, else ``None``."""
        if frame.control.kind is not FrameKind.I:
            raise UnexpectedResponseError(f"a {frame.control.kind.name} frame inside a segment")
        self._size += len(frame.info)
        if self._size > self._max_size:
            self.reset()
            raise FrameError(f"a segmented APDU longer than {self._max_size} bytes")
        self._parts.append(frame.info)
        if frame.segmented:
            return None
        whole = b"".join(self._parts)
        self.reset()
        return whole

    def reset(self) -> None:
        self._parts.clear()
        self._size = 0


class HdlcSequence:
    """V(S) and V(R) of one side of a link; checks the N(S)/N(R) of frames received.

    ``next_i()`` numbers an I-frame to send, ``accept()`` checks an I or S frame received
    (an I-frame must carry N(S) = V(R); every numbered frame must acknowledge what we sent,
    N(R) = V(S)), ``rr()`` builds the acknowledgement to send. SNRM/UA resets both counters.
    """

    def __init__(self) -> None:
        self.send_seq = 0
        self.receive_seq = 0

    def reset(self) -> None:
        self.send_seq = 0
        self.receive_seq = 0

    def next_i(self, *, final: bool = True) -> Control:
        control = Control(FrameKind.I, final, self.send_seq, self.receive_seq)
        self.send_seq = (self.send_seq + 1) % 8
        return control

    def rr(self, *, final: bool = True) -> Control:
        return Control(FrameKind.RR, final, 0, self.receive_seq)

    def accept(self, control: Control) -> None:
        if not control.kind.numbered:
            raise UnexpectedResponseError(f"{control.kind.name} where an I or S frame was due")
        if control.receive_seq != self.send_seq:
            raise UnexpectedResponseError(
                f"N(R) = {control.receive_seq} where V(S) = {self.send_seq}"
            )
        if control.kind is FrameKind.I:
            if control.send_seq != self.receive_seq:
                raise UnexpectedResponseError(
                    f"N(S) = {control.send_seq} where V(R) = {self.receive_seq}"
                )
            self.receive_seq = (self.receive_seq + 1) % 8
