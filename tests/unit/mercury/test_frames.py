"""Each frame type: round trip, bad checksum, truncated, wrong code or address, garbage around,
and split delivery (1-byte chunks give the same events)."""

from __future__ import annotations

import pytest

from core.errors import (
    ChecksumError,
    FrameError,
    TruncatedError,
    UnexpectedResponseError,
)
from drivers.mercury.answer import Payload, build_answer, build_status, decode_answer
from drivers.mercury.frame import Response, Status, StatusResponse
from drivers.mercury.request import RawRequest, Request, parse_request
from drivers.mercury.session import (
    NEED_DATA,
    ClientEvent,
    ClientSession,
    DataAnswer,
    ServerSession,
    StatusAnswer,
)
from tests.unit.mercury.cases import DATA_CASES, STATUS_REQUESTS

DATA = list(DATA_CASES.values())
DATA_IDS = list(DATA_CASES)
ALL_REQUESTS = [case[0] for case in DATA] + list(STATUS_REQUESTS.values())
ALL_IDS = DATA_IDS + list(STATUS_REQUESTS)


def _answer(request: Request, payload: Payload | None) -> bytes:
    return build_status(request) if payload is None else build_answer(request, payload)


def _events(request: Request, chunks: list[bytes]) -> list[ClientEvent]:
    session = ClientSession()
    session.send(request, 0.0)
    events = []
    for chunk in chunks:
        session.receive_data(chunk)
        while (event := session.next_event()) is not NEED_DATA:
            events.append(event)
    return events


def _diagnosis(request: Request, received: bytes) -> None:
    session = ClientSession()
    session.send(request, 0.0)
    session.receive_data(received)
    assert session.next_event() is NEED_DATA
    session.timed_out()


ANSWER_CASES = [*DATA, *((request, None) for request in STATUS_REQUESTS.values())]


# --- requests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("request_", ALL_REQUESTS, ids=ALL_IDS)
def test_request_round_trip(request_: Request) -> None:
    frame = request_.to_bytes()
    assert parse_request(frame) == request_
    assert type(request_).from_bytes(frame) == request_


@pytest.mark.parametrize("request_", ALL_REQUESTS, ids=ALL_IDS)
def test_request_bad_checksum(request_: Request) -> None:
    frame = bytearray(request_.to_bytes())
    frame[-1] ^= 0x01
    with pytest.raises(ChecksumError):
        parse_request(bytes(frame))


@pytest.mark.parametrize("request_", ALL_REQUESTS, ids=ALL_IDS)
def test_request_truncated(request_: Request) -> None:
    frame = request_.to_bytes()
    with pytest.raises(TruncatedError):
        parse_request(frame[:2])
    with pytest.raises(FrameError):  # a short frame's last two bytes are no CRC
        parse_request(frame[:-1])


@pytest.mark.parametrize("request_", ALL_REQUESTS, ids=ALL_IDS)
def test_request_wrong_code(request_: Request) -> None:
    other = RawRequest(request_.address, 0x2A, request_.to_bytes()[2:-2])
    with pytest.raises(FrameError):
        type(request_).from_bytes(other.to_bytes())
    assert parse_request(other.to_bytes()) == other


@pytest.mark.parametrize("request_", ALL_REQUESTS, ids=ALL_IDS)
def test_request_garbage_around_and_split(request_: Request) -> None:
    stream = b"\x30\xff\x00" + request_.to_bytes() + b"\x30\x08"
    whole = ServerSession()
    whole.receive_data(stream)
    assert whole.next_event() == request_
    assert whole.next_event() is NEED_DATA
    split = ServerSession(addresses={request_.address})
    found = []
    for byte in stream:
        split.receive_data(bytes((byte,)))
        if (event := split.next_event()) is not NEED_DATA:
            found.append(event)
    assert found == [request_]


# --- answers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("request_", "payload"), ANSWER_CASES, ids=ALL_IDS)
def test_answer_round_trip(request_: Request, payload: Payload | None) -> None:
    frame = _answer(request_, payload)
    (event,) = _events(request_, [frame])
    if payload is None:
        assert event == StatusAnswer(request_, Status.OK)
        assert StatusResponse.from_bytes(frame).to_bytes() == frame
    else:
        assert isinstance(event, DataAnswer)
        assert event.payload == payload
        assert decode_answer(request_, Response.from_bytes(frame).data) == payload
        assert Response.from_bytes(frame).to_bytes() == frame


@pytest.mark.parametrize(("request_", "payload"), ANSWER_CASES, ids=ALL_IDS)
def test_answer_split_delivery(request_: Request, payload: Payload | None) -> None:
    frame = b"\x00\x30\x99" + _answer(request_, payload)
    whole = _events(request_, [frame])
    assert _events(request_, [bytes((byte,)) for byte in frame]) == whole
    assert _events(request_, [frame[:5], frame[5:7], frame[7:]]) == whole
    assert len(whole) == 1


@pytest.mark.parametrize(("request_", "payload"), ANSWER_CASES, ids=ALL_IDS)
def test_answer_garbage_around(request_: Request, payload: Payload | None) -> None:
    frame = _answer(request_, payload)
    (clean,) = _events(request_, [frame])
    assert _events(request_, [b"\xfe\x30\x30\x01" + frame + b"\x30\x00\xff"]) == [clean]


@pytest.mark.parametrize(("request_", "payload"), ANSWER_CASES, ids=ALL_IDS)
def test_answer_bad_checksum(request_: Request, payload: Payload | None) -> None:
    frame = bytearray(_answer(request_, payload))
    frame[-2] ^= 0x80
    with pytest.raises(ChecksumError):
        (StatusResponse if payload is None else Response).from_bytes(bytes(frame))
    with pytest.raises(ChecksumError):
        _diagnosis(request_, bytes(frame))


@pytest.mark.parametrize(("request_", "payload"), ANSWER_CASES, ids=ALL_IDS)
def test_answer_truncated(request_: Request, payload: Payload | None) -> None:
    frame = _answer(request_, payload)
    with pytest.raises(TruncatedError):
        _diagnosis(request_, frame[:-1])
    if payload is not None:
        with pytest.raises(TruncatedError):
            decode_answer(request_, Response.from_bytes(frame).data[:-1])


@pytest.mark.parametrize(("request_", "payload"), ANSWER_CASES, ids=ALL_IDS)
def test_answer_wrong_address(request_: Request, payload: Payload | None) -> None:
    other = type(request_).from_bytes(
        RawRequest(0x31, request_.code, request_.to_bytes()[2:-2]).to_bytes()
    )
    with pytest.raises(UnexpectedResponseError, match="address 49"):
        _diagnosis(request_, _answer(other, payload))


@pytest.mark.parametrize(("request_", "payload"), DATA, ids=DATA_IDS)
def test_answer_of_another_request(request_: Request, payload: Payload) -> None:
    """No code in answers: the answer to some other request shows as a wrong length."""
    data = payload.to_bytes()
    wrong = Response(request_.address, data + b"\x00").to_bytes()
    with pytest.raises(UnexpectedResponseError, match="data byte"):
        _diagnosis(request_, wrong)
    with pytest.raises(FrameError):
        decode_answer(request_, data + b"\x00")


def test_status_ok_where_data_belongs_is_not_an_answer() -> None:
    request, _ = DATA_CASES["time"]
    with pytest.raises(UnexpectedResponseError, match="1 data byte"):
        _diagnosis(request, build_status(request, Status.OK))
