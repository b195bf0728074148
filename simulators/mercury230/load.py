"""Load models: what flows through a simulated meter at any moment.

A load model gives a :class:`LoadSample` (per-phase active and reactive power, voltages, the
line frequency) that is constant over stretches of time; the meter integrates it into its
energy registers exactly, splitting at every change of sample or tariff zone. Samples are pure
functions of time and seed (no hidden state), so a simulated meter reads the same whether its
clock moved in one jump or in many small steps, and two runs with the same seed agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "ConstantLoad",
    "DailyLoad",
    "LoadModel",
    "LoadSample",
    "PhaseLoad",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MASK64 = (1 << 64) - 1
_FAR = timedelta(days=3650)

#: Mean load by local hour (0..24, last equals first), a household-like curve with a morning and
#: an evening peak; its mean is about 1, so it scales by the meter's mean power.
_DAILY_SHAPE = (
    0.45, 0.38, 0.35, 0.34, 0.35, 0.42, 0.70, 1.25, 1.45, 1.10, 0.90, 0.85,
    0.85, 0.88, 0.85, 0.85, 0.95, 1.20, 1.70, 2.00, 1.95, 1.70, 1.20, 0.75, 0.45,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PhaseLoad:
    """One phase: signed active power (+ import), signed reactive power (+ inductive), voltage."""

    p_w: float
    q_var: float
    u_v: float


@dataclass(frozen=True, slots=True)
class LoadSample:
    phases: tuple[PhaseLoad, PhaseLoad, PhaseLoad]
    frequency_hz: float

    @property
    def p_w(self) -> float:
        return sum(phase.p_w for phase in self.phases)

    @property
    def q_var(self) -> float:
        return sum(phase.q_var for phase in self.phases)


class LoadModel(Protocol):
    def sample(self, moment: datetime) -> LoadSample:
        """What flows at ``moment`` (aware UTC)."""
        ...

    def next_change(self, moment: datetime) -> datetime:
        """The first instant after ``moment`` at which the sample may differ."""
        ...


@dataclass(frozen=True, slots=True)
class ConstantLoad:
    """The same values for ever; with the default zero power the registers stay where pinned."""

    p_w: float = 0.0
    q_var: float = 0.0
    u_v: float = 230.0
    frequency_hz: float = 50.0

    def sample(self, moment: datetime) -> LoadSample:
        phase = PhaseLoad(self.p_w / 3, self.q_var / 3, self.u_v)
        return LoadSample((phase, phase, phase), self.frequency_hz)

    def next_change(self, moment: datetime) -> datetime:
        return moment + _FAR


class DailyLoad:
    """A daily load curve in the meter's local time with a seeded random component.

    Each slot of ``slot_s`` seconds (aligned to the Unix epoch) draws its noise from a hash of
    the seed and the slot number. ``export_peak_kw`` adds a rooftop-solar-like generation around
    local noon, which makes the net flow reverse (A-) on sunny middays.
    """

    def __init__(
        self,
        seed: int,
        *,
        time_zone: str = "Europe/Moscow",
        mean_power_kw: float | None = None,
        export_peak_kw: float = 0.0,
        slot_s: int = 60,
    ) -> None:
        if slot_s <= 0:
            raise ValueError("slot_s must be positive")
        self.seed = seed
        self.slot_s = slot_s
        self.export_peak_kw = export_peak_kw
        self._tz = ZoneInfo(time_zone)
        self.mean_power_kw = (
            mean_power_kw if mean_power_kw is not None else 0.4 + 2.1 * _unit(seed, 0, 1)
        )
        raw_shares = [0.8 + 0.4 * _unit(seed, 0, 10 + phase) for phase in range(3)]
        self._shares = tuple(share / sum(raw_shares) for share in raw_shares)
        self._u_offsets = tuple(-4.0 + 8.0 * _unit(seed, 0, 20 + phase) for phase in range(3))
        self._keys: dict[int, int] = {}

    def _noise(self, slot: int, salt: int) -> float:
        """``_unit(seed, slot, salt)``, with the seed-and-salt half of the hash cached."""
        key = self._keys.get(salt)
        if key is None:
            key = self._keys[salt] = _mix(_mix(self.seed & _MASK64) ^ (salt & _MASK64))
        return _mix(key ^ (slot & _MASK64)) / 2.0**64

    def next_change(self, moment: datetime) -> datetime:
        slot = _slot(moment, self.slot_s)
        return _EPOCH + timedelta(seconds=(slot + 1) * self.slot_s)

    def sample(self, moment: datetime) -> LoadSample:
        slot = _slot(moment, self.slot_s)
        start = _EPOCH + timedelta(seconds=slot * self.slot_s)
        hour = _local_hour(start, self._tz)
        total_kw = self.mean_power_kw * _shape(hour) * (0.75 + 0.5 * self._noise(slot, 2))
        solar_kw = 0.0
        if self.export_peak_kw > 0 and 6.0 < hour < 18.0:
            clouds = 0.5 + 0.5 * self._noise(slot, 3)
            solar_kw = self.export_peak_kw * math.sin(math.pi * (hour - 6.0) / 12.0) * clouds
        weights = [
            share * (0.85 + 0.3 * self._noise(slot, 30 + phase))
            for phase, share in enumerate(self._shares)
        ]
        phases = []
        for phase, weight in enumerate(weights):
            load_w = 1000.0 * total_kw * weight / sum(weights)
            cos_phi = 0.86 + 0.12 * self._noise(slot, 40 + phase)
            q_var = load_w * math.tan(math.acos(cos_phi))
            p_w = load_w - 1000.0 * solar_kw / 3
            u_v = 230.0 + self._u_offsets[phase] + 3.0 * (2 * self._noise(slot, 50 + phase) - 1)
            u_v -= load_w / 1000.0  # a little voltage drop under load
            phases.append(PhaseLoad(p_w, q_var, min(240.0, max(220.0, u_v))))
        frequency_hz = 50.0 + 0.05 * (2 * self._noise(slot, 60) - 1)
        return LoadSample((phases[0], phases[1], phases[2]), frequency_hz)


def _slot(moment: datetime, slot_s: int) -> int:
    return int((moment - _EPOCH) // timedelta(seconds=slot_s))


def _local_hour(moment: datetime, tz: ZoneInfo) -> float:
    local = moment.astimezone(tz)
    return local.hour + local.minute / 60 + local.second / 3600


def _shape(hour: float) -> float:
    index = int(hour) % 24
    fraction = hour - int(hour)
    return _DAILY_SHAPE[index] + (_DAILY_SHAPE[index + 1] - _DAILY_SHAPE[index]) * fraction


def _mix(value: int) -> int:
    # splitmix64: a cheap, well-spread hash, so noise needs no random-generator state.
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _unit(seed: int, slot: int, salt: int) -> float:
    """A uniform number in [0, 1) determined by seed, slot and salt."""
    return _mix(_mix(_mix(seed & _MASK64) ^ (salt & _MASK64)) ^ (slot & _MASK64)) / 2.0**64
