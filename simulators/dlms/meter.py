"""The changing state of one simulated SPODES meter: energy registers per tariff zone, the clock,
the load profile, the daily and monthly profiles, event journals and tamper counters.

Everything follows the injected clock (``simulators.mercury230.clock``) and the load models of
``simulators.mercury230.load``. Energy is kept exactly, as integers of mW·µs per kind and zone,
and shown in whole Wh (varh), so registers only grow and the total is the sum of T1..T4. The
meter integrates its load up to "now" whenever it is asked anything; at every boundary of the
capture period on its own clock (true time + drift, local time zone) it captures a load-profile
entry, at 00:00 a daily entry and on the 1st also a monthly one. History before the start is
integrated with the load sampled once per capture period (fast start-up); the live registers
follow the fine load curve. The COSEM view of this state is ``spodes.py``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from core.obis import EnergyKind
from core.tariffs import TWO_ZONE, ZoneSchedule
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.instant import InstantValues, instant_from_sample
from simulators.mercury230.load import ConstantLoad, DailyLoad, LoadModel, LoadSample

__all__ = [
    "CASE",
    "COMMUNICATION",
    "CORRECTIONS",
    "EXTERNAL",
    "JOURNAL_DEPTH",
    "POWER",
    "SELF_DIAGNOSTICS",
    "VOLTAGE",
    "Entry",
    "JournalEntry",
    "SpodesMeter",
    "SpodesSettings",
    "Tamper",
]

#: Register units per Wh (varh): mW × µs.
ENERGY_UNIT: Final = 1000 * 3600 * 1_000_000
ZONES: Final = (1, 2, 3, 4)
_MICROSECOND: Final = timedelta(microseconds=1)
T = TypeVar("T")

# Journals 0.0.99.98.N.255 (notes §1.8) and the SPODES codes the simulator writes.
VOLTAGE: Final = 0  # 27 voltage interruption, 28 restoration
POWER: Final = 2  # 1 meter power off, 2 meter power on
CORRECTIONS: Final = 3  # 3 time set, 68 time correction
EXTERNAL: Final = 4  # 1/2 magnetic field start/end, 3 terminal cover seal, 4 case seal
COMMUNICATION: Final = 5  # not written yet (kept empty)
ACCESS: Final = 6  # 1 unauthorised access attempt (a wrong password)
SELF_DIAGNOSTICS: Final = 7  # 1 initialisation
JOURNALS: Final = (VOLTAGE, POWER, CORRECTIONS, EXTERNAL, ACCESS, SELF_DIAGNOSTICS)
JOURNAL_DEPTH: Final = 256
CASE: Final = "case"
COVER: Final = "cover"
MAGNET: Final = "magnet"

#: Depths: 180 days of the load profile at its period, 128 days, 36 months (GOST minimums).
DAILY_DEPTH: Final = 128
MONTHLY_DEPTH: Final = 36


@dataclass(frozen=True, slots=True)
class SpodesSettings:
    serial: str = "00000001"
    #: 0.0.96.1.1.255, sent as cp1251 octets as SPODES meters do (notes §5.11).
    model: str = "ИСУ-СПОДЭС-3Ф"
    manufacturer: str = "ISU simulator"
    firmware: str = "1.0.0"
    manufactured: date = date(2023, 6, 1)
    seed: int = 0
    history_days: int = 7
    time_zone: str = "Europe/Moscow"
    schedule: ZoneSchedule = TWO_ZONE
    #: Capture period of the load profile 1.0.99.1.0.255 (must divide the day).
    profile_period_s: int = 1800
    drift_s: float = 0.0
    mean_power_kw: float | None = None
    export_peak_kw: float = 0.0
    #: No load at all: registers stay where they start.
    frozen: bool = False

    def __post_init__(self) -> None:
        if self.profile_period_s <= 0 or 86400 % self.profile_period_s:
            raise ValueError(f"profile period {self.profile_period_s} s does not divide the day")
        if self.history_days < 0:
            raise ValueError("history_days must not be negative")
        ZoneInfo(self.time_zone)  # raises for an unknown zone


@dataclass(frozen=True, slots=True)
class Entry:
    """One profile entry: the meter's local stamp and the captured values (Wh, varh)."""

    stamp: datetime
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    stamp: datetime
    code: int
    operating_s: int


@dataclass(slots=True)
class Tamper:
    """A tamper counter of 0.0.96.20.x.255: count and last time."""

    count: int = 0
    last: datetime | None = None


@dataclass(slots=True)
class _Pending:
    due: datetime
    journal: int
    code: int
    sequence: int = field(default=0)


