"""Decoding arbitrary bytes only ever raises our protocol errors, never IndexError, ValueError…"""

from __future__ import annotations

from contextlib import suppress

from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import MeterError, ProtocolError, TransportTimeoutError
from drivers.mercury.answer import decode_answer
from drivers.mercury.crc import append_crc
from drivers.mercury.frame import Response, StatusResponse
from drivers.mercury.instant import Bwri, DirectedValue, HarmonicDistortion, Temperature
from drivers.mercury.records import JournalRecord, Passport, ProfilePointer, ProfileRecord, Variant
from drivers.mercury.request import parse_request
from drivers.mercury.session import NEED_DATA, ClientSession, ServerSession
from drivers.mercury.values import (
    EnergyRegisters,
    FirmwareChecksum,
    FirmwareVersion,
    MeterIdentity,
    MeterTime,
    NetworkAddress,
    PhaseEnergy,
    TransformationRatios,
)
from tests.unit.mercury.cases import DATA_CASES, STATUS_REQUESTS

OURS = (ProtocolError, MeterError)
REQUESTS = [case[0] for case in DATA_CASES.values()] + list(STATUS_REQUESTS.values())
DECODERS = [
    MeterTime.from_bytes, MeterIdentity.from_bytes, FirmwareVersion.from_bytes,
    TransformationRatios.from_bytes, NetworkAddress.from_bytes, FirmwareChecksum.from_bytes,
    EnergyRegisters.from_bytes, PhaseEnergy.from_bytes, DirectedValue.from_bytes,
    Temperature.from_bytes, HarmonicDistortion.from_bytes, JournalRecord.from_bytes,
    ProfilePointer.from_bytes, ProfileRecord.from_bytes, Variant.from_bytes, Passport.from_bytes,
    Response.from_bytes, StatusResponse.from_bytes, parse_request,
]


def _ours(call: object, *args: object) -> None:
    with suppress(*OURS):
        call(*args)  # type: ignore[operator]


@given(st.binary(max_size=40))
def test_decoders(data: bytes) -> None:
    for decoder in DECODERS:
        _ours(decoder, data)


@given(st.binary(max_size=30))
def test_parse_request_with_a_valid_crc(body: bytes) -> None:
    _ours(parse_request, append_crc(body))


@given(st.integers(0, 255))
def test_bwri(byte: int) -> None:
    _ours(Bwri.from_byte, byte)


@given(st.sampled_from(REQUESTS), st.binary(max_size=30))
def test_decode_answer(request: object, data: bytes) -> None:
    _ours(decode_answer, request, data)


@settings(max_examples=300)
@given(st.sampled_from(REQUESTS), st.lists(st.binary(max_size=12), max_size=8),
       st.booleans())
def test_client_session(request: object, chunks: list[bytes], with_frame: bool) -> None:
    session = ClientSession()
    session.send(request, 0.0)  # type: ignore[arg-type]
    if with_frame and chunks:  # a CRC-valid frame from our address with arbitrary data
        chunks[-1] = append_crc(bytes((request.address,)) + chunks[-1])  # type: ignore[attr-defined]
    try:
        for chunk in chunks:
            session.receive_data(chunk)
            if session.next_event() is not NEED_DATA:
                return
        session.timed_out()
    except (*OURS, TransportTimeoutError):
        pass


@given(st.lists(st.binary(max_size=16), max_size=8))
def test_server_session_never_raises(chunks: list[bytes]) -> None:
    server = ServerSession()
    for chunk in chunks:
        server.receive_data(chunk)
        while server.next_event() is not NEED_DATA:
            pass
