"""Instantaneous values of a simulated meter, at the resolutions the Mercury 230 sends them.

U, P, Q, S, f and angles in hundredths, I and cos φ in thousandths (DOC3 p.71). Values are derived
from a :class:`~simulators.mercury230.load.LoadSample` so that they agree with each other:
P sum is the exact sum of the phases, S ≥ |P| on every phase and in sum, I = S / U. Powers are
signed: P < 0 is reverse (export) active power, Q < 0 capacitive/reverse reactive power, and
cos φ = P / S carries the sign of P, as the meter's active-direction bit does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any

from simulators.mercury230.load import LoadSample

__all__ = ["INSTANT_FIELDS", "InstantValues", "instant_from_sample"]

_HUNDREDTH = Decimal("0.01")
_THOUSANDTH = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class InstantValues:
    u1: Decimal
    u2: Decimal
    u3: Decimal
    i1: Decimal
    i2: Decimal
    i3: Decimal
    p_sum: Decimal
    p1: Decimal
    p2: Decimal
    p3: Decimal
    q_sum: Decimal
    q1: Decimal
    q2: Decimal
    q3: Decimal
    s_sum: Decimal
    s1: Decimal
    s2: Decimal
    s3: Decimal
    pf_sum: Decimal
    pf1: Decimal
    pf2: Decimal
    pf3: Decimal
    frequency: Decimal
    angle12: Decimal
    angle13: Decimal
    angle23: Decimal

    def pinned(self, overrides: dict[str, Decimal]) -> InstantValues:
        """These values with some replaced by fixed ones (byte-exact tests, demos)."""
        return replace(self, **overrides) if overrides else self

    def as_json(self) -> dict[str, Any]:
        """Every value as an exact decimal string."""
        return {name: format(value, "f") for name, value in asdict(self).items()}


#: The names accepted by :meth:`InstantValues.pinned` and ``SimulatedMeter.pin_instant``.
INSTANT_FIELDS = frozenset(item.name for item in fields(InstantValues))


def instant_from_sample(sample: LoadSample) -> InstantValues:
    p = [_q(phase.p_w, _HUNDREDTH) for phase in sample.phases]
    q = [_q(phase.q_var, _HUNDREDTH) for phase in sample.phases]
    u = [_q(phase.u_v, _HUNDREDTH) for phase in sample.phases]
    # S rounds up, so that S >= |P| and S >= |Q| hold after rounding too.
    s = [
        Decimal(math.hypot(float(pi), float(qi))).quantize(_HUNDREDTH, rounding=ROUND_CEILING)
        for pi, qi in zip(p, q, strict=True)
    ]
    s = [max(si, abs(pi), abs(qi)) for si, pi, qi in zip(s, p, q, strict=True)]
    i = [
        _q(float(si / ui), _THOUSANDTH) if ui else Decimal("0.000")
        for si, ui in zip(s, u, strict=True)
    ]
    pf = [_power_factor(pi, si) for pi, si in zip(p, s, strict=True)]
    p_sum, q_sum, s_sum = sum(p, Decimal(0)), sum(q, Decimal(0)), sum(s, Decimal(0))
    return InstantValues(
        u1=u[0], u2=u[1], u3=u[2],
        i1=i[0], i2=i[1], i3=i[2],
        p_sum=p_sum, p1=p[0], p2=p[1], p3=p[2],
        q_sum=q_sum, q1=q[0], q2=q[1], q3=q[2],
        s_sum=s_sum, s1=s[0], s2=s[1], s3=s[2],
        pf_sum=_power_factor(p_sum, s_sum), pf1=pf[0], pf2=pf[1], pf3=pf[2],
        frequency=_q(sample.frequency_hz, _HUNDREDTH),
        angle12=Decimal("120.00"), angle13=Decimal("240.00"), angle23=Decimal("120.00"),
    )  # fmt: skip


def _q(value: float, step: Decimal) -> Decimal:
    return Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_EVEN)


def _power_factor(p: Decimal, s: Decimal) -> Decimal:
    if not s:
        return Decimal("1.000")
    magnitude = min(Decimal(1), abs(p) / s).quantize(_THOUSANDTH, rounding=ROUND_HALF_EVEN)
    return -magnitude if p < 0 else magnitude
