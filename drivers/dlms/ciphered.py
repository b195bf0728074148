"""Ciphered APDUs, recognised without deciphering (IEC 62056-5-3 §9.2.7; GOST R 58940-2020
table 8.2).

::

    glo-/ded-xxx          tag | length | security control(1) invocation counter(4) ciphertext tag
    general-glo-ciphering DB  | length system title | length | content as above  (DC: dedicated)

HLS-GMAC authenticates without ciphering (``security``); ciphered xDLMS APDUs are not
supported, so the codec only has to know these APDUs for what they are, so that a ciphered
answer is never taken for garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.errors import FrameError, TruncatedError
from drivers.dlms.axdr import decode_length, encode_length

__all__ = ["CIPHERED_TAGS", "CipheredApdu"]


def _take(data: bytes, offset: int, size: int) -> bytes:
    if offset + size > len(data):
        raise TruncatedError(f"{size} byte(s) needed at {offset}, {len(data) - offset} left")
    return bytes(data[offset : offset + size])


CIPHERED_TAGS: Final = {
    0x21: "glo-initiate-request",
    0x28: "glo-initiate-response",
    0xC8: "glo-get-request",
    0xC9: "glo-set-request",
    0xCB: "glo-action-request",
    0xCC: "glo-get-response",
    0xCD: "glo-set-response",
    0xCF: "glo-action-response",
    0xD0: "ded-get-request",
    0xD1: "ded-set-request",
    0xD3: "ded-action-request",
    0xD4: "ded-get-response",
    0xD5: "ded-set-response",
    0xD7: "ded-action-response",
    0xDB: "general-glo-ciphering",
    0xDC: "general-ded-ciphering",
}


@dataclass(frozen=True, slots=True)
class CipheredApdu:
    """A ciphered APDU, recognised only: ``content`` is security control, invocation counter,
    ciphertext and tag; general-glo/ded-ciphering also carries the sender's system title."""

    tag: int
    content: bytes
    system_title: bytes | None = None

    def __post_init__(self) -> None:
        if self.tag not in CIPHERED_TAGS:
            raise FrameError(f"{self.tag:02X} is not a ciphered APDU tag")
        if (self.system_title is not None) != (self.tag in (0xDB, 0xDC)):
            raise FrameError("only general ciphering carries a system title")

    @property
    def name(self) -> str:
        return CIPHERED_TAGS[self.tag]

    @property
    def security_control(self) -> int:
        if not self.content:
            raise TruncatedError("a ciphered APDU without its security header")
        return self.content[0]

    @property
    def invocation_counter(self) -> int:
        if len(self.content) < 5:
            raise TruncatedError("a ciphered APDU without its invocation counter")
        return int.from_bytes(self.content[1:5], "big")

    def to_bytes(self) -> bytes:
        head = bytes((self.tag,))
        if self.system_title is not None:
            head += encode_length(len(self.system_title)) + self.system_title
        return head + encode_length(len(self.content)) + self.content

    @classmethod
    def from_bytes(cls, data: bytes) -> CipheredApdu:
        tag = _take(data, 0, 1)[0]
        if tag not in CIPHERED_TAGS:
            raise FrameError(f"{tag:02X} is not a ciphered APDU tag")
        offset = 1
        title = None
        if tag in (0xDB, 0xDC):
            size, offset = decode_length(data, offset)
            title = _take(data, offset, size)
            offset += size
        size, offset = decode_length(data, offset)
        content = _take(data, offset, size)
        if offset + size != len(data):
            raise FrameError("bytes after a ciphered APDU")
        return cls(tag, content, title)
