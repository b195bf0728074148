"""Mercury 230 family response frames and wire codes
(docs/reference/mercury-protocol.md §1.2–§1.4, §1.7, §1.8).

::

    request   ADDR(1) | CODE(1) | [PARAM(1)] | [args…] | CRC_LO CRC_HI      (request.py)
    response  ADDR(1) | DATA(1..255)                    | CRC_LO CRC_HI      Response
    status    ADDR(1) | 0000 SSSS                       | CRC_LO CRC_HI      StatusResponse

A normal response does not echo the request code (DOC3 fig. 1.2), so only the request tells
how long its answer is (answer.py). A 4-byte frame is always a status answer: no data answer is
one byte long (DOC3 table 1.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from core.errors import (
    AccessError,
    AuthenticationError,
    FrameError,
    IsuError,
    MeterInternalError,
    RemoteProtocolError,
    SessionExpiredError,
    TruncatedError,
)
from drivers.mercury.crc import append_crc, split_crc
from drivers.mercury.errors import ClockCorrectedTodayError

__all__ = [
    "MAX_DATA_LENGTH",
    "STATUS_FRAME_LENGTH",
    "AccessLevel",
    "EnergyArray",
    "Param",
    "RequestCode",
    "Response",
    "Status",
    "StatusResponse",
    "check_address",
    "status_error",
]

STATUS_FRAME_LENGTH = 4
#: "Long answer" mode lets profiles and journals carry up to 255 data bytes (DOC3 p.7).
MAX_DATA_LENGTH = 255


class RequestCode(IntEnum):
    """Request codes (DOC3 table 1.4); 03 writes are parsed only as raw requests."""

    TEST_CHANNEL = 0x00
    OPEN_CHANNEL = 0x01
    CLOSE_CHANNEL = 0x02
    WRITE_PARAM = 0x03
    READ_JOURNAL = 0x04  # 04 00 is the current time, 04 JJ REC a journal record
    READ_ENERGY = 0x05
    READ_MEMORY = 0x06
    READ_PARAM = 0x08
    READ_ARCHIVE = 0x18


class Status(IntEnum):
    """Low nibble of a status answer (DOC3 table 1.3)."""

    OK = 0
    INVALID_REQUEST = 1
    INTERNAL_ERROR = 2
    ACCESS_DENIED = 3
    CLOCK_ALREADY_CORRECTED = 4
    CHANNEL_NOT_OPEN = 5

    @property
    def text(self) -> str:
        return _STATUS_TEXT[self]


_STATUS_TEXT = {
    Status.OK: "OK",
    Status.INVALID_REQUEST: "invalid command or parameter",
    Status.INTERNAL_ERROR: "internal meter error",
    Status.ACCESS_DENIED: "insufficient access level",
    Status.CLOCK_ALREADY_CORRECTED: "clock already corrected today",
    Status.CHANNEL_NOT_OPEN: "channel not open",
}


class AccessLevel(IntEnum):
    """1 reads (consumer), 2 configures (owner); level 3 of old firmware is not supported."""

    USER = 1
    ADMIN = 2


class EnergyArray(IntEnum):
    """High nibble of the 05 request (DOC3 §4.3); MONTH and AT_MONTH_START take a month nibble."""

    FROM_RESET = 0x0
    CURRENT_YEAR = 0x1
    PREVIOUS_YEAR = 0x2
    MONTH = 0x3
    CURRENT_DAY = 0x4
    PREVIOUS_DAY = 0x5
    PHASES_FROM_RESET = 0x6  # A+ per phase, 12 bytes
    AT_CURRENT_YEAR_START = 0x9
    AT_PREVIOUS_YEAR_START = 0xA
    AT_MONTH_START = 0xB
    AT_CURRENT_DAY_START = 0xC
    AT_PREVIOUS_DAY_START = 0xD

    @property
    def takes_month(self) -> bool:
        return self in (EnergyArray.MONTH, EnergyArray.AT_MONTH_START)


class Param(IntEnum):
    """08 parameters with a known answer layout (DOC3 table 4.8)."""

    SERIAL_NUMBER = 0x00
    PASSPORT = 0x01
    RATIOS = 0x02
    FIRMWARE = 0x03
    TIMEOUT_EXTRA = 0x04
    NETWORK_ADDRESS = 0x05
    DST_RULES = 0x07
    FLAGS = 0x09
    STATUS_WORD = 0x0A
    LOCATION = 0x0B
    AUX_VALUE = 0x11
    VARIANT = 0x12
    PROFILE_LAST = 0x13
    FIXED_VALUES = 0x14
    PROFILE2_LAST = 0x15
    PHASE_VALUES = 0x16
    TARIFF_STATE = 0x17
    TIMEOUT_MAIN = 0x1D
    FIRMWARE_CRC = 0x26

    @property
    def takes_bwri(self) -> bool:
        return self in (Param.AUX_VALUE, Param.FIXED_VALUES, Param.PHASE_VALUES)

    @property
    def takes_extension(self) -> bool:
        """An optional ``00`` byte asks for the long form (24-byte passport, 12-byte variant)."""
        return self in (Param.PASSPORT, Param.VARIANT)


def check_address(address: int) -> int:
    """``address`` if it fits the one address byte; the meaning of 00/FE is the driver's call."""
    if not 0 <= address <= 0xFF:
        raise FrameError(f"address {address} does not fit one byte")
    return address


