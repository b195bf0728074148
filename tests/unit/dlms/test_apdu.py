"""ACSE and xDLMS APDUs: every GOST and peer vector decodes to the expected typed values and
re-encodes byte for byte; building the same values from scratch gives the same bytes."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.errors import (
    AccessError,
    AuthenticationError,
    FrameError,
    MeterInternalError,
    ObjectUnavailableError,
    RemoteProtocolError,
    TruncatedError,
)
from drivers.dlms.access import (
    AccessSelection,
    AttributeDescriptor,
    CaptureObject,
    EntryDescriptor,
    MethodDescriptor,
    RangeDescriptor,
)
from drivers.dlms.acse import (
    AareApdu,
    AarqApdu,
    ApplicationContext,
    AssociationResult,
    DiagnosticSource,
    Mechanism,
    RlreApdu,
    RlrqApdu,
    UserDiagnostic,
)
from drivers.dlms.apdu import Apdu, parse_apdu
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.ciphered import CipheredApdu
from drivers.dlms.cosem_datetime import ClockStatus, CosemDate, CosemDateTime, CosemTime
from drivers.dlms.hdlc import HdlcFrame
from drivers.dlms.hdlc_link import strip_llc
from drivers.dlms.initiate import (
    ConfirmedServiceError,
    Conformance,
    InitiateRequest,
    InitiateResponse,
)
from drivers.dlms.obis import Obis
from drivers.dlms.results import (
    ActionResult,
    DataAccessResult,
    ServiceError,
    StateError,
    result_error,
)
from drivers.dlms.wrapper import WrapperFrame
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
    invoke_id_and_priority,
)
from tests.unit.dlms import vectors as v

PUBLIC_CONFORMANCE = Conformance.BLOCK_TRANSFER_WITH_GET | Conformance.GET
READER_CONFORMANCE = PUBLIC_CONFORMANCE | Conformance.SET | Conformance.SELECTIVE_ACCESS
P_PHASE_A = Obis.parse("1.0.21.7.0.255")
MONTHLY = Obis.parse("1.0.98.1.0.255")


def _apdu(frame: bytes) -> bytes:
    decoded = HdlcFrame.from_bytes(frame)
    return strip_llc(decoded.info, command=decoded.source.lower is None)


EXPECTED: dict[str, Apdu] = {
    "GOST_12_1_AARQ": AarqApdu(InitiateRequest(PUBLIC_CONFORMANCE, 0xFFFF)),
    "GOST_12_1_AARE": AareApdu(InitiateResponse(PUBLIC_CONFORMANCE, 0x0400, 0x0007)),
    "GOST_12_1_GET": GetRequest(AttributeDescriptor(15, Obis(0, 0, 40, 0, 0), 1)),
    "GOST_12_1_RESP": GetResponse(Data.octets(bytes.fromhex("00 00 28 00 00 FF"))),
    "GOST_12_2_AARQ": AarqApdu(
        InitiateRequest(READER_CONFORMANCE, 0xFFFF),
        mechanism=Mechanism.LLS,
        calling_authentication_value=b"Reader",
    ),
    "GOST_12_2_AARE": AareApdu(InitiateResponse(READER_CONFORMANCE, 0x0400, 0x0007)),
    "GOST_13_2_GET_A1": GetRequest(AttributeDescriptor(3, P_PHASE_A, 1), invoke=0x81),
    "GOST_13_2_RESP_A1": GetResponse(Data.octets(P_PHASE_A.to_bytes()), invoke=0x81),
    "GOST_13_2_GET_A2": GetRequest(AttributeDescriptor(3, P_PHASE_A, 2), invoke=0x81),
    "GOST_13_2_RESP_A2": GetResponse(Data(DataType.DOUBLE_LONG, 0), invoke=0x81),
    "GOST_13_2_GET_A3": GetRequest(AttributeDescriptor(3, P_PHASE_A, 3), invoke=0x81),
    "GOST_13_2_RESP_A3": GetResponse(
        Data.structure(Data(DataType.INTEGER, -2), Data(DataType.ENUM, 27)), invoke=0x81
    ),
    "GOST_13_3_SET": SetRequest(
        AttributeDescriptor(8, Obis(0, 0, 1, 0, 0), 2),
        Data.datetime_octets(
            CosemDateTime(
                CosemDate(2016, 10, 31, None), CosemTime(8, 46, 38, 1), 0, ClockStatus(0)
            )
        ),
        invoke=0x81,
    ),
    "GOST_13_3_RESP": SetResponse(DataAccessResult.SUCCESS, invoke=0x81),
    "GOST_13_4_BY_ENTRY": GetRequest(
        AttributeDescriptor(7, MONTHLY, 2), EntryDescriptor(3, 5, 1, 0).to_selection(), 0x81
    ),
    "GOST_13_4_BY_RANGE": GetRequest(
        AttributeDescriptor(7, MONTHLY, 2),
        RangeDescriptor(
            Data.datetime_octets(
                CosemDateTime(
                    CosemDate(2014, 12, 9, 2), CosemTime(0, 0, 0, None), 0, ClockStatus(0)
                )
            ),
            Data.datetime_octets(
                CosemDateTime(CosemDate(2015, 2, 1, 0), CosemTime(0, 0, 0, None), 0,
                              ClockStatus(0))
            ),
        ).to_selection(),
        0x81,
    ),
    "GOST_13_4_GET_NEXT_1": GetRequestNext(1, 0x81),
    "GOST_13_4_GET_NEXT_2": GetRequestNext(2, 0x81),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gost_apdus(name: str) -> None:
    raw = _apdu(getattr(v, name))
    expected = EXPECTED[name]
    assert parse_apdu(raw) == expected
    assert expected.to_bytes() == raw


def test_gost_13_4_range_bounds() -> None:
    request = parse_apdu(_apdu(v.GOST_13_4_BY_RANGE))
    assert isinstance(request, GetRequest)
    assert request.access is not None
    descriptor = RangeDescriptor.from_selection(request.access)
    assert descriptor.restricting == CaptureObject(8, Obis(0, 0, 1, 0, 0), 2, 0)
    assert descriptor.columns == ()  # all columns
    start = descriptor.start.as_datetime()
    end = descriptor.end.as_datetime()
    assert start.to_datetime().replace(tzinfo=None) == datetime(2014, 12, 9)
    assert start.date.weekday == 2  # a Tuesday
    assert end.to_datetime().replace(tzinfo=None) == datetime(2015, 2, 1)
    assert end.date.weekday == 0  # GOST sends 00 here, outside 1..7: kept as sent
    assert start.time.hundredths is None


def test_gost_13_4_entry_descriptor() -> None:
    request = parse_apdu(_apdu(v.GOST_13_4_BY_ENTRY))
    assert isinstance(request, GetRequest)
    assert request.access is not None
    assert EntryDescriptor.from_selection(request.access) == EntryDescriptor(3, 5, 1, 0)
    with pytest.raises(FrameError):
        RangeDescriptor.from_selection(request.access)


def test_aarq_without_llc_has_the_lls_fields() -> None:
    aarq = parse_apdu(_apdu(v.GOST_12_2_AARQ))
    assert isinstance(aarq, AarqApdu)
    assert aarq.mechanism is Mechanism.LLS
    assert aarq.calling_authentication_value == b"Reader"
    assert isinstance(aarq.user_information, InitiateRequest)
    assert aarq.user_information.dlms_version == 6


def test_aare_accepted() -> None:
    aare = parse_apdu(_apdu(v.GOST_12_1_AARE))
    assert isinstance(aare, AareApdu)
    assert aare.result is AssociationResult.ACCEPTED
    assert aare.error() is None


def test_peer_wrapper_get() -> None:
    frame = WrapperFrame.from_bytes(v.PEER_WRAPPER_GET)
    assert (frame.source, frame.destination) == (32, 1)
    expected = GetRequest(AttributeDescriptor(3, Obis.parse("1.0.1.8.0.255"), 2))
    assert parse_apdu(frame.apdu) == expected
    assert WrapperFrame(32, 1, expected.to_bytes()).to_bytes() == v.PEER_WRAPPER_GET


def test_peer_wrapper_lls_aarq() -> None:
    frame = WrapperFrame.from_bytes(v.PEER_WRAPPER_LLS_AARQ)
    conformance = Conformance(0x401E5D)
    expected = AarqApdu(
        InitiateRequest(conformance, 0xFFFF),
        mechanism=Mechanism.LLS,
        calling_authentication_value=b"12345678",
    )
    assert parse_apdu(frame.apdu) == expected
    assert WrapperFrame(32, 1, expected.to_bytes()).to_bytes() == v.PEER_WRAPPER_LLS_AARQ
    assert Conformance.GENERAL_PROTECTION in conformance
    assert Conformance.ACTION in conformance


# --- gurux_dlms 1.0.203 requests over the wrapper (vectors.py "GX"), client 32 or 48 → 1 ---

TOTAL_A_PLUS = Obis.parse("1.0.1.8.0.255")
CLOCK = Obis(0, 0, 1, 0, 0)

GURUX: dict[str, Apdu] = {
    "GX_WRAPPER_BY_ENTRY": GetRequest(
        AttributeDescriptor(7, MONTHLY, 2), EntryDescriptor(3, 7, 1, 0).to_selection()
    ),
    "GX_WRAPPER_BY_RANGE": GetRequest(
        AttributeDescriptor(7, MONTHLY, 2),
        RangeDescriptor(
            Data.datetime_octets(
                CosemDateTime(CosemDate(2014, 12, 9), CosemTime(0, 0, 0, 0), 0, ClockStatus(0))
            ),
            Data.datetime_octets(
                CosemDateTime(CosemDate(2015, 2, 1), CosemTime(0, 0, 0, 0), 0, ClockStatus(0))
            ),
        ).to_selection(),
    ),
    "GX_WRAPPER_SET": SetRequest(
        AttributeDescriptor(1, Obis.parse("0.0.96.1.10.255"), 2),
        Data(DataType.VISIBLE_STRING, "TP-1"),
    ),
    "GX_WRAPPER_ACTION": ActionRequest(
        MethodDescriptor(8, CLOCK, 6), Data(DataType.LONG, -30)
    ),
    "GX_WRAPPER_GET_LIST": GetRequestWithList(
        (
            (AttributeDescriptor(3, TOTAL_A_PLUS, 2), None),
            (AttributeDescriptor(3, TOTAL_A_PLUS, 3), None),
        )
    ),
}


@pytest.mark.parametrize("name", sorted(GURUX))
def test_gurux_requests(name: str) -> None:
    raw = getattr(v, name)
    frame = WrapperFrame.from_bytes(raw)
    assert parse_apdu(frame.apdu) == GURUX[name]
    assert WrapperFrame(32, 1, GURUX[name].to_bytes()).to_bytes() == raw


def test_gurux_hls_gmac_aarq_is_recognised() -> None:
    frame = WrapperFrame.from_bytes(v.GX_WRAPPER_HLS_GMAC_AARQ)
    assert (frame.source, frame.destination) == (48, 1)
    aarq = parse_apdu(frame.apdu)
    assert isinstance(aarq, AarqApdu)
    assert aarq.application_context is ApplicationContext.LN_CIPHERED
    assert aarq.mechanism is Mechanism.HLS_GMAC
    assert aarq.calling_ap_title == b"ISU00001"
    assert aarq.calling_authentication_value is not None
    assert len(aarq.calling_authentication_value) == 16  # CtoS
    ciphered = aarq.user_information
    assert isinstance(ciphered, CipheredApdu)
    assert ciphered.name == "glo-initiate-request"
    assert ciphered.security_control == 0x30  # authenticated and encrypted, suite 0
    assert ciphered.invocation_counter == 1
    assert aarq.to_bytes() == frame.apdu


def test_reply_to_hls_authentication_carries_f_stoc() -> None:
    # The fourth pass of HLS: ACTION on the association object, method 1, octet-string f(StoC).
    request = ActionRequest(
        MethodDescriptor(15, Obis(0, 0, 40, 0, 0), 1), Data.octets(v.HLS_GMAC_F_STOC)
    )
    raw = request.to_bytes()
    assert raw[:13] == bytes.fromhex("C3 01 C1 00 0F 00 00 28 00 00 FF 01 01")
    assert raw[13:15] == bytes.fromhex("09 11")
    parsed = parse_apdu(raw)
    assert parsed == request
    assert isinstance(parsed, ActionRequest)
    assert parsed.parameters is not None
    f_stoc = parsed.parameters.as_bytes()
    assert f_stoc[0] == 0x10  # security control: authentication only, suite 0
    assert int.from_bytes(f_stoc[1:5], "big") == 1


# --- round trips of what the GOST traces do not show ---

ROUND_TRIPS: list[Apdu] = [
    AarqApdu(
        CipheredApdu(0x21, bytes.fromhex("30 00 00 00 01") + b"\x55" * 20),
        application_context=ApplicationContext.LN_CIPHERED,
        mechanism=Mechanism.HLS_GMAC,
        calling_authentication_value=bytes(range(16)),
        calling_ap_title=b"ISU00001",
    ),
    AareApdu(
        InitiateResponse(READER_CONFORMANCE, 0x01F4, quality_of_service=1),
        mechanism=Mechanism.HLS_GMAC,
        responding_authentication_value=b"\x01" * 16,
        responding_ap_title=b"MTR00001",
    ),
    AareApdu(
        ConfirmedServiceError(1, 6, 1),
        AssociationResult.REJECTED_PERMANENT,
        UserDiagnostic.NO_REASON,
    ),
    AareApdu(
        None,
        AssociationResult.REJECTED_PERMANENT,
        2,
        DiagnosticSource.PROVIDER,
    ),
    AarqApdu(InitiateRequest(PUBLIC_CONFORMANCE, 512, 6, b"k" * 16, False, 3)),
    RlrqApdu(0, InitiateRequest(PUBLIC_CONFORMANCE)),
    RlrqApdu(),
    RlreApdu(0),
    GetRequestWithList(
        (
            (AttributeDescriptor(3, Obis.parse("1.0.1.8.0.255"), 2), None),
            (AttributeDescriptor(7, MONTHLY, 2), EntryDescriptor().to_selection()),
        )
    ),
    GetResponseWithList(
        (Data(DataType.DOUBLE_LONG_UNSIGNED, 7), DataAccessResult.OBJECT_UNAVAILABLE)
    ),
    GetResponseWithBlock(False, 1, bytes(range(200))),
    GetResponseWithBlock(True, 3, DataAccessResult.DATA_BLOCK_NUMBER_INVALID),
    GetResponse(DataAccessResult.READ_WRITE_DENIED),
    SetRequest(
        AttributeDescriptor(1, Obis.parse("0.0.96.1.10.255"), 2),
        Data(DataType.VISIBLE_STRING, "ТП-1".encode("cp1251").decode("latin-1")),
        AccessSelection(2, Data(DataType.NULL_DATA)),
    ),
    ActionRequest(MethodDescriptor(8, Obis(0, 0, 1, 0, 0), 6), Data(DataType.LONG, -30)),
    ActionRequest(MethodDescriptor(7, MONTHLY, 2), None, invoke_id_and_priority(2)),
    ActionResponse(ActionResult.SUCCESS),
    ActionResponse(ActionResult.SUCCESS, Data.octets(b"\x01" * 17)),
    ActionResponse(ActionResult.READ_WRITE_DENIED, DataAccessResult.OTHER_REASON),
    ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.SERVICE_NOT_SUPPORTED),
    ExceptionResponse(StateError.SERVICE_UNKNOWN, ServiceError.INVOCATION_COUNTER_ERROR, 41),
    CipheredApdu(0xDB, b"\x30" + b"\x00" * 30, b"MTR00001"),
    CipheredApdu(0xCC, b"\x30\x00\x00\x00\x02" + b"\xaa" * 200),
]


@pytest.mark.parametrize("apdu", ROUND_TRIPS, ids=lambda apdu: type(apdu).__name__)
def test_round_trips(apdu: Apdu) -> None:
    assert parse_apdu(apdu.to_bytes()) == apdu


def test_long_form_ber_lengths_in_an_aare() -> None:
    # Some meters send 81 nn lengths in the AARE even when short (dlms-cosem PR #115, §3).
    short = AareApdu(InitiateResponse(READER_CONFORMANCE, 0x0400)).to_bytes()
    long_form = b"\x61\x81" + short[1:]
    assert parse_apdu(long_form) == parse_apdu(short)


def test_invoke_id_and_priority() -> None:
    assert invoke_id_and_priority() == 0xC1
    assert invoke_id_and_priority(1, confirmed=False) == 0x81
    with pytest.raises(FrameError):
        invoke_id_and_priority(16)


# --- errors ---


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (DataAccessResult.SUCCESS, None),
        (DataAccessResult.OBJECT_UNAVAILABLE, ObjectUnavailableError),
        (DataAccessResult.OBJECT_UNDEFINED, ObjectUnavailableError),
        (DataAccessResult.READ_WRITE_DENIED, AccessError),
        (DataAccessResult.SCOPE_OF_ACCESS_VIOLATED, AccessError),
        (DataAccessResult.HARDWARE_FAULT, MeterInternalError),
        (DataAccessResult.TEMPORARY_FAILURE, MeterInternalError),
        (DataAccessResult.TYPE_UNMATCHED, RemoteProtocolError),
        (ActionResult.LONG_ACTION_ABORTED, RemoteProtocolError),
        (99, RemoteProtocolError),
    ],
)
def test_result_errors(result: int, error: type[Exception] | None) -> None:
    found = result_error(result, "3/1.0.1.8.0.255/2")
    if error is None:
        assert found is None
    else:
        assert type(found) is error
        assert "1.0.1.8.0.255" in str(found)


def test_association_errors() -> None:
    refused = AareApdu(
        None, AssociationResult.REJECTED_PERMANENT, UserDiagnostic.AUTHENTICATION_FAILURE
    )
    assert isinstance(refused.error(), AuthenticationError)
    other = AareApdu(None, AssociationResult.REJECTED_PERMANENT, UserDiagnostic.NO_REASON)
    assert isinstance(other.error(), RemoteProtocolError)
    failed_initiate = AareApdu(ConfirmedServiceError(1, 6, 1))
    assert isinstance(failed_initiate.error(), RemoteProtocolError)


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("", TruncatedError),
        ("C0", TruncatedError),
        ("C0 01 C1 00 03 01 00 01", TruncatedError),
        ("C0 07 C1", FrameError),  # GET choice the codec lacks
        ("C4 01 C1 00 FF", FrameError),  # unknown A-XDR tag
        ("C4 01 C1 01 63", FrameError),  # unknown data-access-result
        ("C4 01 C1 02 00", FrameError),  # choice flag 2
        ("C4 01 C1 00 11 01 00", FrameError),  # trailing byte
        ("99", FrameError),
        ("60 05 A1 03 06 01 00", FrameError),
        ("61 03 A2 03", TruncatedError),
        ("D8 01", TruncatedError),
        ("D8 07 01", FrameError),
        ("DB 08 4D", TruncatedError),
    ],
)
def test_bad_apdus(wire: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_apdu(bytes.fromhex(wire))


def test_wrong_tag_for_a_class() -> None:
    with pytest.raises(FrameError):
        GetResponse.from_bytes(_apdu(v.GOST_12_1_GET))
    with pytest.raises(FrameError):
        AareApdu.from_bytes(_apdu(v.GOST_12_1_AARQ))
