"""One simulated Modbus meter: a register map whose values follow a seeded load on a clock.

Energy is kept exactly, as integers of mW·µs per kind and tariff zone, integrated from a daily
load curve (``simulators.mercury230.load.DailyLoad``, with a seeded midday export so that A-
grows too, and a reactive part at cos φ 0.90–0.99, capacitive in a fifth of the minutes so
that R- grows). Every moment's energy goes to the zone the schedule has at that local time.
A register shows its value floored to its own step (``scale`` of an integer, ``resolution`` of
a float), and a total is the sum of the zones each floored to the total's step, so that a total
equals the sum of its zones exactly when they share the step; registers never go down (an
integer beyond its type rolls over, as a meter's counter does).

Instantaneous values come from the load of the current minute: U 230 V ±2 %, f 50 ± 0.05 Hz,
S = √(P² + Q²), I = S / U, cos φ = P / S signed like P; a total P, Q or S is the sum of the
phases each rounded to the total's step. Info fields are constant: ``serial_number`` is the
meter's serial, any other field a number made from its name. Channels the model does not know
read 0. ``frozen`` stops the energy and keeps the load of the start.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.model import format_utc
from core.obis import EnergyKind
from core.tariffs import TWO_ZONE, ZoneSchedule
from drivers.modbus.maps import RegisterMap
from drivers.modbus.values import decode_number, model_value
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.load import LoadSample
from simulators.modbus.points import MWUS_PER_KWH, Channel, MeterLoad, fit

__all__ = ["ModbusMeter", "default_serial"]

_MICROSECOND = timedelta(microseconds=1)


def default_serial(bus_index: int, unit: int) -> str:
    """70000000 + 1000 × bus index + unit id: unique in a fleet, fits a u32."""
    return f"{70_000_000 + 1000 * bus_index + unit:08d}"


class ModbusMeter:
    """A register map, a unit id and a seed; values at the injected clock's now. No I/O."""

    def __init__(self, register_map: RegisterMap, unit: int, *, seed: int = 0,
                 clock: Clock = system_clock, time_zone: str = "Europe/Moscow",
                 schedule: ZoneSchedule = TWO_ZONE, frozen: bool = False,
                 mean_power_kw: float | None = None, serial: str | None = None) -> None:
        self.register_map = register_map
        self.unit = unit
        self.seed = seed
        self.clock = clock
        self.schedule = schedule
        self.frozen = frozen
        self.time_zone = time_zone
        self.serial = serial if serial is not None else default_serial(0, unit)
        if not self.serial.isdigit():
            raise ValueError(f"serial {self.serial!r}: digits only (a Modbus meter sends a number)")
        self._tz = ZoneInfo(time_zone)
        self._load = MeterLoad(seed, time_zone, mean_power_kw)
        self.channels = {p.key: Channel(p, int(self.serial)) for p in register_map.points}
        for channel in self.channels.values():
            if channel.info is not None and channel.info != fit(
                    channel.info, channel.point.type, wrap=False):
                raise ValueError(f"{channel.point.key} ({channel.point.type}) cannot hold "
                                 f"{channel.info}: give the unit a serial that fits")
        by_function: dict[int, list[Channel]] = {}
        for channel in sorted(self.channels.values(), key=lambda ch: ch.address):
            by_function.setdefault(channel.point.function or 3, []).append(channel)
        self._by_function = by_function
        self._starts = {f: [ch.address for ch in chs] for f, chs in by_function.items()}
        self._pins: dict[str, Decimal] = {}
        #: Each point's registers and the steps (energy) or version (others) they show.
        self._encoded: dict[str, tuple[int, list[int]]] = {}
        self._version = 0
        self._acc = [[0] * 9 for _ in range(5)]  # [kind][zone], mW·µs
        self._seed_registers()
        self._last = clock()
        self._sample_span = (self._last, self._last)
        self._zone_span = (self._last, self._last, 1)
        self._sample = self._sample_at(self._last)

    @property
    def mean_power_kw(self) -> float:
        return self._load.mean_power_kw

    # -- values --------------------------------------------------------------------------------

    def write_registers(self, function: int, address: int, count: int, block: list[int],
                        start: int) -> None:
        """Put into ``block`` (register ``start`` at index 0) every point of ``function`` that
        overlaps ``address .. address + count - 1``, as of now."""
        channels = self._by_function.get(function)
        if not channels:
            return
        self.update()
        end = address + count
        index = max(0, bisect_right(self._starts[function], address) - 1)
        for channel in channels[index:]:
            if channel.address >= end:
                break
            if channel.end > address:
                offset = channel.address - start
                block[offset:offset + channel.count] = self._registers(channel)

    def registers_of(self, key: str) -> list[int]:
        """The registers of point ``key`` now."""
        self.update()
        return self._registers(self._channel(key))

    def value_of(self, key: str) -> Decimal:
        """Point ``key``'s value now in its register's unit, as a client decodes it (integers
        exactly, floats rounded to the point's resolution; info fields as integers)."""
        channel = self._channel(key)
        point = channel.point
        number = decode_number(self.registers_of(key), point.type, *channel.orders)
        if point.stream == "info":
            return Decimal(int(number))
        return model_value(number, scale=point.scale, resolution=point.resolution)

    def values(self) -> dict[str, str]:
        """Every point's value now (control port ``state``)."""
        return {key: format(self.value_of(key), "f") for key in self.channels}

    def set_value(self, key: str, value: Decimal | None, *, force: bool = False) -> None:
        """Set point ``key`` (in its register's unit). An energy register moves the energy of
        its zone (a total: the zone in force now) and keeps growing from there; it may only go
        up unless ``force``. Other points are pinned (``None`` unpins them)."""
        channel = self._channel(key)
        if channel.energy is None:
            if value is None:
                self._pins.pop(key, None)
            else:
                channel.steps_of(value)  # a number it can show
                self._pins[key] = value
            self._version += 1
            return
        if value is None:
            raise ValueError(f"{key}: an energy register needs a value")
        current = self.value_of(key)
        if value < current and not force:
            raise ValueError(f"{key}: {value} is below {current}; an energy register only "
                             "goes up (add \"force\": true)")
        if value < 0:
            raise ValueError(f"{key}: an energy register is never negative")
        kind, zone = channel.energy
        steps = channel.steps_of(value)
        acc = self._acc[kind]
        if zone:
            acc[zone] = math.ceil(steps * channel.fraction)
            return
        # A total: the zone in force now takes the difference; below the other zones' sum
        # (forced), they are emptied.
        zone = self._zone_at(self.clock())
        acc[zone] = 0
        others = channel.energy_steps(self._acc)
        if others > steps:
            acc[1:] = [0] * 8
            others = 0
        acc[zone] = math.ceil((steps - others) * channel.fraction)

    # -- time ----------------------------------------------------------------------------------

    def update(self) -> None:
        """Book the energy up to the clock's now (time that runs backwards is ignored)."""
        now = self.clock()
        if now <= self._last:
            return
        if not self.frozen:
            cursor = self._last
            while cursor < now:
                sample = self._sample_at(cursor)
                zone = self._zone_at(cursor)
                stop = min(now, self._sample_span[1], self._zone_span[1])
                duration_us = (stop - cursor) // _MICROSECOND
                p_mw, q_mvar = round(sample.p_w * 1000), round(sample.q_var * 1000)
                acc = self._acc
                acc[EnergyKind.A_PLUS if p_mw >= 0 else EnergyKind.A_MINUS][zone] += \
                    abs(p_mw) * duration_us
                acc[EnergyKind.R_PLUS if q_mvar >= 0 else EnergyKind.R_MINUS][zone] += \
                    abs(q_mvar) * duration_us
                cursor = stop
            self._sample = self._sample_at(now)
        self._last = now

    def _sample_at(self, at: datetime) -> LoadSample:
        begin, until = self._sample_span
        if not begin <= at < until:
            self._sample = self._load.sample(at)
            self._sample_span = (at, self._load.next_change(at))
            self._version += 1
        return self._sample

    def _zone_at(self, at: datetime) -> int:
        begin, until, zone = self._zone_span
        if begin <= at < until:
            return zone
        wall = at.astimezone(self._tz).time()
        zone = self.schedule.zone_at(wall)
        following = next((s for s, _ in self.schedule.switches if s > wall), None)
        day = at.astimezone(self._tz).date() + timedelta(days=0 if following else 1)
        boundary = datetime.combine(day, following or time(0), tzinfo=self._tz).astimezone(UTC)
        self._zone_span = (at, max(boundary, at + timedelta(minutes=1)), zone)
        return zone

    # -- inside --------------------------------------------------------------------------------

    def _channel(self, key: str) -> Channel:
        channel = self.channels.get(key) or self.channels.get(f"info:{key}")
        if channel is None:
            raise KeyError(f"the map {self.register_map.model.name} has no point {key!r}")
        return channel

    def _registers(self, channel: Channel) -> list[int]:
        """Encoded again only when the value changed: an energy register when its steps do,
        the others when the load's sample or the pins do (``_version``)."""
        if channel.energy is not None:
            stamp = channel.energy_steps(self._acc)
        else:
            stamp = -1 - self._version  # never a count of steps
        cached = self._encoded.get(channel.key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        registers = channel.registers(stamp if stamp >= 0 else self._steps(channel))
        self._encoded[channel.key] = (stamp, registers)
        return registers

    def _steps(self, channel: Channel) -> int:
        pin = self._pins.get(channel.key)
        if pin is not None:
            return channel.steps_of(pin)
        if channel.info is not None:
            return channel.info
        if channel.energy is not None:
            return channel.energy_steps(self._acc)
        return channel.instant_steps(self._sample)

    def _seed_registers(self) -> None:
        """Lifetime totals before the clock's start, seeded, spread over the zones by hours."""
        a_plus_wh = 1_000_000 + (self.seed * 7_919_113) % 19_000_000
        shares = _zone_shares(self.schedule)
        for kind, per_mille in ((EnergyKind.A_PLUS, 1000), (EnergyKind.A_MINUS, 20),
                                (EnergyKind.R_PLUS, 300), (EnergyKind.R_MINUS, 50)):
            total = a_plus_wh * per_mille // 1000 * MWUS_PER_KWH // 1000
            for zone, share in shares.items():
                self._acc[kind][zone] = int(total * share)

    def snapshot(self) -> dict[str, Any]:
        return {"unit": self.unit, "serial": self.serial, "map": self.register_map.model.name,
                "time": format_utc(self.clock()), "zone": self._zone_at(self.clock()),
                "frozen": self.frozen, "values": self.values(),
                "pinned": sorted(self._pins)}


def _zone_shares(schedule: ZoneSchedule) -> dict[int, float]:
    seconds: dict[int, float] = {}
    ends = [*schedule.switches[1:], (None, 0)]
    for (start, zone), (end, _) in zip(schedule.switches, ends, strict=True):
        stop = 86_400 if end is None else end.hour * 3600 + end.minute * 60 + end.second
        seconds[zone] = seconds.get(zone, 0) + stop - (start.hour * 3600 + start.minute * 60)
    return {zone: span / 86_400 for zone, span in seconds.items()}
