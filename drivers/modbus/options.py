"""``endpoint.options`` of the ``modbus`` driver, validated once when the driver is built.

=================  ==============  =================================================================
key                default         meaning
=================  ==============  =================================================================
``map``            (required)      a shipped map's name (``eastron-sdm630``) or a map file's path
                                   (docs/modbus-maps.md)
``framing``        ``"auto"``      ``rtu`` (RS-485, or RTU through a transparent TCP converter),
                                   ``tcp`` (Modbus TCP, MBAP header); ``auto``: ``tcp`` on a TCP
                                   stream, ``rtu`` on a serial one
``retries``        ``1``           repeats of a request after a silence or a corrupt answer
``max_registers``  the map's       a lower limit for this meter (a gateway that passes less)
``max_gap``        the map's       a lower limit for this meter
=================  ==============  =================================================================

``MeterEndpoint.address`` is the unit id: 1..247 with RTU framing, 0..255 over Modbus TCP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from drivers.base import MeterEndpoint, OptionsCache
from drivers.modbus.maps import RegisterMap, load_map

__all__ = ["FRAMINGS", "ModbusOptions", "modbus_options"]

FRAMINGS = ("auto", "rtu", "tcp")
_KEYS = frozenset({"map", "framing", "retries", "max_registers", "max_gap"})


@dataclass(frozen=True, slots=True)
class ModbusOptions:
    register_map: RegisterMap
    framing: str
    retries: int
    max_registers: int
    max_gap: int


def _int(options: dict[str, Any], key: str, default: int, low: int, high: int,
         meter_id: str) -> int:
    value = options.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"meter {meter_id}: option {key} must be an integer {low}..{high}")
    return value


def _check(endpoint: MeterEndpoint) -> ModbusOptions:
    meter = endpoint.meter_id
    options = endpoint.options
    unknown = sorted(set(options) - _KEYS)
    if unknown:
        raise ConfigError(f"meter {meter}: unknown modbus option(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(_KEYS))}")
    reference = options.get("map")
    if not isinstance(reference, str) or not reference:
        raise ConfigError(f"meter {meter}: a modbus meter needs its register map "
                          "(option map = a shipped map's name or a file; --map for isu read)")
    try:
        register_map = load_map(reference)
    except ConfigError as exc:
        raise ConfigError(f"meter {meter}: {exc}") from exc
    framing = options.get("framing", "auto")
    if framing not in FRAMINGS:
        raise ConfigError(f"meter {meter}: option framing must be one of {', '.join(FRAMINGS)}")
    model = register_map.model
    widest = max(point.count for point in register_map.points)
    max_registers = _int(options, "max_registers", model.max_registers, widest,
                         model.max_registers, meter)
    max_gap = _int(options, "max_gap", model.max_gap, 0, model.max_gap, meter)
    retries = _int(options, "retries", 1, 0, 5, meter)
    high = 255 if framing == "tcp" else 247
    low = 0 if framing in ("tcp", "auto") else 1
    if not low <= endpoint.address <= high:
        raise ConfigError(f"meter {meter}: unit id {endpoint.address} is outside {low}..{high}")
    return ModbusOptions(register_map, framing, retries, max_registers, max_gap)


_CACHE: OptionsCache[ModbusOptions] = OptionsCache(_check)


def modbus_options(endpoint: MeterEndpoint) -> ModbusOptions:
    return _CACHE.get(endpoint)
