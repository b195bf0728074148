"""Mercury (Incotex) meter protocols: the 230 family codec, sessions and the ``mercury230`` driver.

Codec modules (``crc``, ``frame``, ``request``, ``values``, ``instant``, ``records``, ``answer``)
and the sans-IO ``session`` are shared with the simulators; importing this package registers
the driver.
"""

from drivers.base import register_driver
from drivers.mercury.driver import Mercury230Driver

__all__ = ["Mercury230Driver"]

register_driver(Mercury230Driver.protocol, Mercury230Driver)
