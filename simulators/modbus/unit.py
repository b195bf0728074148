"""One simulated unit as pymodbus's ``SimDevice``: its registers, and its ``action``, which answers
each request as the device would, in the order of the Modbus Application Protocol V1.1b3
§6.3/§7:

1. its fault (``faults.py``): no answer (pymodbus's ``NoSuchIdException``, which the server's
   ``ignore_missing_devices`` turns into silence), an exception, or the answer late;
2. anything but a read of function 3 or 4: exception 1;
3. more than the map's ``max_registers``: exception 3;
4. a register that is neither a point nor in a gap of at most ``max_gap`` registers between two
   points: exception 2 (gap registers read 0);
5. the requested points are refreshed from the meter model at the clock's now (only those), and
   pymodbus answers them.

The device's holding (function 3) and input (function 4) registers span its map's points of
that function and 124 registers more on either side, all marked valid, so that every request
that can touch a point reaches the action. A request wholly outside the span is refused with
exception 2 by pymodbus itself, before the unit sees it (neither counted nor struck by a fault).
"""

from __future__ import annotations

import asyncio
import random
from bisect import bisect_right

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.modbus.faults import ModbusFault
from simulators.modbus.meter import ModbusMeter

__all__ = ["ModbusUnit", "no_bits", "unit_range"]

#: A request holds at most 125 registers: one that starts further than this before a point, or
#: after its end, cannot touch it.
_MARGIN = 124


def unit_range(framing: str) -> range:
    """Unit ids a bus of ``framing`` serves: 1..247 on RTU (0 is broadcast), 1..255 on TCP."""
    return range(1, 248) if framing == "rtu" else range(1, 256)


class ModbusUnit:
    """One unit on a bus: its meter model, its fault and what it was asked."""

    def __init__(self, meter: ModbusMeter, *, meter_id: str | None = None,
                 fault: ModbusFault | None = None) -> None:
        self.meter = meter
        self.meter_id = meter_id or f"modbus-{meter.serial}"
        self.fault = fault
        self.rng = random.Random(meter.seed)
        #: Requests that reached the unit; answered with registers, with an exception, or not.
        self.requests = self.answered = self.refused = self.silenced = 0
        model = meter.register_map.model
        self.max_registers = model.max_registers
        self._readable: dict[int, tuple[list[int], list[int]]] = {}
        self.spans: dict[int, tuple[int, int]] = {}
        functions = sorted({point.function or model.function
                            for point in meter.register_map.points})
        for function in functions:
            points = sorted((p for p in meter.register_map.points
                             if (p.function or model.function) == function),
                            key=lambda p: p.address)
            starts: list[int] = []
            ends: list[int] = []
            for point in points:
                if ends and point.address - ends[-1] <= model.max_gap:
                    ends[-1] = max(ends[-1], point.address + point.count)
                else:
                    starts.append(point.address)
                    ends.append(point.address + point.count)
            self._readable[function] = (starts, ends)
            self.spans[function] = (max(0, starts[0] - _MARGIN), min(65536, ends[-1] + _MARGIN))

    @property
    def unit(self) -> int:
        return self.meter.unit

    def readable(self, function: int, address: int, count: int) -> bool:
        """Whether registers ``address .. address + count - 1`` are all points or short gaps."""
        intervals = self._readable.get(function)
        if intervals is None:
            return False
        starts, ends = intervals
        index = bisect_right(starts, address) - 1
        return index >= 0 and address + count <= ends[index]

    def device(self) -> SimDevice:
        """The unit as pymodbus's device: coils and discrete inputs it lacks, then its holding
        and input registers (spans of zeros the action fills)."""
        blocks = [[_span(*self.spans[f])] if f in self.spans else [_nothing()] for f in (3, 4)]
        return SimDevice(id=self.unit, simdata=([no_bits()], [no_bits()], blocks[0], blocks[1]),
                         action=self.action)

    async def action(self, function: int, start: int, address: int, count: int,
                     registers: list[int], values: list[int] | list[bool] | None,
                     ) -> ExcCodes | None:
        self.requests += 1
        fault = self.fault
        if fault is not None and fault.strikes(self.rng, address, count):
            if fault.mode == "silence":
                self.silenced += 1
                raise NoSuchIdException(f"unit {self.unit} is silent")
            if fault.mode == "exception":
                self.refused += 1
                return fault.exception
            await asyncio.sleep(fault.delay_s)
        answer = None
        if values is not None or function not in (3, 4):
            answer = ExcCodes.ILLEGAL_FUNCTION
        elif count > self.max_registers:
            answer = ExcCodes.ILLEGAL_VALUE
        elif not self.readable(function, address, count):
            answer = ExcCodes.ILLEGAL_ADDRESS
        if answer is not None:
            self.refused += 1
            return answer
        self.meter.write_registers(function, address, count, registers, start)
        self.answered += 1
        return None

    def counters(self) -> dict[str, int]:
        return {"requests": self.requests, "answered": self.answered, "refused": self.refused,
                "silenced": self.silenced}


def _span(start: int, end: int) -> SimData:
    return SimData(address=start, count=end - start, values=0, datatype=DataType.REGISTERS)


def _nothing() -> SimData:
    return SimData(address=0, datatype=DataType.INVALID)


def no_bits() -> SimData:
    return SimData(address=0, values=0, datatype=DataType.BITS)
