"""Every byte vector of docs/reference/mercury-protocol.md §3.1–§3.4: requests built by our
builders equal the documented bytes and parse back; answers decode to the documented meaning and
re-encode byte for byte."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from core.errors import MeterInternalError, SessionExpiredError
from core.obis import EnergyKind
from drivers.mercury.answer import Payload, build_answer, build_status, decode_answer
from drivers.mercury.frame import (
    AccessLevel,
    EnergyArray,
    Param,
    RequestCode,
    Response,
    Status,
    StatusResponse,
)
from drivers.mercury.instant import (
    Bwri,
    DirectedValue,
    HarmonicDistortion,
    InstantValues,
    PowerKind,
    Quantity,
    Temperature,
)
from drivers.mercury.password import PasswordEncoding
from drivers.mercury.records import (
    JournalRecord,
    Passport,
    ProfilePointer,
    ProfileRecord,
    Variant,
    profile_power_kw,
)
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
    parse_request,
)
from drivers.mercury.session import NEED_DATA, ClientSession, DataAnswer, StatusAnswer
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
from tests.unit.mercury import vectors as v

P_SUM = Bwri(Quantity.POWER, 0, PowerKind.ACTIVE)
aux = ReadParamRequest.aux_value

REQUESTS: list[tuple[str, bytes, Request]] = [
    ("W1", v.W1_OPEN_REQ, OpenChannelRequest.create(0, 1, "111111", "binary")),
    ("W2", v.W2_OPEN_REQ, OpenChannelRequest(0, AccessLevel.ADMIN, bytes(range(0x12, 0x18)))),
    ("W3", v.W3_ENERGY_REQ, ReadEnergyRequest(0, EnergyArray.FROM_RESET, 0)),
    ("W5", v.W5_PHASES_REQ, ReadEnergyRequest(0, EnergyArray.PHASES_FROM_RESET, 0)),
    ("W6", v.W6_U1_REQ, aux(0, Bwri(Quantity.VOLTAGE, 1))),
    ("W7", v.W7_I1_REQ, aux(0, Bwri(Quantity.CURRENT, 1))),
    ("W8", v.W8_P_REQ, aux(0, P_SUM)),
    ("W9", v.W9_P1_REQ, aux(0, Bwri(Quantity.POWER, 1))),
    ("W10", v.W10_TEMP_REQ, aux(0, Bwri(Quantity.TEMPERATURE))),
    ("W11", v.W11_THD_REQ, aux(0, Bwri(Quantity.THD, 1))),
    ("W12", v.W12_U2_REQ, aux(0, Bwri(Quantity.VOLTAGE, 2))),
    ("W13", v.W13_U2_REQ, aux(0, Bwri(Quantity.VOLTAGE, 2))),
    ("WB U3", v.WB_U3_REQ, aux(0, Bwri(Quantity.VOLTAGE, 3))),
    ("WB I2", v.WB_I2_REQ, aux(0, Bwri(Quantity.CURRENT, 2))),
    ("WB I3", v.WB_I3_REQ, aux(0, Bwri(Quantity.CURRENT, 3))),
    ("WB f", v.WB_F_REQ, aux(0, Bwri(Quantity.FREQUENCY))),
    ("WB PF", v.WB_PF_REQ, aux(0, Bwri(Quantity.POWER_FACTOR))),
    ("WB Q", v.WB_Q_REQ, aux(0, Bwri(Quantity.POWER, 0, PowerKind.REACTIVE))),
    ("M1", v.M1_TEST_REQ, ChannelTestRequest(0x30)),
    ("M2", v.M2_OPEN_REQ, OpenChannelRequest.create(0x30, 1, "123456")),
    ("M3", v.M3_ADDRESS_REQ, ReadParamRequest(0x30, Param.NETWORK_ADDRESS)),
    ("M4", v.M4_SERIAL_REQ, ReadParamRequest(0x30, Param.SERIAL_NUMBER)),
    ("M5", v.M5_FIRMWARE_REQ, ReadParamRequest(0x30, Param.FIRMWARE)),
    ("M6", v.M6_VARIANT_REQ, ReadParamRequest(0x30, Param.VARIANT)),
    ("M7", v.M7_FIRMWARE_CRC_REQ, ReadParamRequest(0x30, Param.FIRMWARE_CRC)),
    ("M8", v.M8_RATIOS_REQ, ReadParamRequest(0x30, Param.RATIOS)),
    ("SHDEN test", v.SHDEN_TEST_REQ, ChannelTestRequest(0)),
    ("SHDEN open", v.SHDEN_OPEN_REQ, OpenChannelRequest.create(0, AccessLevel.USER, "111111")),
    ("SHDEN close", v.SHDEN_CLOSE_REQ, CloseChannelRequest(0)),
    ("BRK test", v.BRK_TEST_REQ, ChannelTestRequest(0x31)),
    ("BRK open", v.BRK_OPEN_REQ, OpenChannelRequest.create(0x31, 1, "111111")),
    ("BRK passport", v.BRK_PASSPORT_REQ, ReadParamRequest(0x31, Param.PASSPORT)),
    ("BRK energy", v.BRK_ENERGY_REQ, ReadEnergyRequest(0x31, EnergyArray.FROM_RESET, 0)),
    ("BRK power", v.BRK_POWER_REQ, ReadParamRequest.phase_values(0x31, P_SUM)),
    ("DOC3 test", v.D_TEST_REQ, ChannelTestRequest(0x80)),
    ("DOC3 open ascii", v.D_OPEN_ASCII_REQ,
     OpenChannelRequest.create(0x80, 1, "111111", PasswordEncoding.ASCII)),
    ("DOC3 open binary", v.D_OPEN_BINARY_REQ, OpenChannelRequest.create(0x80, 1, "111111")),
    ("DOC3 close", v.D_CLOSE_REQ, CloseChannelRequest(0x80)),
    ("DOC3 time", v.D_TIME_REQ, ReadTimeRequest(0x80)),
    ("DOC3 power journal", v.D_POWER_JOURNAL_REQ, ReadJournalRequest(0x80, 0x01, 2)),
    ("DOC3 clock journal", v.D_CLOCK_JOURNAL_REQ, ReadJournalRequest(0x80, 0x02, 0xFF)),
    ("DOC3 January", v.D_ENERGY_JAN_REQ, ReadEnergyRequest(0x80, EnergyArray.MONTH, 0, 1)),
    ("DOC3 archive", v.D_ARCHIVE_REQ, ReadArchiveRequest(0x14, 0, date(2019, 6, 23), 2)),
    ("DOC3 serial", v.D_SERIAL_REQ, ReadParamRequest(0x80, Param.SERIAL_NUMBER)),
    ("DOC3 passport", v.D_PASSPORT_REQ, ReadParamRequest(0x42, Param.PASSPORT)),
    ("DOC3 ratios", v.D_RATIOS_REQ, ReadParamRequest(0x80, Param.RATIOS)),
    ("DOC3 address", v.D_ADDRESS_REQ, ReadParamRequest(0x00, Param.NETWORK_ADDRESS)),
    ("DOC3 profile last", v.D_PROFILE_LAST_REQ, ReadParamRequest(0x80, Param.PROFILE_LAST)),
    ("DOC3 profile record", v.D_PROFILE_RECORD_REQ, ReadMemoryRequest(0x80, 3, 0x0010, 15)),
    ("DOC3 frequency", v.D_FREQ_REQ, aux(0x80, Bwri(Quantity.FREQUENCY))),
    ("DOC3 temperature", v.D_TEMP_REQ, aux(0x80, Bwri(Quantity.TEMPERATURE))),
    ("DOC3 S fixed", v.D_S_FIXED_REQ,
     ReadParamRequest.fixed_values(0x80, Bwri(Quantity.POWER, 0, PowerKind.APPARENT))),
    ("DOC3 cos fixed", v.D_COS_FIXED_REQ,
     ReadParamRequest.fixed_values(0x80, Bwri(Quantity.POWER_FACTOR))),
    ("DOC3 U1", v.D_U1_REQ, aux(0x80, Bwri(Quantity.VOLTAGE, 1))),
]


@pytest.mark.parametrize(("frame", "request_"), [r[1:] for r in REQUESTS],
                         ids=[r[0] for r in REQUESTS])
def test_request_vector_is_built_and_parsed(frame: bytes, request_: Request) -> None:
    assert request_.to_bytes() == frame
    assert parse_request(frame) == request_
    assert type(request_).from_bytes(frame) == request_


S_VALUE = DirectedValue(10727, reactive_reverse=True)
COS_VALUE = DirectedValue(557, reactive_reverse=True)
ZERO = DirectedValue(0)
STAMP = datetime  # naive local times, as the meter keeps them

ANSWERS: list[tuple[str, bytes, bytes, Payload]] = [
    ("W3", v.W3_ENERGY_REQ, v.W3_ENERGY_RESP, EnergyRegisters(3_196_200, None, 300_444, None)),
    ("W4", v.W3_ENERGY_REQ, v.W4_ENERGY_RESP, EnergyRegisters(3_196_201, None, 300_445, None)),
    ("W5", v.W5_PHASES_REQ, v.W5_PHASES_RESP, PhaseEnergy(0x30C529, 0x300029, 0x04959D)),
    ("W6", v.W6_U1_REQ, v.W6_U1_RESP,
     InstantValues(Bwri(Quantity.VOLTAGE, 1), (DirectedValue(24128),))),
    ("W7", v.W7_I1_REQ, v.W7_I1_RESP,
     InstantValues(Bwri(Quantity.CURRENT, 1), (DirectedValue(69),))),
    ("W8", v.W8_P_REQ, v.W8_P_RESP,
     InstantValues(P_SUM, (DirectedValue(553095, reactive_reverse=True),))),
    ("W9", v.W9_P1_REQ, v.W9_P1_RESP,
     InstantValues(Bwri(Quantity.POWER, 1), (DirectedValue(553095, True, True),))),
    ("W10", v.W10_TEMP_REQ, v.W10_TEMP_RESP, Temperature(24)),
    ("W11", v.W11_THD_REQ, v.W11_THD_RESP, HarmonicDistortion(0x9001)),
    ("M3", v.M3_ADDRESS_REQ, v.M3_ADDRESS_RESP, NetworkAddress(0x30)),
    ("M4", v.M4_SERIAL_REQ, v.M4_SERIAL_RESP, MeterIdentity("40680048", date(2020, 1, 22))),
    ("M5", v.M5_FIRMWARE_REQ, v.M5_FIRMWARE_RESP, FirmwareVersion(8, 0, 0)),
    ("M6", v.M6_VARIANT_REQ, v.M6_VARIANT_RESP, Variant(bytes.fromhex("B4E3C2955740"))),
    ("M7", v.M7_FIRMWARE_CRC_REQ, v.M7_FIRMWARE_CRC_RESP, FirmwareChecksum(0x4E51)),
    ("M8", v.M8_RATIOS_REQ, v.M8_RATIOS_RESP, TransformationRatios(1, 1)),
    ("DOC3 time", v.D_TIME_REQ, v.D_TIME_RESP,
     MeterTime(STAMP(2008, 2, 27, 16, 14, 43), 3, Season.WINTER)),
    ("DOC3 power journal", v.D_POWER_JOURNAL_REQ, v.D_POWER_JOURNAL_RESP,
     JournalRecord((STAMP(2008, 2, 1, 7, 53, 1), STAMP(2008, 2, 1, 12, 50, 9)))),
    ("DOC3 clock journal", v.D_CLOCK_JOURNAL_REQ, v.D_CLOCK_JOURNAL_RESP,
     JournalRecord((STAMP(2008, 1, 23, 10, 23, 53), STAMP(2008, 1, 23, 10, 23, 59)), 0)),
    ("DOC3 January", v.D_ENERGY_JAN_REQ, v.D_ENERGY_JAN_RESP, EnergyRegisters(2672, None, 1000, 0)),
    ("DOC3 archive", v.D_ARCHIVE_REQ, v.D_ARCHIVE_RESP, EnergyRegisters(31838, None, 732, 3485)),
    ("DOC3 serial", v.D_SERIAL_REQ, v.D_SERIAL_RESP,
     MeterIdentity("41906467", date(2020, 6, 22))),
    ("DOC3 passport", v.D_PASSPORT_REQ, v.D_PASSPORT_RESP,
     Passport(MeterIdentity("32874766", date(2018, 6, 26)), FirmwareVersion(9, 0, 0),
              Variant(bytes.fromhex("B4E3C297DF58")))),
    ("DOC3 ratios", v.D_RATIOS_REQ, v.D_RATIOS_RESP, TransformationRatios(1, 1)),
    ("DOC3 address", v.D_ADDRESS_REQ, v.D_ADDRESS_RESP, NetworkAddress(0x80)),
    ("DOC3 profile last", v.D_PROFILE_LAST_REQ, v.D_PROFILE_LAST_RESP,
     ProfilePointer(0x0001, 0x0A, STAMP(2008, 3, 4, 9, 0), 30)),
    ("DOC3 profile record", v.D_PROFILE_RECORD_REQ, v.D_PROFILE_RECORD_RESP,
     ProfileRecord(0x0A, STAMP(2008, 3, 5, 10, 0), 30, 10500, None, 0, 0)),
    ("DOC3 frequency", v.D_FREQ_REQ, v.D_FREQ_RESP,
     InstantValues(Bwri(Quantity.FREQUENCY), (DirectedValue(4999),))),
    ("DOC3 temperature", v.D_TEMP_REQ, v.D_TEMP_RESP, Temperature(24)),
    ("DOC3 S fixed", v.D_S_FIXED_REQ, v.D_S_FIXED_RESP,
     InstantValues(Bwri(Quantity.POWER, 0, PowerKind.APPARENT),
                   (S_VALUE, S_VALUE, ZERO, ZERO), width=4)),
    ("DOC3 cos fixed", v.D_COS_FIXED_REQ, v.D_COS_FIXED_RESP,
     InstantValues(Bwri(Quantity.POWER_FACTOR), (COS_VALUE, COS_VALUE, ZERO, ZERO))),
    ("DOC3 U1", v.D_U1_REQ, v.D_U1_RESP,
     InstantValues(Bwri(Quantity.VOLTAGE, 1), (DirectedValue(22107),))),
]


@pytest.mark.parametrize(("request_frame", "answer_frame", "payload"), [a[1:] for a in ANSWERS],
                         ids=[a[0] for a in ANSWERS])
def test_answer_vector_decodes_and_reencodes(
    request_frame: bytes, answer_frame: bytes, payload: Payload
) -> None:
    request = parse_request(request_frame)
    response = Response.from_bytes(answer_frame)
    assert response.address == request.address
    assert decode_answer(request, response.data) == payload
    assert build_answer(request, payload) == answer_frame
    assert response.to_bytes() == answer_frame


def test_answer_vectors_through_the_session() -> None:
    session = ClientSession()
    for _, request_frame, answer_frame, payload in ANSWERS:
        session.send(parse_request(request_frame), 0.0)
        session.receive_data(answer_frame)
        event = session.next_event()
        assert isinstance(event, DataAnswer)
        assert event.payload == payload


STATUS_ANSWERS = [
    ("W1", v.W1_OPEN_REQ, v.W1_OPEN_RESP, Status.OK),
    ("W2", v.W2_OPEN_REQ, v.W2_OPEN_RESP, Status.OK),
    ("W12", v.W12_U2_REQ, v.W12_STATUS5_RESP, Status.CHANNEL_NOT_OPEN),
    ("W13", v.W13_U2_REQ, v.W13_STATUS2_RESP, Status.INTERNAL_ERROR),
    ("M1", v.M1_TEST_REQ, v.M1_TEST_RESP, Status.OK),
    ("M2", v.M2_OPEN_REQ, v.M2_OPEN_RESP, Status.OK),
    ("DOC3 test", v.D_TEST_REQ, v.D_TEST_RESP, Status.OK),
]


@pytest.mark.parametrize(("request_frame", "answer_frame", "status"),
                         [a[1:] for a in STATUS_ANSWERS], ids=[a[0] for a in STATUS_ANSWERS])
def test_status_vector(request_frame: bytes, answer_frame: bytes, status: Status) -> None:
    request = parse_request(request_frame)
    assert StatusResponse.from_bytes(answer_frame) == StatusResponse(request.address, status)
    assert build_status(request, status) == answer_frame
    session = ClientSession()
    session.send(request, 0.0)
    session.receive_data(answer_frame)
    event = session.next_event()
    assert isinstance(event, StatusAnswer)
    assert event.status is status


def _amounts(request_frame: bytes, answer_frame: bytes) -> tuple[Decimal, ...]:
    payload = decode_answer(parse_request(request_frame), Response.from_bytes(answer_frame).data)
    assert isinstance(payload, InstantValues)
    return payload.amounts


MEANINGS = [
    ("W6 U1 241.28 V", v.W6_U1_REQ, v.W6_U1_RESP, (Decimal("241.28"),)),
    ("W7 I1 0.069 A", v.W7_I1_REQ, v.W7_I1_RESP, (Decimal("0.069"),)),
    ("W8 P 5530.95 W", v.W8_P_REQ, v.W8_P_RESP, (Decimal("5.53095"),)),
    ("W9 P1 -5530.95 W", v.W9_P1_REQ, v.W9_P1_RESP, (Decimal("-5.53095"),)),
    ("DOC3 U1 221.07 V", v.D_U1_REQ, v.D_U1_RESP, (Decimal("221.07"),)),
    ("DOC3 f 49.99 Hz", v.D_FREQ_REQ, v.D_FREQ_RESP, (Decimal("49.99"),)),
    # S is a magnitude: the reactive-reverse bit does not sign it.
    ("DOC3 S 107.27 VA", v.D_S_FIXED_REQ, v.D_S_FIXED_RESP,
     (Decimal("0.10727"), Decimal("0.10727"), Decimal(0), Decimal(0))),
    ("DOC3 cos 0.557", v.D_COS_FIXED_REQ, v.D_COS_FIXED_RESP,
     (Decimal("0.557"), Decimal("0.557"), Decimal(0), Decimal(0))),
]


@pytest.mark.parametrize(("request_frame", "answer_frame", "amounts"),
                         [m[1:] for m in MEANINGS], ids=[m[0] for m in MEANINGS])
def test_documented_meanings_in_model_units(
    request_frame: bytes, answer_frame: bytes, amounts: tuple[Decimal, ...]
) -> None:
    """The documented numbers, in the model's units (kW, not W)."""
    assert _amounts(request_frame, answer_frame) == amounts


