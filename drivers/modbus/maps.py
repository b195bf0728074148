"""Register maps: one TOML file per meter model says where each value lives (docs/modbus-maps.md).

A map is data, not code. It is validated once, when the driver or the simulator is built: every
point names its channel (an OBIS code, or an info field), its 0-based PDU address, function 3 or
4, data type, word and byte order, scale or resolution, unit and stream; no two points of one
function overlap; the device's largest request (``max_registers``) holds every point. Errors
name the file and the key.

Shipped maps live in ``drivers/modbus/maps/`` and are named by their file stem
(``eastron-sdm630``); anything else is a path to a file.
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from core.config import ConfigModel, load_toml
from core.errors import ConfigError
from core.model import Stream
from core.obis import INSTANT_CHANNELS, parse_energy_obis
from drivers.modbus.values import UNITS, is_float, register_count

__all__ = ["MAPS_DIR", "ModelInfo", "Point", "RegisterMap", "load_map", "shipped_maps"]

#: Where the maps that come with the product are.
MAPS_DIR = Path(__file__).resolve().parent / "maps"

_OBIS = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENERGY_UNITS = {1: "kWh", 2: "kWh", 3: "kvarh", 4: "kvarh"}
#: The streams a register map can feed.
MAP_STREAMS = (Stream.CURRENT, Stream.INSTANT, Stream.INFO)

Function = Literal[3, 4]
DataTypeName = Literal["u16", "s16", "u32", "s32", "u64", "s64", "float32", "float64"]
OrderName = Literal["big", "little"]


def _decimal(value: object, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a decimal number") from None
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{what} must be a positive number")
    return number


class Point(ConfigModel):
    """One value of the device: where it is and what it means."""

    obis: str | None = None
    field: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    address: int = Field(ge=0, le=65535)
    type: DataTypeName
    unit: str | None = None
    scale: Decimal = Decimal(1)
    resolution: Decimal | None = None
    stream: Literal["current", "instant", "info"]
    name: str = ""
    function: Function | None = None
    word_order: OrderName | None = None
    byte_order: OrderName | None = None

    @field_validator("scale", "resolution", mode="before")
    @classmethod
    def _positive(cls, value: object) -> object:
        return None if value is None else _decimal(value, "scale or resolution")

    @field_validator("obis")
    @classmethod
    def _obis_form(cls, value: str | None) -> str | None:
        if value is not None and not _OBIS.match(value):
            raise ValueError(f"obis {value!r} is not A.B.C.D.E.F")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if (self.obis is None) == (self.field is None):
            raise ValueError("a point has either obis (a channel) or field (an info value)")
        if self.stream == "info":
            if self.field is None:
                raise ValueError("an info point names its field, not an obis code")
            if is_float(self.type):
                raise ValueError("an info point is an integer (u16 … s64)")
            return self
        if self.field is not None:
            raise ValueError(f"a {self.stream} point names its obis code, not a field")
        if self.unit is None:
            raise ValueError("a reading point needs its unit")
        if self.unit not in UNITS:
            raise ValueError(f"unit {self.unit!r}: use one of {', '.join(UNITS)}")
        if is_float(self.type) and self.resolution is None:
            raise ValueError(f"a {self.type} point needs a resolution (e.g. \"0.01\")")
        if is_float(self.type) and self.scale != 1:
            raise ValueError("a float point has a resolution, not a scale")
        self._check_channel()
        return self

    def _check_channel(self) -> None:
        assert self.obis is not None
        assert self.unit is not None
        model_unit = UNITS[self.unit][0]
        energy = parse_energy_obis(self.obis)
        if self.stream == "current":
            if energy is None:
                raise ValueError(f"obis {self.obis}: the current stream holds energy registers "
                                 "1.0.C.8.T.255")
            wanted = _ENERGY_UNITS[int(energy[0])]
            if model_unit != wanted:
                raise ValueError(f"obis {self.obis} counts {wanted}, not {self.unit}")
            return
        if energy is not None:
            raise ValueError(f"obis {self.obis} is an energy register: stream = \"current\"")
        channel = INSTANT_CHANNELS.get(self.obis)
        if channel is not None and channel.unit != model_unit:
            raise ValueError(f"obis {self.obis} ({channel.quantity}) is in {channel.unit}, "
                             f"not {self.unit}")

    @property
    def count(self) -> int:
        """Registers the point takes."""
        return register_count(self.type)

    @property
    def key(self) -> str:
        """The point's channel or info field."""
        return self.obis if self.obis is not None else f"info:{self.field}"


