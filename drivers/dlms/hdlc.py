"""HDLC frame format type 3 as DLMS uses it (IEC 62056-46; GOST R 58940-2020 §9.4, §9.5).

::

    7E | format(2) | DA(1,2,4) | SA(1,2,4) | control(1) | [HCS(2) | info(n)] | FCS(2) | 7E

    format   1010 S LLL LLLLLLLL    type 3, S = segmentation (more segments follow),
                                    L = length of everything between the flags (11 bits)
    address  7 bits per byte, LSB 0 except on the last byte (the extension bit)
             client: one byte, (SAP << 1) | 1         (public 16 → 21, reader 32 → 41)
             server: upper (logical device) and lower (physical device) HDLC address,
                     1 byte (upper only), 2 bytes (7 + 7 bits) or 4 bytes (14 + 14 bits)
    control  I     N(R) P/F N(S) 0       S-frames N(R) P/F xx 01: RR 01, RNR 05
             U     SNRM 83, DISC 43, UA 63, DM 0F, FRMR 87, UI 03   (| 10 for P/F)
    HCS/FCS  CRC-16/X.25, low byte first; a frame without info carries only the FCS

There is no byte stuffing: a frame ends where its length says, so ``HdlcReader`` finds frames
in a byte stream by the flag, the format's type nibble, the length and the closing flag; the
closing flag of one frame may open the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from core.errors import ChecksumError, FrameError, TruncatedError
from drivers.dlms.crc import crc_bytes

__all__ = [
    "FLAG",
    "MAX_FRAME_LENGTH",
    "NEED_DATA",
    "Control",
    "FrameKind",
    "HdlcAddress",
    "HdlcFrame",
    "HdlcReader",
    "NeedData",
]

FLAG: Final = 0x7E
#: The 11-bit length field bounds a frame (flags excluded).
MAX_FRAME_LENGTH: Final = 0x7FF
_FORMAT_TYPE3: Final = 0xA000
_SEGMENTED: Final = 0x0800
_POLL_FINAL: Final = 0x10


class NeedData(Enum):
    """More bytes are needed before the next frame."""

    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class HdlcAddress:
    """One HDLC address: ``upper`` alone (1 byte) or ``upper`` and ``lower`` (2 or 4 bytes)."""

    upper: int
    lower: int | None = None
    size: int = 1

    def __post_init__(self) -> None:
        if self.size == 1:
            if self.lower is not None:
                raise FrameError("a 1-byte HDLC address has no lower part")
            limit = 0x7F
        elif self.size in (2, 4):
            if self.lower is None:
                raise FrameError(f"a {self.size}-byte HDLC address needs a lower part")
            limit = 0x7F if self.size == 2 else 0x3FFF
            if not 0 <= self.lower <= limit:
                raise FrameError(f"lower HDLC address {self.lower} does not fit {self.size} bytes")
        else:
            raise FrameError(f"an HDLC address is 1, 2 or 4 bytes, not {self.size}")
        if not 0 <= self.upper <= limit:
            raise FrameError(f"upper HDLC address {self.upper} does not fit {self.size} bytes")

    @classmethod
    def client(cls, sap: int) -> HdlcAddress:
        """The client address of access point ``sap`` (16 public, 32 reader, 48 configurator)."""
        return cls(sap)

    @classmethod
    def server(cls, logical: int = 1, physical: int | None = 0x10) -> HdlcAddress:
        """A server address in its shortest legal form (GOST §13: logical 1, physical 0x10)."""
        if physical is None:
            return cls(logical)
        size = 2 if logical <= 0x7F and physical <= 0x7F else 4
        return cls(logical, physical, size)

    def to_bytes(self) -> bytes:
        if self.size == 1:
            return bytes(((self.upper << 1) | 1,))
        assert self.lower is not None
        if self.size == 2:
            return bytes((self.upper << 1, (self.lower << 1) | 1))
        return bytes(
            (
                (self.upper >> 7) << 1,
                (self.upper & 0x7F) << 1,
                (self.lower >> 7) << 1,
                ((self.lower & 0x7F) << 1) | 1,
            )
        )

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> tuple[HdlcAddress, int]:
        """The address starting at ``offset`` and the offset after it."""
        end = offset
        while True:
            if end >= len(data):
                raise TruncatedError("an HDLC address runs past the frame")
            if data[end] & 1:
                break
            end += 1
        raw = data[offset : end + 1]
        values = [byte >> 1 for byte in raw]
        if len(raw) == 1:
            return cls(values[0]), end + 1
        if len(raw) == 2:
            return cls(values[0], values[1], 2), end + 1
        if len(raw) == 4:
            upper = (values[0] << 7) | values[1]
            lower = (values[2] << 7) | values[3]
            return cls(upper, lower, 4), end + 1
        raise FrameError(f"an HDLC address of {len(raw)} bytes (1, 2 or 4 are legal)")

    def __str__(self) -> str:
        return str(self.upper) if self.lower is None else f"{self.upper}/{self.lower}"


class FrameKind(IntEnum):
    """Control field codes with P/F, N(S) and N(R) cleared (IEC 62056-46 §6.4.3)."""

    I = 0x00  # noqa: E741 - the standard's name of the information frame
    RR = 0x01
    RNR = 0x05
    SNRM = 0x83
    DISC = 0x43
    UA = 0x63
    DM = 0x0F
    FRMR = 0x87
    UI = 0x03

    @property
    def numbered(self) -> bool:
        """I and S frames carry N(R); only I frames carry N(S)."""
        return self in (FrameKind.I, FrameKind.RR, FrameKind.RNR)


_UNNUMBERED = {kind.value: kind for kind in FrameKind if not kind.numbered}


@dataclass(frozen=True, slots=True)
class Control:
    """A control byte: the frame kind, the P/F bit and the sequence numbers it carries."""

    kind: FrameKind
    poll_final: bool = True
    send_seq: int = 0
    receive_seq: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.send_seq <= 7 and 0 <= self.receive_seq <= 7):
            raise FrameError("HDLC sequence numbers are 0..7")
        if self.kind is not FrameKind.I and self.send_seq:
            raise FrameError(f"a {self.kind.name} frame carries no N(S)")
        if not self.kind.numbered and self.receive_seq:
            raise FrameError(f"a {self.kind.name} frame carries no N(R)")

    def to_byte(self) -> int:
        pf = _POLL_FINAL if self.poll_final else 0
        if self.kind is FrameKind.I:
            return (self.receive_seq << 5) | pf | (self.send_seq << 1)
        if self.kind.numbered:
            return (self.receive_seq << 5) | pf | int(self.kind)
        return int(self.kind) | pf

    @classmethod
    def from_byte(cls, byte: int) -> Control:
        pf = bool(byte & _POLL_FINAL)
        if not byte & 1:
            return cls(FrameKind.I, pf, (byte >> 1) & 7, byte >> 5)
        if byte & 0x03 == 0x01:
            kind = byte & 0x0F
            if kind == FrameKind.RR:
                return cls(FrameKind.RR, pf, 0, byte >> 5)
            if kind == FrameKind.RNR:
                return cls(FrameKind.RNR, pf, 0, byte >> 5)
            raise FrameError(f"unknown supervisory control byte {byte:02X}")
        try:
            return cls(_UNNUMBERED[byte & ~_POLL_FINAL & 0xFF], pf)
        except KeyError:
            raise FrameError(f"unknown control byte {byte:02X}") from None


@dataclass(frozen=True, slots=True)
class HdlcFrame:
    """One HDLC frame; the format field, HCS and FCS are computed, never stored."""

    destination: HdlcAddress
    source: HdlcAddress
    control: Control
    info: bytes = b""
    segmented: bool = False

    def __post_init__(self) -> None:
        if self.length > MAX_FRAME_LENGTH:
            raise FrameError(f"an HDLC frame of {self.length} bytes exceeds the 11-bit length")

    @property
    def length(self) -> int:
        """The format field's length: every byte between the flags."""
        header = 2 + self.destination.size + self.source.size + 1
        return header + (2 + len(self.info) if self.info else 0) + 2

    def to_bytes(self) -> bytes:
        fmt = _FORMAT_TYPE3 | (_SEGMENTED if self.segmented else 0) | self.length
        header = (
            fmt.to_bytes(2, "big")
            + self.destination.to_bytes()
            + self.source.to_bytes()
            + bytes((self.control.to_byte(),))
        )
        body = header + crc_bytes(header) + self.info if self.info else header
        return bytes((FLAG,)) + body + crc_bytes(body) + bytes((FLAG,))

    @classmethod
    def from_bytes(cls, frame: bytes) -> HdlcFrame:
        """Decode one whole frame, flags included."""
        if len(frame) < 3:
            raise TruncatedError(f"an HDLC frame of {len(frame)} byte(s)")
        if frame[0] != FLAG:
            raise FrameError(f"an HDLC frame starts with 7E, not {frame[0]:02X}")
        fmt = int.from_bytes(frame[1:3], "big")
        if fmt & 0xF000 != _FORMAT_TYPE3:
            raise FrameError(f"HDLC format {fmt:04X} is not frame type 3")
        length = fmt & MAX_FRAME_LENGTH
        if len(frame) < length + 2:
            raise TruncatedError(f"an HDLC frame of length {length} with {len(frame)} bytes")
        if len(frame) > length + 2 or frame[length + 1] != FLAG:
            raise FrameError(f"an HDLC frame of length {length} does not end with 7E there")
        body = frame[1 : length + 1]
        if len(body) < 7:
            raise FrameError(f"an HDLC frame of length {length} has no room for its header")
        if crc_bytes(body[:-2]) != body[-2:]:
            raise ChecksumError(
                f"HDLC FCS {body[-2:].hex(' ').upper()}, computed "
                f"{crc_bytes(body[:-2]).hex(' ').upper()}"
            )
        destination, offset = HdlcAddress.parse(body, 2)
        source, offset = HdlcAddress.parse(body, offset)
        if offset >= len(body) - 2:
            raise FrameError("an HDLC frame without a control byte")
        control = Control.from_byte(body[offset])
        offset += 1
        info = b""
        if offset < len(body) - 2:
            if len(body) - 2 - offset < 2:
                raise FrameError("an HDLC frame with a one-byte header check sequence")
            if crc_bytes(body[:offset]) != body[offset : offset + 2]:
                raise ChecksumError(
                    f"HDLC HCS {body[offset : offset + 2].hex(' ').upper()}, computed "
                    f"{crc_bytes(body[:offset]).hex(' ').upper()}"
                )
            info = bytes(body[offset + 2 : -2])
            if not info:
                raise FrameError("an HDLC frame with an HCS but an empty information field")
        return cls(destination, source, control, info, bool(fmt & _SEGMENTED))


