"""Mercury 230 in the server role: a bus of simulated meters answering requests (sans-IO).

Requests and answers are the shared codec's (``drivers.mercury``); this module only decides
what a meter says (docs/reference/mercury-protocol.md §1.3, §1.4, §1.7, §1.8, §1.11)::

    00 test channel                 ADDR 00 CRC, identical to the request       no channel needed
    01 open channel 1/2             status 0, or 3 on a wrong password/level    no channel needed
    02 close channel                status 0                                    no channel needed
    08 00 serial + date             7 bytes                                     no channel needed
    04 00 time                      8 BCD bytes, meter clock (true + drift), local time
    04 JJ REC / FF                  journal record 0..9 / the last with its number (journals.py)
    03 0D ss mm hh                  time correction: ±4 min, once a meter day (else status 4)
    05 0T array 0 (from reset)      A+ A- R+ R- of tariff T (0 = sum, 1..4), FF FF FF FF masked
    05 4T/5T/BM T/CT/DT             today's/yesterday's consumption, registers at the start of
                                    month M / today / yesterday (archive.py)
    18 ARR DD MM YY T               ARR 0 day, 1 month, with ``extended_archives`` only
    08 13 / 06 03 HI LO 0F          profile: last record / one record (profile.py)
    08 01 / 08 12 (short forms)     passport / execution variant
    08 02 / 03 / 04 / 05 / 1D / 26  ratios, firmware, timeouts, address, firmware checksum
    08 11 BWRI                      one value: P/Q/S 00..0B, U 11..13, I 21..23, cos φ 30..33,
                                    f 40, angles 51..53, line voltages 81..83
    08 16 BWRI                      all phases: 00/04/08 and 30 (sum + 3), 11/21/51/81 (3), 40
    anything else (CRC valid)       status 1
    channel closed or lapsed        status 5 (except the four requests above)

Addressing (DOC3 table 1.2): a meter answers its own address; 00 makes every meter on the bus
answer, which collides unless the line has one meter (the colliding answers are OR-ed, as
drivers fighting on a wire would garble them); FE is executed by all and answered by none.
A request with a bad CRC, a foreign address or a wrong length gets silence. Status 3 for a
command above the open level is not needed: the simulator serves no level-2 command yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal

from core.errors import FrameError
from core.obis import EnergyKind
from drivers.mercury.answer import Payload, RawData, build_answer, build_status
from drivers.mercury.frame import EnergyArray, Param, RequestCode, Status
from drivers.mercury.instant import Bwri, DirectedValue, PowerKind, Quantity, encode_quantity
from drivers.mercury.instant import InstantValues as WireValues
from drivers.mercury.records import Passport, Variant
from drivers.mercury.request import (
    ChannelTestRequest,
    CloseChannelRequest,
    OpenChannelRequest,
    RawRequest,
    ReadArchiveRequest,
    ReadEnergyRequest,
    ReadJournalRequest,
    ReadMemoryRequest,
    ReadParamRequest,
    ReadTimeRequest,
    Request,
)
from drivers.mercury.session import NEED_DATA, ServerSession
from drivers.mercury.values import (
    EnergyRegisters,
    FirmwareChecksum,
    FirmwareVersion,
    MeterIdentity,
    MeterTime,
    NetworkAddress,
    Season,
    TransformationRatios,
    decode_bcd,
)
from simulators.mercury230.archive import Registers
from simulators.mercury230.faults import FaultMode, FaultOutcome
from simulators.mercury230.instant import InstantValues
from simulators.mercury230.meter import SimulatedMeter

__all__ = ["BROADCAST_ADDRESS", "TRACE", "UNIVERSAL_ADDRESS", "Bus", "answer"]

logger = logging.getLogger(__name__)

#: Log level for raw frames (below DEBUG, as STYLE asks).
TRACE = 5
UNIVERSAL_ADDRESS = 0x00
BROADCAST_ADDRESS = 0xFE

_SESSION_CODES = frozenset(
    {RequestCode.TEST_CHANNEL, RequestCode.OPEN_CHANNEL, RequestCode.CLOSE_CHANNEL}
)
_PARAM_BYTES = frozenset(bytes((int(param),)) for param in Param)
_THREE_PHASE = (Quantity.VOLTAGE, Quantity.CURRENT, Quantity.ANGLE, Quantity.LINE_VOLTAGE)


def answer(meter: SimulatedMeter, request: Request) -> bytes:
    """The complete, undamaged answer frame of ``meter`` to ``request`` (faults come later)."""
    now = meter.now()
    channel = meter.channel
    if isinstance(request, ChannelTestRequest):
        channel.touch(now)
        return build_status(request)
    if isinstance(request, OpenChannelRequest):
        level = int(request.level)
        if not meter.check_password(level, request.password):
            return build_status(request, Status.ACCESS_DENIED)
        channel.open(level, now)
        return build_status(request)
    if isinstance(request, CloseChannelRequest):
        channel.close()
        return build_status(request)
    if isinstance(request, RawRequest) and request.code in _SESSION_CODES:
        return build_status(request, Status.INVALID_REQUEST)  # say, an open at level 3
    if isinstance(request, ReadParamRequest) and request.param is Param.SERIAL_NUMBER:
        # §1.8: the serial number is readable without a channel.
        channel.touch(now)
        return build_answer(request, _identity(meter))
    if channel.level_at(now) is None:
        return build_status(request, Status.CHANNEL_NOT_OPEN)
    channel.touch(now)
    if isinstance(request, RawRequest):
        if request.code == RequestCode.WRITE_PARAM and request.params[:1] == b"\x0d":
            return build_status(request, _correct_clock(meter, request.params[1:]))
        return build_status(request, Status.INVALID_REQUEST)
    payload = _payload(meter, request)
    if payload is None:
        return build_status(request, Status.INVALID_REQUEST)
    return build_answer(request, payload)


class Bus:
    """Meters on one line (RS-485 behind one converter); one request at a time."""

    def __init__(self, meters: Iterable[SimulatedMeter], *, name: str = "bus") -> None:
        self.name = name
        self.meters: list[SimulatedMeter] = []
        for meter in meters:
            self.add(meter)

    def add(self, meter: SimulatedMeter) -> None:
        if self.meter(meter.address) is not None:
            raise ValueError(f"bus {self.name}: address {meter.address} is taken")
        self.meters.append(meter)

    def meter(self, address: int) -> SimulatedMeter | None:
        return next((meter for meter in self.meters if meter.address == address), None)

    def respond(self, request: Request) -> FaultOutcome | None:
        """What the line carries back after ``request``; ``None`` when no meter answers."""
        if isinstance(request, RawRequest) and _wrong_length(request):
            return None  # DOC3 p.8: a request of the wrong length is ignored
        address = request.address
        if address == BROADCAST_ADDRESS:
            for meter in self.meters:
                self._one(meter, request)
            return None
        if address == UNIVERSAL_ADDRESS:
            return _collide([self._one(meter, request) for meter in self.meters])
        target = self.meter(address)
        return None if target is None else self._one(target, request)

    def exchange(self, frame: bytes) -> bytes | None:
        """One request frame in, the bytes on the line out (faults applied, delays ignored)."""
        session = ServerSession()
        session.receive_data(frame)
        request = session.next_event()
        if request is NEED_DATA:
            return None
        outcome = self.respond(request)
        return None if outcome is None else outcome.reply

    def _one(self, meter: SimulatedMeter, request: Request) -> FaultOutcome:
        fault = meter.fault
        strikes = fault is not None and fault.strikes(meter.fault_rng)
        extra = {"meter_id": meter.meter_id, "bus": self.name}
        if not meter.powered():
            logger.debug("meter %s is without supply", meter.meter_id, extra=extra)
            return FaultOutcome(None)
        if fault is not None and strikes and fault.mode is FaultMode.SILENCE:
            logger.debug("meter %s stays silent (fault)", meter.meter_id, extra=extra)
            return FaultOutcome(None)
        reply = answer(meter, request)
        if logger.isEnabledFor(TRACE):
            logger.log(TRACE, "meter %s answers %s", meter.meter_id, reply.hex(" "), extra=extra)
        base_s = meter.settings.answer_delay_s
        if fault is None or not strikes:
            return FaultOutcome(reply, base_s)
        logger.debug("meter %s: fault %s strikes", meter.meter_id, fault.mode, extra=extra)
        damaged = fault.damage(reply, meter.fault_rng)
        return FaultOutcome(damaged.reply, damaged.delay_s + base_s)


def _wrong_length(request: RawRequest) -> bool:
    """A known 08 parameter with too many or too few argument bytes."""
    if request.code != RequestCode.READ_PARAM or request.params[:1] not in _PARAM_BYTES:
        return False
    param, args = Param(request.params[0]), request.params[1:]
    if param.takes_bwri:
        return len(args) != 1
    if param.takes_extension:
        return len(args) > 1
    return bool(args)


def _collide(outcomes: Sequence[FaultOutcome]) -> FaultOutcome | None:
    replies = [outcome.reply for outcome in outcomes if outcome.reply is not None]
    if not replies:
        return None
    delay_s = max(outcome.delay_s for outcome in outcomes)
    if len(replies) == 1:
        return FaultOutcome(replies[0], delay_s)
    garbled = bytearray(max(len(reply) for reply in replies))
    for reply in replies:
        for index, byte in enumerate(reply):
            garbled[index] |= byte
    return FaultOutcome(bytes(garbled), delay_s)


def _correct_clock(meter: SimulatedMeter, params: bytes) -> Status:
    """03 0D (DOC3 §3): the new time of day; the meter's date stays."""
    if len(params) != 3:
        return Status.INVALID_REQUEST
    try:
        second, minute, hour = decode_bcd(params)
        now = meter.meter_time().replace(tzinfo=None)
        target = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    except (FrameError, ValueError):
        return Status.INVALID_REQUEST
    try:
        done = meter.correct_clock((target - now).total_seconds())
    except ValueError:
        return Status.INVALID_REQUEST  # beyond ±4 min
    return Status.OK if done else Status.CLOCK_ALREADY_CORRECTED


