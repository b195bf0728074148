"""Simulated Mercury 230-family meters: state, protocol server role, TCP buses, fleets.

The protocol layer reuses the production codec in ``drivers.mercury``; see docs/simulators.md.
"""

from simulators.mercury230.clock import ManualClock, ScaledClock, system_clock
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.fleet import SimulatorFleet, make_meters
from simulators.mercury230.load import ConstantLoad, DailyLoad
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.protocol import Bus
from simulators.mercury230.server import BusServer
from simulators.mercury230.settings import MeterSettings, PasswordEncoding

__all__ = [
    "Bus",
    "BusServer",
    "ConstantLoad",
    "DailyLoad",
    "Fault",
    "FaultMode",
    "ManualClock",
    "MeterSettings",
    "PasswordEncoding",
    "ScaledClock",
    "SimulatedMeter",
    "SimulatorFleet",
    "make_meters",
    "system_clock",
]
