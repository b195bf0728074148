"""Simulated Mercury 200/201/203/206 meters: state, server role, TCP bus, fleet, CLI hooks.

::

    TCP bytes → ServerSession (drivers.mercury.m200) → Bus200 → SimulatedMeter200 → encoders

Load models, clocks and faults are the 230 simulator's (``simulators.mercury230``).
"""

from simulators.mercury200.fleet import Fleet200
from simulators.mercury200.meter import SimulatedMeter200
from simulators.mercury200.protocol import Bus200, answer_data
from simulators.mercury200.server import BusServer200
from simulators.mercury200.settings import Meter200Settings

__all__ = [
    "Bus200",
    "BusServer200",
    "Fleet200",
    "Meter200Settings",
    "SimulatedMeter200",
    "answer_data",
]
