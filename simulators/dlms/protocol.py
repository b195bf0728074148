"""The link side of a simulated SPODES meter, sans-IO: bytes in, bytes out
(``receive_data(data) -> list[bytes]``), for HDLC (IEC 62056-46) and the wrapper (62056-47).

HDLC, as a meter in normal response mode with window 1::

    SNRM            → UA (the parameters granted; an empty UA to an empty SNRM when they are
                      the defaults, as in GOST tables 12.1–12.2), sequence numbers reset
    I (segment)     → RR(V(R))                      a long request, one RR per segment
    I (last)        → I [S bit] …                   the answer, cut to the granted size
    RR(N(R))        → the next segment; or the last I-frame again when N(R) says it was lost;
                      or RR(V(R)) when there is nothing to send
    I repeated      → the last I-frame again (its N(S) is one behind V(R))
    DISC            → UA, or DM when not connected; I or RR when not connected → DM

:class:`LineFaults` makes the line lose or damage frames on purpose (tests and benches).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import ProtocolError
from drivers.dlms.hdlc import NEED_DATA, Control, FrameKind, HdlcAddress, HdlcFrame, HdlcReader
from drivers.dlms.hdlc_link import (
    DEFAULT_MAX_INFO,
    HdlcParameters,
    HdlcSequence,
    Reassembler,
    add_llc,
    segment,
    strip_llc,
)
from drivers.dlms.wrapper import WrapperFrame, WrapperReader
from simulators.dlms.application import Application

__all__ = ["HdlcLine", "HdlcServer", "LineFaults", "Supply", "WrapperServer"]


class Supply(Protocol):
    """The meter's power as the line sees it (``meter.SpodesMeter``): no power, no answer;
    after a power failure the meter has forgotten its link and association."""

    def powered(self) -> bool: ...

    @property
    def power_failures(self) -> int:
        """Power failures begun so far."""
        ...


@dataclass(slots=True)
class LineFaults:
    """Counters of frames to lose or damage; each use counts one down."""

    #: Requests (I-frames) the meter never hears.
    lose_requests: int = 0
    #: Answers (I-frames) lost on the way back; the meter thinks it sent them.
    lose_answers: int = 0
    #: Answers sent with a broken FCS.
    corrupt_answers: int = 0
    #: Answer nothing at all.
    silent: bool = False
    #: Answer DM to every I-frame and RR (as after the meter's inactivity time-out).
    disconnected: bool = False
    #: Share of HDLC answer frames sent with a broken FCS (0..1), drawn from ``rng``.
    corrupt_share: float = 0.0
    #: Seconds every answer is late (``serve_stream`` waits before writing it).
    delay_s: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    #: The meter's supply: silent while it is off, link and association lost after it.
    supply: Supply | None = None
    _failures_seen: int = 0

    def dark(self) -> bool:
        return self.silent or (self.supply is not None and not self.supply.powered())

    def restarted(self) -> bool:
        """Whether the power failed since the last call (the meter then starts afresh)."""
        if self.supply is None:
            return False
        failures = self.supply.power_failures
        if failures == self._failures_seen:
            return False
        self._failures_seen = failures
        return True

    def take(self, name: str) -> bool:
        count = getattr(self, name)
        if count > 0:
            setattr(self, name, count - 1)
            return True
        return False


@dataclass(slots=True)
class HdlcServer:
    """One meter on an HDLC line; ``max_info`` caps both directions of the information field."""

    application: Application
    address: HdlcAddress = field(default_factory=HdlcAddress.server)
    max_info: int = DEFAULT_MAX_INFO
    faults: LineFaults = field(default_factory=LineFaults)
    connected: bool = False
    client: HdlcAddress | None = None
    max_info_tx: int = DEFAULT_MAX_INFO
    max_info_rx: int = DEFAULT_MAX_INFO
    _reader: HdlcReader = field(default_factory=HdlcReader)
    _seq: HdlcSequence = field(default_factory=HdlcSequence)
    _incoming: Reassembler = field(default_factory=Reassembler)
    _pending: list[bytes] = field(default_factory=list)
    _last_i: HdlcFrame | None = None

    def receive_data(self, data: bytes) -> list[bytes]:
        self._reader.feed(data)
        out: list[bytes] = []
        while True:
            try:
                frame = self._reader.next_frame()
            except ProtocolError:
                continue  # a meter drops a damaged frame without a word
            if frame is NEED_DATA:
                return out
            if not self._for_us(frame.destination) or self.faults.dark():
                continue
            if self.faults.restarted():
                self.connected = False
                self.application.release()
            out.extend(self._frame(frame))

    @property
    def pending(self) -> int:
        """Bytes of a frame still being gathered."""
        return self._reader.pending

    def drop_partial(self) -> None:
        """The inter-octet time-out: forget a frame that stopped arriving."""
        self._reader.drop_partial()

    def _for_us(self, address: HdlcAddress) -> bool:
        own = self.address
        return address.upper == own.upper and address.lower in (None, own.lower)

    def _frame(self, frame: HdlcFrame) -> list[bytes]:
        kind = frame.control.kind
        if kind is FrameKind.SNRM:
            return [self._snrm(frame)]
        if kind is FrameKind.DISC:
            was = self.connected
            self.connected = False
            return [self._unnumbered(frame.source, FrameKind.UA if was else FrameKind.DM)]
        if not self.connected or self.faults.disconnected or frame.source != self.client:
            return [self._unnumbered(frame.source, FrameKind.DM)]
        if kind is FrameKind.I:
            if self.faults.take("lose_requests"):
                return []
            return self._information(frame)
        if kind is FrameKind.RR:
            return self._receive_ready(frame.control)
        return []

    def _snrm(self, frame: HdlcFrame) -> bytes:
        proposal = HdlcParameters.from_bytes(frame.info)
        self.max_info_tx = min(self.max_info, proposal.max_info_rx or DEFAULT_MAX_INFO)
        self.max_info_rx = min(self.max_info, proposal.max_info_tx or DEFAULT_MAX_INFO)
        self.connected = True
        self.client = frame.source
        self._seq.reset()
        self._incoming.reset()
        self._pending = []
        self._last_i = None
        self.application.release()
        granted = HdlcParameters(self.max_info_tx, self.max_info_rx, 1, 1)
        # An empty SNRM gets an empty UA when nothing differs (GOST tables 12.1–12.2); a
        # proposal gets the parameters granted (window 1, as SPODES meters answer).
        defaults = HdlcParameters(DEFAULT_MAX_INFO, DEFAULT_MAX_INFO, 1, 1)
        info = b"" if not frame.info and granted == defaults else granted.to_bytes()
        return HdlcFrame(frame.source, self.address, Control(FrameKind.UA), info).to_bytes()

    def _unnumbered(self, to: HdlcAddress, kind: FrameKind) -> bytes:
        return HdlcFrame(to, self.address, Control(kind)).to_bytes()

    def _information(self, frame: HdlcFrame) -> list[bytes]:
        control = frame.control
        if control.send_seq == (self._seq.receive_seq - 1) % 8 and self._last_i is not None:
            return self._send(self._last_i)  # our answer was lost: the client sent again
        if control.send_seq != self._seq.receive_seq:
            return []
        self._seq.receive_seq = (self._seq.receive_seq + 1) % 8
        self._pending = []
        try:
            whole = self._incoming.add(frame)
        except ProtocolError:
            self._incoming.reset()
            return [self._unnumbered(frame.source, FrameKind.FRMR)]
        if whole is None:
            return [HdlcFrame(frame.source, self.address, self._seq.rr()).to_bytes()]
        try:
            apdu = strip_llc(whole, command=True)
        except ProtocolError:
            return [self._unnumbered(frame.source, FrameKind.FRMR)]
        assert self.client is not None
        answer = self.application.handle(self.client.upper, apdu)
        if answer is None:
            return []
        self._pending = segment(add_llc(answer, command=False), self.max_info_tx)
        return self._next_segment()

    def _receive_ready(self, control: Control) -> list[bytes]:
        last = self._last_i
        if last is not None and control.receive_seq == last.control.send_seq:
            return self._send(last)  # the client did not get it
        if self._pending:
            return self._next_segment()
        assert self.client is not None
        return [HdlcFrame(self.client, self.address, self._seq.rr()).to_bytes()]

    def _next_segment(self) -> list[bytes]:
        assert self.client is not None
        piece = self._pending.pop(0)
        frame = HdlcFrame(self.client, self.address, self._seq.next_i(), piece,
                          segmented=bool(self._pending))
        self._last_i = frame
        return self._send(frame)

    def _send(self, frame: HdlcFrame) -> list[bytes]:
        if self.faults.take("lose_answers"):
            return []
        raw = frame.to_bytes()
        faults = self.faults
        if faults.take("corrupt_answers") or (
                faults.corrupt_share > 0 and faults.rng.random() < faults.corrupt_share):
            raw = raw[:-3] + bytes((raw[-3] ^ 0xFF,)) + raw[-2:]
        return [raw]


@dataclass(slots=True)
class HdlcLine:
    """Several meters on one HDLC line (an RS-485 multi-drop bus): every meter hears every
    frame and answers only those sent to its own address."""

    servers: list[HdlcServer]

    def receive_data(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for server in self.servers:
            out.extend(server.receive_data(data))
        return out

    @property
    def pending(self) -> int:
        return max(server.pending for server in self.servers)

    def drop_partial(self) -> None:
        for server in self.servers:
            server.drop_partial()

    @property
    def faults(self) -> LineFaults:
        """The first meter's (``isu sim dlms`` gives every meter the same)."""
        return self.servers[0].faults


@dataclass(slots=True)
class WrapperServer:
    """One meter behind the IEC 62056-47 wrapper; answers go from ``logical_device``."""

    application: Application
    logical_device: int = 1
    faults: LineFaults = field(default_factory=LineFaults)
    _reader: WrapperReader = field(default_factory=WrapperReader)

    def receive_data(self, data: bytes) -> list[bytes]:
        """Raises FrameError on a bad version: the connection must end (no resync)."""
        self._reader.feed(data)
        out: list[bytes] = []
        while (frame := self._reader.next_frame()) is not NEED_DATA:
            if frame.destination != self.logical_device or self.faults.dark():
                continue
            if self.faults.restarted():
                self.application.release()
            if self.faults.take("lose_requests"):
                continue
            answer = self.application.handle(frame.source, frame.apdu)
            if answer is None or self.faults.take("lose_answers"):
                continue
            out.append(WrapperFrame(self.logical_device, frame.source, answer).to_bytes())
        return out
