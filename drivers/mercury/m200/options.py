"""``endpoint.options`` of the ``mercury200`` driver, validated once when the driver is built.

::

    options = {"zones": [1, 2, 3, 4], "reactive": true, "months": 12}     (DESIGN §6 --map/TOML)

``zones`` (tariff zones asked for, default [1, 2, 3, 4]; zones the meter answers FF…FF for are
left out anyway), ``reactive`` (read R+ with 85, default true; a meter that does not answer 85
costs one timeout per read, so set false for 200.02), ``months`` (billing months read back by
the monthly stream, 1..12, default 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from drivers.base import MeterEndpoint

__all__ = ["Mercury200Options"]

_OPTION_KEYS = frozenset({"zones", "reactive", "months"})


@dataclass(frozen=True, slots=True)
class Mercury200Options:
    zones: tuple[int, ...] = (1, 2, 3, 4)
    reactive: bool = True
    months: int = 12

    @classmethod
    def from_endpoint(cls, endpoint: MeterEndpoint) -> Mercury200Options:
        options: dict[str, Any] = dict(endpoint.options)
        where = f"meter {endpoint.meter_id}"
        unknown = sorted(set(options) - _OPTION_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown mercury200 option(s) {', '.join(unknown)}")
        zones = options.get("zones", [1, 2, 3, 4])
        if not isinstance(zones, list | tuple) or not zones or not all(
            isinstance(zone, int) and not isinstance(zone, bool) and 1 <= zone <= 4
            for zone in zones
        ):
            raise ConfigError(f"{where}: zones must be a non-empty list of tariff zones 1..4")
        reactive = options.get("reactive", True)
        if not isinstance(reactive, bool):
            raise ConfigError(f"{where}: reactive must be true or false")
        months = options.get("months", 12)
        if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 12:
            raise ConfigError(f"{where}: months must be 1..12")
        return cls(tuple(sorted(set(zones))), reactive, months)
