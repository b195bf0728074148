"""What answers a request: its expected length and its typed payload
(docs/reference/mercury-protocol.md §1.2, §1.4, §1.7–§1.11).

::

    request                      answer DATA (between ADDR and CRC)
    00 / 01 / 02                 ST                      → Status (a 4-byte status frame)
    04 00                        8 BCD                   → MeterTime
    04 JJ REC                    6·stamps [+ NN]         → JournalRecord
    04 13 REC                    12 [+ NN]               → ReprogrammingRecord
    05 A T                       16 (12 for array 6)     → EnergyRegisters / PhaseEnergy
    06 … N                       N                       → ProfileRecord (N = 15) / RawData
    08 PARAM [BWRI|00]           per parameter           → see _PARAM_LENGTHS and bwri_layout
    18 …                         16                      → EnergyRegisters

Answers carry no request code, so the request alone says how to read them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import FrameError
from drivers.mercury.frame import (
    EnergyArray,
    Param,
    RequestCode,
    Response,
    Status,
    StatusResponse,
)
from drivers.mercury.instant import Bwri, HarmonicDistortion, InstantValues, Quantity, Temperature
from drivers.mercury.records import (
    JOURNAL_STAMPS,
    REPROGRAMMING_JOURNAL,
    JournalRecord,
    Passport,
    ProfilePointer,
    ProfileRecord,
    ReprogrammingRecord,
    Variant,
)
from drivers.mercury.request import (
    ChannelTestRequest,
    CloseChannelRequest,
    OpenChannelRequest,
    RawRequest,
    ReadArchiveRequest,
    ReadEnergyRequest,
    ReadJournalRequest,
    ReadMemoryRequest,
    ReadParamRequest,
    ReadTimeRequest,
    Request,
)
from drivers.mercury.values import (
    EnergyRegisters,
    FirmwareChecksum,
    FirmwareVersion,
    MeterIdentity,
    MeterTime,
    NetworkAddress,
    PhaseEnergy,
    TransformationRatios,
    exact_length,
)

__all__ = [
    "Payload",
    "RawData",
    "build_answer",
    "build_status",
    "bwri_layout",
    "decode_answer",
    "expected_data_length",
]


@dataclass(frozen=True, slots=True)
class RawData:
    """An answer of known length but no modelled layout (status word, location, DST rules…)."""

    data: bytes

    def to_bytes(self) -> bytes:
        return self.data


Payload = (
    MeterTime
    | JournalRecord
    | ReprogrammingRecord
    | EnergyRegisters
    | PhaseEnergy
    | ProfileRecord
    | ProfilePointer
    | MeterIdentity
    | Passport
    | Variant
    | TransformationRatios
    | FirmwareVersion
    | FirmwareChecksum
    | NetworkAddress
    | InstantValues
    | Temperature
    | HarmonicDistortion
    | RawData
)

_PARAM_LENGTHS = {
    Param.SERIAL_NUMBER: 7,
    Param.RATIOS: 4,
    Param.FIRMWARE: 3,
    Param.TIMEOUT_EXTRA: 2,
    Param.NETWORK_ADDRESS: 2,
    Param.DST_RULES: 6,
    Param.FLAGS: 2,
    Param.STATUS_WORD: 6,
    Param.LOCATION: 4,
    Param.PROFILE_LAST: 9,
    Param.PROFILE2_LAST: 9,
    Param.TARIFF_STATE: 2,
    Param.TIMEOUT_MAIN: 2,
    Param.FIRMWARE_CRC: 2,
}
_THREE_PHASES = (Quantity.VOLTAGE, Quantity.CURRENT, Quantity.ANGLE, Quantity.LINE_VOLTAGE)


def bwri_layout(param: Param, selector: Bwri) -> tuple[int, int]:
    """``(count, width)`` of the directed values answering ``08 param selector``, or
    ``(0, length)`` when the answer is something else (temperature, THD, time, energy)."""
    quantity = selector.quantity
    if param is Param.AUX_VALUE:
        if quantity in (Quantity.THD, Quantity.TEMPERATURE):
            return 0, 2
        if quantity not in (Quantity.FIXATION_TIME, Quantity.FIXED_ENERGY):
            return 1, 3
    elif quantity in (Quantity.POWER, Quantity.POWER_FACTOR):
        # 08 14 power is 4-byte; cos φ stays in 3-byte groups (DOC3 figs. 4.28/4.29).
        width = 4 if param is Param.FIXED_VALUES and quantity is Quantity.POWER else 3
        return 4, width
    elif quantity in _THREE_PHASES and not (
        param is Param.FIXED_VALUES and quantity in (Quantity.ANGLE, Quantity.LINE_VOLTAGE)
    ):
        return 3, 3
    elif quantity is Quantity.FREQUENCY:
        return 1, 3
    elif param is Param.FIXED_VALUES and quantity is Quantity.FIXATION_TIME:
        return 0, 8
    elif param is Param.FIXED_VALUES and quantity is Quantity.FIXED_ENERGY:
        return 0, 16
    raise FrameError(f"08 {int(param):02X} {selector.to_byte():02X} has no known answer layout")


@functools.lru_cache(maxsize=1024)
def _bwri_answer(param: Param, bwri: int) -> tuple[Bwri, int, int]:
    """The selector of a BWRI request and its answer's ``(count, width)``, decoded once: a
    collector asks the same few of them thousands of times a second."""
    selector = Bwri.from_byte(bwri)
    count, width = bwri_layout(param, selector)
    return selector, count, width


def expected_data_length(request: Request) -> int:
    """DATA bytes of the answer to ``request``; 1 means a status frame."""
    # The requests of every poll first.
    if isinstance(request, ReadParamRequest):
        if request.bwri is not None:
            _, count, width = _bwri_answer(request.param, request.bwri)
            return count * width if count else width
        if request.param is Param.PASSPORT:
            return 24 if request.args else 16
        if request.param is Param.VARIANT:
            return 12 if request.args else 6
        return _PARAM_LENGTHS[request.param]
    if isinstance(request, ReadEnergyRequest):
        if request.tariff == 6:
            raise FrameError("the fast read of all tariffs has a variable length")
        return 12 if request.array is EnergyArray.PHASES_FROM_RESET else 16
    if isinstance(request, ChannelTestRequest | OpenChannelRequest | CloseChannelRequest):
        return 1
    if isinstance(request, RawRequest) and request.code == RequestCode.WRITE_PARAM:
        return 1  # writes are answered by a status frame
    if isinstance(request, ReadTimeRequest):
        return 8
    if isinstance(request, ReadJournalRequest) and request.journal == REPROGRAMMING_JOURNAL:
        if not (request.record <= 9 or request.record == 0xFF):
            raise FrameError(f"journal 13 record {request.record:02X} has no known layout")
        return 12 + (request.record == 0xFF)
    if isinstance(request, ReadJournalRequest):
        stamps = JOURNAL_STAMPS.get(request.journal)
        if stamps is None or not (request.record <= 9 or request.record == 0xFF):
            raise FrameError(
                f"journal {request.journal:02X} record {request.record:02X} has no known layout"
            )
        return 6 * stamps + (request.record == 0xFF)
    if isinstance(request, ReadMemoryRequest):
        if request.length == 0xFF:
            raise FrameError("a 17-record memory read has no fixed length")
        return request.length
    if isinstance(request, ReadArchiveRequest):
        return 16
    raise FrameError(f"request code {request.code:02X} has no known answer layout")


def decode_answer(request: Request, data: bytes) -> Payload:
    """The typed payload of the answer ``data`` to ``request``."""
    exact_length(data, expected_data_length(request), f"answer to {type(request).__name__}")
    if isinstance(request, ReadParamRequest):
        return _decode_param(request, data)
    if isinstance(request, ReadEnergyRequest):
        if request.array is EnergyArray.PHASES_FROM_RESET:
            return PhaseEnergy.from_bytes(data)
        return EnergyRegisters.from_bytes(data)
    if isinstance(request, ReadTimeRequest):
        return MeterTime.from_bytes(data)
    if isinstance(request, ReadJournalRequest) and request.journal == REPROGRAMMING_JOURNAL:
        return ReprogrammingRecord.from_bytes(data, numbered=request.record == 0xFF)
    if isinstance(request, ReadJournalRequest):
        stamps = JOURNAL_STAMPS[request.journal]
        return JournalRecord.from_bytes(data, stamps, numbered=request.record == 0xFF)
    if isinstance(request, ReadArchiveRequest):
        return EnergyRegisters.from_bytes(data)
    if isinstance(request, ReadMemoryRequest):
        if request.energy == 0 and request.length == 15:
            return ProfileRecord.from_bytes(data)
        return RawData(bytes(data))
    raise FrameError(f"{type(request).__name__} is answered by a status frame, not by data")


def _decode_param(request: ReadParamRequest, data: bytes) -> Payload:
    param = request.param
    if request.bwri is not None:
        selector, count, width = _bwri_answer(param, request.bwri)
        if count:
            return InstantValues.from_bytes(data, selector, count, width)
        if selector.quantity is Quantity.THD:
            return HarmonicDistortion.from_bytes(data)
        if selector.quantity is Quantity.TEMPERATURE:
            return Temperature.from_bytes(data)
        if selector.quantity is Quantity.FIXATION_TIME:
            return MeterTime.from_bytes(data)
        return EnergyRegisters.from_bytes(data)
    if param is Param.PASSPORT:
        return Passport.from_bytes(data, long_form=bool(request.args))
    decoder = _SIMPLE_PARAMS.get(param)
    return RawData(bytes(data)) if decoder is None else decoder(data)


_SIMPLE_PARAMS: dict[Param, Callable[[bytes], Payload]] = {
    Param.SERIAL_NUMBER: MeterIdentity.from_bytes,
    Param.RATIOS: TransformationRatios.from_bytes,
    Param.FIRMWARE: FirmwareVersion.from_bytes,
    Param.NETWORK_ADDRESS: NetworkAddress.from_bytes,
    Param.PROFILE_LAST: ProfilePointer.from_bytes,
    Param.PROFILE2_LAST: ProfilePointer.from_bytes,
    Param.FIRMWARE_CRC: FirmwareChecksum.from_bytes,
    Param.VARIANT: Variant.from_bytes,
}


def build_answer(request: Request, payload: Payload) -> bytes:
    """The complete answer frame (address, data, CRC) carrying ``payload`` for ``request``."""
    data = payload.to_bytes()
    exact_length(data, expected_data_length(request), f"answer to {type(request).__name__}")
    return Response(request.address, data).to_bytes()


def build_status(request: Request | RawRequest, status: Status = Status.OK) -> bytes:
    """The 4-byte status frame answering ``request``."""
    return StatusResponse(request.address, status).to_bytes()
