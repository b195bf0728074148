"""Mercury 200/201/203/206 frames, commands and addressing
(docs/reference/mercury-protocol.md §2; DOC1 «Система команд счетчика Меркурий-200 / М206»).

::

    request   ADDR(4, big-endian) | CMD(1) | [ARG(1)] | CRC_LO CRC_HI        Request
    response  ADDR(4, big-endian) | CMD(1) | DATA(2..17) | CRC_LO CRC_HI     Response

Unlike the 230 family the answer echoes the command (§2, pitfall §6.14), and there is no status
answer: a meter drops a bad frame silently. The CRC is the same CRC-16/MODBUS, low byte first.
The factory address is the serial number: its last 6 digits on 200.02 (top byte 00), all 8
digits on the other models (§2, pitfall §6.14).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from core.errors import ConfigError, FrameError, TruncatedError
from drivers.mercury.crc import append_crc, split_crc

__all__ = [
    "ADDRESS_LENGTH",
    "MAX_ADDRESS",
    "MIN_FRAME_LENGTH",
    "Command",
    "MeterModel",
    "Request",
    "Response",
    "address_for_serial",
    "check_address",
]

ADDRESS_LENGTH = 4
MAX_ADDRESS = 0xFFFFFFFF
#: ADDR(4) CMD(1) CRC(2): a request without argument, the shortest frame.
MIN_FRAME_LENGTH = ADDRESS_LENGTH + 3
_MAX_DATA = 17


class Command(IntEnum):
    """Read commands this codec models (DOC1; §2 table)."""

    CLOCK = 0x21
    ENERGY = 0x27
    FIRMWARE = 0x28
    BATTERY = 0x29
    LAST_POWER_OFF = 0x2B
    LAST_POWER_ON = 0x2C
    SERIAL_NUMBER = 0x2F
    MONTHLY_ENERGY = 0x32
    LAST_COVER_OPEN = 0x61
    LAST_COVER_CLOSE = 0x62
    INSTANT = 0x63
    MANUFACTURED = 0x66
    FREQUENCY = 0x81
    REACTIVE_ENERGY = 0x85
    PARAMETER = 0x86

    @property
    def takes_argument(self) -> bool:
        """32 takes the month (0..B, 0F current), 86 the parameter number."""
        return self in (Command.MONTHLY_ENERGY, Command.PARAMETER)


class MeterModel(StrEnum):
    """Models of the family; 203.2TD is left out: it speaks the 230 protocol (DOC3)."""

    M200_02 = "200.02"
    M201 = "201"
    M203 = "203"
    M206 = "206"

    @property
    def serial_digits(self) -> int:
        return 6 if self is MeterModel.M200_02 else 8


def check_address(address: int) -> int:
    if not 0 <= address <= MAX_ADDRESS:
        raise FrameError(f"address {address} does not fit four bytes")
    return address


def address_for_serial(serial: int | str, model: MeterModel | str) -> int:
    """The factory address of a meter: its serial's last 6 (200.02) or 8 digits (§2)."""
    try:
        meter_model = MeterModel(model)
    except ValueError:
        raise ConfigError(
            f"unknown Mercury 200 model {model!r}; known: {', '.join(MeterModel)}"
        ) from None
    text = str(serial).strip()
    if not text.isdigit():
        raise ConfigError(f"serial number {serial!r} is not a decimal number")
    return int(text[-meter_model.serial_digits :])


@dataclass(frozen=True, slots=True)
class Request:
    """``ADDR CMD [ARG] CRC``; ``argument`` is empty except for 32 and 86."""

    address: int
    command: int
    argument: bytes = b""

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 0 <= self.command <= 0xFF:
            raise FrameError(f"command {self.command} does not fit one byte")
        if len(self.argument) > _MAX_DATA:
            raise FrameError(f"a request carries at most {_MAX_DATA} argument bytes")

    @classmethod
    def monthly(cls, address: int, month: int | None) -> Request:
        """32 for billing month ``month`` (1..12), or the current month when ``None``."""
        if month is None:
            return cls(address, Command.MONTHLY_ENERGY, b"\x0f")
        if not 1 <= month <= 12:
            raise FrameError(f"month {month} is outside 1..12")
        return cls(address, Command.MONTHLY_ENERGY, bytes((month - 1,)))

    def to_bytes(self) -> bytes:
        head = self.address.to_bytes(ADDRESS_LENGTH, "big") + bytes((self.command,))
        return append_crc(head + self.argument)

    @classmethod
    def from_bytes(cls, frame: bytes) -> Request:
        if len(frame) < MIN_FRAME_LENGTH:
            raise TruncatedError(f"a request needs at least 7 bytes, got {len(frame)}")
        body = split_crc(frame)
        return cls(int.from_bytes(body[:4], "big"), body[4], body[5:])


@dataclass(frozen=True, slots=True)
class Response:
    """``ADDR CMD DATA CRC``: the command is echoed."""

    address: int
    command: int
    data: bytes

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 0 <= self.command <= 0xFF:
            raise FrameError(f"command {self.command} does not fit one byte")
        if not 1 <= len(self.data) <= _MAX_DATA:
            raise FrameError(f"an answer carries 1..{_MAX_DATA} data bytes, not {len(self.data)}")

    def to_bytes(self) -> bytes:
        head = self.address.to_bytes(ADDRESS_LENGTH, "big") + bytes((self.command,))
        return append_crc(head + self.data)

    @classmethod
    def from_bytes(cls, frame: bytes) -> Response:
        if len(frame) < MIN_FRAME_LENGTH + 1:
            raise TruncatedError(f"an answer needs at least 8 bytes, got {len(frame)}")
        body = split_crc(frame)
        return cls(int.from_bytes(body[:4], "big"), body[4], body[5:])
