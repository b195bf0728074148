"""The xDLMS initiate exchange carried in the AARQ/AARE user-information, and the conformance
block (IEC 62056-5-3 §9.5; GOST R 58940-2020 §6.4, tables 12.1–12.2).

::

    InitiateRequest    01 <dedicated key?> <response-allowed?> <QoS?> <DLMS version>
                       5F 1F 04 00 <conformance(3)> <client max receive PDU size(2)>
    InitiateResponse   08 <QoS?> <DLMS version> 5F 1F 04 00 <conformance(3)>
                       <server max receive PDU size(2)> <VAA name(2)>
    ConfirmedServiceError  0E <service> <error kind> <value>     (initiate: 0E 01 06 <value>)

    ``?`` is an optional field: 00 when absent, 01 then the value when present. The
    conformance block is a 24-bit BIT STRING whose bit 0 is the most significant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import Final

from core.errors import FrameError, IsuError, RemoteProtocolError, TruncatedError
from drivers.dlms.axdr import decode_length, encode_length

__all__ = ["ConfirmedServiceError", "Conformance", "InitiateRequest", "InitiateResponse"]


class Conformance(IntFlag):
    """The xDLMS conformance block, bit 0 being the most significant of 24."""

    GENERAL_PROTECTION = 1 << 22
    GENERAL_BLOCK_TRANSFER = 1 << 21
    READ = 1 << 20
    WRITE = 1 << 19
    UNCONFIRMED_WRITE = 1 << 18
    DELTA_VALUE_ENCODING = 1 << 17
    ATTRIBUTE0_WITH_SET = 1 << 15
    PRIORITY_MANAGEMENT = 1 << 14
    ATTRIBUTE0_WITH_GET = 1 << 13
    BLOCK_TRANSFER_WITH_GET = 1 << 12
    BLOCK_TRANSFER_WITH_SET = 1 << 11
    BLOCK_TRANSFER_WITH_ACTION = 1 << 10
    MULTIPLE_REFERENCES = 1 << 9
    INFORMATION_REPORT = 1 << 8
    DATA_NOTIFICATION = 1 << 7
    ACCESS = 1 << 6
    PARAMETERIZED_ACCESS = 1 << 5
    GET = 1 << 4
    SET = 1 << 3
    SELECTIVE_ACCESS = 1 << 2
    EVENT_NOTIFICATION = 1 << 1
    ACTION = 1 << 0


_CONFORMANCE_TAG: Final = b"\x5f\x1f\x04\x00"


def _conformance(data: bytes, offset: int) -> tuple[Conformance, int]:
    if data[offset : offset + 4] != _CONFORMANCE_TAG:
        if len(data) < offset + 4:
            raise TruncatedError("a conformance block is cut short")
        raise FrameError(f"conformance tag {data[offset : offset + 4].hex(' ').upper()}")
    raw = _take(data, offset + 4, 3)
    return Conformance(int.from_bytes(raw, "big")), offset + 7


def _take(data: bytes, offset: int, size: int) -> bytes:
    if offset + size > len(data):
        raise TruncatedError(f"{size} byte(s) needed at {offset}, {len(data) - offset} left")
    return bytes(data[offset : offset + size])


def _optional(data: bytes, offset: int) -> tuple[bool, int]:
    flag = _take(data, offset, 1)[0]
    if flag > 1:
        raise FrameError(f"an optional-field flag {flag:02X}")
    return bool(flag), offset + 1


@dataclass(frozen=True, slots=True)
class InitiateRequest:
    conformance: Conformance
    max_receive_pdu_size: int = 0xFFFF
    dlms_version: int = 6
    dedicated_key: bytes | None = None
    response_allowed: bool = True
    quality_of_service: int | None = None

    TAG = 0x01

    def to_bytes(self) -> bytes:
        out = bytes((self.TAG,))
        key = self.dedicated_key
        out += b"\x00" if key is None else b"\x01" + encode_length(len(key)) + key
        out += b"\x00" if self.response_allowed else b"\x01\x00"
        qos = self.quality_of_service
        out += b"\x00" if qos is None else bytes((1, qos))
        return (
            out
            + bytes((self.dlms_version,))
            + _CONFORMANCE_TAG
            + int(self.conformance).to_bytes(3, "big")
            + self.max_receive_pdu_size.to_bytes(2, "big")
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> InitiateRequest:
        if _take(data, 0, 1)[0] != cls.TAG:
            raise FrameError(f"InitiateRequest tag {data[0]:02X}")
        present, offset = _optional(data, 1)
        key = None
        if present:
            size, offset = decode_length(data, offset)
            key = _take(data, offset, size)
            offset += size
        present, offset = _optional(data, offset)
        allowed = True
        if present:
            allowed = _take(data, offset, 1)[0] != 0
            offset += 1
        present, offset = _optional(data, offset)
        qos = None
        if present:
            qos = _take(data, offset, 1)[0]
            offset += 1
        version = _take(data, offset, 1)[0]
        conformance, offset = _conformance(data, offset + 1)
        pdu = int.from_bytes(_take(data, offset, 2), "big")
        if offset + 2 != len(data):
            raise FrameError("bytes after an InitiateRequest")
        return cls(conformance, pdu, version, key, allowed, qos)


@dataclass(frozen=True, slots=True)
class InitiateResponse:
    conformance: Conformance
    max_receive_pdu_size: int
    vaa_name: int = 0x0007
    dlms_version: int = 6
    quality_of_service: int | None = None

    TAG = 0x08

    def to_bytes(self) -> bytes:
        qos = self.quality_of_service
        return (
            bytes((self.TAG,))
            + (b"\x00" if qos is None else bytes((1, qos)))
            + bytes((self.dlms_version,))
            + _CONFORMANCE_TAG
            + int(self.conformance).to_bytes(3, "big")
            + self.max_receive_pdu_size.to_bytes(2, "big")
            + self.vaa_name.to_bytes(2, "big")
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> InitiateResponse:
        if _take(data, 0, 1)[0] != cls.TAG:
            raise FrameError(f"InitiateResponse tag {data[0]:02X}")
        present, offset = _optional(data, 1)
        qos = None
        if present:
            qos = _take(data, offset, 1)[0]
            offset += 1
        version = _take(data, offset, 1)[0]
        conformance, offset = _conformance(data, offset + 1)
        pdu = int.from_bytes(_take(data, offset, 2), "big")
        vaa = int.from_bytes(_take(data, offset + 2, 2), "big")
        if offset + 4 != len(data):
            raise FrameError("bytes after an InitiateResponse")
        return cls(conformance, pdu, vaa, version, qos)


@dataclass(frozen=True, slots=True)
class ConfirmedServiceError:
    """``0E <service> <error kind> <value>``; in an AARE, service 1 (initiate), kind 6."""

    service: int
    kind: int
    value: int

    TAG = 0x0E

    def to_bytes(self) -> bytes:
        return bytes((self.TAG, self.service, self.kind, self.value))

    @classmethod
    def from_bytes(cls, data: bytes) -> ConfirmedServiceError:
        raw = _take(data, 0, 4)
        if raw[0] != cls.TAG:
            raise FrameError(f"ConfirmedServiceError tag {raw[0]:02X}")
        if len(data) != 4:
            raise FrameError("bytes after a ConfirmedServiceError")
        return cls(raw[1], raw[2], raw[3])

    def error(self) -> IsuError:
        return RemoteProtocolError(
            f"confirmed service error: service {self.service}, kind {self.kind}, "
            f"value {self.value}"
        )


#: Tags of the ciphered APDUs this codec recognises without deciphering (GOST table 8.2).
