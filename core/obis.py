"""Channel names: OBIS codes for every protocol (DESIGN §3, SPODES names as the reference).

Energy registers are ``1.0.C.8.T.255`` (C = 1 A+, 2 A-, 3 R+, 4 R-; T = 0 total, 1..8 zones),
interval energy ``1.0.C.29.0.255``, instantaneous values as in SPODES (GOST R 58940 table Б.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "ENERGY_KINDS",
    "INSTANT_CHANNELS",
    "EnergyKind",
    "InstantChannel",
    "energy_obis",
    "interval_obis",
    "parse_energy_obis",
]


class EnergyKind(IntEnum):
    """The four energy kinds, valued by their OBIS C group."""

    A_PLUS = 1
    A_MINUS = 2
    R_PLUS = 3
    R_MINUS = 4

    @property
    def label(self) -> str:
        return _KIND_LABELS[self][0]

    @property
    def name_ru(self) -> str:
        return _KIND_LABELS[self][1]

    @property
    def unit(self) -> str:
        return "kWh" if self in (EnergyKind.A_PLUS, EnergyKind.A_MINUS) else "kvarh"

    @property
    def unit_ru(self) -> str:
        return "кВт*ч" if self in (EnergyKind.A_PLUS, EnergyKind.A_MINUS) else "кВар*ч"


_KIND_LABELS = {
    EnergyKind.A_PLUS: ("A+", "активная принятая"),
    EnergyKind.A_MINUS: ("A-", "активная отпущенная"),
    EnergyKind.R_PLUS: ("R+", "реактивная принятая"),
    EnergyKind.R_MINUS: ("R-", "реактивная отпущенная"),
}

ENERGY_KINDS = tuple(EnergyKind)


def energy_obis(kind: EnergyKind, zone: int = 0) -> str:
    """The register of ``kind`` for tariff zone ``zone`` (0 = total)."""
    if not 0 <= zone <= 8:
        raise ValueError(f"tariff zone {zone} is outside 0..8")
    return f"1.0.{int(kind)}.8.{zone}.255"


def interval_obis(kind: EnergyKind) -> str:
    return f"1.0.{int(kind)}.29.0.255"


def parse_energy_obis(obis: str) -> tuple[EnergyKind, int] | None:
    """``(kind, zone)`` for an energy register code, ``None`` for any other channel."""
    parts = obis.split(".")
    if (
        len(parts) != 6
        or parts[0] != "1"
        or parts[1] != "0"
        or parts[3] != "8"
        or parts[5] != "255"
    ):
        return None
    try:
        kind = EnergyKind(int(parts[2]))
        zone = int(parts[4])
    except ValueError:
        return None
    return (kind, zone) if 0 <= zone <= 8 else None


@dataclass(frozen=True, slots=True)
class InstantChannel:
    obis: str
    quantity: str
    phase: int | None
    unit: str


def _instant() -> dict[str, InstantChannel]:
    rows: list[InstantChannel] = []
    for phase, (u, i, p, q, s, pf) in {
        1: (32, 31, 21, 23, 29, 33),
        2: (52, 51, 41, 43, 49, 53),
        3: (72, 71, 61, 63, 69, 73),
    }.items():
        rows += [
            InstantChannel(f"1.0.{u}.7.0.255", "voltage", phase, "V"),
            InstantChannel(f"1.0.{i}.7.0.255", "current", phase, "A"),
            InstantChannel(f"1.0.{p}.7.0.255", "active_power", phase, "kW"),
            InstantChannel(f"1.0.{q}.7.0.255", "reactive_power", phase, "kvar"),
            InstantChannel(f"1.0.{s}.7.0.255", "apparent_power", phase, "kVA"),
            InstantChannel(f"1.0.{pf}.7.0.255", "power_factor", phase, "1"),
        ]
    rows += [
        InstantChannel("1.0.1.7.0.255", "active_power", None, "kW"),
        InstantChannel("1.0.3.7.0.255", "reactive_power", None, "kvar"),
        InstantChannel("1.0.9.7.0.255", "apparent_power", None, "kVA"),
        InstantChannel("1.0.13.7.0.255", "power_factor", None, "1"),
        InstantChannel("1.0.14.7.0.255", "frequency", None, "Hz"),
    ]
    return {row.obis: row for row in rows}


#: Instantaneous channels by OBIS code (three-phase meters, GOST R 58940 table Б.1).
INSTANT_CHANNELS = _instant()
