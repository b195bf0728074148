"""Mercury 230 family request frames
(docs/reference/mercury-protocol.md §1.2, §1.4, §1.7, §1.8, §1.10, §1.11).

::

    00 test channel     ADDR 00                          CRC   (answer: status frame)
    01 open channel     ADDR 01 LEVEL PW0..PW5           CRC   (answer: status frame)
    02 close channel    ADDR 02                          CRC   (answer: status frame)
    04 time             ADDR 04 00                       CRC   (answer: 8 BCD bytes)
    04 journal          ADDR 04 JJ REC                   CRC
    05 energy array     ADDR 05 ARRAY<<4|MONTH TARIFF    CRC   (answer: 16 bytes, 12 for array 6)
    06 memory read      ADDR 06 A16<<7|EN<<4|MEM HI LO N CRC
    08 parameter        ADDR 08 PARAM [args]             CRC   (11/14/16 take a BWRI byte)
    18 archive          ADDR 18 ARR DD MM YY TARIFF      CRC   (DD MM YY in BCD)
    other codes         parsed as RawRequest (a server answers them with status 1)

Every request class is a frozen value with ``to_bytes()``/``from_bytes()``; ``parse_request``
picks the class from the code. A known code with a layout it cannot have raises FrameError,
a bad CRC ChecksumError: a meter stays silent on the latter and answers status 1 to the former.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, Self

from core.errors import ConfigError, FrameError, TruncatedError
from drivers.mercury.crc import append_crc, split_crc
from drivers.mercury.frame import AccessLevel, EnergyArray, Param, RequestCode, check_address
from drivers.mercury.instant import Bwri
from drivers.mercury.password import PasswordEncoding, encode_password
from drivers.mercury.values import decode_bcd, encode_bcd

__all__ = [
    "ChannelTestRequest",
    "CloseChannelRequest",
    "OpenChannelRequest",
    "RawRequest",
    "ReadArchiveRequest",
    "ReadEnergyRequest",
    "ReadJournalRequest",
    "ReadMemoryRequest",
    "ReadParamRequest",
    "ReadTimeRequest",
    "Request",
    "parse_request",
    "request_lengths",
]


def _frame(address: int, code: RequestCode, params: bytes) -> bytes:
    return append_crc(bytes((address, int(code))) + params)


def _params(frame: bytes, code: RequestCode, sizes: tuple[int, ...]) -> tuple[int, bytes]:
    body = split_crc(frame)
    if len(body) < 2:
        raise TruncatedError(f"a request needs address and code, got {len(body)} byte(s)")
    if body[1] != code:
        raise FrameError(f"request code {body[1]:02X} where {int(code):02X} was expected")
    params = body[2:]
    if len(params) not in sizes:
        raise FrameError(f"request {int(code):02X} with {len(params)} parameter byte(s)")
    return body[0], params


@dataclass(frozen=True, slots=True)
class _FixedRequest:
    """A request whose only variable is the address (its parameters are constant)."""

    address: int
    code: ClassVar[RequestCode]
    fixed_params: ClassVar[bytes] = b""

    def __post_init__(self) -> None:
        check_address(self.address)

    def to_bytes(self) -> bytes:
        return _frame(self.address, self.code, self.fixed_params)

    @classmethod
    def from_bytes(cls, frame: bytes) -> Self:
        address, params = _params(frame, cls.code, (len(cls.fixed_params),))
        if params != cls.fixed_params:
            raise FrameError(f"request {int(cls.code):02X} with parameters {params.hex(' ')}")
        return cls(address)


@dataclass(frozen=True, slots=True)
class ChannelTestRequest(_FixedRequest):
    code: ClassVar[RequestCode] = RequestCode.TEST_CHANNEL


@dataclass(frozen=True, slots=True)
class OpenChannelRequest:
    """``password`` holds the six wire bytes (``encode_password``); it is left out of repr."""

    address: int
    level: AccessLevel
    password: bytes = field(repr=False)
    code: ClassVar[RequestCode] = RequestCode.OPEN_CHANNEL

    def __post_init__(self) -> None:
        check_address(self.address)
        if len(self.password) != 6:
            raise FrameError(f"an open request carries 6 password bytes, not {len(self.password)}")

    @classmethod
    def create(
        cls,
        address: int,
        level: AccessLevel | int,
        password: str,
        encoding: PasswordEncoding | str = PasswordEncoding.BINARY,
    ) -> OpenChannelRequest:
        """The request for a password given as text, encoded per ``encoding``."""
        try:
            access = AccessLevel(level)
        except ValueError as exc:
            raise ConfigError(f"access level {level} is not 1 or 2") from exc
        return cls(address, access, encode_password(password, encoding))

    def to_bytes(self) -> bytes:
        return _frame(self.address, self.code, bytes((int(self.level),)) + self.password)

    @classmethod
    def from_bytes(cls, frame: bytes) -> OpenChannelRequest:
        address, params = _params(frame, cls.code, (7,))
        try:
            level = AccessLevel(params[0])
        except ValueError as exc:
            raise FrameError(f"access level {params[0]} is not 1 or 2") from exc
        return cls(address, level, params[1:])


@dataclass(frozen=True, slots=True)
class CloseChannelRequest(_FixedRequest):
    code: ClassVar[RequestCode] = RequestCode.CLOSE_CHANNEL


@dataclass(frozen=True, slots=True)
class ReadTimeRequest(_FixedRequest):
    """04 00: the current time (04 with a journal number reads a journal record)."""

    code: ClassVar[RequestCode] = RequestCode.READ_JOURNAL
    fixed_params: ClassVar[bytes] = b"\x00"


@dataclass(frozen=True, slots=True)
class ReadJournalRequest:
    """Record 0..9 of journal ``journal``; FF is the last record, FE all ten (§1.11)."""

    address: int
    journal: int
    record: int
    code: ClassVar[RequestCode] = RequestCode.READ_JOURNAL

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 1 <= self.journal <= 0xFF or not 0 <= self.record <= 0xFF:
            raise FrameError(f"journal {self.journal} record {self.record} out of range")

    def to_bytes(self) -> bytes:
        return _frame(self.address, self.code, bytes((self.journal, self.record)))

    @classmethod
    def from_bytes(cls, frame: bytes) -> ReadJournalRequest:
        address, params = _params(frame, cls.code, (2,))
        return cls(address, params[0], params[1])


@dataclass(frozen=True, slots=True)
class ReadEnergyRequest:
    """Tariff 0 = sum, 1..4 = zone, 5 = technical losses, 6 = fast read of all (§1.7)."""

    address: int
    array: EnergyArray
    tariff: int = 0
    month: int = 0
    code: ClassVar[RequestCode] = RequestCode.READ_ENERGY

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 0 <= self.tariff <= 6:
            raise FrameError(f"tariff {self.tariff} is outside 0..6")
        if self.array.takes_month and not 1 <= self.month <= 12:
            raise FrameError(f"array {self.array.name} needs a month 1..12, not {self.month}")
        if not self.array.takes_month and self.month != 0:
            raise FrameError(f"array {self.array.name} takes no month")

    def to_bytes(self) -> bytes:
        return _frame(self.address, self.code, bytes((self.array << 4 | self.month, self.tariff)))

    @classmethod
    def from_bytes(cls, frame: bytes) -> ReadEnergyRequest:
        address, params = _params(frame, cls.code, (2,))
        try:
            array = EnergyArray(params[0] >> 4)
        except ValueError as exc:
            raise FrameError(f"unknown energy array {params[0] >> 4:X}") from exc
        return cls(address, array, params[1], params[0] & 0x0F)


@dataclass(frozen=True, slots=True)
class ReadMemoryRequest:
    """Read ``length`` bytes of memory ``memory`` at ``offset`` (17 bits; §1.10)."""

    address: int
    memory: int
    offset: int
    length: int
    energy: int = 0
    code: ClassVar[RequestCode] = RequestCode.READ_MEMORY

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 0 <= self.memory <= 0x0F or not 0 <= self.energy <= 0x07:
            raise FrameError(f"memory {self.memory} / energy {self.energy} out of range")
        if not 0 <= self.offset <= 0x1FFFF or not 1 <= self.length <= 0xFF:
            raise FrameError(f"memory offset {self.offset:X} / length {self.length} out of range")

    def to_bytes(self) -> bytes:
        selector = (self.offset >> 16) << 7 | self.energy << 4 | self.memory
        return _frame(
            self.address, self.code, bytes((selector,)) + (self.offset & 0xFFFF).to_bytes(2, "big")
            + bytes((self.length,))
        )

    @classmethod
    def from_bytes(cls, frame: bytes) -> ReadMemoryRequest:
        address, params = _params(frame, cls.code, (4,))
        selector = params[0]
        offset = (selector >> 7) << 16 | int.from_bytes(params[1:3], "big")
        return cls(address, selector & 0x0F, offset, params[3], (selector >> 4) & 0x07)


@dataclass(frozen=True, slots=True)
class ReadParamRequest:
    """``08 PARAM [args]``: a BWRI byte for 11/14/16, an optional ``00`` for 01/12."""

    address: int
    param: Param
    args: bytes = b""
    code: ClassVar[RequestCode] = RequestCode.READ_PARAM

    def __post_init__(self) -> None:
        check_address(self.address)
        if self.param.takes_bwri:
            if len(self.args) != 1:
                raise FrameError(f"parameter {int(self.param):02X} takes one BWRI byte")
        elif self.param.takes_extension:
            if self.args not in (b"", b"\x00"):
                raise FrameError(f"parameter {int(self.param):02X} takes only an optional 00")
        elif self.args:
            raise FrameError(f"parameter {int(self.param):02X} takes no arguments")

    @classmethod
    def aux_value(cls, address: int, selector: Bwri) -> ReadParamRequest:
        """08 11: one value."""
        return cls(address, Param.AUX_VALUE, bytes((selector.to_byte(),)))

    @classmethod
    def phase_values(cls, address: int, selector: Bwri) -> ReadParamRequest:
        """08 16: sum and phases (or phases 1..3) at once, 3 bytes each."""
        return cls(address, Param.PHASE_VALUES, bytes((selector.to_byte(),)))

    @classmethod
    def fixed_values(cls, address: int, selector: Bwri) -> ReadParamRequest:
        """08 14: like 08 16, powers in 4 bytes; also the frozen (03 08) values."""
        return cls(address, Param.FIXED_VALUES, bytes((selector.to_byte(),)))

    @property
    def bwri(self) -> int | None:
        return self.args[0] if self.param.takes_bwri else None

    @property
    def selector(self) -> Bwri | None:
        """The BWRI byte decoded (FrameError for an unknown quantity)."""
        return None if self.bwri is None else Bwri.from_byte(self.bwri)

    def to_bytes(self) -> bytes:
        return _frame(self.address, self.code, bytes((int(self.param),)) + self.args)

    @classmethod
    def from_bytes(cls, frame: bytes) -> ReadParamRequest:
        address, params = _params(frame, cls.code, (1, 2))
        try:
            param = Param(params[0])
        except ValueError as exc:
            raise FrameError(f"parameter {params[0]:02X} has no known layout") from exc
        return cls(address, param, params[1:])


@dataclass(frozen=True, slots=True)
class ReadArchiveRequest:
    """18h extended archive: ARR 0/2 at 00:00 of ``day``, 1/3 at the start of its month."""

    address: int
    array: int
    day: date
    tariff: int = 0
    code: ClassVar[RequestCode] = RequestCode.READ_ARCHIVE

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 0 <= self.array <= 3 or not 0 <= self.tariff <= 5:
            raise FrameError(f"archive {self.array} tariff {self.tariff} out of range")
        if not 2000 <= self.day.year <= 2099:
            raise FrameError(f"archive day {self.day} outside the two-digit years")

    def to_bytes(self) -> bytes:
        stamp = encode_bcd((self.day.day, self.day.month, self.day.year - 2000))
        return _frame(self.address, self.code, bytes((self.array,)) + stamp + bytes((self.tariff,)))

    @classmethod
    def from_bytes(cls, frame: bytes) -> ReadArchiveRequest:
        address, params = _params(frame, cls.code, (5,))
        day, month, year = decode_bcd(params[1:4])
        try:
            moment = date(2000 + year, month, day)
        except ValueError as exc:
            raise FrameError(f"archive date {params[1:4].hex(' ')} is not a date") from exc
        return cls(address, params[0], moment, params[4])


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A CRC-valid request this codec does not model (a write, an unknown parameter…)."""

    address: int
    code_byte: int
    params: bytes = b""

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 0 <= self.code_byte <= 0xFF:
            raise FrameError(f"request code {self.code_byte} does not fit one byte")

    @property
    def code(self) -> int:
        return self.code_byte

    def to_bytes(self) -> bytes:
        return append_crc(bytes((self.address, self.code_byte)) + self.params)

    @classmethod
    def from_bytes(cls, frame: bytes) -> RawRequest:
        body = split_crc(frame)
        if len(body) < 2:
            raise TruncatedError(f"a request needs address and code, got {len(body)} byte(s)")
        return cls(body[0], body[1], body[2:])


