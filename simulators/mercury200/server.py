"""A bus of simulated Mercury 200-family meters behind a transparent TCP converter, or on a
serial pseudo-terminal.

::

    client bytes → ServerSession (ends requests by their known length) → Bus200.respond → reply

Frames split over TCP segments or pty reads work; bytes that make no request are dropped after
a quiet ``gap_s``, as a meter's UART drops a broken frame after 5–6 byte-times of silence (§2).
One request is served at a time (the RS-485 line), the answer going back to the line that asked.

Both servers are the 230 simulator's (:mod:`simulators.mercury230.server`) given this family's
session through :class:`RequestSource200`; :class:`PtyBusServer200` serves one
:class:`~simulators.serial.PtyPort` (paced at the baud, optional echo).
"""

from __future__ import annotations

from drivers.mercury.m200.frame import Request
from drivers.mercury.m200.session import NEED_DATA, ServerSession
from drivers.mercury.session import NEED_DATA as LINE_NEED_DATA
from drivers.mercury.session import NeedData as LineNeedData
from drivers.transport.timing import Parity
from simulators.mercury200.protocol import Bus200
from simulators.mercury230.server import DEFAULT_GAP_S, BusServer, PtyBusServer

__all__ = ["DEFAULT_GAP_S", "BusServer200", "PtyBusServer200", "RequestSource200"]



class RequestSource200:
    """This family's :class:`ServerSession` as :func:`serve_line` expects a session (its
    ``NEED_DATA`` is the 230 codec's sentinel)."""

    def __init__(self) -> None:
        self._session = ServerSession()

    def receive_data(self, data: bytes) -> None:
        self._session.receive_data(data)

    def next_event(self) -> Request | LineNeedData:
        event = self._session.next_event()
        return LINE_NEED_DATA if event is NEED_DATA else event


class BusServer200(BusServer[Bus200]):
    """Serves one :class:`Bus200` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self, bus: Bus200, host: str = "127.0.0.1", port: int = 0, *, gap_s: float = DEFAULT_GAP_S
    ) -> None:
        super().__init__(bus, host, port, gap_s=gap_s, session_factory=RequestSource200)


class PtyBusServer200(PtyBusServer[Bus200]):
    """Serves one :class:`Bus200` on a serial pseudo-terminal (:attr:`device` after start)."""

    def __init__(
        self,
        bus: Bus200,
        *,
        baud: int = 9600,
        parity: Parity = "N",
        echo: bool = False,
        gap_s: float = DEFAULT_GAP_S,
    ) -> None:
        super().__init__(
            bus, baud=baud, parity=parity, echo=echo, gap_s=gap_s, session_factory=RequestSource200
        )
