"""The IEC 62056-47 wrapper link under DLMS APDUs on one byte stream (GOST R 58940-2020 §9.6).

::

    00 01 | source wPort = client SAP | destination wPort = logical device | length | APDU

No sequence numbers: after a silence only what the caller marks idempotent (GET, AARQ) is
sent again; a SET or an ACTION never is.
"""

from __future__ import annotations

import asyncio
import logging

from core.errors import FrameError, TransportTimeoutError, UnexpectedResponseError
from drivers.dlms.hdlc import NEED_DATA
from drivers.dlms.link import LinkTiming, trace_bytes
from drivers.dlms.wrapper import WrapperFrame, WrapperReader
from drivers.transport.stream import ByteStream

__all__ = ["WrapperLink"]

logger = logging.getLogger(__name__)


class WrapperLink:
    """The client's side of the IEC 62056-47 wrapper: source wPort = client SAP, destination =
    the server's logical device. Answers from other wPorts are an UnexpectedResponseError."""

    def __init__(
        self,
        stream: ByteStream,
        *,
        client_sap: int,
        logical_device: int = 1,
        timing: LinkTiming | None = None,
    ) -> None:
        self.stream = stream
        self.client_sap = client_sap
        self.logical_device = logical_device
        self.timing = timing or LinkTiming()
        self._reader = WrapperReader()
        self.connected = False
        self.secrets: tuple[bytes, ...] = ()
        self.bad_frames = 0

    @property
    def description(self) -> str:
        return f"{self.stream.description} wrapper {self.logical_device}←{self.client_sap}"

    async def open(self) -> None:
        await self.stream.discard_input()
        self._reader = WrapperReader()
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    def forget(self) -> None:
        self.connected = False

    async def request(self, apdu: bytes, *, idempotent: bool = True) -> bytes:
        if len(apdu) > 0xFFFF:
            raise FrameError(f"{self.description}: an APDU of {len(apdu)} bytes does not fit")
        raw = WrapperFrame(self.client_sap, self.logical_device, apdu).to_bytes()
        attempts = self.timing.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            self._trace("tx", raw)
            await self.stream.write(raw)
            try:
                return await self.receive()
            except TransportTimeoutError:
                if attempt == attempts - 1:
                    break
                logger.debug("%s: silence, resending", self.description)
        t = self.timing
        raise TransportTimeoutError(
            f"{self.description}: no answer within {t.timeout_s:g} s"
            + (f" after {attempts - 1} resend(s)" if attempts > 1 else "")
        )

    async def receive(self) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timing.timeout_s
        while True:
            frame = self._reader.next_frame()  # a bad version ends the connection: no resync
            if frame is not NEED_DATA:
                if frame.source != self.logical_device or frame.destination != self.client_sap:
                    raise UnexpectedResponseError(
                        f"{self.description}: an answer from wPort {frame.source} to "
                        f"{frame.destination}"
                    )
                return frame.apdu
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TransportTimeoutError(f"{self.description}: deadline passed")
            chunk = await self.stream.read_some(remaining)
            self._trace("rx", chunk)
            self._reader.feed(chunk)

    def _trace(self, direction: str, data: bytes) -> None:
        trace_bytes(self.description, direction, data, self.secrets)