@dataclass(frozen=True, slots=True)
class Response:
    """A data answer: ``ADDR DATA CRC``."""

    address: int
    data: bytes

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 2 <= len(self.data) <= MAX_DATA_LENGTH:
            # One data byte is a status answer, never a data answer.
            raise FrameError(f"a data answer carries 2..255 bytes, not {len(self.data)}")

    def to_bytes(self) -> bytes:
        return append_crc(bytes((self.address,)) + self.data)

    @classmethod
    def from_bytes(cls, frame: bytes) -> Response:
        if len(frame) < STATUS_FRAME_LENGTH + 1:
            raise TruncatedError(f"a data answer needs at least 5 bytes, got {len(frame)}")
        body = split_crc(frame)
        return cls(body[0], body[1:])


@dataclass(frozen=True, slots=True)
class StatusResponse:
    """A status answer: ``ADDR ST CRC``; it answers test, open and close, and refuses the rest."""

    address: int
    status: Status

    def __post_init__(self) -> None:
        check_address(self.address)

    def to_bytes(self) -> bytes:
        return append_crc(bytes((self.address, int(self.status))))

    @classmethod
    def from_bytes(cls, frame: bytes) -> StatusResponse:
        if len(frame) < STATUS_FRAME_LENGTH:
            raise TruncatedError(f"a status answer is 4 bytes, got {len(frame)}")
        if len(frame) > STATUS_FRAME_LENGTH:
            raise FrameError(f"a status answer is 4 bytes, got {len(frame)}")
        body = split_crc(frame)
        try:
            status = Status(body[1])
        except ValueError as exc:
            raise FrameError(f"unknown status byte {body[1]:02X}") from exc
        return cls(body[0], status)

    def error(self, code: RequestCode | int) -> IsuError | None:
        """The error this status means in answer to a request with ``code``; ``None`` if OK."""
        return status_error(self.status, code)


def status_error(status: Status, code: RequestCode | int) -> IsuError | None:
    """Map a status to the ``core.errors`` tree; status 3 to an open request is a bad password."""
    if status is Status.OK:
        return None
    try:
        what = RequestCode(code).name.lower().replace("_", " ")
    except ValueError:
        what = f"request code {code:02X}"
    message = f"status {int(status)} ({status.text}) in answer to {what}"
    if status is Status.INVALID_REQUEST:
        return RemoteProtocolError(message)
    if status is Status.INTERNAL_ERROR:
        return MeterInternalError(message)
    if status is Status.ACCESS_DENIED:
        if code == RequestCode.OPEN_CHANNEL:
            return AuthenticationError(f"{message}: wrong password or level")
        return AccessError(message)
    if status is Status.CLOCK_ALREADY_CORRECTED:
        return ClockCorrectedTodayError(message)
    return SessionExpiredError(message)
