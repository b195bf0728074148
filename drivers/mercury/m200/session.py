"""Sans-IO sessions of the Mercury 200 family: the collector's (client) and a meter's (server)
(docs/reference/mercury-protocol.md §2, pitfalls §6.1, §6.12, §6.14).

::

    client:  send(request) → bytes to write
             receive_data(bytes); next_event() → Answer | NEED_DATA
             timed_out() when the caller gave up → raises what the bytes say (None: silence)
    server:  receive_data(bytes); next_event() → Request | NEED_DATA

An answer is ``ADDR CMD DATA CRC`` with a length known from the request, so the client looks
for the earliest run that starts with the address and the echoed command and checks out at
that length. Leading garbage, an adapter's echo of the request (never the same length as its
answer) and any chunking give the same events.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from core.errors import (
    ChecksumError,
    FrameError,
    TransportTimeoutError,
    TruncatedError,
    UnexpectedResponseError,
)
from drivers.mercury.crc import crc16_modbus
from drivers.mercury.m200.answer import Payload, answer_length, decode_answer, request_length
from drivers.mercury.m200.frame import ADDRESS_LENGTH, MIN_FRAME_LENGTH, Request

__all__ = ["NEED_DATA", "Answer", "ClientSession", "NeedData", "ServerSession"]

_MAX_BUFFER = 1024
_MAX_UNKNOWN_REQUEST = MIN_FRAME_LENGTH + 17


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = _Sentinel.NEED_DATA
NeedData = Literal[_Sentinel.NEED_DATA]


@dataclass(frozen=True, slots=True)
class Answer:
    request: Request
    data: bytes
    payload: Payload


def _crc_ok(frame: bytes | bytearray) -> bool:
    return crc16_modbus(bytes(frame[:-2])) == int.from_bytes(frame[-2:], "little")


class ClientSession:
    """The collector's side for one bus; one request in flight."""

    def __init__(self) -> None:
        self._request: Request | None = None
        self._request_bytes = b""
        self._prefix = b""
        self._length = 0
        self._buffer = bytearray()
        self._received = 0

    @property
    def in_flight(self) -> Request | None:
        return self._request

    def send(self, request: Request) -> bytes:
        """Start ``request`` (abandoning any earlier one); returns the bytes to write."""
        self._length = answer_length(request) + MIN_FRAME_LENGTH
        self._request = request
        self._request_bytes = request.to_bytes()
        self._prefix = self._request_bytes[: ADDRESS_LENGTH + 1]
        self._buffer.clear()
        self._received = 0
        return self._request_bytes

    def receive_data(self, data: bytes) -> None:
        if self._request is None:
            return  # stale bytes of an abandoned answer
        self._received += len(data)
        self._buffer += data
        excess = len(self._buffer) - _MAX_BUFFER
        if excess > 0:
            del self._buffer[:excess]

    def next_event(self) -> Answer | NeedData:
        request = self._request
        if request is None:
            return NEED_DATA
        buf, length = self._buffer, self._length
        start = buf.find(self._prefix)
        while start != -1 and start + length <= len(buf):
            frame = bytes(buf[start : start + length])
            if _crc_ok(frame):
                self._finish()
                data = frame[ADDRESS_LENGTH + 1 : -2]
                return Answer(request, data, decode_answer(request, data))
            start = buf.find(self._prefix, start + 1)
        return NEED_DATA

    def timed_out(self) -> None:
        """The caller stopped waiting: raise what the received bytes say, or return if none."""
        request, buf, length = self._request, bytes(self._buffer), self._length
        self._finish()
        if request is None or not self._received:
            return
        if buf == self._request_bytes:
            raise TransportTimeoutError("no answer; only the echo of the request came back")
        address = self._prefix[:ADDRESS_LENGTH]
        for start in range(len(buf) - length + 1):
            frame = buf[start : start + length]
            if not _crc_ok(frame):
                continue
            if frame[:ADDRESS_LENGTH] != address:
                found = int.from_bytes(frame[:ADDRESS_LENGTH], "big")
                raise UnexpectedResponseError(
                    f"an answer from address {found} where {request.address} was asked"
                )
            raise UnexpectedResponseError(
                f"an answer to command {frame[ADDRESS_LENGTH]:02X} where "
                f"{request.command:02X} was sent"
            )
        for start in range(len(buf) - len(self._prefix) + 1):
            if buf[start : start + len(self._prefix)] != self._prefix:
                continue
            rest = buf[start:]
            if rest == self._request_bytes[: len(rest)]:
                continue  # the echo, maybe cut short
            if len(rest) >= length:
                raise ChecksumError(f"an answer of {length} bytes with a bad CRC")
            for end in range(MIN_FRAME_LENGTH + 1, len(rest) + 1):
                if _crc_ok(rest[:end]):
                    raise UnexpectedResponseError(
                        f"an answer of {end - MIN_FRAME_LENGTH} data byte(s) where "
                        f"{length - MIN_FRAME_LENGTH} belong"
                    )
            raise TruncatedError(f"the answer ended after {len(rest)} of {length} bytes")
        raise FrameError(f"{self._received} byte(s) of noise and no answer")

    def _finish(self) -> None:
        self._request = None
        self._buffer.clear()


class ServerSession:
    """A meter's side: requests found in the bytes from the bus (the simulator uses it).

    ``addresses`` limits the requests returned (``None``: all); bad CRCs are skipped, as a
    meter drops them silently. Unmodelled commands come out too (any CRC-valid length), so that
    a meter can decide to stay silent.
    """

    def __init__(self, addresses: Collection[int] | None = None) -> None:
        self._addresses = None if addresses is None else frozenset(addresses)
        self._buffer = bytearray()

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        excess = len(self._buffer) - _MAX_BUFFER
        if excess > 0:
            del self._buffer[:excess]

    def next_event(self) -> Request | NeedData:
        buf = self._buffer
        for start in range(len(buf) - MIN_FRAME_LENGTH + 1):
            if self._addresses is not None:
                address = int.from_bytes(buf[start : start + ADDRESS_LENGTH], "big")
                if address not in self._addresses:
                    continue
            for length in self._lengths(buf[start + ADDRESS_LENGTH]):
                end = start + length
                if end <= len(buf) and _crc_ok(buf[start:end]):
                    request = Request.from_bytes(bytes(buf[start:end]))
                    del buf[:end]
                    return request
        return NEED_DATA

    @staticmethod
    def _lengths(code: int) -> range:
        try:
            known = request_length(code)
        except FrameError:
            return range(MIN_FRAME_LENGTH, _MAX_UNKNOWN_REQUEST + 1)
        return range(known, known + 1)

    def clear(self) -> None:
        """Drop a broken frame (the simulator calls it after an inter-byte gap)."""
        self._buffer.clear()