def _energy(meter: SimulatedMeter, registers: Registers, tariff: int) -> EnergyRegisters:
    a_plus, a_minus, r_plus, r_minus = (
        registers[kind][tariff] if kind in registers else None for kind in EnergyKind
    )
    return EnergyRegisters(a_plus, a_minus, r_plus, r_minus)


def _array(meter: SimulatedMeter, request: ReadEnergyRequest) -> EnergyRegisters | None:
    """Arrays B (start of month M), C/D (start of today/yesterday), 4/5 (consumption of
    today/yesterday, the difference of two snapshots) on the meter's own clock."""
    now = meter.registers()
    today = meter.meter_time().date()
    archive = meter.archive
    start = archive.daily.get(today)
    previous = archive.daily.get(today - timedelta(days=1))
    array, tariff = request.array, request.tariff
    if array is EnergyArray.AT_CURRENT_DAY_START:
        chosen = start
    elif array is EnergyArray.AT_PREVIOUS_DAY_START:
        chosen = previous
    elif array is EnergyArray.AT_MONTH_START:
        chosen = archive.latest_month_start(request.month, today)
    elif array is EnergyArray.CURRENT_DAY and start is not None:
        chosen = _difference(now, start)
    elif array is EnergyArray.PREVIOUS_DAY and start is not None and previous is not None:
        chosen = _difference(start, previous)
    else:
        chosen = None
    return None if chosen is None else _energy(meter, chosen, tariff)


