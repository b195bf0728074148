"""Modbus meters read through declarative register maps (docs/modbus.md, docs/modbus-maps.md).

``values`` (registers ↔ numbers ↔ exact decimals), ``maps`` (the TOML register maps, validated),
``planner`` (the fewest requests a device allows), ``options`` and ``driver``: the ``modbus``
driver that importing this package registers. Frames and PDUs are pymodbus's, driven over our
own byte streams.
"""

from drivers.base import register_driver
from drivers.modbus.driver import ModbusDriver

__all__ = ["ModbusDriver"]

register_driver(ModbusDriver.protocol, ModbusDriver)