class SpodesMeter:
    """One simulated SPODES meter; reads go through the injected clock, nothing does I/O."""

    def __init__(self, settings: SpodesSettings | None = None, *, clock: Clock = system_clock,
                 load: LoadModel | None = None) -> None:
        self.settings = settings = settings or SpodesSettings()
        self.clock = clock
        self.tz = ZoneInfo(settings.time_zone)
        if load is None:
            load = ConstantLoad() if settings.frozen else DailyLoad(
                settings.seed, time_zone=settings.time_zone,
                mean_power_kw=settings.mean_power_kw, export_peak_kw=settings.export_peak_kw)
        self._load: LoadModel = load
        self.drift_s = settings.drift_s
        self._acc = {(kind, zone): 0 for kind in EnergyKind for zone in ZONES}
        draws = random.Random(settings.seed * 7919 + 17)
        self._operating_us = draws.randint(200, 900) * 86400 * 1_000_000
        self.load_profile: deque[Entry] = deque(maxlen=180 * 86400 // settings.profile_period_s)
        self.daily: deque[Entry] = deque(maxlen=DAILY_DEPTH)
        self.monthly: deque[Entry] = deque(maxlen=MONTHLY_DEPTH)
        self.journals = {n: deque[JournalEntry](maxlen=JOURNAL_DEPTH) for n in JOURNALS}
        #: The latest code per journal (0.0.96.11.N.255).
        self.last_codes = dict.fromkeys(JOURNALS, 0)
        self.tamper = {CASE: Tamper(), COVER: Tamper(), MAGNET: Tamper()}
        #: Power failures as true-time spans [off, on): no energy, no operating time.
        self.outages: list[tuple[datetime, datetime]] = []
        self._pending: list[_Pending] = []
        self._counter = 0
        now = clock()
        start = now - timedelta(days=settings.history_days)
        self._seed_registers(draws)
        self._last = start
        self._previous_stamp: datetime | None = None
        self._profile_base = self._totals()
        self.log(SELF_DIAGNOSTICS, 1, start)
        self.log(POWER, 2, start)
        self._history_events(start, now, draws)
        self._advance(now, fine=False)
        self._settle(now)

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def meter_time(self, at: datetime | None = None) -> datetime:
        """The meter's own clock: true time plus drift, in its local time zone."""
        moment = at if at is not None else self.clock()
        return (moment + timedelta(seconds=self.drift_s)).astimezone(self.tz)

    def set_time(self, local: datetime) -> None:
        """Set the meter's clock (SET of 0.0.1.0.0.255 attribute 2); journal 3 code 3."""
        self.update()
        self.drift_s = (local - self.clock()).total_seconds()
        self.log(CORRECTIONS, 3)

    def shift_time(self, seconds: int) -> None:
        """Shift the clock (method 6 of the clock); journal 3 code 68."""
        self.update()
        self.drift_s += seconds
        self.log(CORRECTIONS, 68)

    def zone_at(self, at: datetime) -> int:
        return min(4, self.settings.schedule.zone_at(self.meter_time(at).time()))

    # -- registers and current values ----------------------------------------------------------

    def update(self) -> None:
        """Integrate the load up to the clock's now (time that runs backwards is ignored)."""
        now = self.clock()
        self._advance(now, fine=True)
        self._settle(now)

    def register(self, kind: EnergyKind, zone: int = 0) -> int:
        """Wh (varh) of ``kind`` in ``zone`` (0: the total of T1..T4)."""
        self.update()
        return self._register(kind, zone)

    def _register(self, kind: EnergyKind, zone: int) -> int:
        if zone == 0:
            return sum(self._acc[(kind, z)] // ENERGY_UNIT for z in ZONES)
        return self._acc[(kind, zone)] // ENERGY_UNIT

    def set_register(self, kind: EnergyKind, zone: int, wh: int) -> None:
        """Pin one zone register to ``wh`` (it keeps growing from there)."""
        if zone not in ZONES or wh < 0:
            raise ValueError(f"zone {zone} or value {wh} out of range")
        self.update()
        self._acc[(kind, zone)] = wh * ENERGY_UNIT

    @property
    def load(self) -> LoadModel:
        return self._load

    @load.setter
    def load(self, model: LoadModel) -> None:
        self.update()
        self._load = model

    def instant(self) -> InstantValues:
        """U, I, P, Q, S, cos φ, f now (zeros while the power is off)."""
        self.update()
        now = self.clock()
        load = self._load if self.powered(now) else ConstantLoad(0, 0, 0, 0)
        sample = load.sample(now)
        return instant_from_sample(sample)

    def operating_s(self) -> int:
        """0.0.96.8.0.255: seconds the meter has been powered."""
        self.update()
        return self._operating_us // 1_000_000

    def current_zone(self) -> int:
        return self.zone_at(self.clock())

    # -- events --------------------------------------------------------------------------------

    def powered(self, at: datetime | None = None) -> bool:
        moment = at if at is not None else self.clock()
        return not any(off <= moment < on for off, on in self.outages)

    @property
    def power_failures(self) -> int:
        """Power failures begun by now (the link side forgets its state after each)."""
        now = self.clock()
        return sum(1 for off, _ in self.outages if off <= now)

    def log(self, journal: int, code: int, at: datetime | None = None) -> None:
        """Append an event now (or at true time ``at``, not in the future) to journal N."""
        moment = at if at is not None else self.clock()
        entry = JournalEntry(self.meter_time(moment).replace(microsecond=0), code,
                             self._operating_us // 1_000_000)
        self.journals[journal].append(entry)
        self.last_codes[journal] = code

    def later(self, due: datetime, journal: int, code: int) -> None:
        self._counter += 1
        self._pending.append(_Pending(due, journal, code, self._counter))
        self._pending.sort(key=lambda item: (item.due, item.sequence))

    def power_failure(self, duration_s: float) -> None:
        """The supply fails now for ``duration_s``: journals 0 and 2 get the interruption
        now and the restoration when the clock reaches it; no energy flows meanwhile."""
        if duration_s <= 0:
            raise ValueError("a power failure lasts a positive time")
        self.update()
        off = self.clock()
        on = off + timedelta(seconds=duration_s)
        self.outages.append((off, on))
        self.later(off, POWER, 1)
        self.later(off, VOLTAGE, 27)
        self.later(on, VOLTAGE, 28)
        self.later(on, POWER, 2)
        self._settle(self.clock())

    def open_cover(self) -> None:
        """The terminal-cover seal triggers now: journal 4 code 3, its counter counts."""
        self._seal(COVER, 3)

    def open_case(self) -> None:
        """The case seal triggers now: journal 4 code 4."""
        self._seal(CASE, 4)

    def magnetic_field(self, duration_s: float = 60.0) -> None:
        """A magnet acts now for ``duration_s``: journal 4 codes 1 then 2."""
        if duration_s <= 0:
            raise ValueError("a magnetic field acts a positive time")
        self._seal(MAGNET, 1)
        self.later(self.clock() + timedelta(seconds=duration_s), EXTERNAL, 2)
        self._settle(self.clock())

    def access_denied(self) -> None:
        """A wrong password: journal 6 code 1."""
        self.update()
        self.log(ACCESS, 1)

    def _seal(self, which: str, code: int) -> None:
        self.update()
        counter = self.tamper[which]
        counter.count += 1
        counter.last = self.meter_time().replace(microsecond=0)
        self.log(EXTERNAL, code)

    # -- integration ---------------------------------------------------------------------------

    def _seed_registers(self, draws: random.Random) -> None:
        a_plus = 1_000_000 + (self.settings.seed * 7_919_113) % 19_000_000
        totals = {EnergyKind.A_PLUS: a_plus, EnergyKind.A_MINUS: draws.randint(0, 5000),
                  EnergyKind.R_PLUS: a_plus * 3 // 10, EnergyKind.R_MINUS: draws.randint(0, 9000)}
        shares = self._zone_shares()
        for kind, total in totals.items():
            booked = 0
            for position, (zone, share) in enumerate(shares):
                wh = total - booked if position == len(shares) - 1 else int(total * share)
                self._acc[(kind, zone)] += wh * ENERGY_UNIT
                booked += wh

    def _zone_shares(self) -> list[tuple[int, float]]:
        switches = self.settings.schedule.switches
        seconds: dict[int, int] = {}
        for index, (start, zone) in enumerate(switches):
            end = switches[index + 1][0] if index + 1 < len(switches) else None
            span = (_day_s(end) if end is not None else 86400) - _day_s(start)
            seconds[min(4, zone)] = seconds.get(min(4, zone), 0) + span
        return [(zone, seconds[zone] / 86400) for zone in sorted(seconds)]

    def _history_events(self, start: datetime, now: datetime, draws: random.Random) -> None:
        days = self.settings.history_days
        span = now - start
        for k in range(min(3, days)):
            off = start + span * (k + 0.5) / min(3, days) + timedelta(minutes=draws.randint(0, 120))
            duration = timedelta(minutes=draws.randint(5, 90))
            if off + duration < now:
                self.outages.append((off, off + duration))
                self.later(off, POWER, 1)
                self.later(off, VOLTAGE, 27)
                self.later(off + duration, VOLTAGE, 28)
                self.later(off + duration, POWER, 2)
        if days >= 2:
            moment = start + span * 0.4
            self.later(moment, EXTERNAL, 3)
            self.later(moment + timedelta(hours=5), EXTERNAL, 1)
            self.later(moment + timedelta(hours=5, minutes=10), EXTERNAL, 2)

    def _settle(self, now: datetime) -> None:
        while self._pending and self._pending[0].due <= now:
            item = self._pending.pop(0)
            self.log(item.journal, item.code, item.due)
            if item.journal == EXTERNAL and item.code in (1, 3, 4):
                which = {1: MAGNET, 3: COVER, 4: CASE}[item.code]
                self.tamper[which].count += 1
                self.tamper[which].last = self.meter_time(item.due).replace(microsecond=0)

    def _advance(self, end: datetime, *, fine: bool) -> None:
        period = timedelta(seconds=self.settings.profile_period_s)
        cursor = self._last
        while cursor < end:
            boundary, stamp = self._next_boundary(cursor, period)
            edges = [end, boundary, self._zone_end(cursor)]
            edges.append(self._load.next_change(cursor) if fine else cursor + period)
            edges.extend(edge for span in self.outages for edge in span if edge > cursor)
            if self._pending and self._pending[0].due > cursor:
                edges.append(self._pending[0].due)
            stop = min(edges)
            if self.powered(cursor):
                sample = self._load.sample(cursor)
                duration_us = (stop - cursor) // _MICROSECOND
                self._book(sample, self.zone_at(cursor), duration_us)
                self._operating_us += duration_us
            cursor = stop
            self._settle(cursor)  # events in time order, with their operating time
            if cursor == boundary:
                self._capture(stamp)
        self._last = max(self._last, end)

    def _book(self, sample: LoadSample, zone: int, duration_us: int) -> None:
        p_mw = round(sample.p_w * 1000)
        q_mvar = round(sample.q_var * 1000)
        active = EnergyKind.A_PLUS if p_mw >= 0 else EnergyKind.A_MINUS
        reactive = EnergyKind.R_PLUS if q_mvar >= 0 else EnergyKind.R_MINUS
        self._acc[(active, zone)] += abs(p_mw) * duration_us
        self._acc[(reactive, zone)] += abs(q_mvar) * duration_us

    def _totals(self) -> tuple[int, ...]:
        return tuple(self._register(kind, 0) for kind in EnergyKind)

    def _capture(self, stamp: datetime) -> None:
        if self._previous_stamp is not None and stamp <= self._previous_stamp:
            return  # the clock was set back over a boundary already captured
        self._previous_stamp = stamp
        totals = self._totals()
        increments = tuple(max(0, now - before)
                           for now, before in zip(totals, self._profile_base, strict=True))
        self._profile_base = totals
        self.load_profile.append(Entry(stamp, increments))
        if stamp.time() == time(0):
            entry = Entry(stamp, self._billing_values())
            self.daily.append(entry)
            if stamp.day == 1:
                self.monthly.append(entry)

    def _billing_values(self) -> tuple[int, ...]:
        """A+ total, T1..T4; A- total, R+ total, R- total (the daily and monthly columns)."""
        a_plus = [self._register(EnergyKind.A_PLUS, zone) for zone in (0, *ZONES)]
        return (*a_plus, *(self._register(kind, 0) for kind in
                           (EnergyKind.A_MINUS, EnergyKind.R_PLUS, EnergyKind.R_MINUS)))

    def _next_boundary(self, at: datetime, period: timedelta) -> tuple[datetime, datetime]:
        """True time and meter-local stamp of the next capture boundary after ``at``."""
        local = self.meter_time(at)
        midnight = datetime.combine(local.date(), time(0), tzinfo=self.tz)
        # Same-zone aware arithmetic is wall-clock arithmetic: boundaries on the local clock.
        stamp = midnight + ((local - midnight) // period + 1) * period
        true = stamp.astimezone(UTC) - timedelta(seconds=self.drift_s)
        if true <= at:
            true = at + timedelta(seconds=1)
        return true, stamp

    def _zone_end(self, at: datetime) -> datetime:
        local = self.meter_time(at)
        wall = local.time().replace(tzinfo=None)
        following = next((s for s, _ in self.settings.schedule.switches if s > wall), None)
        day = local.date() if following is not None else local.date() + timedelta(days=1)
        moment = datetime.combine(day, following or time(0), tzinfo=self.tz)
        true = moment.astimezone(UTC) - timedelta(seconds=self.drift_s)
        return true if true > at else at + timedelta(minutes=1)

    # -- inspection ----------------------------------------------------------------------------

    def entries_of(self, store: deque[T]) -> list[T]:
        """The entries of a profile or journal now (after integrating up to now)."""
        self.update()
        return list(store)


def _day_s(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second