def _difference(later: Registers, earlier: Registers) -> Registers:
    return {
        kind: {zone: wh - earlier[kind][zone] for zone, wh in zones.items()}
        for kind, zones in later.items()
    }


def _identity(meter: SimulatedMeter) -> MeterIdentity:
    return MeterIdentity(meter.settings.serial, meter.settings.manufactured)


def _payload(meter: SimulatedMeter, request: Request) -> Payload | None:
    settings = meter.settings
    if isinstance(request, ReadTimeRequest):
        season = Season.SUMMER if settings.summer_season else Season.WINTER
        return MeterTime.at(meter.meter_time().replace(tzinfo=None), season)
    if isinstance(request, ReadJournalRequest):
        meter.update()
        return meter.journals.record(request.journal, request.record)
    if isinstance(request, ReadEnergyRequest):
        if request.tariff > 4:
            return None
        if request.array is EnergyArray.FROM_RESET:
            return _energy(meter, meter.registers(), request.tariff)
        return _array(meter, request)
    if isinstance(request, ReadArchiveRequest):
        if not settings.extended_archives or request.array > 1 or request.tariff > 4:
            return None  # ARR 2/3 (R1..R4) are not modelled
        meter.update()
        today = meter.meter_time().date()
        archive = meter.archive
        registers = (archive.day(request.day, today) if request.array == 0
                     else archive.month(request.day, today))
        return None if registers is None else _energy(meter, registers, request.tariff)
    if isinstance(request, ReadMemoryRequest):
        profile = meter.profile
        if profile is None or request.memory != 3 or request.energy or request.length != 15:
            return None  # whole records of the main profile only
        meter.update()
        return profile.read(request.offset)
    if not isinstance(request, ReadParamRequest):
        return None
    param = request.param
    if param is Param.PROFILE_LAST:
        meter.update()
        return None if meter.profile is None else meter.profile.pointer(
            winter=not settings.summer_season)
    if request.bwri is not None:
        return _values(meter.instant(), param, request.bwri)
    if param.takes_extension and request.args:
        return None  # the long passport/variant forms carry data the simulator has not got
    fixed: dict[Param, Payload] = {
        Param.PASSPORT: Passport(
            _identity(meter), FirmwareVersion(*settings.firmware), Variant(settings.variant_bytes)
        ),
        Param.RATIOS: TransformationRatios(settings.kn, settings.kt),
        Param.FIRMWARE: FirmwareVersion(*settings.firmware),
        Param.NETWORK_ADDRESS: NetworkAddress(meter.address),
        Param.VARIANT: Variant(settings.variant_bytes),
        Param.FIRMWARE_CRC: FirmwareChecksum(settings.firmware_checksum),
        Param.TIMEOUT_EXTRA: RawData(b"\x00\x01"),
        Param.TIMEOUT_MAIN: RawData(b"\x00\x01"),
    }
    return fixed.get(param)