class HdlcReader:
    """Finds HDLC frames in a byte stream: garbage around, split reads, shared flags.

    ``feed()`` bytes as they come, then call ``next_frame()`` until it returns ``NEED_DATA``.
    A candidate whose FCS or layout is wrong raises ``ChecksumError``/``FrameError`` after its
    opening flag has been dropped, so the next call resynchronises on the following flag.
    ``drop_partial()`` gives up on a frame that stopped arriving (an inter-octet timeout).
    """

    def __init__(self, max_length: int = MAX_FRAME_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        """Bytes held that do not form a whole frame yet."""
        return len(self._buffer)

    def drop_partial(self) -> bytes:
        """Forget the frame being gathered; the bytes dropped are returned for a trace log."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def next_frame(self) -> HdlcFrame | NeedData:
        buf = self._buffer
        while True:
            start = buf.find(FLAG)
            if start < 0:
                buf.clear()
                return NEED_DATA
            del buf[:start]
            if len(buf) < 2:
                return NEED_DATA
            if buf[1] == FLAG:  # two flags in a row: the first closed a frame or was idle
                del buf[0]
                continue
            if len(buf) < 3:
                return NEED_DATA
            fmt = (buf[1] << 8) | buf[2]
            length = fmt & MAX_FRAME_LENGTH
            if fmt & 0xF000 != _FORMAT_TYPE3 or not 7 <= length <= self._max_length:
                del buf[0]
                continue
            if len(buf) < length + 2:
                return NEED_DATA
            if buf[length + 1] != FLAG:
                del buf[0]
                continue
            candidate = bytes(buf[: length + 2])
            try:
                frame = HdlcFrame.from_bytes(candidate)
            except FrameError:
                del buf[0]
                raise
            del buf[: length + 1]  # keep the closing flag: it may open the next frame
            return frame
