"""How values and times look at the API (DESIGN §5): pure functions, no I/O.

- Energy is a JSON string with three decimals (Wh resolution in kWh), rounded half up, the way
  the cabinet and the billing show it: ``"8.116"``, ``"8.050"``, ``"0.000"``.
- Times carry the object's offset: ``2026-11-22T15:30:00+03:00``.
- Billing values are the meter's own values times ``ct_ratio * vt_ratio`` (DESIGN §3).
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ENERGY_PLACES",
    "billing_ratio",
    "energy_text",
    "local_isoformat",
    "month_start",
    "ratio_text",
    "to_kilo",
    "zone_info",
    "zone_label",
]

logger = logging.getLogger(__name__)

#: Fractional digits of energy at the API (kWh, kvarh).
ENERGY_PLACES = 3
_QUANTUM = Decimal(1).scaleb(-ENERGY_PLACES)

# The stored unit of an energy value → factor to the API's kWh / kvarh.
_KILO_FACTORS = {
    "wh": Decimal("0.001"),
    "kwh": Decimal(1),
    "mwh": Decimal(1000),
    "varh": Decimal("0.001"),
    "kvarh": Decimal(1),
    "mvarh": Decimal(1000),
}


def energy_text(value: Decimal | None) -> str | None:
    """``value`` with exactly three decimals, rounded half up; ``None`` stays ``None``."""
    if value is None:
        return None
    rounded = value.quantize(_QUANTUM, rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        rounded = abs(rounded)  # never "-0.000"
    return format(rounded, "f")


def to_kilo(value: Decimal, unit: str) -> Decimal | None:
    """``value`` stored in ``unit`` expressed in kWh or kvarh; ``None`` for a unit not energy."""
    factor = _KILO_FACTORS.get(unit.strip().lower())
    return None if factor is None else value * factor


def billing_ratio(ct_ratio: Decimal, vt_ratio: Decimal) -> Decimal:
    """The transformation coefficient that turns the meter's values into billing values."""
    return ct_ratio * vt_ratio


def ratio_text(ratio: Decimal) -> str:
    """A ratio as a plain decimal string without exponent or trailing zeros: ``"4000"``."""
    return format(ratio.normalize(), "f")


def zone_label(zone: int) -> str:
    """The column name of tariff zone ``zone`` (1..8): ``"T1"``."""
    if not 1 <= zone <= 8:
        raise ValueError(f"tariff zone {zone} is outside 1..8")
    return f"T{zone}"


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_info(name: str | None, fallback: str) -> ZoneInfo:
    """The zone called ``name``, else ``fallback``: silently when there is no name (a meter not
    in the registry yet), logged when the name is unknown (a registry entry to correct)."""
    zone = _zone(name) if name else None
    if zone is not None:
        return zone
    if name:
        logger.warning("unknown time zone %r, using %s", name, fallback)
    fallback_zone = _zone(fallback)
    if fallback_zone is None:
        raise ValueError(f"unknown fallback time zone {fallback!r}")
    return fallback_zone


def local_isoformat(moment: datetime | None, zone: tzinfo) -> str | None:
    """ISO 8601 with the zone's offset; seconds precision unless the time has microseconds."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("a time must carry its offset")
    local = moment.astimezone(zone)
    return local.isoformat(timespec="microseconds" if local.microsecond else "seconds")


def month_start(now: datetime, zone: tzinfo) -> datetime:
    """00:00 local time on the 1st of the month that contains ``now`` in ``zone``."""
    local = now.astimezone(zone)
    return datetime(local.year, local.month, 1, tzinfo=zone)
