"""Simulated Modbus meters on pymodbus's server: a register map (``drivers/modbus/maps``) whose
values follow a seeded load on an injectable clock (``meter.py``, ``points.py``), served per bus
over Modbus TCP, RTU framing over TCP or RTU on a serial pty, several units per bus (``unit.py``,
``server.py``), with faults (``faults.py``), fleet files (``config.py``, ``fleet.py``), control
commands (``commands.py``) and ``isu sim modbus`` (``cli.py``). See docs/simulators.md, "Modbus".
"""

from simulators.modbus.faults import ModbusFault
from simulators.modbus.fleet import ModbusFleet
from simulators.modbus.meter import ModbusMeter
from simulators.modbus.server import ModbusBus
from simulators.modbus.unit import ModbusUnit

__all__ = ["ModbusBus", "ModbusFault", "ModbusFleet", "ModbusMeter", "ModbusUnit"]
