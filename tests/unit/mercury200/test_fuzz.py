"""Hypothesis fuzz: decoding arbitrary bytes only ever raises our protocol errors."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ProtocolError, TransportTimeoutError
from drivers.mercury.m200.answer import decode_answer
from drivers.mercury.m200.frame import Command, Request, Response
from drivers.mercury.m200.session import NEED_DATA, ClientSession, ServerSession

_COMMANDS = [c for c in Command if c is not Command.PARAMETER]


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_frames_raise_only_protocol_errors(data: bytes) -> None:
    for decode in (Request.from_bytes, Response.from_bytes):
        with contextlib.suppress(ProtocolError):
            decode(data)


@settings(max_examples=500)
@given(st.sampled_from(_COMMANDS), st.binary(max_size=20))
def test_answers_raise_only_protocol_errors(command: Command, data: bytes) -> None:
    argument = b"\x0f" if command.takes_argument else b""
    with contextlib.suppress(ProtocolError):
        decode_answer(Request(1, command, argument), data)


@settings(max_examples=200)
@given(st.sampled_from(_COMMANDS), st.lists(st.binary(min_size=1, max_size=30), max_size=8))
def test_sessions_raise_only_protocol_errors(command: Command, chunks: list[bytes]) -> None:
    argument = b"\x0f" if command.takes_argument else b""
    client, server = ClientSession(), ServerSession()
    client.send(Request(0x0006475E, command, argument))
    for chunk in chunks:
        client.receive_data(b"\x00\x06\x47\x5e" + bytes((command,)) + chunk)
        server.receive_data(chunk)
        with contextlib.suppress(ProtocolError):
            client.next_event()
        while server.next_event() is not NEED_DATA:
            pass
    with contextlib.suppress(ProtocolError, TransportTimeoutError):  # echo only: a timeout
        client.timed_out()
