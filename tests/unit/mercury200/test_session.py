"""The sans-IO sessions: split delivery, garbage, echo, and what a timeout diagnoses."""

from __future__ import annotations

import pytest

from core.errors import (
    ChecksumError,
    FrameError,
    TransportTimeoutError,
    TruncatedError,
    UnexpectedResponseError,
)
from drivers.mercury.crc import append_crc
from drivers.mercury.m200.frame import Command, Request
from drivers.mercury.m200.session import NEED_DATA, Answer, ClientSession, ServerSession
from drivers.mercury.m200.values import EnergyTariffs, InstantValues
from tests.unit.mercury200 import vectors as v

MS_ENERGY = Request(v.MS_ADDRESS, Command.ENERGY)
MS_INSTANT = Request(v.MS_ADDRESS, Command.INSTANT)


def _feed(session: ClientSession, chunks: list[bytes]) -> Answer | None:
    for chunk in chunks:
        session.receive_data(chunk)
        event = session.next_event()
        if event is not NEED_DATA:
            return event
    return None


def test_send_gives_the_vector_bytes() -> None:
    assert ClientSession().send(MS_ENERGY) == v.MS_ENERGY_REQ
    assert ClientSession().send(Request.monthly(v.IOB_ADDRESS, None)) == v.IOB_MONTH_REQ


@pytest.mark.parametrize("chunk", [1, 2, 5, 100])
def test_split_delivery_gives_the_same_answer(chunk: int) -> None:
    session = ClientSession()
    session.send(MS_ENERGY)
    frame = v.MS_ENERGY_RESP
    event = _feed(session, [frame[i : i + chunk] for i in range(0, len(frame), chunk)])
    assert event is not None
    assert event.payload == EnergyTariffs((62142, 20834, 0, 0))
    assert session.in_flight is None


def test_echo_and_garbage_around_are_skipped() -> None:
    session = ClientSession()
    request = session.send(MS_INSTANT)
    noise = b"\x00\x06\x47\x5e\x63\xff" + request  # a prefix-looking run, then the echo
    stream = noise + v.MS_INSTANT_RESP + b"\x55\xaa"
    event = _feed(session, [bytes([byte]) for byte in stream])
    assert event is not None
    assert isinstance(event.payload, InstantValues)
    assert event.payload.power_w == 588


def test_no_event_before_a_request_or_after_the_answer() -> None:
    session = ClientSession()
    session.receive_data(v.MS_ENERGY_RESP)
    assert session.next_event() is NEED_DATA
    session.timed_out()  # nothing in flight: silent


def test_timeout_with_only_the_echo() -> None:
    session = ClientSession()
    session.receive_data(session.send(MS_ENERGY))
    assert session.next_event() is NEED_DATA
    with pytest.raises(TransportTimeoutError):
        session.timed_out()


def test_timeout_with_silence_returns() -> None:
    session = ClientSession()
    session.send(MS_ENERGY)
    session.timed_out()  # silence: the caller raises its own timeout
    assert session.in_flight is None


def test_timeout_diagnoses_bad_crc() -> None:
    session = ClientSession()
    session.send(MS_ENERGY)
    session.receive_data(v.MS_ENERGY_RESP[:-1] + b"\x00")
    assert session.next_event() is NEED_DATA
    with pytest.raises(ChecksumError):
        session.timed_out()


def test_timeout_diagnoses_truncation() -> None:
    session = ClientSession()
    session.send(MS_ENERGY)
    session.receive_data(v.MS_ENERGY_RESP[:-3])
    with pytest.raises(TruncatedError):
        session.timed_out()


def test_timeout_diagnoses_wrong_address() -> None:
    session = ClientSession()
    session.send(Request(v.WB_ADDRESS + 1, Command.ENERGY))
    session.receive_data(v.WB_ENERGY_RESP)
    assert session.next_event() is NEED_DATA
    with pytest.raises(UnexpectedResponseError, match="address"):
        session.timed_out()


def test_timeout_diagnoses_wrong_command() -> None:
    session = ClientSession()
    session.send(Request(v.MS_ADDRESS, Command.MONTHLY_ENERGY, b"\x0f"))
    session.receive_data(v.MS_ENERGY_RESP)  # same length, answers 27
    assert session.next_event() is NEED_DATA
    with pytest.raises(UnexpectedResponseError, match="command"):
        session.timed_out()


def test_timeout_diagnoses_a_short_valid_answer() -> None:
    session = ClientSession()
    session.send(MS_ENERGY)
    session.receive_data(append_crc(v.MS_ENERGY_REQ[:5] + b"\x00\x01"))
    with pytest.raises(UnexpectedResponseError, match="data byte"):
        session.timed_out()


def test_timeout_diagnoses_noise() -> None:
    session = ClientSession()
    session.send(MS_ENERGY)
    session.receive_data(b"\x11\x22\x33")
    with pytest.raises(FrameError):
        session.timed_out()


def test_server_finds_requests_in_noise_split_and_skips_bad_crc() -> None:
    server = ServerSession()
    bad = v.WB_ENERGY_REQ[:-1] + b"\x00"
    stream = b"\xff\x01" + bad + v.IOB_MONTH_REQ + v.MS_ENERGY_REQ
    found = []
    for byte in stream:
        server.receive_data(bytes([byte]))
        while (event := server.next_event()) is not NEED_DATA:
            found.append(event.to_bytes())
    assert found == [v.IOB_MONTH_REQ, v.MS_ENERGY_REQ]


def test_server_address_filter_and_unknown_commands() -> None:
    server = ServerSession(addresses={v.MS_ADDRESS})
    server.receive_data(v.WB_ENERGY_REQ + v.MS_INSTANT_REQ)
    event = server.next_event()
    assert event is not NEED_DATA
    assert event.address == v.MS_ADDRESS
    unknown = append_crc(v.MS_ENERGY_REQ[:4] + b"\x37\x01\x02\x03\x04")
    server.receive_data(unknown)
    event = server.next_event()
    assert event is not NEED_DATA
    assert event.command == 0x37
    assert len(event.argument) == 4
    assert server.next_event() is NEED_DATA