def test_documented_energy_in_kwh() -> None:
    w3 = EnergyRegisters.from_bytes(Response.from_bytes(v.W3_ENERGY_RESP).data)
    assert [w3.kwh(kind) for kind in EnergyKind] == [Decimal("3196.200"), None,
                                                     Decimal("300.444"), None]
    archive = EnergyRegisters.from_bytes(Response.from_bytes(v.D_ARCHIVE_RESP).data)
    assert str(archive.kwh(EnergyKind.A_PLUS)) == "31.838"


def test_variant_m6_fields() -> None:
    variant = Variant.from_bytes(Response.from_bytes(v.M6_VARIANT_RESP).data)
    assert (variant.active_class, variant.reactive_class) == ("1.0", "2.0")
    assert variant.nominal_voltage_v == Decimal(230)
    assert variant.nominal_current_a == 5
    assert not variant.bidirectional
    assert variant.has_profile
    assert variant.phases == 3
    assert variant.meter_constant == 500


def test_profile_record_power() -> None:
    # DOC3 p.97: N = 10500, T = 30, A = 1000 → 10.5 kW
    assert profile_power_kw(10500, 30, 1000) == Decimal("10.5")


def test_status_vectors_map_to_errors() -> None:
    expired = StatusResponse.from_bytes(v.W12_STATUS5_RESP).error(RequestCode.READ_PARAM)
    internal = StatusResponse.from_bytes(v.W13_STATUS2_RESP).error(RequestCode.READ_PARAM)
    assert isinstance(expired, SessionExpiredError)
    assert isinstance(internal, MeterInternalError)


def test_session_needs_data_before_any_answer() -> None:
    session = ClientSession()
    session.send(ReadTimeRequest(0x80), 0.0)
    assert session.next_event() is NEED_DATA
