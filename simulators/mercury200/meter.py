"""The changing state of one simulated Mercury 200-family meter (single phase;
docs/reference/mercury-protocol.md §2 — what 27/32/63/81/85/21 and the event stamps report).

::

    load(t) ──integrate──▶ acc[A+|R+][T1..T4] (mW·µs) ──floor──▶ 10 Wh units (27/85)
              zone = schedule(meter clock = true + drift, local)   month change ─▶ snapshots (32)

Registers A+ and R+ per zone T1..T4 are kept exactly (mW·µs, as the 230 simulator does) and
shown in the meter's 10 Wh units (floor), so they never decrease and the total is the sum of
the zones. Energy of each moment goes to the zone in force on the meter's own clock (true time
+ drift, local time zone). At each month change on that clock the registers are copied into
that month's snapshot (answered by 32). Load models and clocks come from the 230 simulator.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.obis import EnergyKind
from simulators.mercury200.settings import Meter200Settings
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.faults import Fault
from simulators.mercury230.load import ConstantLoad, DailyLoad, LoadModel

__all__ = ["EVENT_NAMES", "UNIT_WH", "AnswerUnits", "EventName", "SimulatedMeter200"]

#: One register unit is 10 Wh (varh); the accumulators count mW × µs.
UNIT_WH = 10
_ACC_PER_UNIT = UNIT_WH * 1000 * 3600 * 1_000_000
_ZONES = (1, 2, 3, 4)
_KINDS = (EnergyKind.A_PLUS, EnergyKind.R_PLUS)
_HISTORY_STEP = timedelta(hours=1)
_MICROSECOND = timedelta(microseconds=1)
_PIN_NAMES = frozenset({"voltage_v", "current_a", "power_w", "frequency_hz"})

#: The four "last event" stamps a meter keeps.
EventName = str
#: T1..T4 as 27/32/85 answer them; ``None`` is FF…FF (zone not in use).
AnswerUnits = tuple[int | None, int | None, int | None, int | None]
EVENT_NAMES = ("power_off", "power_on", "cover_open", "cover_close")


class SimulatedMeter200:
    """One simulated meter; reads go through the injected clock, nothing here does I/O."""

    def __init__(
        self,
        settings: Meter200Settings,
        *,
        clock: Clock = system_clock,
        load: LoadModel | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.fault: Fault | None = settings.fault
        self.fault_rng = random.Random(settings.seed)
        self._tz = ZoneInfo(settings.time_zone)
        self._load: LoadModel = load if load is not None else DailyLoad(
            settings.seed, time_zone=settings.time_zone, mean_power_kw=settings.mean_power_kw
        )
        self._acc = {(kind, zone): 0 for kind in _KINDS for zone in _ZONES}
        self._pins: dict[str, Decimal] = {}
        #: Billing month (1..12) → A+ T1..T4 in 10 Wh units at the end of that month.
        self.snapshots: dict[int, tuple[int, int, int, int]] = {}
        now = self.clock()
        start = now - timedelta(days=settings.history_days)
        self._seed(start)
        self._integrate(start, now, coarse=True)
        self._last = now
        rng = random.Random(settings.seed * 7919 + 1)
        off = now - timedelta(days=1 + rng.randrange(20), minutes=rng.randrange(1440))
        #: True UTC times of the last events (``None``: never happened).
        self.events: dict[str, datetime | None] = {
            "power_off": off,
            "power_on": off + timedelta(minutes=1 + rng.randrange(180)),
            "cover_open": None,
            "cover_close": None,
        }

    # -- identity and time ---------------------------------------------------------------------

    @property
    def address(self) -> int:
        return self.settings.network_address

    @property
    def serial(self) -> int:
        return self.settings.serial

    @property
    def meter_id(self) -> str:
        return self.settings.identifier

    def meter_time(self, at: datetime | None = None) -> datetime:
        """The meter's clock: true time plus drift, local, aware."""
        moment = at if at is not None else self.clock()
        return (moment + timedelta(seconds=self.settings.drift_s)).astimezone(self._tz)

    def local_of(self, at: datetime) -> datetime:
        """A true instant as the meter's clock showed it, naive local (event stamps)."""
        return self.meter_time(at).replace(tzinfo=None, microsecond=0)

    def zone_at(self, at: datetime) -> int:
        return self.settings.schedule.zone_at(self.meter_time(at).time())

    # -- registers -----------------------------------------------------------------------------

    def update(self) -> None:
        """Integrate the load up to the clock's now (time running backwards is ignored)."""
        now = self.clock()
        if now > self._last:
            self._integrate(self._last, now, coarse=False)
            self._last = now

    def units(self, kind: EnergyKind = EnergyKind.A_PLUS) -> tuple[int, int, int, int]:
        """T1..T4 of ``kind`` in 10 Wh units now."""
        self.update()
        return self._units(kind)

    def answer_units(self, kind: EnergyKind) -> AnswerUnits:
        """What 27/85 answer: zones outside the schedule as ``None`` (FF…FF) when masked."""
        return self._mask(self.units(kind))

    def month_units(self, month: int | None) -> AnswerUnits:
        """What 32 answers for billing month ``month``, or the running registers (``None``)."""
        if month is None:
            return self.answer_units(EnergyKind.A_PLUS)
        self.update()
        return self._mask(self.snapshots.get(month, (0, 0, 0, 0)))

    def set_units(self, kind: EnergyKind, units: tuple[int, int, int, int]) -> None:
        """Pin the registers (they keep growing from there with the load)."""
        self.update()
        for zone, value in zip(_ZONES, units, strict=True):
            if value < 0:
                raise ValueError("a register is never negative")
            self._acc[(kind, zone)] = value * _ACC_PER_UNIT

    def _units(self, kind: EnergyKind) -> tuple[int, int, int, int]:
        a, b, c, d = (self._acc[(kind, zone)] // _ACC_PER_UNIT for zone in _ZONES)
        return a, b, c, d

    def _mask(self, units: tuple[int, int, int, int]) -> AnswerUnits:
        if not self.settings.mask_unused_zones:
            return units
        used = self.settings.zones_in_use
        a, b, c, d = (value if zone in used else None for zone, value in zip(_ZONES, units,
                                                                              strict=True))
        return a, b, c, d

    # -- load and instant values ---------------------------------------------------------------

    @property
    def load(self) -> LoadModel:
        return self._load

    @load.setter
    def load(self, model: LoadModel) -> None:
        self.update()
        self._load = model

    def freeze(self) -> None:
        """No more energy flows (byte-exact tests)."""
        self.load = ConstantLoad()

    def pin_instant(self, **values: Decimal | str | float | int) -> None:
        """Fix ``voltage_v``, ``current_a``, ``power_w`` or ``frequency_hz``."""
        unknown = set(values) - _PIN_NAMES
        if unknown:
            raise ValueError(f"unknown instant values: {', '.join(sorted(unknown))}")
        self._pins.update({name: Decimal(str(value)) for name, value in values.items()})

    def instant(self) -> dict[str, Decimal]:
        """U (0.1 V), I (0.01 A), P (W), f (0.01 Hz) now, pinned values in place."""
        self.update()
        sample = self._load.sample(self.clock())
        voltage = Decimal(str(sample.phases[0].u_v)).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
        power = Decimal(round(abs(sample.p_w)))
        current = (power / voltage).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        frequency = Decimal(str(sample.frequency_hz)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        values = {"voltage_v": voltage, "current_a": current, "power_w": power,
                  "frequency_hz": frequency}
        values.update(self._pins)
        return values

    # -- events --------------------------------------------------------------------------------

    def record_event(self, name: str, at: datetime | None = None) -> None:
        """Stamp ``name`` (power_off, power_on, cover_open, cover_close) at ``at`` (now)."""
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event {name!r}; known: {', '.join(EVENT_NAMES)}")
        self.events[name] = at if at is not None else self.clock()

    # -- inspection ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "meter_id": self.meter_id,
            "address": self.address,
            "serial": self.serial,
            "model": str(self.settings.model),
            "true_time": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "meter_time": self.meter_time(now).isoformat(),
            "zone": self.zone_at(now),
            "fault": None if self.fault is None else self.fault.as_json(),
            "registers_10wh": {kind.label: list(self.units(kind)) for kind in _KINDS},
            "snapshots_10wh": {str(month): list(units)
                               for month, units in sorted(self.snapshots.items())},
            "instant": {name: str(value) for name, value in self.instant().items()},
            "events": {name: None if at is None else self.local_of(at).isoformat()
                       for name, at in self.events.items()},
        }

    # -- integration ---------------------------------------------------------------------------

    def _seed(self, start: datetime) -> None:
        """Registers at ``start`` from a seeded lifetime total, and the months before it."""
        settings = self.settings
        zones = settings.zones_in_use
        monthly_wh = int(730 * max(abs(self._load.sample(start).p_w), 100.0))
        total_wh = settings.initial_wh
        if total_wh is None:
            # A meter in service for over a year: enough for the back-computed months.
            total_wh = 14 * monthly_wh + (settings.seed * 7_919_113) % 9_000_000
        for kind, share in ((EnergyKind.A_PLUS, 1.0), (EnergyKind.R_PLUS, 0.3)):
            wh = int(total_wh * share)
            for i, zone in enumerate(zones):
                part = wh // len(zones) + (wh % len(zones) if i == 0 else 0)
                self._acc[(kind, zone)] = part * 1000 * 3600 * 1_000_000
        # Months that ended within the year before the history window: back-computed.
        units = self._units(EnergyKind.A_PLUS)
        local = self.meter_time(start)
        year, month = local.year, local.month
        for back in range(1, 13):
            index = year * 12 + month - 1 - back
            billing = index % 12 + 1
            spent = back * monthly_wh // UNIT_WH // max(1, len(zones))
            a, b, c, d = (max(0, value - spent) if zone in zones else value
                          for zone, value in zip(_ZONES, units, strict=True))
            self.snapshots[billing] = (a, b, c, d)

    def _integrate(self, start: datetime, end: datetime, *, coarse: bool) -> None:
        cursor = start
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        while cursor < end:
            zone, zone_end = self._zone_span(cursor)
            month_end = self._month_end(cursor)
            if coarse:
                slot = epoch + ((cursor - epoch) // _HISTORY_STEP + 1) * _HISTORY_STEP
                sample_at = slot - _HISTORY_STEP
            else:
                slot = self._load.next_change(cursor)
                sample_at = cursor
            stop = min(end, zone_end, month_end, slot)
            sample = self._load.sample(max(sample_at, start))
            duration = (stop - cursor) // _MICROSECOND
            self._acc[(EnergyKind.A_PLUS, zone)] += abs(round(sample.p_w * 1000)) * duration
            self._acc[(EnergyKind.R_PLUS, zone)] += abs(round(sample.q_var * 1000)) * duration
            cursor = stop
            if cursor == month_end:
                ended = self.meter_time(cursor - _MICROSECOND).month
                self.snapshots[ended] = self._units(EnergyKind.A_PLUS)

    def _to_true(self, local: datetime) -> datetime:
        return local.astimezone(UTC) - timedelta(seconds=self.settings.drift_s)

    def _month_end(self, at: datetime) -> datetime:
        local = self.meter_time(at)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return self._to_true(datetime.combine(date(year, month, 1), time(0), tzinfo=self._tz))

    def _zone_span(self, at: datetime) -> tuple[int, datetime]:
        local = self.meter_time(at)
        wall = local.time().replace(tzinfo=None)
        zone = self.settings.schedule.zone_at(wall)
        next_start = next((s for s, _ in self.settings.schedule.switches if s > wall), None)
        day = local.date() if next_start is not None else local.date() + timedelta(days=1)
        boundary = self._to_true(datetime.combine(day, next_start or time(0), tzinfo=self._tz))
        if boundary <= at:
            boundary = at + timedelta(minutes=1)
        return zone if zone in _ZONES else 1, boundary