def _values(values: InstantValues, param: Param, bwri: int) -> WireValues | None:
    """The 3-byte values 08 11 (one) or 08 16 (all phases) sends for ``bwri``."""
    if param not in (Param.AUX_VALUE, Param.PHASE_VALUES):
        return None  # 08 14 reads fixed (03 08) data, which the simulator does not keep yet
    try:
        selector = Bwri.from_byte(bwri)
    except FrameError:
        return None
    quantity, index = selector.quantity, selector.index
    if param is Param.AUX_VALUE:
        indexes: tuple[int, ...] = (index,)
    elif quantity in (Quantity.POWER, Quantity.POWER_FACTOR) and index == 0:
        indexes = (0, 1, 2, 3)
    elif quantity in _THREE_PHASE and index == 1:
        indexes = (1, 2, 3)
    elif quantity is Quantity.FREQUENCY and index == 0:
        indexes = (0,)
    else:
        return None
    try:
        encoded = [_encode(values, selector, i) for i in indexes]
    except FrameError:
        return None  # a pinned value beyond the 22 bits of a 3-byte value
    if any(value is None for value in encoded):
        return None
    return WireValues(selector, tuple(value for value in encoded if value is not None), 3)


def _encode(values: InstantValues, selector: Bwri, index: int) -> DirectedValue | None:
    quantity = selector.quantity
    phase = "_sum" if index == 0 else str(index)
    one = Bwri(quantity, index, selector.power) if quantity is Quantity.POWER else selector
    if quantity in (Quantity.POWER, Quantity.POWER_FACTOR):
        if index > 3:
            return None
        p: Decimal = getattr(values, f"p{phase}")
        q: Decimal = getattr(values, f"q{phase}")
        if quantity is Quantity.POWER_FACTOR:
            pf: Decimal = getattr(values, f"pf{phase}")
            return encode_quantity(one, pf, reactive_reverse=q < 0)
        if selector.power is PowerKind.ACTIVE:
            return encode_quantity(one, p.scaleb(-3), reactive_reverse=q < 0)
        if selector.power is PowerKind.REACTIVE:
            return encode_quantity(one, q.scaleb(-3), active_reverse=p < 0)
        s: Decimal = getattr(values, f"s{phase}")
        return encode_quantity(one, s.scaleb(-3), active_reverse=p < 0, reactive_reverse=q < 0)
    amount = _phase_amount(values, quantity, index)
    return None if amount is None else encode_quantity(selector, amount)


def _phase_amount(values: InstantValues, quantity: Quantity, index: int) -> Decimal | None:
    if quantity is Quantity.FREQUENCY:
        return values.frequency if index == 0 else None
    if not 1 <= index <= 3:
        return None
    if quantity is Quantity.VOLTAGE:
        return (values.u1, values.u2, values.u3)[index - 1]
    if quantity is Quantity.CURRENT:
        return (values.i1, values.i2, values.i3)[index - 1]
    if quantity is Quantity.ANGLE:
        return (values.angle12, values.angle13, values.angle23)[index - 1]
    if quantity is Quantity.LINE_VOLTAGE:
        # 1 = U12, 2 = U23, 3 = U31; phases 120° apart: U_L² = Ua² + Ub² + Ua·Ub.
        pairs = ((values.u1, values.u2), (values.u2, values.u3), (values.u3, values.u1))
        ua, ub = pairs[index - 1]
        return (ua * ua + ub * ub + ua * ub).sqrt().quantize(Decimal("0.01"))
    return None
