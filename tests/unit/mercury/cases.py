"""One request and one answer payload per frame type, shared by the frame and fuzz tests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from drivers.mercury.answer import Payload
from drivers.mercury.frame import AccessLevel, EnergyArray, Param
from drivers.mercury.instant import (
    Bwri,
    HarmonicDistortion,
    InstantValues,
    PowerKind,
    Quantity,
    Temperature,
)
from drivers.mercury.records import JournalRecord, Passport, ProfilePointer, ProfileRecord, Variant
from drivers.mercury.request import (
    ChannelTestRequest,
    CloseChannelRequest,
    OpenChannelRequest,
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
    Season,
    TransformationRatios,
)

ADDRESS = 0x30
P = Bwri(Quantity.POWER, 0, PowerKind.ACTIVE)
Q = Bwri(Quantity.POWER, 0, PowerKind.REACTIVE)
U = Bwri(Quantity.VOLTAGE, 1)
F = Bwri(Quantity.FREQUENCY)
COS = Bwri(Quantity.POWER_FACTOR)

STATUS_REQUESTS: dict[str, Request] = {
    "test": ChannelTestRequest(ADDRESS),
    "open": OpenChannelRequest.create(ADDRESS, AccessLevel.ADMIN, "222222"),
    "close": CloseChannelRequest(ADDRESS),
}

DATA_CASES: dict[str, tuple[Request, Payload]] = {
    "time": (ReadTimeRequest(ADDRESS), MeterTime.at(datetime(2024, 3, 10, 23, 59, 58))),
    "identity": (ReadParamRequest(ADDRESS, Param.SERIAL_NUMBER),
                 MeterIdentity("01020304", date(2021, 12, 31))),
    "firmware": (ReadParamRequest(ADDRESS, Param.FIRMWARE), FirmwareVersion(9, 1, 2)),
    "ratios": (ReadParamRequest(ADDRESS, Param.RATIOS), TransformationRatios(100, 600)),
    "address": (ReadParamRequest(ADDRESS, Param.NETWORK_ADDRESS), NetworkAddress(ADDRESS)),
    "firmware crc": (ReadParamRequest(ADDRESS, Param.FIRMWARE_CRC), FirmwareChecksum(0xBEEF)),
    "energy": (ReadEnergyRequest(ADDRESS, EnergyArray.FROM_RESET, 3),
               EnergyRegisters(0xFEDCBA98, 0, None, 123_456_789)),
    "energy month": (ReadEnergyRequest(ADDRESS, EnergyArray.AT_MONTH_START, 0, 12),
                     EnergyRegisters(1, 2, 3, 4)),
    "phase energy": (ReadEnergyRequest(ADDRESS, EnergyArray.PHASES_FROM_RESET),
                     PhaseEnergy(1, None, 3)),
    "P all": (ReadParamRequest.phase_values(ADDRESS, P), InstantValues.from_amounts(
        P, [Decimal("-1.23456"), Decimal("0.5"), Decimal(0), Decimal("-41.94303")])),
    "Q all": (ReadParamRequest.phase_values(ADDRESS, Q), InstantValues.from_amounts(
        Q, [Decimal("-0.001"), Decimal("0.00001"), Decimal(1), Decimal(2)])),
    "U all": (ReadParamRequest.phase_values(ADDRESS, U), InstantValues.from_amounts(
        U, [Decimal("230.01"), Decimal("229.99"), Decimal("0")])),
    "cos all": (ReadParamRequest.phase_values(ADDRESS, COS), InstantValues.from_amounts(
        COS, [Decimal("-0.999"), Decimal("1"), Decimal("0.5"), Decimal("0.001")])),
    "f": (ReadParamRequest.aux_value(ADDRESS, F),
          InstantValues.from_amounts(F, [Decimal("50.01")])),
    "P fixed": (ReadParamRequest.fixed_values(ADDRESS, P), InstantValues.from_amounts(
        P, [Decimal("10737.41823"), Decimal(0), Decimal("-1"), Decimal("2")], width=4)),
    "temperature": (ReadParamRequest.aux_value(ADDRESS, Bwri(Quantity.TEMPERATURE)),
                    Temperature(-12)),
    "thd": (ReadParamRequest.aux_value(ADDRESS, Bwri(Quantity.THD, 2)), HarmonicDistortion(201)),
    "journal": (ReadJournalRequest(ADDRESS, 0x12, 9),
                JournalRecord((datetime(2023, 5, 6, 7, 8, 9), None))),
    "journal last": (ReadJournalRequest(ADDRESS, 0x03, 0xFF),
                     JournalRecord((None, None), number=7)),
    "profile pointer": (ReadParamRequest(ADDRESS, Param.PROFILE_LAST),
                        ProfilePointer(0x1FF0, 0x08, datetime(2024, 1, 1, 0, 30), 30)),
    "profile record": (ReadMemoryRequest(ADDRESS, 3, 0x1_2340, 15),
                       ProfileRecord(0x02, None, 30, None, 1, 0xFFFE, 0)),
    "passport": (ReadParamRequest(ADDRESS, Param.PASSPORT, b"\x00"),
                 Passport(MeterIdentity("99999999", None), FirmwareVersion(1, 2, 3),
                          Variant(bytes(6)), bytes(range(8)))),
    "variant long": (ReadParamRequest(ADDRESS, Param.VARIANT, b"\x00"), Variant(bytes(12))),
    "archive": (ReadArchiveRequest(ADDRESS, 1, date(2024, 2, 29), 4),
                EnergyRegisters(None, None, None, None)),
}

SEASONS = (Season.WINTER, Season.SUMMER)
