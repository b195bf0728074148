"""Sans-IO sessions of the Mercury 230 family: the collector's (client) and a simulator's (server)
(docs/reference/mercury-protocol.md §1.2, §1.4, §1.5, pitfalls §6.1, §6.11, §6.12).

::

    client:  send(request, now_s) → bytes to write
             receive_data(bytes); next_event() → StatusAnswer | DataAnswer | NEED_DATA
             timed_out() when the caller gave up waiting → raises why (or None if silent)
    server:  receive_data(bytes); next_event() → Request | RawRequest | NEED_DATA

Frames have no start marker and answers no code, so the client looks, among the bytes received
since the request, for the earliest-ending run that starts with the meter's address and checks
out at the expected length — or a 4-byte status frame with status 1..5. The same rule gives the
same events whatever the chunking (converters split frames, pitfall §6.12) and skips leading
noise. A frame identical to the request is an adapter's echo and never an answer (§6.1), except
for test and close, whose genuine answers can be byte-identical to them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from core.errors import (
    ChecksumError,
    FrameError,
    IsuError,
    TransportTimeoutError,
    TruncatedError,
    UnexpectedResponseError,
)
from drivers.mercury.answer import Payload, decode_answer, expected_data_length
from drivers.mercury.crc import crc16_modbus
from drivers.mercury.frame import STATUS_FRAME_LENGTH, Status, StatusResponse, status_error
from drivers.mercury.request import (
    ChannelTestRequest,
    CloseChannelRequest,
    OpenChannelRequest,
    RawRequest,
    Request,
    parse_request,
    request_lengths,
)

__all__ = [
    "CHANNEL_IDLE_LIMIT_S",
    "NEED_DATA",
    "ChannelState",
    "ClientEvent",
    "ClientSession",
    "DataAnswer",
    "NeedData",
    "Sentinel",
    "ServerSession",
    "StatusAnswer",
]

#: The meter closes an idle channel after 240 s; every valid request restarts it (DOC3 p.11).
CHANNEL_IDLE_LIMIT_S = 240.0
_MAX_BUFFER = 1024
_MAX_UNKNOWN_REQUEST = 64


class Sentinel(Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = Sentinel.NEED_DATA
NeedData = Literal[Sentinel.NEED_DATA]


class ChannelState(Enum):
    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """A status frame answering ``request``; OK for test/open/close, a refusal otherwise."""

    request: Request
    status: Status

    def error(self) -> IsuError | None:
        return status_error(self.status, self.request.code)


@dataclass(frozen=True, slots=True)
class DataAnswer:
    request: Request
    data: bytes
    payload: Payload


ClientEvent = StatusAnswer | DataAnswer


def _crc_ok(frame: bytes | bytearray) -> bool:
    return crc16_modbus(bytes(frame[:-2])) == int.from_bytes(frame[-2:], "little")


def _is_refusal(frame: bytes | bytearray) -> bool:
    """A status frame with status 1..5 (WB's rule: 4 bytes, non-zero low nibble)."""
    return Status.OK < frame[1] <= Status.CHANNEL_NOT_OPEN and _crc_ok(frame)


# A collector sends the same requests to the same meters every poll: their answer length and
# bytes (with the CRC) are worked out once. Requests are frozen values, so equal is the same.
_PREPARED: dict[Request, tuple[int, bytes]] = {}
_PREPARED_LIMIT = 8192


class ClientSession:
    """One meter's side of the conversation, seen from the collector; one request in flight."""

    def __init__(self) -> None:
        self._request: Request | None = None
        self._request_bytes = b""
        self._length = 0
        self._buffer = bytearray()
        self._scan_from = 0
        self._received = 0
        self._state = ChannelState.CLOSED
        self._last_request_s: float | None = None

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def in_flight(self) -> Request | None:
        return self._request

    def channel_open(self, now_s: float) -> bool:
        """Whether the channel is open and has not idled out at monotonic time ``now_s``."""
        return (
            self._state is ChannelState.OPEN
            and self._last_request_s is not None
            and now_s - self._last_request_s < CHANNEL_IDLE_LIMIT_S
        )

    def send(self, request: Request, now_s: float) -> bytes:
        """Start ``request`` (abandoning any earlier one); returns the bytes to write."""
        prepared = _PREPARED.get(request)
        if prepared is None:
            prepared = (expected_data_length(request) + 3, request.to_bytes())
            if len(_PREPARED) >= _PREPARED_LIMIT:
                _PREPARED.clear()
            _PREPARED[request] = prepared
        self._request = request
        self._length, self._request_bytes = prepared
        self._buffer.clear()
        self._scan_from = 0
        self._received = 0
        self._last_request_s = now_s
        return self._request_bytes

    def receive_data(self, data: bytes) -> None:
        if self._request is None:
            return  # stale bytes of an abandoned answer
        self._received += len(data)
        self._buffer += data
        excess = len(self._buffer) - _MAX_BUFFER
        if excess > 0:
            del self._buffer[:excess]
            self._scan_from = max(0, self._scan_from - excess)

    def next_event(self) -> ClientEvent | NeedData:
        request = self._request
        if request is None:
            return NEED_DATA
        found = self._scan(request)
        if found is None:
            return NEED_DATA
        start, end = found
        frame = bytes(self._buffer[start:end])
        self._finish()
        if len(frame) == STATUS_FRAME_LENGTH:
            status = StatusResponse.from_bytes(frame).status
            self._track(request, status)
            return StatusAnswer(request, status)
        return DataAnswer(request, frame[1:-2], decode_answer(request, frame[1:-2]))

    def timed_out(self) -> None:
        """The caller stopped waiting: raise what the received bytes say, or return if none came."""
        request, buf, length = self._request, bytes(self._buffer), self._length
        self._finish()
        if request is None or not self._received:
            return
        address = request.address
        if buf == self._request_bytes:
            raise TransportTimeoutError("no answer; only the echo of the request came back")
        for start in range(len(buf) - STATUS_FRAME_LENGTH + 1):
            rest = buf[start:]
            if buf[start] == address and rest != self._request_bytes and _crc_ok(rest):
                raise UnexpectedResponseError(
                    f"an answer of {len(rest) - 3} data byte(s) where {length - 3} belong"
                )
        windows = [buf[start : start + length] for start in range(len(buf) - length + 1)]
        foreign = [frame[0] for frame in windows if frame[0] != address and _crc_ok(frame)]
        if foreign:
            raise UnexpectedResponseError(
                f"an answer from address {foreign[0]} where {address} was asked"
            )
        if any(frame[0] == address and not _crc_ok(frame) for frame in windows):
            raise ChecksumError(f"an answer of {length} bytes with a bad CRC")
        if address in buf[max(0, len(buf) - length + 1) :]:
            tail = len(buf) - buf.index(address, max(0, len(buf) - length + 1))
            raise TruncatedError(f"the answer ended after {tail} of {length} bytes")
        raise FrameError(f"{self._received} byte(s) of noise and no answer")

    def _finish(self) -> None:
        self._request = None
        self._buffer.clear()
        self._scan_from = 0

    def _track(self, request: Request, status: Status) -> None:
        if isinstance(request, OpenChannelRequest) and status is Status.OK:
            self._state = ChannelState.OPEN
        elif isinstance(request, CloseChannelRequest) or status is Status.CHANNEL_NOT_OPEN:
            self._state = ChannelState.CLOSED

    def _is_echo(self, frame: bytes | bytearray, request: Request) -> bool:
        if isinstance(request, ChannelTestRequest | CloseChannelRequest):
            return False
        return frame == self._request_bytes

    def _scan(self, request: Request) -> tuple[int, int] | None:
        buf, length, address = self._buffer, self._length, request.address
        expects_data = length > STATUS_FRAME_LENGTH
        best: tuple[int, int] | None = None
        dead_prefix = True
        size = len(buf)
        start = self._scan_from
        while start < size:
            # Only a byte equal to the address can start an answer: jump to the next one, as
            # long as an answer starting there could still end before the best one found.
            limit = size if best is None else min(size, best[1] - STATUS_FRAME_LENGTH + 1)
            found = buf.find(address, start, limit) if start < limit else -1
            if dead_prefix and (stop := limit if found < 0 else found) > start:
                self._scan_from = stop  # what lies before cannot start an answer
            if found < 0:
                break
            start = found
            end = start + STATUS_FRAME_LENGTH
            status_seen = end <= len(buf)
            if expects_data and status_seen and _is_refusal(buf[start:end]):
                best = (start, end) if best is None or end < best[1] else best
            end = start + length
            complete = end <= len(buf)
            if complete:
                frame = buf[start:end]
                if _crc_ok(frame) and not self._is_echo(frame, request):
                    best = (start, end) if best is None or end < best[1] else best
            if dead_prefix and complete and status_seen:
                self._scan_from = start + 1
            else:
                dead_prefix = False
            start += 1
        return best


class ServerSession:
    """A meter's side: finds requests in the bytes from the bus (a simulator uses it).

    ``addresses`` limits the requests returned (``None``: all). A request with a bad CRC is
    skipped silently, as a meter does; a CRC-valid request whose layout this codec rejects
    comes out as a :class:`RawRequest`, to be answered with status 1.
    """

    def __init__(self, addresses: Collection[int] | None = None) -> None:
        self._addresses = None if addresses is None else frozenset(addresses)
        self._buffer = bytearray()
        self._scan_from = 0

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        excess = len(self._buffer) - _MAX_BUFFER
        if excess > 0:
            del self._buffer[:excess]
            self._scan_from = max(0, self._scan_from - excess)

    def next_event(self) -> Request | NeedData:
        found = self._scan()
        if found is None:
            return NEED_DATA
        start, end = found
        frame = bytes(self._buffer[start:end])
        del self._buffer[:end]
        self._scan_from = 0
        try:
            return parse_request(frame)
        except FrameError:
            return RawRequest.from_bytes(frame)

    def _first_end(self, start: int) -> tuple[int | None, int]:
        """The end of the shortest valid request at ``start``, and the longest length tried."""
        buf = self._buffer
        known = request_lengths(buf[start + 1])
        if known is not None:
            for length in known:
                if start + length <= len(buf) and _crc_ok(buf[start : start + length]):
                    return start + length, max(known)
            return None, max(known)
        # An unmodelled code (a write…): any length up to the limit whose CRC checks out,
        # computed as the bytes go so that noise costs one pass per start.
        crc = crc16_modbus(bytes(buf[start : start + 2]))
        for end in range(start + STATUS_FRAME_LENGTH, start + _MAX_UNKNOWN_REQUEST + 1):
            if end > len(buf):
                break
            if crc == int.from_bytes(buf[end - 2 : end], "little"):
                return end, _MAX_UNKNOWN_REQUEST
            crc = crc16_modbus(bytes(buf[end - 2 : end - 1]), crc)
        return None, _MAX_UNKNOWN_REQUEST

    def _scan(self) -> tuple[int, int] | None:
        buf = self._buffer
        best: tuple[int, int] | None = None
        dead_prefix = True
        for start in range(self._scan_from, len(buf) - 1):
            if best is not None and start + STATUS_FRAME_LENGTH > best[1]:
                break
            if self._addresses is not None and buf[start] not in self._addresses:
                end, longest = None, 0
            else:
                end, longest = self._first_end(start)
            if end is not None and (best is None or end < best[1]):
                best = (start, end)
            if dead_prefix and end is None and start + longest <= len(buf):
                self._scan_from = start + 1
            else:
                dead_prefix = False
        return best

