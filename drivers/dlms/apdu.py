"""One parser for every APDU the codec knows, picked by its tag (and its choice byte for the
xDLMS services); the server role (the simulator) parses requests with it, the client responses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias

from core.errors import FrameError, TruncatedError
from drivers.dlms.acse import AareApdu, AarqApdu, RlreApdu, RlrqApdu
from drivers.dlms.ciphered import CIPHERED_TAGS, CipheredApdu
from drivers.dlms.xdlms import (
    ActionRequest,
    ActionResponse,
    ExceptionResponse,
    GetRequest,
    GetRequestNext,
    GetRequestWithList,
    GetResponse,
    GetResponseWithBlock,
    GetResponseWithList,
    SetRequest,
    SetResponse,
)

__all__ = ["Apdu", "parse_apdu"]

Apdu: TypeAlias = (
    AarqApdu
    | AareApdu
    | RlrqApdu
    | RlreApdu
    | CipheredApdu
    | GetRequest
    | GetRequestNext
    | GetRequestWithList
    | GetResponse
    | GetResponseWithBlock
    | GetResponseWithList
    | SetRequest
    | SetResponse
    | ActionRequest
    | ActionResponse
    | ExceptionResponse
)

_BY_TAG: Final[dict[int, Callable[[bytes], Apdu]]] = {
    0x60: AarqApdu.from_bytes,
    0x61: AareApdu.from_bytes,
    0x62: RlrqApdu.from_bytes,
    0x63: RlreApdu.from_bytes,
    0xD8: ExceptionResponse.from_bytes,
}
_BY_SERVICE: Final[dict[bytes, Callable[[bytes], Apdu]]] = {
    b"\xc0\x01": GetRequest.from_bytes,
    b"\xc0\x02": GetRequestNext.from_bytes,
    b"\xc0\x03": GetRequestWithList.from_bytes,
    b"\xc4\x01": GetResponse.from_bytes,
    b"\xc4\x02": GetResponseWithBlock.from_bytes,
    b"\xc4\x03": GetResponseWithList.from_bytes,
    b"\xc1\x01": SetRequest.from_bytes,
    b"\xc5\x01": SetResponse.from_bytes,
    b"\xc3\x01": ActionRequest.from_bytes,
    b"\xc7\x01": ActionResponse.from_bytes,
}
_SERVICE_TAGS: Final = {key[0] for key in _BY_SERVICE} | {0xC1, 0xC3, 0xC5, 0xC7}


def parse_apdu(data: bytes) -> Apdu:
    """Decode one whole APDU; unknown tags and services the codec lacks are FrameErrors."""
    if not data:
        raise TruncatedError("an empty APDU")
    tag = data[0]
    if tag in _BY_TAG:
        return _BY_TAG[tag](data)
    if tag in CIPHERED_TAGS:
        return CipheredApdu.from_bytes(data)
    if tag in _SERVICE_TAGS:
        if len(data) < 2:
            raise TruncatedError(f"APDU {tag:02X} without its choice byte")
        parser = _BY_SERVICE.get(bytes(data[:2]))
        if parser is None:
            raise FrameError(f"xDLMS service {data[:2].hex(' ').upper()} is not supported")
        return parser(data)
    raise FrameError(f"unknown APDU tag {tag:02X}")
