"""The changing state of one simulated Mercury 230: registers, clock, channel, instant values.

Energy registers are kept exactly, as integers of mW·µs per kind and tariff zone, and shown in
whole Wh/varh (floor), so they only ever grow and the sum is always the sum of the zones. The
meter integrates its load up to the injected clock's "now" whenever it is asked anything; the
energy of each moment goes to the zone in force at that moment on the meter's own clock (true
time + drift, in its local time zone), as the meter's tariffer would book it.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from core.obis import EnergyKind
from drivers.mercury.records import Variant
from simulators.mercury230.archive import Archive, Registers
from simulators.mercury230.channel import Channel
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.events import MeterEvents
from simulators.mercury230.faults import Fault
from simulators.mercury230.instant import INSTANT_FIELDS, InstantValues, instant_from_sample
from simulators.mercury230.journals import Journals
from simulators.mercury230.load import ConstantLoad, DailyLoad, LoadModel, LoadSample
from simulators.mercury230.profile import ProfileMemory
from simulators.mercury230.settings import MeterSettings

__all__ = ["ENERGY_UNIT", "TARIFF_ZONES", "SimulatedMeter"]


#: Register units per Wh (varh): mW × µs.
ENERGY_UNIT = 1000 * 3600 * 1_000_000
#: The tariff registers a Mercury 230 keeps.
TARIFF_ZONES = (1, 2, 3, 4)
#: History before "now" is integrated with this coarse step (its own slots), which keeps a big
#: fleet's start-up fast; only the live registers need the fine load curve.
_HISTORY_STEP_S = 3600
_MICROSECOND = timedelta(microseconds=1)


class SimulatedMeter(MeterEvents):
    """One simulated meter. Reads go through the injected clock; nothing here does I/O."""

    def __init__(
        self,
        settings: MeterSettings,
        *,
        clock: Clock = system_clock,
        load: LoadModel | None = None,
        initial_wh: dict[EnergyKind, int] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.channel = Channel()
        #: The fault this meter shows on its answers (``None``: a healthy meter).
        self.fault: Fault | None = None
        #: Draws for faults (whether one strikes, garbage bytes): seeded, so runs repeat.
        self.fault_rng = random.Random(settings.seed)
        self._tz = ZoneInfo(settings.time_zone)
        self._load: LoadModel = (
            load
            if load is not None
            else DailyLoad(
                settings.seed,
                time_zone=settings.time_zone,
                mean_power_kw=settings.mean_power_kw,
                export_peak_kw=settings.export_peak_kw,
            )
        )
        self._acc: dict[tuple[EnergyKind, int], int] = {
            (kind, zone): 0 for kind in EnergyKind for zone in TARIFF_ZONES
        }
        self._pins: dict[str, Decimal] = {}
        #: Seconds the meter's clock is ahead of true time (changed by clock corrections).
        self.drift_s = settings.drift_s
        self.journals = Journals()
        self.archive = Archive()
        #: Power failures as true-time spans [off, on): no energy flows, the meter is silent.
        self.outages: list[tuple[datetime, datetime]] = []
        self._corrected_on: date | None = None
        now = self.clock()
        self._seed_registers(initial_wh)
        start = now - timedelta(days=settings.history_days)
        self.profile = self._new_profile()
        if self.profile is not None:
            self.profile.baseline(self._cumulative_counts())
        self._history_events(start, now)
        self._integrate(start, now, _Coarse(self._load, _HISTORY_STEP_S))
        self._last = now

    # -- identity ------------------------------------------------------------------------------

    @property
    def address(self) -> int:
        return self.settings.network_address

    @property
    def serial(self) -> str:
        return self.settings.serial

    @property
    def meter_id(self) -> str:
        return self.settings.identifier

    def supports(self, kind: EnergyKind) -> bool:
        return kind in self.settings.energy_kinds

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """True time (UTC) from the injected clock."""
        return self.clock()

    def meter_time(self, at: datetime | None = None) -> datetime:
        """The meter's own clock: true time plus drift, in its local time zone."""
        moment = at if at is not None else self.clock()
        return (moment + timedelta(seconds=self.drift_s)).astimezone(self._tz)

    def zone_at(self, at: datetime) -> int:
        """The tariff zone the meter books energy to at true time ``at``."""
        return self.settings.schedule.zone_at(self.meter_time(at).time())

    # -- registers -----------------------------------------------------------------------------

    def update(self) -> None:
        """Integrate the load up to the clock's now (time that runs backwards is ignored)."""
        now = self.clock()
        if now > self._last:
            self._integrate(self._last, now, self._load)
            self._last = now
        self.journals.settle(now)

    def register(self, kind: EnergyKind, zone: int = 0) -> int | None:
        """Wh (varh) of ``kind`` in ``zone`` (0 = sum); ``None`` for an unsupported kind."""
        self.update()
        return self._register(kind, zone)

    def registers(self) -> Registers:
        """Every supported kind: zone → Wh (varh), zone 0 being the sum of zones 1..4."""
        self.update()
        return self._registers_now()

    def _registers_now(self) -> Registers:
        result: Registers = {}
        for kind in EnergyKind:
            if self.supports(kind):
                zones = {zone: self._acc[(kind, zone)] // ENERGY_UNIT for zone in TARIFF_ZONES}
                result[kind] = {0: sum(zones.values()), **zones}
        return result

    def set_register(self, kind: EnergyKind, zone: int, wh: int) -> None:
        """Pin one zone register to ``wh`` (it keeps growing from there with the load)."""
        if zone not in TARIFF_ZONES:
            raise ValueError(f"zone {zone}: a Mercury 230 register is one of T1..T4")
        if wh < 0:
            raise ValueError("a register is never negative")
        self.update()
        self._acc[(kind, zone)] = wh * ENERGY_UNIT

    def _register(self, kind: EnergyKind, zone: int) -> int | None:
        if not self.supports(kind):
            return None
        if zone == 0:
            return sum(self._acc[(kind, z)] // ENERGY_UNIT for z in TARIFF_ZONES)
        if zone not in TARIFF_ZONES:
            raise ValueError(f"zone {zone}: a Mercury 230 register is one of T1..T4 or 0 (sum)")
        return self._acc[(kind, zone)] // ENERGY_UNIT

    # -- load and instant values ---------------------------------------------------------------

    @property
    def load(self) -> LoadModel:
        return self._load

    @load.setter
    def load(self, model: LoadModel) -> None:
        """Replace the load from now on (energy so far is booked with the old one)."""
        self.update()
        self._load = model

    def freeze(self) -> None:
        """No more energy flows: registers stay where they are (byte-exact tests)."""
        self.load = ConstantLoad()

    def instant(self) -> InstantValues:
        """U, I, P, Q, S, cos φ, f, angles now, with pinned values in place."""
        self.update()
        return instant_from_sample(self._load.sample(self.clock())).pinned(self._pins)

    def pin_instant(self, **values: Decimal | str | float) -> None:
        """Fix instantaneous values by name (``u1=Decimal("241.28")``, ``p_sum=…``)."""
        unknown = set(values) - INSTANT_FIELDS
        if unknown:
            raise ValueError(f"unknown instant values: {', '.join(sorted(unknown))}")
        self._pins.update({name: Decimal(str(value)) for name, value in values.items()})

    def unpin_instant(self) -> None:
        self._pins.clear()

    # -- session -------------------------------------------------------------------------------

    def check_password(self, level: int, password: bytes) -> bool:
        return level in (1, 2) and password == self.settings.password_bytes(level)

    # -- inspection ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The meter's state as JSON types (control port ``state``, test assertions)."""
        registers = self.registers()
        now = self.clock()
        return {
            "meter_id": self.meter_id,
            "address": self.address,
            "serial": self.serial,
            "true_time": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "meter_time": self.meter_time(now).isoformat(),
            "zone": self.zone_at(now),
            "channel_level": self.channel.level_at(now),
            "fault": None if self.fault is None else self.fault.as_json(),
            "registers": {
                kind.label: (
                    {
                        ("sum" if zone == 0 else f"T{zone}"): wh
                        for zone, wh in registers[kind].items()
                    }
                    if kind in registers
                    else None
                )
                for kind in EnergyKind
            },
            "instant": self.instant().as_json(),
        }

    # -- integration ---------------------------------------------------------------------------

    def _seed_registers(self, initial_wh: dict[EnergyKind, int] | None) -> None:
        """Registers as they were before the history window: a seeded lifetime total."""
        if initial_wh is None:
            a_plus = 1_000_000 + (self.settings.seed * 7_919_113) % 19_000_000
            initial_wh = {EnergyKind.A_PLUS: a_plus, EnergyKind.R_PLUS: a_plus * 3 // 10}
        shares = _zone_shares(self.settings)
        for kind, total in initial_wh.items():
            booked = 0
            for position, (zone, share) in enumerate(shares):
                wh = total - booked if position == len(shares) - 1 else int(total * share)
                self._acc[(kind, zone)] += wh * ENERGY_UNIT
                booked += wh

    def _integrate(self, start: datetime, end: datetime, load: LoadModel) -> None:
        cursor = start
        while cursor < end:
            boundary, stamp = self._next_boundary(cursor)
            dark = next((on for off, on in self.outages if off <= cursor < on), None)
            if dark is not None:  # no supply, no energy
                stop = min(end, dark, boundary)
            else:
                next_off = min((off for off, _ in self.outages if off > cursor), default=end)
                zone, zone_end = self._zone_span(cursor)
                stop = min(end, zone_end, load.next_change(cursor), next_off, boundary)
                self._book(load.sample(cursor), zone, (stop - cursor) // _MICROSECOND)
            cursor = stop
            if cursor == boundary:
                self._at_boundary(boundary, stamp)

    def _at_boundary(self, boundary: datetime, stamp: datetime) -> None:
        """Snapshots at local 00:00, the profile record of the interval ending at ``stamp``."""
        if stamp.time() == time(0):
            self.archive.capture(stamp.date(), self._registers_now())
        if self.profile is None:
            return
        begin = boundary - self.profile.period
        self.profile.capture(
            stamp, self._cumulative_counts(),
            dark=any(off <= begin and on >= boundary for off, on in self.outages),
            incomplete=any(off < boundary and on > begin for off, on in self.outages),
            winter=not self.settings.summer_season,
        )

    def _next_boundary(self, at: datetime) -> tuple[datetime, datetime]:
        """The true time and local wall time of the next profile boundary (or 00:00) after
        ``at`` on the meter's clock."""
        local = self.meter_time(at).replace(tzinfo=None)
        step = self.profile.period if self.profile is not None else timedelta(days=1)
        day = datetime.combine(local.date(), time(0))
        wall = day + ((local - day) // step + 1) * step
        true = wall.replace(tzinfo=self._tz).astimezone(UTC) - timedelta(seconds=self.drift_s)
        return true, wall

    def _new_profile(self) -> ProfileMemory | None:
        variant = Variant(self.settings.variant_bytes)
        if not variant.has_profile or variant.meter_constant is None:
            return None
        records = 8192 if variant.large_memory else 4096
        return ProfileMemory(self.settings.profile_period_min, records,
                             index_pointer=self.settings.firmware[0] >= 9)

    def _cumulative_counts(self) -> tuple[int | None, int | None, int | None, int | None]:
        """Profile counts since the meter was made, per kind: energy · 2A per kWh."""
        constant = Variant(self.settings.variant_bytes).meter_constant or 1
        a, b, c, d = (
            sum(self._acc[(kind, zone)] for zone in TARIFF_ZONES) * 2 * constant
            // (1000 * ENERGY_UNIT) if self.supports(kind) else None
            for kind in EnergyKind
        )
        return a, b, c, d


    def _book(self, sample: LoadSample, zone: int, duration_us: int) -> None:
        p_mw = round(sample.p_w * 1000)
        q_mvar = round(sample.q_var * 1000)
        active = EnergyKind.A_PLUS if p_mw >= 0 else EnergyKind.A_MINUS
        reactive = EnergyKind.R_PLUS if q_mvar >= 0 else EnergyKind.R_MINUS
        # A one-direction meter does not book reverse energy at all (its registers are masked).
        if self.supports(active):
            self._acc[(active, zone)] += abs(p_mw) * duration_us
        if self.supports(reactive):
            self._acc[(reactive, zone)] += abs(q_mvar) * duration_us

    def _zone_span(self, at: datetime) -> tuple[int, datetime]:
        """The zone at true time ``at`` and the true time its stretch of the schedule ends."""
        local = self.meter_time(at)
        wall = local.time().replace(tzinfo=None)
        zone = self.settings.schedule.zone_at(wall)
        next_start = next((s for s, _ in self.settings.schedule.switches if s > wall), None)
        boundary_day = local.date() if next_start is not None else local.date() + timedelta(days=1)
        boundary_local = _local_datetime(boundary_day, next_start or time(0), self._tz)
        boundary = boundary_local.astimezone(UTC) - timedelta(seconds=self.drift_s)
        if boundary <= at:
            # Only in zones with daylight-saving folds (not Russia's): force progress.
            boundary = at + timedelta(minutes=1)
        return zone, boundary


class _Coarse:
    """A load viewed in big steps: the sample at each step's start holds for the whole step."""

    def __init__(self, inner: LoadModel, step_s: int) -> None:
        self._inner = inner
        self._step = timedelta(seconds=step_s)

    def _start(self, moment: datetime) -> datetime:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return epoch + ((moment - epoch) // self._step) * self._step

    def sample(self, moment: datetime) -> LoadSample:
        return self._inner.sample(self._start(moment))

    def next_change(self, moment: datetime) -> datetime:
        return self._start(moment) + self._step


def _local_datetime(day: date, wall: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz)


def _zone_shares(settings: MeterSettings) -> list[tuple[int, float]]:
    """How a day's hours split between the schedule's zones (for a seeded lifetime total)."""
    switches = [*settings.schedule.switches, (time(23, 59, 59, 999999), 0)]
    seconds: dict[int, float] = {}
    for (start, zone), (end, _) in pairwise(switches):
        span = _seconds(end) - _seconds(start)
        seconds[zone] = seconds.get(zone, 0.0) + span
    total = sum(seconds.values())
    return [(zone, seconds[zone] / total) for zone in sorted(seconds)]


def _seconds(wall: time) -> float:
    return wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6