class ModelInfo(ConfigModel):
    name: str = Field(min_length=1, max_length=64)
    manufacturer: str = Field(min_length=1, max_length=128)
    model: str = Field(min_length=1, max_length=128)
    source: str = ""
    function: Function = 3
    word_order: OrderName = "big"
    byte_order: OrderName = "big"
    #: The most registers the device answers in one request (Modbus allows 125).
    max_registers: int = Field(default=125, ge=1, le=125)
    #: The longest run of registers without a point that one request may span.
    max_gap: int = Field(default=0, ge=0, le=124)
    #: ``max``: an integer register at its type's largest value (FFFF… unsigned, 7FFF… signed)
    #: holds no value (a quantity the device variant lacks); ``none``: every value is a value.
    no_value: Literal["none", "max"] = "none"

    @field_validator("name")
    @classmethod
    def _name_form(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"name {value!r}: lower-case letters, digits and '-'")
        return value


class RegisterMap(ConfigModel):
    """A meter model's register map, with each point's function and orders filled in."""

    model: ModelInfo
    points: tuple[Point, ...] = Field(alias="point", min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> RegisterMap:
        filled = tuple(point.model_copy(update={
            "function": point.function or self.model.function,
            "word_order": point.word_order or self.model.word_order,
            "byte_order": point.byte_order or self.model.byte_order,
        }) for point in self.points)
        object.__setattr__(self, "points", filled)
        seen: dict[str, int] = {}
        for index, point in enumerate(filled):
            if point.key in seen:
                raise ValueError(f"point {index}: {point.key} is already point {seen[point.key]}")
            seen[point.key] = index
            if point.address + point.count > 65536:
                raise ValueError(f"point {index}: {point.key} runs past address 65535")
            if point.count > self.model.max_registers:
                raise ValueError(f"point {index}: {point.key} takes {point.count} registers, "
                                 f"more than max_registers = {self.model.max_registers}")
        by_start = sorted(filled, key=lambda p: (p.function or 0, p.address))
        for before, after in itertools.pairwise(by_start):
            overlap = after.address < before.address + before.count
            if before.function == after.function and overlap:
                raise ValueError(f"{after.key} at {after.address} overlaps {before.key} at "
                                 f"{before.address} (function {before.function})")
        return self

    def points_of(self, streams: set[Stream] | frozenset[Stream]) -> list[Point]:
        return [point for point in self.points if Stream(point.stream) in streams]

    def streams(self) -> frozenset[Stream]:
        return frozenset(Stream(point.stream) for point in self.points)


def shipped_maps() -> dict[str, Path]:
    """The maps that come with the product, by name."""
    return {path.stem: path for path in sorted(MAPS_DIR.glob("*.toml"))}


def load_map(reference: str | Path) -> RegisterMap:
    """A shipped map by name (``eastron-sdm630``) or a map file by path; :class:`ConfigError`
    names the file and the key that is wrong."""
    text = str(reference)
    path = shipped_maps().get(text) if _NAME.match(text) else None
    if path is None:
        path = Path(text)
        if not path.is_file() and _NAME.match(text):
            raise ConfigError(f"register map {text!r}: no such file, and no shipped map of that "
                              f"name (shipped: {', '.join(shipped_maps()) or 'none'})")
    resolved = path.resolve()
    try:
        stamp = resolved.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _load(resolved, stamp)


@lru_cache(maxsize=64)
def _load(path: Path, _stamp: int) -> RegisterMap:
    register_map = load_toml(path, RegisterMap)
    if register_map.model.name != path.stem:
        raise ConfigError(f"{path}: model.name {register_map.model.name!r} differs from the "
                          f"file name {path.stem!r}")
    return register_map
