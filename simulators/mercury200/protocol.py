"""Mercury 200 family in the server role: a bus of simulated meters answering requests
(sans-IO; docs/reference/mercury-protocol.md §2), built with the production codec's encoders::

    27 / 85        energy / reactive energy T1..T4, 10 Wh units; FF…FF for zones not in use
    32 MM          snapshot of billing month MM+1 (00..0B), 0F the running registers
    63             U I P                    81   f, tariff (0 = T1), flags
    21             clock (true + drift)     2F   serial (binary)     66  manufacture date
    29             battery                  28   firmware [1]        86 FF model [1]
    2B/2C/61/62    last power off/on, cover open/close (all zeros: never)
    anything else  silence, as is a request with a bad CRC or a foreign address

85 gets silence on a meter without reactive energy (200.02 by default). There is no status
answer in this protocol, so a fault is silence, a broken frame or a late answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import ConfigError
from core.obis import EnergyKind
from drivers.mercury.m200.answer import MODEL_PARAMETER
from drivers.mercury.m200.frame import Command, Request, Response
from drivers.mercury.m200.values import (
    BatteryVoltage,
    EnergyTariffs,
    EventTime,
    FirmwareInfo,
    FrequencyStatus,
    InstantValues,
    ManufactureDate,
    MeterClock,
    ModelInfo,
    SerialNumber,
)
from simulators.mercury200.meter import SimulatedMeter200
from simulators.mercury200.settings import MODEL_CODES
from simulators.mercury230.faults import FaultOutcome, apply_fault

__all__ = ["Bus200", "answer_data"]

_EVENTS = {
    Command.LAST_POWER_OFF: "power_off",
    Command.LAST_POWER_ON: "power_on",
    Command.LAST_COVER_OPEN: "cover_open",
    Command.LAST_COVER_CLOSE: "cover_close",
}
_CURRENT_MONTH = 0x0F


def answer_data(meter: SimulatedMeter200, request: Request) -> bytes | None:
    """The data bytes ``meter`` answers ``request`` with; ``None``: it stays silent."""
    try:
        command = Command(request.command)
    except ValueError:
        return None
    if command.takes_argument != bool(request.argument) or len(request.argument) > 1:
        return None
    if command is Command.ENERGY:
        return EnergyTariffs(meter.answer_units(EnergyKind.A_PLUS)).to_bytes()
    if command is Command.REACTIVE_ENERGY:
        if not meter.settings.answers_reactive:
            return None
        return EnergyTariffs(meter.answer_units(EnergyKind.R_PLUS)).to_bytes()
    if command is Command.MONTHLY_ENERGY:
        month = request.argument[0]
        if month == _CURRENT_MONTH:
            return EnergyTariffs(meter.month_units(None)).to_bytes()
        if month > 0x0B:
            return None
        return EnergyTariffs(meter.month_units(month + 1)).to_bytes()
    if command is Command.INSTANT:
        values = meter.instant()
        return InstantValues(values["voltage_v"], values["current_a"],
                             int(values["power_w"])).to_bytes()
    if command is Command.FREQUENCY:
        values = meter.instant()
        now = meter.clock()
        return FrequencyStatus(values["frequency_hz"], meter.zone_at(now) - 1).to_bytes()
    if command is Command.CLOCK:
        return MeterClock(meter.local_of(meter.clock())).to_bytes()
    if command in _EVENTS:
        at = meter.events[_EVENTS[command]]
        return EventTime(None if at is None else meter.local_of(at)).to_bytes()
    return _identity(meter, command, request.argument)


def _identity(meter: SimulatedMeter200, command: Command, argument: bytes) -> bytes | None:
    settings = meter.settings
    if command is Command.SERIAL_NUMBER:
        return SerialNumber(settings.serial).to_bytes()
    if command is Command.MANUFACTURED:
        return ManufactureDate(settings.manufactured).to_bytes()
    if command is Command.BATTERY:
        return BatteryVoltage(settings.battery_v).to_bytes()
    if command is Command.FIRMWARE:
        return FirmwareInfo(settings.firmware, settings.manufactured).to_bytes()
    if command is Command.PARAMETER and argument[0] == MODEL_PARAMETER:
        return ModelInfo(MODEL_CODES[settings.model]).to_bytes()
    return None


class Bus200:
    """Meters sharing one line; each request is answered by the meter with its address."""

    def __init__(self, meters: Iterable[SimulatedMeter200], name: str = "bus0") -> None:
        self.name = name
        self.meters = list(meters)
        self._by_address: dict[int, SimulatedMeter200] = {}
        for meter in self.meters:
            if meter.address in self._by_address:
                raise ConfigError(f"bus {name}: two meters at address {meter.address}")
            self._by_address[meter.address] = meter

    def meter(self, address: int) -> SimulatedMeter200 | None:
        return self._by_address.get(address)

    def respond(self, request: Request) -> FaultOutcome | None:
        """What goes on the wire in answer to ``request`` (``None``: nothing)."""
        meter = self._by_address.get(request.address)
        if meter is None:
            return None
        data = answer_data(meter, request)
        if data is None:
            return None
        reply = Response(request.address, request.command, data).to_bytes()
        return apply_fault(meter.fault, reply, meter.fault_rng)

    def describe(self) -> list[dict[str, object]]:
        return [{"address": m.address, "serial": m.serial, "meter_id": m.meter_id}
                for m in self.meters]
