"""The IEC 62056-47 wrapper: DLMS over TCP or UDP (GOST R 58940-2020 §9.6; IANA port 4059).

::

    version(2) = 00 01 | source wPort(2) | destination wPort(2) | length(2) | APDU(length)

The client's wPort is its SAP (16, 32, 48), the server's the logical device (1 = management).
There are no flags or checksums: on a stream the header's length is the only frame boundary,
so a wrong version cannot be resynchronised and ends the connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.errors import FrameError, TruncatedError
from drivers.dlms.hdlc import NEED_DATA, NeedData

__all__ = ["HEADER_LENGTH", "WRAPPER_PORT", "WRAPPER_VERSION", "WrapperFrame", "WrapperReader"]

WRAPPER_VERSION: Final = 1
HEADER_LENGTH: Final = 8
WRAPPER_PORT: Final = 4059


@dataclass(frozen=True, slots=True)
class WrapperFrame:
    source: int
    destination: int
    apdu: bytes

    def __post_init__(self) -> None:
        for name, port in (("source", self.source), ("destination", self.destination)):
            if not 0 <= port <= 0xFFFF:
                raise FrameError(f"wrapper {name} wPort {port} does not fit 2 bytes")
        if len(self.apdu) > 0xFFFF:
            raise FrameError(f"a wrapped APDU of {len(self.apdu)} bytes")

    def to_bytes(self) -> bytes:
        return (
            WRAPPER_VERSION.to_bytes(2, "big")
            + self.source.to_bytes(2, "big")
            + self.destination.to_bytes(2, "big")
            + len(self.apdu).to_bytes(2, "big")
            + self.apdu
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> WrapperFrame:
        if len(data) < HEADER_LENGTH:
            raise TruncatedError(f"a wrapper header of {len(data)} byte(s)")
        version = int.from_bytes(data[0:2], "big")
        if version != WRAPPER_VERSION:
            raise FrameError(f"wrapper version {version}, not 1")
        length = int.from_bytes(data[6:8], "big")
        if len(data) < HEADER_LENGTH + length:
            raise TruncatedError(f"a wrapped APDU of {length} bytes, {len(data) - 8} sent")
        if len(data) > HEADER_LENGTH + length:
            raise FrameError(f"{len(data) - 8 - length} byte(s) after a wrapped APDU")
        return cls(
            int.from_bytes(data[2:4], "big"),
            int.from_bytes(data[4:6], "big"),
            bytes(data[HEADER_LENGTH:]),
        )


class WrapperReader:
    """Cuts a TCP byte stream into wrapper frames; a PDU may arrive in any number of reads."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def next_frame(self) -> WrapperFrame | NeedData:
        buf = self._buffer
        if len(buf) < 2:
            return NEED_DATA
        if buf[0] != 0 or buf[1] != WRAPPER_VERSION:
            raise FrameError(f"wrapper version {buf[0]:02X} {buf[1]:02X}, not 00 01")
        if len(buf) < HEADER_LENGTH:
            return NEED_DATA
        total = HEADER_LENGTH + ((buf[6] << 8) | buf[7])
        if len(buf) < total:
            return NEED_DATA
        frame = WrapperFrame.from_bytes(bytes(buf[:total]))
        del buf[:total]
        return frame
