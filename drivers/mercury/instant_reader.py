"""The ``instant`` stream of the ``mercury230`` driver: 08 16 (all phases per request) or,
for meters without it, 08 11 value by value (docs/reference/mercury-protocol.md §1.8).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from core.errors import RemoteProtocolError
from core.model import ReadingItem
from core.obis import INSTANT_CHANNELS
from drivers.mercury.instant import Bwri, InstantValues, PowerKind, Quantity
from drivers.mercury.reading import Exchange, reading_item
from drivers.mercury.request import ReadParamRequest

__all__ = ["read_instant"]

logger = logging.getLogger(__name__)


def _obis(group: int) -> str:
    return f"1.0.{group}.7.0.255"


_OBIS = {group: _obis(group) for group in range(100)}

# BWRI of 08 16 and the OBIS groups of its answer, in the meter's order (§1.8).
_PHASE_PLAN: tuple[tuple[Bwri, tuple[int, ...]], ...] = (
    (Bwri(Quantity.POWER, 0, PowerKind.ACTIVE), (1, 21, 41, 61)),
    (Bwri(Quantity.POWER, 0, PowerKind.REACTIVE), (3, 23, 43, 63)),
    (Bwri(Quantity.POWER, 0, PowerKind.APPARENT), (9, 29, 49, 69)),
    (Bwri(Quantity.VOLTAGE, 1), (32, 52, 72)),
    (Bwri(Quantity.CURRENT, 1), (31, 51, 71)),
    (Bwri(Quantity.POWER_FACTOR, 0), (13, 33, 53, 73)),
)
_FREQUENCY = Bwri(Quantity.FREQUENCY)


def _single_values(selector: Bwri, groups: tuple[int, ...]) -> list[tuple[Bwri, int]]:
    """The 08 11 selectors that read one by one what ``selector`` reads at once."""
    first = 0 if len(groups) == 4 else 1
    return [
        (Bwri(selector.quantity, first + i, selector.power), group)
        for i, group in enumerate(groups)
    ]


async def _read_single(exchange: Exchange, address: int, selector: Bwri) -> Decimal:
    request = ReadParamRequest.aux_value(address, selector)
    return (await exchange(request, InstantValues)).amounts[0]


async def read_instant(exchange: Exchange, address: int, read_at: datetime, *, phases: bool,
                       meter_id: str = "") -> list[ReadingItem]:
    """U, I, P, Q, S, cos φ per phase and f; in phases mode a status 1 falls back to 08 11."""
    values: list[tuple[int, Decimal]] = []
    for selector, groups in _PHASE_PLAN:
        if phases:
            request = ReadParamRequest.phase_values(address, selector)
            try:
                answer = await exchange(request, InstantValues)
            except RemoteProtocolError:
                logger.debug("meter %s: no 08 16 %02X, reading values one by one",
                             meter_id, selector.to_byte())
            else:
                values += zip(groups, answer.amounts, strict=True)
                continue
        values += [(group, await _read_single(exchange, address, single))
                   for single, group in _single_values(selector, groups)]
    values.append((14, await _read_single(exchange, address, _FREQUENCY)))
    return [
        reading_item(_OBIS[group], read_at, amount, INSTANT_CHANNELS[_OBIS[group]].unit)
        for group, amount in values
    ]
