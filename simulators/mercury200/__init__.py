"""Simulated Mercury 200/201/203/206 meters: state, server role, TCP and pty buses, fleet file,
CLI hooks.

::

    TCP / pty bytes → ServerSession (drivers.mercury.m200) → Bus200 → SimulatedMeter200 → encoders

Load models, clocks and faults are the 230 simulator's (``simulators.mercury230``).
"""

from simulators.mercury200.config import Bus200Config, Fleet200Config, Meter200Config
from simulators.mercury200.fleet import Fleet200
from simulators.mercury200.meter import SimulatedMeter200
from simulators.mercury200.protocol import Bus200, answer_data
from simulators.mercury200.server import BusServer200, PtyBusServer200
from simulators.mercury200.settings import Meter200Settings

__all__ = [
    "Bus200",
    "Bus200Config",
    "BusServer200",
    "Fleet200",
    "Fleet200Config",
    "Meter200Config",
    "Meter200Settings",
    "PtyBusServer200",
    "SimulatedMeter200",
    "answer_data",
]
