"""The ``modbus`` driver: meters read through a register map, over RTU or Modbus TCP.

pymodbus's framers (``FramerRTU``, ``FramerSocket``) and PDUs build and parse the frames; the
bytes go over our own :class:`~drivers.transport.stream.ByteStream`, so a Modbus exchange holds
the same bus lock as a Mercury or DLMS one and a line may carry all of them (STYLE "one request
in flight per physical bus").

==========  ==================================================================================
stream      what is read
==========  ==================================================================================
current     the map's energy registers ``1.0.C.8.T.255``; a missing total is the zones' sum
instant     the map's instantaneous values
info        the map's info fields, plus ``register_map`` (the map's name)
==========  ==================================================================================

The points of one read go out in as few requests as the map allows (``planner``). An exception
2 or 3 to a request of several points is answered by reading those points one by one, so that
one register a device variant lacks costs only itself; the points found missing are skipped on
this meter's later reads. A silence (after ``retries`` repeats) ends the read: the meter is
away, and the bus should not wait for it once per request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar

from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.framer.base import FramerBase
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
)

from core.errors import (
    ChecksumError,
    ConfigError,
    FrameError,
    IsuError,
    MeterError,
    MeterInternalError,
    ObjectUnavailableError,
    RemoteProtocolError,
    TransportTimeoutError,
    UnexpectedResponseError,
)
from core.model import InfoItem, ReadingItem, Stream
from core.obis import EnergyKind, energy_obis, parse_energy_obis
from drivers.base import MeterEndpoint, ReadResult, read_supported, tag_error
from drivers.modbus.maps import Point
from drivers.modbus.options import ModbusOptions, modbus_options
from drivers.modbus.planner import Block, plan_blocks
from drivers.modbus.values import decode_number, model_value, to_model_unit, type_max
from drivers.transport.stream import ByteStream

__all__ = ["EXCEPTION_NAMES", "ModbusDriver", "exception_error"]

logger = logging.getLogger(__name__)

#: Modbus Application Protocol V1.1b3 §7.
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
#: Exceptions that say "not these registers": the points are read one by one to find which.
_SPLIT_ON = frozenset({2, 3})
#: How long a point a meter refused alone (exception 2 or 3) is left out of its reads before it
#: is tried again: a variant's missing register costs no request per poll, and a refusal that
#: was only passing does not lose the point for good.
MISSING_RETRY_S = 3600.0
#: meter id → point key → when (``time.monotonic()``) the meter refused it alone.
_MISSING: dict[str, dict[str, float]] = {}
_TIDS = itertools.count(1)


def exception_error(code: int, function: int, block: Block) -> IsuError:
    """Our typed error for exception ``code`` to a read of ``block``."""
    what = (f"Modbus exception {code:02d} ({EXCEPTION_NAMES.get(code, 'unknown')}) to function "
            f"{function}, registers {block.address}..{block.end - 1}")
    if code == 2:
        return ObjectUnavailableError(what)
    if code in (1, 3):
        return RemoteProtocolError(what)
    if code in (4, 8):
        return MeterInternalError(what)
    if code in (10, 11):
        return TransportTimeoutError(what)
    return MeterError(what)


class _RtuFramer(FramerRTU):
    """pymodbus's RTU framer, telling how long the frame it found really is: its own
    ``decode`` reports the whole buffer as used, which would swallow a frame that follows
    (another unit's answer on a shared line comes just before ours)."""

    def decode(self, data: bytes) -> tuple[int, int, int, bytes]:
        used, dev_id, tid, pdu_bytes = super().decode(data)
        if not pdu_bytes:
            return used, dev_id, tid, pdu_bytes
        end = data.find(pdu_bytes) + len(pdu_bytes) + 2  # the PDU, then its CRC
        return end, dev_id, tid, pdu_bytes


class _RefusalError(Exception):
    """The meter answered a request with Modbus exception ``code``."""

    def __init__(self, code: int, error: IsuError) -> None:
        super().__init__(str(error))
        self.code = code
        self.error = error


class _SilenceError(Exception):
    """The meter did not answer a request, repeats included."""

    def __init__(self, error: TransportTimeoutError) -> None:
        super().__init__(str(error))
        self.error = error


class ModbusDriver:
    protocol: ClassVar[str] = "modbus"
    supported_streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CURRENT, Stream.INSTANT, Stream.INFO})

    def __init__(self, stream: ByteStream, endpoint: MeterEndpoint) -> None:
        self._stream = stream
        self._endpoint = endpoint
        self._options: ModbusOptions = modbus_options(endpoint)
        framing = self._options.framing
        if framing == "auto":
            framing = "tcp" if stream.description.startswith("tcp") else "rtu"
        if framing == "rtu" and not 1 <= endpoint.address <= 247:
            raise ConfigError(f"meter {endpoint.meter_id}: unit id {endpoint.address} is "
                              "outside 1..247 (RTU)")
        self.framing = framing
        self._framer: FramerBase = (FramerSocket if framing == "tcp" else _RtuFramer)(
            DecodePDU(is_server=False))
        self._no_value = self._options.register_map.model.no_value == "max"
        #: Requests sent by this driver (the benchmark's requests per reading).
        self.requests = 0

    async def read(self, streams: Sequence[Stream], *, since: datetime | None = None,
                   until: datetime | None = None) -> ReadResult:
        read_at = datetime.now(UTC)
        meter = self._endpoint.meter_id
        return await read_supported(self.protocol, meter, self.supported_streams, streams,
                                    read_at, lambda todo, result: self._read(todo, result))

    async def _read(self, todo: list[Stream], result: ReadResult) -> None:
        meter = self._endpoint.meter_id
        now = time.monotonic()
        refused = {key for key, at in _MISSING.get(meter, {}).items()
                   if now - at < MISSING_RETRY_S}
        declared = self._options.register_map.points_of(set(todo))
        points = [point for point in declared if point.key not in refused]
        values: dict[str, Decimal | int] = {}
        errors: dict[str, IsuError] = {}
        silence: TransportTimeoutError | None = None
        try:
            for block in plan_blocks(points, self._options.max_registers, self._options.max_gap):
                await self._read_block(block, values, errors)
        except _SilenceError as exc:
            silence = exc.error
        for stream in todo:
            listed = {point.key for point in declared if point.stream == stream.value}
            mine = [point for point in points if point.stream == stream.value]
            read = [point for point in mine if point.key in values]
            if read or (not listed and silence is None):
                self._deliver(stream, read, values, result, listed)
                continue
            error = silence or next((errors[p.key] for p in mine if p.key in errors), None)
            if error is None and listed and not mine:
                error = ObjectUnavailableError(
                    f"the meter refused every {stream} point of the map alone (Modbus exception "
                    f"02 or 03) within the last {MISSING_RETRY_S:g} s; they are tried again then")
            result.errors[stream] = tag_error(meter, error or ObjectUnavailableError(
                f"the map {self._options.register_map.model.name} has no {stream} point"))

    def _deliver(self, stream: Stream, points: list[Point], values: dict[str, Decimal | int],
                 result: ReadResult, declared: set[str]) -> None:
        read_at = result.read_at
        if stream is Stream.INFO:
            result.info += [InfoItem(field=point.field or "", value=str(values[point.key]),
                                     ts=read_at) for point in points]
            result.info.append(InfoItem(field="register_map",
                                        value=self._options.register_map.model.name, ts=read_at))
            return
        readings = [ReadingItem(obis=point.obis or "", ts=read_at, value=value, unit=unit)
                    for point in points
                    for value, unit in [self._scaled(point, values[point.key])]]
        if stream is Stream.CURRENT:
            readings = _with_totals(readings, read_at, declared)
        if readings:
            result.readings.setdefault(stream, []).extend(readings)
        else:
            result.errors[stream] = tag_error(self._endpoint.meter_id, ObjectUnavailableError(
                f"the map {self._options.register_map.model.name} has no {stream} point"))

    @staticmethod
    def _scaled(point: Point, value: Decimal | int) -> tuple[Decimal, str]:
        assert point.unit is not None
        return to_model_unit(Decimal(value), point.unit)

    async def _read_block(self, block: Block, values: dict[str, Decimal | int],
                          errors: dict[str, IsuError]) -> None:
        try:
            registers = await self._request(block)
        except _RefusalError as refusal:
            if len(block.points) > 1 and refusal.code in _SPLIT_ON:
                for point in block.points:
                    await self._read_block(Block(block.function, point.address, point.count,
                                                 (point,)), values, errors)
                return
            for point in block.points:
                errors[point.key] = refusal.error
                if refusal.code in _SPLIT_ON:
                    _MISSING.setdefault(self._endpoint.meter_id, {})[point.key] = \
                        time.monotonic()
            logger.info("meter %s: %s", self._endpoint.meter_id, refusal.error)
            return
        except (FrameError, UnexpectedResponseError) as exc:
            for point in block.points:
                errors[point.key] = exc
            return
        known = _MISSING.get(self._endpoint.meter_id)
        for point in block.points:
            if known:
                known.pop(point.key, None)  # refused once, answered now
            raw = block.registers_of(point, registers)
            assert point.word_order is not None
            assert point.byte_order is not None
            number = decode_number(raw, point.type, point.word_order, point.byte_order)
            if self._no_value and isinstance(number, int) and number == type_max(point.type):
                errors[point.key] = ObjectUnavailableError(
                    f"{point.key} at register {point.address}: the device has no value "
                    f"(it reads {number:#x})")
                continue
            if point.stream == "info":
                values[point.key] = int(number)
                continue
            try:
                values[point.key] = model_value(number, scale=point.scale,
                                                resolution=point.resolution)
            except ValueError as exc:
                errors[point.key] = ObjectUnavailableError(
                    f"{point.key} at register {point.address}: {exc}")

    async def _request(self, block: Block) -> list[int]:
        """The registers of ``block``; after ``retries`` silences or corrupt answers, the
        error of the last one (a silence as :class:`_SilenceError`)."""
        unit = self._endpoint.address
        request_class = ReadInputRegistersRequest if block.function == 4 else \
            ReadHoldingRegistersRequest
        last: IsuError | None = None
        for _attempt in range(self._options.retries + 1):
            tid = next(_TIDS) % 65536 if self.framing == "tcp" else 0
            request = request_class(address=block.address, count=block.count, dev_id=unit,
                                    transaction_id=tid)
            await self._stream.discard_input()
            await self._stream.write(self._framer.buildFrame(request))
            self.requests += 1
            try:
                response = await self._answer(tid)
            except (TransportTimeoutError, FrameError) as exc:
                last = exc
                continue
            return self._registers(response, block)
        if isinstance(last, TransportTimeoutError):
            raise _SilenceError(last)
        assert last is not None
        raise last

    async def _answer(self, tid: int) -> ModbusPDU:
        """The next frame from our unit (and transaction); frames of others are passed over."""
        unit = self._endpoint.address
        timeout_s = self._endpoint.timeout_s
        deadline = _loop_time() + timeout_s
        buffer = b""
        while True:
            remaining = deadline - _loop_time()
            if remaining <= 0:
                raise TransportTimeoutError(
                    f"{self._stream.description}: no answer from unit {unit} in {timeout_s} s")
            try:
                buffer += await self._stream.read_some(remaining)
            except TransportTimeoutError as exc:
                raise TransportTimeoutError(f"{self._stream.description}: no answer from unit "
                                            f"{unit} in {timeout_s} s") from exc
            while buffer:
                used, dev_id, frame_tid, pdu_bytes = self._framer.decode(buffer)
                if not used:
                    break  # an incomplete frame: read on
                buffer = buffer[used:]
                if not pdu_bytes:
                    raise ChecksumError(f"unit {unit}: a corrupt answer (CRC or header)")
                if dev_id == unit and (self.framing != "tcp" or frame_tid == tid):
                    return self._decoded(pdu_bytes)
                # Another unit's answer, or a late answer to an abandoned request: passed over.

    def _decoded(self, pdu_bytes: bytes) -> ModbusPDU:
        unit = self._endpoint.address
        try:
            pdu = self._framer.decoder.decode(pdu_bytes)
        except Exception as exc:  # pymodbus raises several kinds here
            raise FrameError(f"unit {unit}: an answer pymodbus cannot decode: {exc}") from exc
        if pdu is None:
            raise FrameError(f"unit {unit}: an answer of unknown function {pdu_bytes[0]:#04x}")
        return pdu

    @staticmethod
    def _registers(response: ModbusPDU, block: Block) -> list[int]:
        if isinstance(response, ExceptionResponse) or response.isError():
            code = response.exception_code
            raise _RefusalError(code, exception_error(code, block.function, block))
        if response.function_code != block.function:
            raise UnexpectedResponseError(
                f"function {response.function_code} answered a function {block.function} read")
        registers = list(response.registers)
        if len(registers) != block.count:
            raise UnexpectedResponseError(
                f"{len(registers)} registers answered a read of {block.count}")
        return registers


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def _with_totals(readings: list[ReadingItem], read_at: datetime,
                 declared: set[str]) -> list[ReadingItem]:
    """DESIGN §3: the total of each energy kind is always present; where the map gives only
    zones, it is their sum — when every zone the map declares was read (a sum of some zones
    would be a wrong total)."""
    by_kind: dict[EnergyKind, dict[int, ReadingItem]] = {}
    for item in readings:
        parsed = parse_energy_obis(item.obis)
        if parsed is not None:
            by_kind.setdefault(parsed[0], {})[parsed[1]] = item
    out = list(readings)
    for kind, zones in by_kind.items():
        wanted = {code for code in declared
                  if (parsed := parse_energy_obis(code)) is not None and parsed[0] is kind}
        if 0 not in zones and wanted == {item.obis for item in zones.values()}:
            total = sum((item.value for item in zones.values()), Decimal(0))
            unit = next(iter(zones.values())).unit
            out.insert(0, ReadingItem(obis=energy_obis(kind, 0), ts=read_at, value=total,
                                      unit=unit))
    return out
