"""The HDLC link under DLMS APDUs on one byte stream (IEC 62056-46; GOST R 58940-2020 §9.4,
§9.5), and what the links share; the IEC 62056-47 wrapper is in ``wrapper_link.py``. One APDU
in flight, stop and wait.

::

    HDLC   SNRM ─▶ ◀─ UA (parameters)                     open
           I(N(S), N(R)) [S bit] ─▶ ◀─ RR(N(R))            each segment of a long request
           I ─▶ ◀─ I [S bit] ─▶ RR ◀─ I …                   the answer, RR per segment
           silence ─▶ RR(P=1, N(R) = V(R))                 poll: the meter repeats its last
                      ◀─ I (again) | RR(N(R))              I-frame, or says whether it has ours;
                                                           only an I-frame it never got is sent
           DISC ─▶ ◀─ UA | DM                             close

Retries never repeat a request the meter has received: after a silence the HDLC link polls
with RR and resends an I-frame only when the meter's N(R) says it was lost; the wrapper has no
such means, so it resends only what the caller marks idempotent (GET, AARQ, RLRQ).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

from core import logs
from core.errors import (
    ProtocolError,
    RemoteProtocolError,
    SessionExpiredError,
    TransportTimeoutError,
    UnexpectedResponseError,
)
from drivers.dlms.hdlc import NEED_DATA, Control, FrameKind, HdlcAddress, HdlcFrame, HdlcReader
from drivers.dlms.hdlc_link import (
    DEFAULT_MAX_INFO,
    DEFAULT_WINDOW,
    HdlcParameters,
    HdlcSequence,
    Reassembler,
    add_llc,
    segment,
    strip_llc,
)
from drivers.transport.stream import ByteStream

__all__ = ["TRACE", "HdlcLink", "LinkTiming", "trace_bytes"]

logger = logging.getLogger(__name__)

TRACE: Final = logs.TRACE


@dataclass(frozen=True, slots=True)
class LinkTiming:
    """``timeout_s`` per answer frame; ``retries`` polls or resends after a silence;
    ``inter_octet_s`` of silence drops a partial frame (IEC HDLC setup default 25 ms is too
    short for TCP converters)."""

    timeout_s: float = 2.0
    retries: int = 2
    inter_octet_s: float = 0.5

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.inter_octet_s <= 0 or self.retries < 0:
            raise ValueError("link timeouts must be positive and retries not negative")


def _prev(seq: int) -> int:
    return (seq - 1) % 8


class HdlcLink:
    """The client's side of one HDLC link to ``server`` (logical device and physical address).

    ``max_info_rx``/``max_info_tx``/``window`` are the proposal of the SNRM; parameters equal
    to the defaults (128 bytes, window 1) are left out, so the default SNRM is the empty one of
    GOST tables 12.1 and 12.2. The negotiated limits are in :attr:`max_info_tx` and
    :attr:`max_info_rx` after :meth:`open` (what the UA leaves out is 128 bytes, window 1).
    """

    def __init__(
        self,
        stream: ByteStream,
        *,
        client_sap: int,
        server: HdlcAddress,
        timing: LinkTiming | None = None,
        max_info_rx: int = DEFAULT_MAX_INFO,
        max_info_tx: int = DEFAULT_MAX_INFO,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        self.stream = stream
        self.client = HdlcAddress.client(client_sap)
        self.server = server
        self.timing = timing or LinkTiming()
        self.client_sap = client_sap
        self._proposal = HdlcParameters(
            None if max_info_tx == DEFAULT_MAX_INFO else max_info_tx,
            None if max_info_rx == DEFAULT_MAX_INFO else max_info_rx,
            None if window == DEFAULT_WINDOW else window,
            None if window == DEFAULT_WINDOW else window,
        )
        self.max_info_tx = DEFAULT_MAX_INFO
        self.max_info_rx = DEFAULT_MAX_INFO
        self.window_tx = DEFAULT_WINDOW
        self._reader = HdlcReader()
        self._seq = HdlcSequence()
        self.connected = False
        self._opened = False
        #: Bytes never shown in a trace log (the LLS password).
        self.secrets: tuple[bytes, ...] = ()
        #: Frames dropped for a bad HCS/FCS or layout, and partial frames dropped at a silence.
        self.bad_frames = 0

    @property
    def description(self) -> str:
        return f"{self.stream.description} HDLC {self.server}←{self.client_sap}"

    # --- open and close ---

    def snrm(self) -> HdlcFrame:
        return HdlcFrame(self.server, self.client, Control(FrameKind.SNRM),
                         self._proposal.to_bytes())

    async def open(self) -> None:
        await self.stream.discard_input()
        self._reader.drop_partial()
        answer = await self._unnumbered(self.snrm())
        if answer.control.kind is FrameKind.DM:
            raise RemoteProtocolError(f"{self.description}: the meter answered SNRM with DM")
        if answer.control.kind is not FrameKind.UA:
            raise UnexpectedResponseError(
                f"{self.description}: {answer.control.kind.name} in answer to SNRM"
            )
        ua = HdlcParameters.from_bytes(answer.info)
        # The UA names them from the meter's side: what it sends is what we receive.
        self.max_info_rx = ua.max_info_tx or DEFAULT_MAX_INFO
        self.max_info_tx = ua.max_info_rx or DEFAULT_MAX_INFO
        self.window_tx = ua.window_rx or DEFAULT_WINDOW
        self._seq.reset()
        self._opened = self.connected = True

    def forget(self) -> None:
        """Give the link up without a word (a dead line, a cancellation)."""
        self._opened = self.connected = False

    async def close(self) -> None:
        """DISC; a UA or DM both end the link (DM: it was no longer connected). Sent even
        after a time-out (a meter that ignores RLRQ is alive), not after :meth:`forget`."""
        if not self._opened:
            return
        self._opened = self.connected = False
        answer = await self._unnumbered(
            HdlcFrame(self.server, self.client, Control(FrameKind.DISC))
        )
        if answer.control.kind not in (FrameKind.UA, FrameKind.DM):
            raise UnexpectedResponseError(
                f"{self.description}: {answer.control.kind.name} in answer to DISC"
            )

    async def _unnumbered(self, command: HdlcFrame) -> HdlcFrame:
        """SNRM and DISC are idempotent: resend them after a silence."""
        raw = command.to_bytes()
        name = command.control.kind.name
        for _ in range(self.timing.retries + 1):
            self._trace("tx", raw)
            await self.stream.write(raw)
            try:
                while True:
                    frame = await self._frame()
                    kind = frame.control.kind
                    if kind in (FrameKind.UA, FrameKind.DM):
                        return frame
                    if kind is FrameKind.FRMR:
                        raise RemoteProtocolError(f"{self.description}: FRMR in answer to {name}")
                    # a numbered frame left over from before: wait on for the answer
            except TransportTimeoutError:
                continue
        raise self._timeout(f"answer to {name}")

    # --- APDUs ---

    async def request(self, apdu: bytes, *, idempotent: bool = True) -> bytes:
        """Send one APDU (segmented to the negotiated size) and return the answer APDU.

        ``idempotent`` does not matter here: the poll tells a lost request from a lost answer.
        """
        del idempotent
        if not self.connected:
            raise SessionExpiredError(f"{self.description}: the HDLC link is not open")
        pieces = segment(add_llc(apdu, command=True), self.max_info_tx)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            frame = HdlcFrame(self.server, self.client, self._seq.next_i(), piece,
                              segmented=not last)
            answer = await self._send_numbered(frame.to_bytes(), want_i=last, sent_i=True)
            if last:
                return await self._collect(answer)
        raise AssertionError("segment() returns at least one piece")

    async def receive(self) -> bytes:
        raise UnexpectedResponseError(f"{self.description}: an answer that is not ours")

    async def _collect(self, first: HdlcFrame) -> bytes:
        """Join a segmented answer, acknowledging each final segment with RR."""
        reassembler = Reassembler()
        frame = first
        while True:
            whole = reassembler.add(frame)
            if whole is not None:
                return strip_llc(whole, command=False)
            if not frame.control.poll_final:  # a window above 1: more come unasked
                frame = await self._expect_i()
                continue
            rr = HdlcFrame(self.server, self.client, self._seq.rr())
            frame = await self._send_numbered(rr.to_bytes(), want_i=True, sent_i=False)

    async def _expect_i(self) -> HdlcFrame:
        while True:
            try:
                frame = await self._frame()
            except TransportTimeoutError:
                self.connected = False
                raise self._timeout("segment") from None
            checked = self._check_numbered(frame)
            if checked is not None and checked.control.kind is FrameKind.I:
                return checked

    async def _send_numbered(self, raw: bytes, *, want_i: bool, sent_i: bool) -> HdlcFrame:
        """Send an I-frame or RR and wait: for an I-frame answer, or for the RR that
        acknowledges a segment we sent. Silence → poll; a lost I-frame → resent as it was."""
        silences = 0
        self._trace("tx", raw)
        await self.stream.write(raw)
        while True:
            try:
                frame = await self._frame()
            except TransportTimeoutError:
                silences += 1
                if silences > self.timing.retries:
                    # the sequence numbers are out of step now: only a new SNRM helps
                    self.connected = False
                    raise self._timeout("I-frame" if want_i else "RR") from None
                poll = HdlcFrame(self.server, self.client, self._seq.rr()).to_bytes()
                logger.debug("%s: silence, polling with RR(%d)", self.description,
                             self._seq.receive_seq)
                self._trace("tx", poll)
                await self.stream.write(poll)
                continue
            control = frame.control
            if control.kind is FrameKind.RR or control.kind is FrameKind.RNR:
                if sent_i and control.receive_seq == _prev(self._seq.send_seq):
                    # the meter never got our I-frame: sending it again duplicates nothing
                    logger.debug("%s: the meter lost our I-frame, resending", self.description)
                    self._trace("tx", raw)
                    await self.stream.write(raw)
                    continue
                if control.receive_seq != self._seq.send_seq:
                    raise UnexpectedResponseError(
                        f"{self.description}: RR N(R) = {control.receive_seq} where V(S) = "
                        f"{self._seq.send_seq}"
                    )
                if not want_i and control.kind is FrameKind.RR:
                    return frame
                continue  # received, answer not ready (or RNR): wait again
            checked = self._check_numbered(frame)
            if checked is None:
                continue
            if want_i:
                return checked
            raise UnexpectedResponseError(
                f"{self.description}: an I-frame while a segment of our request was due its RR"
            )

    def _check_numbered(self, frame: HdlcFrame) -> HdlcFrame | None:
        """``frame`` accepted into the sequence, or ``None`` for a repeated one."""
        control = frame.control
        if control.kind is FrameKind.DM:
            self.connected = False
            raise SessionExpiredError(
                f"{self.description}: DM: the meter has dropped the link (inactivity?)"
            )
        if control.kind is FrameKind.FRMR:
            self.connected = False
            raise RemoteProtocolError(f"{self.description}: FRMR: the meter rejected a frame")
        if control.kind is FrameKind.I and control.send_seq == _prev(self._seq.receive_seq):
            logger.debug("%s: a repeated I-frame N(S) = %d dropped", self.description,
                         control.send_seq)
            return None
        if control.kind is not FrameKind.I:
            raise UnexpectedResponseError(
                f"{self.description}: {control.kind.name} where an I-frame was due"
            )
        self._seq.accept(control)
        return frame

    # --- frames from the stream ---

    async def _frame(self) -> HdlcFrame:
        """The next frame addressed to us; TransportTimeoutError after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timing.timeout_s
        while True:
            try:
                frame = self._reader.next_frame()
            except ProtocolError as exc:
                self.bad_frames += 1
                logger.debug("%s: frame dropped: %s", self.description, exc)
                continue
            if frame is not NEED_DATA:
                if self._ours(frame):
                    return frame
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TransportTimeoutError(f"{self.description}: deadline passed")
            partial = self._reader.pending > 1  # a lone flag is a closing flag kept
            wait = min(remaining, self.timing.inter_octet_s) if partial else remaining
            try:
                chunk = await self.stream.read_some(wait)
            except TransportTimeoutError:
                if partial and self._reader.pending > 1:
                    dropped = self._reader.drop_partial()
                    self.bad_frames += 1
                    logger.debug("%s: partial frame of %d byte(s) dropped after silence",
                                 self.description, len(dropped))
                    continue
                raise
            self._trace("rx", chunk)
            self._reader.feed(chunk)

    def _ours(self, frame: HdlcFrame) -> bool:
        """A frame from our server to us; our own echo (addresses swapped) and other
        stations' frames on a shared line are skipped (notes §5.3)."""
        same = _same_address
        if same(frame.destination, self.client) and same(frame.source, self.server):
            return True
        if same(frame.destination, self.server) and same(frame.source, self.client):
            logger.debug("%s: our own echo skipped", self.description)
        return False

    def _timeout(self, what: str) -> TransportTimeoutError:
        t = self.timing
        return TransportTimeoutError(
            f"{self.description}: no {what} within {t.timeout_s:g} s after {t.retries} "
            f"retr{'y' if t.retries == 1 else 'ies'}"
        )

    def _trace(self, direction: str, data: bytes) -> None:
        trace_bytes(self.description, direction, data, self.secrets)


def trace_bytes(description: str, direction: str, data: bytes,
                secrets: tuple[bytes, ...]) -> None:
    """Log raw bytes at TRACE level, each of ``secrets`` masked."""
    if not logger.isEnabledFor(TRACE):
        return
    for secret in secrets:
        data = data.replace(secret, b"\x2a" * len(secret))  # a password shows as ****
    logger.log(TRACE, "%s: %s %s", description, direction, data.hex(" "))


def _same_address(a: HdlcAddress, b: HdlcAddress) -> bool:
    return a.upper == b.upper and a.lower == b.lower
