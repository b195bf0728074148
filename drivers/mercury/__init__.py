"""Mercury (Incotex) meter protocols: the 230 family (``mercury230``) and, in ``m200``, the
200/201/203/206 family (``mercury200``).

Codec modules (``crc``, ``frame``, ``request``, ``values``, ``instant``, ``records``, ``answer``)
and the sans-IO ``session`` are shared with the simulators; importing this package registers
both drivers.
"""

from drivers.base import register_driver
from drivers.mercury.driver import Mercury230Driver

__all__ = ["Mercury230Driver"]

register_driver(Mercury230Driver.protocol, Mercury230Driver)

import drivers.mercury.m200  # noqa: E402,F401  (registers mercury200)
