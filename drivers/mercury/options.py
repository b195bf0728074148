"""``endpoint.options`` of the ``mercury230`` driver, validated once when the driver is built.

``level`` 1|2 (default 1), ``password_encoding`` "binary"|"ascii" (default "binary"; "D" meters
want ascii, docs/reference/mercury-protocol.md §1.4), ``zones`` (tariff zones read besides the
sum, default [1, 2, 3, 4]), ``instant_mode`` "phases" (08 16, all phases per request; default)
or "single" (08 11, one value per request, for meters without 08 16), ``journals`` (04 JJ
journal numbers read for the ``events`` stream, default ``journals.DEFAULT_JOURNALS``),
``profile_pointer`` "auto" (by firmware: a record index on ≥ 9, a byte address before; default),
"index" or "address", and ``profile_stamp`` "end" (a record stamped hh:mm holds the interval
ending then; default) or "start" (docs/reference/mercury-protocol.md §1.10).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from drivers.base import MeterEndpoint, OptionsCache
from drivers.mercury.frame import AccessLevel
from drivers.mercury.journals import DEFAULT_JOURNALS, KNOWN_JOURNALS
from drivers.mercury.password import PasswordEncoding

__all__ = ["INSTANT_MODES", "PROFILE_POINTERS", "PROFILE_STAMPS", "MercuryOptions"]

_OPTION_KEYS = frozenset({"level", "password_encoding", "zones", "instant_mode", "journals",
                          "profile_pointer", "profile_stamp"})
PROFILE_POINTERS = ("auto", "index", "address")
PROFILE_STAMPS = ("end", "start")
INSTANT_MODES = ("phases", "single")




@dataclass(frozen=True, slots=True)
class MercuryOptions:
    level: AccessLevel = AccessLevel.USER
    password_encoding: PasswordEncoding = PasswordEncoding.BINARY
    zones: tuple[int, ...] = (1, 2, 3, 4)
    instant_mode: str = "phases"
    journals: tuple[int, ...] = DEFAULT_JOURNALS
    profile_pointer: str = "auto"
    profile_stamp: str = "end"

    @classmethod
    def from_endpoint(cls, endpoint: MeterEndpoint) -> MercuryOptions:
        return _CHECKED.get(endpoint)

    @classmethod
    def _check(cls, endpoint: MeterEndpoint) -> MercuryOptions:
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
        journals = options.get("journals", list(DEFAULT_JOURNALS))
        if not isinstance(journals, list | tuple) or not all(
            isinstance(journal, int) and journal in KNOWN_JOURNALS for journal in journals
        ):
            known = " ".join(f"{journal:02X}" for journal in sorted(KNOWN_JOURNALS))
            raise ConfigError(f"{where}: journals must be a list of journal numbers ({known})")
        pointer = options.get("profile_pointer", "auto")
        stamp = options.get("profile_stamp", "end")
        if pointer not in PROFILE_POINTERS or stamp not in PROFILE_STAMPS:
            raise ConfigError(f"{where}: profile_pointer must be one of "
                              f"{', '.join(PROFILE_POINTERS)} and profile_stamp one of "
                              f"{', '.join(PROFILE_STAMPS)}")
        return cls(level, encoding, tuple(dict.fromkeys(zones)), mode,
                   tuple(dict.fromkeys(journals)), pointer, stamp)


_CHECKED: OptionsCache[MercuryOptions] = OptionsCache(MercuryOptions._check)
