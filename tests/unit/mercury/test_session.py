"""The sans-IO sessions: echo, refusals, channel state, timeouts, resynchronisation, server side."""

from __future__ import annotations

import pytest

from core.errors import (
    AccessError,
    AuthenticationError,
    FrameError,
    MeterInternalError,
    RemoteProtocolError,
    SessionExpiredError,
    TransportTimeoutError,
)
from drivers.mercury.answer import build_answer, build_status
from drivers.mercury.crc import append_crc
from drivers.mercury.errors import ClockCorrectedTodayError
from drivers.mercury.frame import AccessLevel, Param, Status
from drivers.mercury.request import (
    ChannelTestRequest,
    CloseChannelRequest,
    OpenChannelRequest,
    RawRequest,
    ReadParamRequest,
    ReadTimeRequest,
)
from drivers.mercury.session import (
    CHANNEL_IDLE_LIMIT_S,
    NEED_DATA,
    ChannelState,
    ClientSession,
    DataAnswer,
    ServerSession,
    StatusAnswer,
)
from drivers.mercury.values import MeterTime
from tests.unit.mercury import vectors as v
from tests.unit.mercury.cases import DATA_CASES

TIME_REQUEST, TIME_PAYLOAD = DATA_CASES["time"]
U1 = ReadParamRequest.from_bytes(v.W6_U1_REQ)


def test_echo_of_a_data_request_is_skipped() -> None:
    # W6: request and answer are both 6 bytes, so an echo would pass for an answer.
    session = ClientSession()
    session.send(U1, 0.0)
    session.receive_data(v.W6_U1_REQ)
    assert session.next_event() is NEED_DATA
    session.receive_data(v.W6_U1_RESP)
    event = session.next_event()
    assert isinstance(event, DataAnswer)
    assert event.data == bytes.fromhex("00 40 5E")


def test_only_an_echo_is_a_timeout() -> None:
    session = ClientSession()
    session.send(U1, 0.0)
    session.receive_data(v.W6_U1_REQ)
    with pytest.raises(TransportTimeoutError, match="echo"):
        session.timed_out()


def test_test_channel_answer_is_its_own_echo() -> None:
    # M1: the answer to test channel is byte-identical to the request (pitfall §6.1).
    session = ClientSession()
    session.send(ChannelTestRequest(0x30), 0.0)
    session.receive_data(v.M1_TEST_RESP)
    assert session.next_event() == StatusAnswer(ChannelTestRequest(0x30), Status.OK)


def test_silence_is_not_diagnosed() -> None:
    session = ClientSession()
    session.send(TIME_REQUEST, 0.0)
    session.timed_out()  # returns: the caller raises its own timeout


def test_noise_without_an_answer_is_a_frame_error() -> None:
    session = ClientSession()
    session.send(TIME_REQUEST, 0.0)
    session.receive_data(bytes(range(0x40, 0x60)))  # no 0x30 address byte anywhere
    assert session.next_event() is NEED_DATA
    with pytest.raises(FrameError, match="noise"):
        session.timed_out()


def test_long_noise_then_answer() -> None:
    session = ClientSession()
    session.send(TIME_REQUEST, 0.0)
    noise = bytes((0x30, 0x11) * 700)
    session.receive_data(noise)
    assert session.next_event() is NEED_DATA
    session.receive_data(build_answer(TIME_REQUEST, TIME_PAYLOAD))
    event = session.next_event()
    assert isinstance(event, DataAnswer)
    assert event.payload == TIME_PAYLOAD


@pytest.mark.parametrize(
    ("request_", "status", "error"),
    [
        (TIME_REQUEST, Status.INVALID_REQUEST, RemoteProtocolError),
        (TIME_REQUEST, Status.INTERNAL_ERROR, MeterInternalError),
        (TIME_REQUEST, Status.ACCESS_DENIED, AccessError),
        (TIME_REQUEST, Status.CLOCK_ALREADY_CORRECTED, ClockCorrectedTodayError),
        (TIME_REQUEST, Status.CHANNEL_NOT_OPEN, SessionExpiredError),
        (OpenChannelRequest.create(0x30, 1, "111111"), Status.ACCESS_DENIED, AuthenticationError),
        (OpenChannelRequest.create(0x30, 1, "111111"), Status.INVALID_REQUEST, RemoteProtocolError),
    ],
)
def test_refusals(request_: ReadTimeRequest, status: Status, error: type[Exception]) -> None:
    session = ClientSession()
    session.send(request_, 0.0)
    for byte in b"\x99" + build_status(request_, status):
        session.receive_data(bytes((byte,)))
    event = session.next_event()
    assert event == StatusAnswer(request_, status)
    assert isinstance(event.error(), error)


