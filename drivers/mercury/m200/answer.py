"""Which answer a Mercury 200 request gets: its data length and its decoder
(docs/reference/mercury-protocol.md §2).

::

    request ADDR CMD [ARG] CRC  →  answer ADDR CMD DATA(n) CRC,  n = answer_length(request)

The length follows from the command (and, for 86, the parameter), so the client session
needs no inter-byte gap to find the end of an answer.
"""

from __future__ import annotations

from core.errors import FrameError
from drivers.mercury.m200.frame import Command, Request
from drivers.mercury.m200.values import (
    BatteryVoltage,
    EnergyTariffs,
    EventTime,
    FirmwareInfo,
    FrequencyStatus,
    InstantValues,
    ManufactureDate,
    MeterClock,
    ModelInfo,
    SerialNumber,
)

__all__ = ["MODEL_PARAMETER", "Payload", "answer_length", "decode_answer", "request_length"]

Payload = (
    BatteryVoltage
    | EnergyTariffs
    | EventTime
    | FirmwareInfo
    | FrequencyStatus
    | InstantValues
    | ManufactureDate
    | MeterClock
    | ModelInfo
    | SerialNumber
)

#: 86 FF: the model query mercury-base sends first (undocumented in DOC1).
MODEL_PARAMETER = 0xFF

_DECODERS: dict[Command, type[Payload]] = {
    Command.CLOCK: MeterClock,
    Command.ENERGY: EnergyTariffs,
    Command.FIRMWARE: FirmwareInfo,
    Command.BATTERY: BatteryVoltage,
    Command.LAST_POWER_OFF: EventTime,
    Command.LAST_POWER_ON: EventTime,
    Command.SERIAL_NUMBER: SerialNumber,
    Command.MONTHLY_ENERGY: EnergyTariffs,
    Command.LAST_COVER_OPEN: EventTime,
    Command.LAST_COVER_CLOSE: EventTime,
    Command.INSTANT: InstantValues,
    Command.MANUFACTURED: ManufactureDate,
    Command.FREQUENCY: FrequencyStatus,
    Command.REACTIVE_ENERGY: EnergyTariffs,
    Command.PARAMETER: ModelInfo,
}

_LENGTHS: dict[Command, int] = {
    Command.CLOCK: 7,
    Command.ENERGY: 16,
    Command.FIRMWARE: 6,
    Command.BATTERY: 2,
    Command.LAST_POWER_OFF: 7,
    Command.LAST_POWER_ON: 7,
    Command.SERIAL_NUMBER: 4,
    Command.MONTHLY_ENERGY: 16,
    Command.LAST_COVER_OPEN: 7,
    Command.LAST_COVER_CLOSE: 7,
    Command.INSTANT: 7,
    Command.MANUFACTURED: 3,
    Command.FREQUENCY: 10,
    Command.REACTIVE_ENERGY: 16,
    Command.PARAMETER: 3,
}


def _command(code: int) -> Command:
    try:
        return Command(code)
    except ValueError:
        raise FrameError(f"command {code:02X} is not modelled by this codec") from None


def request_length(code: int) -> int:
    """The length of a whole request frame with command ``code``."""
    return 8 if _command(code).takes_argument else 7


def answer_length(request: Request) -> int:
    """The number of data bytes in the answer to ``request``."""
    command = _command(request.command)
    if command.takes_argument and len(request.argument) != 1:
        raise FrameError(f"command {command:02X} takes one argument byte")
    if command is Command.PARAMETER and request.argument[0] != MODEL_PARAMETER:
        raise FrameError(f"86 {request.argument[0]:02X}: only 86 FF is modelled")
    return _LENGTHS[command]


def decode_answer(request: Request, data: bytes) -> Payload:
    """The typed value of ``data`` answering ``request``."""
    command = _command(request.command)
    decoder = _DECODERS.get(command)
    if decoder is None:
        raise FrameError(f"command {command:02X} has no typed decoder")
    return decoder.from_bytes(data)
