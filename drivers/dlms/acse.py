"""ACSE association and release APDUs (IEC 62056-5-3 §8; GOST R 58940-2020 §6.4, tables
12.1–12.2); the initiate exchange they carry is in ``initiate.py``.

::

    AARQ  60 L  A1 09 06 07 60 85 74 05 08 01 cc     application context (1 LN, 3 LN ciphered)
                [A6 L 04 L <calling AP title>]                       (system title, HLS)
                [8A 02 07 80  8B 07 60 85 74 05 08 02 mm]            authentication, mechanism
                [AC L 80 L <calling authentication value>]           password or CtoS
                BE L 04 L <InitiateRequest | glo-initiate-request>
    AARE  61 L  A1 … | A2 03 02 01 <result> | A3 05 A1|A2 03 02 01 <diagnostic>
                [A4 L 04 L <responding AP title>] [88 02 07 80  89 07 … mm]
                [AA L 80 L <StoC>] BE L 04 L <InitiateResponse | ConfirmedServiceError>
    RLRQ  62 L  [80 01 <reason>] [BE L 04 L <user information>]      RLRE 63, the same

BER lengths may come in the long form (81 nn), which some meters use (notes §3); fields this
codec does not model (called AP title, AE qualifiers…) are skipped when parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from core.errors import (
    AuthenticationError,
    FrameError,
    IsuError,
    RemoteProtocolError,
    TruncatedError,
)
from drivers.dlms.axdr import decode_length, encode_length
from drivers.dlms.ciphered import CipheredApdu
from drivers.dlms.initiate import ConfirmedServiceError, InitiateRequest, InitiateResponse

__all__ = [
    "AareApdu",
    "AarqApdu",
    "ApplicationContext",
    "AssociationResult",
    "DiagnosticSource",
    "Mechanism",
    "RlreApdu",
    "RlrqApdu",
    "UserDiagnostic",
    "UserInformation",
]

_CONTEXT_OID: Final = bytes.fromhex("608574050801")
_MECHANISM_OID: Final = bytes.fromhex("608574050802")
_AUTHENTICATION_FU: Final = bytes.fromhex("0780")  # BIT STRING, 7 unused bits, bit 0 set


class ApplicationContext(IntEnum):
    LN = 1
    SN = 2
    LN_CIPHERED = 3
    SN_CIPHERED = 4


class Mechanism(IntEnum):
    LOWEST = 0
    LLS = 1
    HLS = 2
    HLS_MD5 = 3
    HLS_SHA1 = 4
    HLS_GMAC = 5
    HLS_SHA256 = 6
    HLS_ECDSA = 7
    HLS_GOST = 8  # SPODES configurator (GOST table 6.2), not implemented


class AssociationResult(IntEnum):
    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class DiagnosticSource(IntEnum):
    USER = 1
    PROVIDER = 2


class UserDiagnostic(IntEnum):
    NULL = 0
    NO_REASON = 1
    CONTEXT_NOT_SUPPORTED = 2
    MECHANISM_NOT_RECOGNISED = 11
    MECHANISM_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


def _take(data: bytes, offset: int, size: int) -> bytes:
    if offset + size > len(data):
        raise TruncatedError(f"{size} byte(s) needed at {offset}, {len(data) - offset} left")
    return bytes(data[offset : offset + size])


# --- BER helpers for the ACSE envelope ---


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(content)) + content


def _fields(data: bytes) -> list[tuple[int, bytes]]:
    fields = []
    offset = 0
    while offset < len(data):
        tag = data[offset]
        size, offset = decode_length(data, offset + 1)
        fields.append((tag, _take(data, offset, size)))
        offset += size
    return fields


def _envelope(data: bytes, tag: int, name: str) -> list[tuple[int, bytes]]:
    first = _take(data, 0, 1)[0]
    if first != tag:
        raise FrameError(f"{name} tag {first:02X}, not {tag:02X}")
    size, offset = decode_length(data, 1)
    if offset + size > len(data):
        raise TruncatedError(f"an {name} of {size} bytes, {len(data) - offset} sent")
    if offset + size < len(data):
        raise FrameError(f"bytes after an {name}")
    return _fields(data[offset:])


def _context(content: bytes) -> ApplicationContext:
    if len(content) != 9 or content[:2] != b"\x06\x07" or content[2:8] != _CONTEXT_OID:
        raise FrameError(f"application context name {content.hex(' ').upper()}")
    try:
        return ApplicationContext(content[8])
    except ValueError:
        raise FrameError(f"application context {content[8]}") from None


def _context_field(context: ApplicationContext) -> bytes:
    return _tlv(0xA1, b"\x06\x07" + _CONTEXT_OID + bytes((int(context),)))


def _mechanism(content: bytes) -> Mechanism:
    if len(content) != 7 or content[:6] != _MECHANISM_OID:
        raise FrameError(f"mechanism name {content.hex(' ').upper()}")
    try:
        return Mechanism(content[6])
    except ValueError:
        raise FrameError(f"authentication mechanism {content[6]}") from None


def _wrapped(content: bytes, inner_tag: int, name: str) -> bytes:
    """The value inside ``<inner_tag> L value`` (an AP title's 04, an auth value's 80)."""
    fields = _fields(content)
    if len(fields) != 1 or fields[0][0] != inner_tag:
        raise FrameError(f"{name} {content.hex(' ').upper()}")
    return fields[0][1]


def _small_integer(content: bytes, name: str) -> int:
    if len(content) != 3 or content[:2] != b"\x02\x01":
        raise FrameError(f"{name} {content.hex(' ').upper()}")
    return content[2]


UserInformation = InitiateRequest | InitiateResponse | ConfirmedServiceError | CipheredApdu


def _user_information(content: bytes) -> UserInformation:
    inner = _wrapped(content, 0x04, "user information")
    tag = _take(inner, 0, 1)[0]
    if tag == InitiateRequest.TAG:
        return InitiateRequest.from_bytes(inner)
    if tag == InitiateResponse.TAG:
        return InitiateResponse.from_bytes(inner)
    if tag == ConfirmedServiceError.TAG:
        return ConfirmedServiceError.from_bytes(inner)
    return CipheredApdu.from_bytes(inner)


def _user_field(info: UserInformation | None) -> bytes:
    return b"" if info is None else _tlv(0xBE, _tlv(0x04, info.to_bytes()))


@dataclass(frozen=True, slots=True)
class AarqApdu:
    user_information: InitiateRequest | CipheredApdu | None
    application_context: ApplicationContext = ApplicationContext.LN
    mechanism: Mechanism | None = None
    calling_authentication_value: bytes | None = None
    calling_ap_title: bytes | None = None

    TAG = 0x60

    def to_bytes(self) -> bytes:
        body = _context_field(self.application_context)
        if self.calling_ap_title is not None:
            body += _tlv(0xA6, _tlv(0x04, self.calling_ap_title))
        if self.mechanism is not None:
            body += _tlv(0x8A, _AUTHENTICATION_FU)
            body += _tlv(0x8B, _MECHANISM_OID + bytes((int(self.mechanism),)))
        if self.calling_authentication_value is not None:
            body += _tlv(0xAC, _tlv(0x80, self.calling_authentication_value))
        return _tlv(self.TAG, body + _user_field(self.user_information))

    @classmethod
    def from_bytes(cls, data: bytes) -> AarqApdu:
        context = None
        mechanism = None
        value = title = None
        info: UserInformation | None = None
        for tag, content in _envelope(data, cls.TAG, "AARQ"):
            if tag == 0xA1:
                context = _context(content)
            elif tag == 0xA6:
                title = _wrapped(content, 0x04, "calling AP title")
            elif tag == 0x8B:
                mechanism = _mechanism(content)
            elif tag == 0xAC:
                value = _wrapped(content, 0x80, "calling authentication value")
            elif tag == 0xBE:
                info = _user_information(content)
        if context is None:
            raise FrameError("an AARQ without an application context name")
        if isinstance(info, InitiateResponse | ConfirmedServiceError):
            raise FrameError("an AARQ carrying a response")
        return cls(info, context, mechanism, value, title)


@dataclass(frozen=True, slots=True)
class AareApdu:
    user_information: InitiateResponse | ConfirmedServiceError | CipheredApdu | None
    result: AssociationResult = AssociationResult.ACCEPTED
    diagnostic: int = 0
    diagnostic_source: DiagnosticSource = DiagnosticSource.USER
    application_context: ApplicationContext = ApplicationContext.LN
    mechanism: Mechanism | None = None
    responding_authentication_value: bytes | None = None
    responding_ap_title: bytes | None = None

    TAG = 0x61

    def to_bytes(self) -> bytes:
        body = _context_field(self.application_context)
        body += _tlv(0xA2, bytes((0x02, 0x01, int(self.result))))
        source = 0xA1 if self.diagnostic_source is DiagnosticSource.USER else 0xA2
        body += _tlv(0xA3, _tlv(source, bytes((0x02, 0x01, self.diagnostic))))
        if self.responding_ap_title is not None:
            body += _tlv(0xA4, _tlv(0x04, self.responding_ap_title))
        if self.mechanism is not None:
            body += _tlv(0x88, _AUTHENTICATION_FU)
            body += _tlv(0x89, _MECHANISM_OID + bytes((int(self.mechanism),)))
        if self.responding_authentication_value is not None:
            body += _tlv(0xAA, _tlv(0x80, self.responding_authentication_value))
        return _tlv(self.TAG, body + _user_field(self.user_information))

    @classmethod
    def from_bytes(cls, data: bytes) -> AareApdu:
        context = result = None
        diagnostic, source = 0, DiagnosticSource.USER
        mechanism = None
        value = title = None
        info: UserInformation | None = None
        for tag, content in _envelope(data, cls.TAG, "AARE"):
            if tag == 0xA1:
                context = _context(content)
            elif tag == 0xA2:
                try:
                    result = AssociationResult(_small_integer(content, "association result"))
                except ValueError:
                    raise FrameError(f"association result {content[-1]}") from None
            elif tag == 0xA3:
                fields = _fields(content)
                if len(fields) != 1 or fields[0][0] not in (0xA1, 0xA2):
                    raise FrameError(f"result source diagnostic {content.hex(' ').upper()}")
                source = DiagnosticSource(fields[0][0] & 0x0F)
                diagnostic = _small_integer(fields[0][1], "diagnostic")
            elif tag == 0xA4:
                title = _wrapped(content, 0x04, "responding AP title")
            elif tag == 0x89:
                mechanism = _mechanism(content)
            elif tag == 0xAA:
                value = _wrapped(content, 0x80, "responding authentication value")
            elif tag == 0xBE:
                info = _user_information(content)
        if context is None or result is None:
            raise FrameError("an AARE without application context or result")
        if isinstance(info, InitiateRequest):
            raise FrameError("an AARE carrying an InitiateRequest")
        return cls(info, result, diagnostic, source, context, mechanism, value, title)

    def error(self) -> IsuError | None:
        """``None`` when the association is accepted, else the error it means."""
        if self.result is AssociationResult.ACCEPTED:
            if isinstance(self.user_information, ConfirmedServiceError):
                return self.user_information.error()
            return None
        text = f"association {self.result.name.lower()}, diagnostic {self.diagnostic}"
        if self.diagnostic_source is DiagnosticSource.USER and self.diagnostic in (
            UserDiagnostic.MECHANISM_NOT_RECOGNISED,
            UserDiagnostic.MECHANISM_REQUIRED,
            UserDiagnostic.AUTHENTICATION_FAILURE,
            UserDiagnostic.AUTHENTICATION_REQUIRED,
        ):
            return AuthenticationError(f"{text}: authentication refused")
        if isinstance(self.user_information, ConfirmedServiceError):
            return self.user_information.error()
        return RemoteProtocolError(text)


@dataclass(frozen=True, slots=True)
class _Release:
    reason: int | None = None
    user_information: InitiateRequest | InitiateResponse | CipheredApdu | None = None

    TAG = 0x00

    def to_bytes(self) -> bytes:
        body = b"" if self.reason is None else _tlv(0x80, bytes((self.reason,)))
        return _tlv(self.TAG, body + _user_field(self.user_information))

    @classmethod
    def _parse(cls, data: bytes) -> tuple[int | None, UserInformation | None]:
        reason = None
        info: UserInformation | None = None
        for tag, content in _envelope(data, cls.TAG, cls.__name__[:4].upper()):
            if tag == 0x80:
                if len(content) != 1:
                    raise FrameError(f"release reason {content.hex(' ').upper()}")
                reason = content[0]
            elif tag == 0xBE:
                info = _user_information(content)
        if isinstance(info, ConfirmedServiceError):
            raise FrameError("a release carrying a ConfirmedServiceError")
        return reason, info


@dataclass(frozen=True, slots=True)
class RlrqApdu(_Release):
    """Release request; reason 0 = normal."""

    TAG = 0x62

    @classmethod
    def from_bytes(cls, data: bytes) -> RlrqApdu:
        reason, info = cls._parse(data)
        assert not isinstance(info, ConfirmedServiceError)
        return cls(reason, info)


@dataclass(frozen=True, slots=True)
class RlreApdu(_Release):
    """Release response; reason 0 = normal."""

    TAG = 0x63

    @classmethod
    def from_bytes(cls, data: bytes) -> RlreApdu:
        reason, info = cls._parse(data)
        assert not isinstance(info, ConfirmedServiceError)
        return cls(reason, info)
