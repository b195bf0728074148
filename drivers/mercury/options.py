"""``endpoint.options`` of the ``mercury230`` driver, validated once when the driver is built.

``level`` 1|2 (default 1), ``password_encoding`` "binary"|"ascii" (default "binary"; "D" meters
want ascii, docs/reference/mercury-protocol.md §1.4), ``zones`` (tariff zones read besides the
sum, default [1, 2, 3, 4]), ``instant_mode`` "phases" (08 16, all phases per request; default)
or "single" (08 11, one value per request, for meters without 08 16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from drivers.base import MeterEndpoint
from drivers.mercury.frame import AccessLevel
from drivers.mercury.password import PasswordEncoding

__all__ = ["INSTANT_MODES", "MercuryOptions"]

_OPTION_KEYS = frozenset({"level", "password_encoding", "zones", "instant_mode"})
INSTANT_MODES = ("phases", "single")


@dataclass(frozen=True, slots=True)
class MercuryOptions:
    level: AccessLevel = AccessLevel.USER
    password_encoding: PasswordEncoding = PasswordEncoding.BINARY
    zones: tuple[int, ...] = (1, 2, 3, 4)
    instant_mode: str = "phases"

    @classmethod
    def from_endpoint(cls, endpoint: MeterEndpoint) -> MercuryOptions:
        options: dict[str, Any] = dict(endpoint.options)
        where = f"meter {endpoint.meter_id}"
        unknown = sorted(set(options) - _OPTION_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown mercury230 option(s) {', '.join(unknown)}")
        try:
            level = AccessLevel(options.get("level", 1))
            encoding = PasswordEncoding(options.get("password_encoding", "binary"))
        except ValueError as exc:
            raise ConfigError(f"{where}: level must be 1 or 2 and password_encoding "
                              "binary or ascii") from exc
        zones = options.get("zones", [1, 2, 3, 4])
        if not isinstance(zones, list | tuple) or not all(
            isinstance(zone, int) and not isinstance(zone, bool) and 1 <= zone <= 4
            for zone in zones
        ):
            raise ConfigError(f"{where}: zones must be a list of tariff zones 1..4")
        mode = options.get("instant_mode", "phases")
        if mode not in INSTANT_MODES:
            raise ConfigError(f"{where}: instant_mode must be one of {', '.join(INSTANT_MODES)}")
        return cls(level, encoding, tuple(dict.fromkeys(zones)), mode)
