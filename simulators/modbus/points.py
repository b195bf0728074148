"""How each point of a register map gets its value: the load a simulated Modbus meter shows,
and a :class:`Channel` per point, compiled once so that a request only does a few sums.

A register's value is a whole number of its *steps* (``scale`` of an integer type,
``resolution`` of a float): integers send the steps themselves (rolled over beyond the type for
an energy counter, clamped otherwise), floats the steps times the resolution.
"""

from __future__ import annotations

import math
import zlib
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from core.obis import parse_energy_obis
from drivers.modbus.maps import Point
from drivers.modbus.values import UNITS, encode_number, is_float
from simulators.mercury230.load import DailyLoad, LoadSample, PhaseLoad

__all__ = ["MWUS_PER_KWH", "Channel", "MeterLoad", "fit", "phase_value"]

#: mW·µs in one kWh (kvarh): the unit the energy accumulators count in.
MWUS_PER_KWH = 1_000_000 * 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MASK64 = (1 << 64) - 1
#: SI value (W, var, VA, V, A, Hz, 1) → the model's unit.
_SI_TO_MODEL = {"kW": 1e-3, "kvar": 1e-3, "kVA": 1e-3, "V": 1.0, "A": 1.0, "Hz": 1.0, "1": 1.0}
#: OBIS C of the per-phase instantaneous channels → (quantity, phase index).
_PHASE_CHANNELS = {c: (q, n) for n, cs in enumerate(((32, 31, 21, 23, 29, 33),
                                                     (52, 51, 41, 43, 49, 53),
                                                     (72, 71, 61, 63, 69, 73)))
                   for c, q in zip(cs, ("u", "i", "p", "q", "s", "pf"), strict=True)}
#: OBIS C of the three-phase channels → quantity.
_TOTAL_CHANNELS = {1: "p", 3: "q", 9: "s", 13: "pf", 14: "f"}
_INT_BITS = {"u16": 16, "s16": 16, "u32": 32, "s32": 32, "u64": 64, "s64": 64}


class MeterLoad:
    """The Mercury daily curve with the voltage and reactive power a Modbus meter shows."""

    def __init__(self, seed: int, time_zone: str, mean_power_kw: float | None) -> None:
        mean = DailyLoad(seed, time_zone=time_zone, mean_power_kw=mean_power_kw).mean_power_kw
        self.mean_power_kw = mean
        self._daily = DailyLoad(seed, time_zone=time_zone, mean_power_kw=mean,
                                export_peak_kw=mean)
        self._key = mix(seed & _MASK64)

    def next_change(self, moment: datetime) -> datetime:
        return self._daily.next_change(moment)

    def sample(self, moment: datetime) -> LoadSample:
        base = self._daily.sample(moment)
        minute = int((moment - _EPOCH) // timedelta(minutes=1))
        sign = -1.0 if self._noise(minute, 1) < 0.2 else 1.0  # capacitive: R-
        phases = []
        for n, phase in enumerate(base.phases):
            cos_phi = 0.90 + 0.09 * self._noise(minute, 10 + n)
            q_var = sign * abs(phase.p_w) * math.tan(math.acos(cos_phi))
            phases.append(PhaseLoad(phase.p_w, q_var, 230.0 + (phase.u_v - 230.0) * 0.46))
        return LoadSample((phases[0], phases[1], phases[2]), base.frequency_hz)

    def _noise(self, minute: int, salt: int) -> float:
        return mix(mix(self._key ^ salt) ^ (minute & _MASK64)) / 2.0**64


class Channel:
    """How one point of the map gets its value: compiled once, so a request only does sums."""

    def __init__(self, point: Point, serial: int) -> None:
        self.point = point
        self.key = point.key
        self.count = point.count
        self.address, self.end = point.address, point.address + point.count
        self.float = is_float(point.type)
        self.step = (point.resolution or Decimal(1)) if self.float else point.scale
        self.orders = (point.word_order or "big", point.byte_order or "big")
        #: (kind, zone) of an energy register, zone 0 the total.
        self.energy = parse_energy_obis(point.obis) if point.obis else None
        #: (quantity, phase index or None for the three phases) of a known instantaneous value.
        self.quantity: tuple[str, int | None] | None = None
        #: The constant of an info field.
        self.info: int | None = None
        model_unit, power = UNITS[point.unit or "1"]  # the map checked the unit
        #: An energy step in mW·µs, and as numerator and denominator for the hot path.
        self.fraction = Fraction(self.step) * Fraction(10) ** power * MWUS_PER_KWH
        self._num, self._den = self.fraction.numerator, self.fraction.denominator
        #: SI value → steps of the register.
        self.per_step = _SI_TO_MODEL.get(model_unit, 1.0) * 10.0 ** -power / float(self.step)
        if point.stream == "info":
            name = point.field or ""
            self.info = serial if name in ("serial_number", "serial") else \
                zlib.crc32(name.encode()) % 10_000
        elif self.energy is None and point.obis is not None:
            parts = point.obis.split(".")
            c = int(parts[2]) if parts[3] == "7" else -1
            self.quantity = _PHASE_CHANNELS.get(c) or (
                (_TOTAL_CHANNELS[c], None) if c in _TOTAL_CHANNELS else None)

    def steps_of(self, value: Decimal) -> int:
        """``value`` (in the register's unit) in whole steps, rounded half to even."""
        return int((value / self.step).to_integral_value(ROUND_HALF_EVEN))

    def energy_steps(self, acc: list[list[int]]) -> int:
        """Whole steps of an energy register: its zone floored, or the zones floored, summed."""
        assert self.energy is not None
        kind, zone = self.energy
        num, den = self._num, self._den
        if zone:
            return acc[kind][zone] * den // num
        return sum(mwus * den // num for mwus in acc[kind][1:])

    def instant_steps(self, sample: LoadSample) -> int:
        """Whole steps of an instantaneous value; a total P, Q or S is the phases' sum in the
        total's own steps. 0 for a channel the model does not know."""
        if self.quantity is None:
            return 0
        name, phase = self.quantity
        per_step = self.per_step
        if phase is not None:
            return round(phase_value(sample.phases[phase], name) * per_step)
        if name in ("p", "q", "s"):
            return sum(round(phase_value(each, name) * per_step) for each in sample.phases)
        if name == "f":
            return round(sample.frequency_hz * per_step)
        s_va = sum(phase_value(each, "s") for each in sample.phases)
        return round((sample.p_w / s_va if s_va else 1.0) * per_step)

    def registers(self, steps: int) -> list[int]:
        number: int | float = (float(steps * self.step) if self.float else
                               fit(steps, self.point.type, wrap=self.energy is not None))
        return encode_number(number, self.point.type, *self.orders)


def phase_value(phase: PhaseLoad, name: str) -> float:
    if name == "u":
        return phase.u_v
    if name == "p":
        return phase.p_w
    if name == "q":
        return phase.q_var
    s_va = math.hypot(phase.p_w, phase.q_var)
    if name == "s":
        return s_va
    if name == "i":
        return s_va / phase.u_v
    return phase.p_w / s_va if s_va else 1.0  # pf


def fit(number: int, data_type: str, *, wrap: bool) -> int:
    """``number`` in the range of an integer type: rolled over (a counter) or clamped."""
    bits = _INT_BITS[data_type]
    signed = data_type.startswith("s")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if low <= number <= high:
        return number
    if not wrap:
        return max(low, min(high, number))
    number %= 1 << bits
    return number - (1 << bits) if number > high else number


def mix(value: int) -> int:
    # splitmix64, as simulators.mercury230.load: noise without generator state.
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)

