"""Mercury 200/201/203 (except 203.2TD)/206: the single-phase codec, sessions and the
``mercury200`` driver (docs/reference/mercury-protocol.md §2, docs/mercury200.md).

::

    ADDR(4, BE) | CMD(1) | DATA | CRC_LO CRC_HI     frame.py, values.py, answer.py, session.py

Importing this package registers the driver under ``mercury200``.
"""

from drivers.base import register_driver
from drivers.mercury.m200.driver import Mercury200Driver
from drivers.mercury.m200.frame import Command, MeterModel, Request, Response, address_for_serial
from drivers.mercury.m200.session import NEED_DATA, Answer, ClientSession, ServerSession

__all__ = [
    "NEED_DATA",
    "Answer",
    "ClientSession",
    "Command",
    "Mercury200Driver",
    "MeterModel",
    "Request",
    "Response",
    "ServerSession",
    "address_for_serial",
]

register_driver(Mercury200Driver.protocol, Mercury200Driver)