Request = (
    ChannelTestRequest
    | OpenChannelRequest
    | CloseChannelRequest
    | ReadTimeRequest
    | ReadJournalRequest
    | ReadEnergyRequest
    | ReadMemoryRequest
    | ReadParamRequest
    | ReadArchiveRequest
    | RawRequest
)

_FIXED: dict[int, type[Request]] = {
    RequestCode.TEST_CHANNEL: ChannelTestRequest,
    RequestCode.OPEN_CHANNEL: OpenChannelRequest,
    RequestCode.CLOSE_CHANNEL: CloseChannelRequest,
    RequestCode.READ_ENERGY: ReadEnergyRequest,
    RequestCode.READ_MEMORY: ReadMemoryRequest,
    RequestCode.READ_PARAM: ReadParamRequest,
    RequestCode.READ_ARCHIVE: ReadArchiveRequest,
}
_PARAM_VALUES = frozenset(int(param) for param in Param)

# Whole frame lengths per code, shortest first; a server tries each until one checks out.
_LENGTHS: dict[int, tuple[int, ...]] = {
    RequestCode.TEST_CHANNEL: (4,),
    RequestCode.OPEN_CHANNEL: (11,),
    RequestCode.CLOSE_CHANNEL: (4,),
    RequestCode.READ_JOURNAL: (5, 6),
    RequestCode.READ_ENERGY: (6,),
    RequestCode.READ_MEMORY: (8,),
    RequestCode.READ_PARAM: (5, 6),
    RequestCode.READ_ARCHIVE: (9,),
}


def request_lengths(code: int) -> tuple[int, ...] | None:
    """Possible frame lengths of a request with ``code``; ``None`` when the code is not modelled."""
    return _LENGTHS.get(code)


def parse_request(frame: bytes) -> Request:
    """The typed request in one complete ``frame`` (CRC checked)."""
    body = split_crc(frame)
    if len(body) < 2:
        raise TruncatedError(f"a request needs address and code, got {len(body)} byte(s)")
    code = body[1]
    if code == RequestCode.READ_JOURNAL:
        if len(body) == 3:
            return ReadTimeRequest.from_bytes(frame)
        return ReadJournalRequest.from_bytes(frame)
    if code == RequestCode.READ_PARAM and len(body) >= 3 and body[2] not in _PARAM_VALUES:
        return RawRequest(body[0], code, body[2:])
    request_class = _FIXED.get(code)
    if request_class is None:
        return RawRequest(body[0], code, body[2:])
    return request_class.from_bytes(frame)