def test_refusal_is_not_an_error_for_status_ok() -> None:
    assert StatusAnswer(TIME_REQUEST, Status.OK).error() is None


def test_channel_state_follows_open_expiry_and_close() -> None:
    session = ClientSession()
    opening = OpenChannelRequest.create(0x30, AccessLevel.USER, "111111")
    session.send(opening, 100.0)
    session.receive_data(build_status(opening))
    session.next_event()
    assert session.state.value == "open"
    assert session.channel_open(100.0 + CHANNEL_IDLE_LIMIT_S - 1)
    assert not session.channel_open(100.0 + CHANNEL_IDLE_LIMIT_S)
    session.send(TIME_REQUEST, 200.0)
    session.receive_data(build_status(TIME_REQUEST, Status.CHANNEL_NOT_OPEN))
    session.next_event()
    assert session.state is ChannelState.CLOSED
    session.send(opening, 300.0)
    session.receive_data(build_status(opening))
    session.next_event()
    session.send(CloseChannelRequest(0x30), 301.0)
    session.receive_data(build_status(CloseChannelRequest(0x30)))
    session.next_event()
    assert session.state is ChannelState.CLOSED


def test_bytes_after_an_answer_and_without_a_request_are_dropped() -> None:
    session = ClientSession()
    session.receive_data(b"\x30\x00")
    assert session.next_event() is NEED_DATA
    session.send(TIME_REQUEST, 0.0)
    session.receive_data(build_answer(TIME_REQUEST, TIME_PAYLOAD) * 2)
    assert isinstance(session.next_event(), DataAnswer)
    assert session.next_event() is NEED_DATA
    assert session.in_flight is None


def test_a_bad_layout_with_a_good_crc_is_a_frame_error() -> None:
    session = ClientSession()
    session.send(TIME_REQUEST, 0.0)
    session.receive_data(append_crc(bytes.fromhex("30 99 14 16 03 27 02 08 01")))  # 99 s
    with pytest.raises(FrameError, match=r"BCD|valid"):
        session.next_event()


def test_unsupported_request_cannot_be_sent() -> None:
    with pytest.raises(FrameError):
        ClientSession().send(RawRequest(0x30, 0x07, b"\x01"), 0.0)


def test_a_write_expects_a_status_answer() -> None:
    session = ClientSession()
    session.send(RawRequest(0x30, 0x03, b"\x0d\x30\x55\x10"), 0.0)
    session.receive_data(v.M2_OPEN_RESP)  # status 0 at 0x30
    event = session.next_event()
    assert isinstance(event, StatusAnswer)
    assert event.error() is None


# --- server side -------------------------------------------------------------------------------

def test_server_skips_bad_crc_and_finds_the_next_request() -> None:
    bad = bytearray(v.M4_SERIAL_REQ)
    bad[-1] ^= 0xFF
    server = ServerSession()
    server.receive_data(bytes(bad) + v.M5_FIRMWARE_REQ + v.M8_RATIOS_REQ)
    assert server.next_event() == ReadParamRequest(0x30, Param.FIRMWARE)
    assert server.next_event() == ReadParamRequest(0x30, Param.RATIOS)
    assert server.next_event() is NEED_DATA


def test_server_returns_unmodelled_requests_raw() -> None:
    # DOC3 §1.6 time correction 03 0D (CRC computed here): a write.
    correction = bytes.fromhex("80 03 0D 30 55 10 67 E4")
    level3 = append_crc(bytes.fromhex("30 01 03 01 01 01 01 01 01"))
    server = ServerSession()
    for byte in correction + level3:
        server.receive_data(bytes((byte,)))
    assert server.next_event() == RawRequest(0x80, 0x03, bytes.fromhex("0D 30 55 10"))
    assert server.next_event() == RawRequest(0x30, 0x01, bytes.fromhex("03 01 01 01 01 01 01"))


def test_server_filters_addresses() -> None:
    server = ServerSession(addresses={0x30})
    server.receive_data(v.BRK_TEST_REQ + v.M1_TEST_REQ)
    assert server.next_event() == ChannelTestRequest(0x30)
    assert server.next_event() is NEED_DATA


def test_meter_time_answer_built_for_a_parsed_request() -> None:
    server = ServerSession()
    server.receive_data(v.D_TIME_REQ)
    request = server.next_event()
    assert isinstance(request, ReadTimeRequest)
    payload = MeterTime.from_bytes(bytes.fromhex("43 14 16 03 27 02 08 01"))
    assert build_answer(request, payload) == v.D_TIME_RESP
