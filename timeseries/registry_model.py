"""The registry import document: the object tree as JSON, and the same as CSV (docs/registry.md).

contract → energy object → connection point → metering point → meter (DESIGN §3). Each node is
keyed by its ``number`` inside its parent; a meter by its ``meter_id`` across the whole file.

Only the fields a file gives are written: a field left out keeps what the database holds, and a
JSON ``null`` clears it. So a partial file (a CSV with the columns one department keeps) updates
what it knows and nothing else.

:func:`parse_json` and :func:`parse_csv` return a :class:`RegistryDocument` or raise
:class:`~core.errors.ConfigError` naming every problem by its place: the JSON path
(``contracts[0].energy_objects[1].time_zone``) or the CSV row and column.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from core.config import TimeZoneName
from core.errors import ConfigError
from core.registers import Capacity

__all__ = [
    "ConnectionPointEntry",
    "ContractEntry",
    "EnergyObjectEntry",
    "MeterEntry",
    "MeteringPointEntry",
    "RegistryDocument",
    "given_fields",
    "load_registry_file",
    "parse_csv",
    "parse_json",
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
ContractNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z./_-]{1,40}$")
]
MeterId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._-]{1,64}$")
]
Inn = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{10}([0-9]{2})?$")]
AreaCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,12}$")]
AtsCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,18}$")]
MacAddress = Annotated[
    str,
    BeforeValidator(lambda v: re.sub(r"[:\-\s]", "", v).upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^([0-9A-F]{12}|[0-9A-F]{16})$"),
]
Ratio = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4)]
Attributes = dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], str]


def _capacity(value: str) -> str:
    """«6,2» as the cabinet writes it, or 6.2; stored as ``"6.2"``."""
    try:
        return str(Capacity.parse(value.replace(",", ".")))
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc


CapacityText = Annotated[str, AfterValidator(_capacity)]
NodeT = TypeVar("NodeT")


class _Numbered(Protocol):
    @property
    def number(self) -> str: ...


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def given_fields(entry: BaseModel, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields the file gave (``null`` included), without the child lists."""
    return {name: getattr(entry, name) for name in entry.model_fields_set if name not in exclude}


class MeterEntry(_Entry):
    meter_id: MeterId
    model: Text | None = None
    serial_number: Number | None = None
    mac_address: MacAddress | None = Field(
        default=None, description="«Мас-адрес»: 12 or 16 hex digits"
    )
    commissioned_on: date | None = Field(default=None, description="«Дата ввода в эксплуатацию»")
    isu_connected_on: date | None = Field(default=None, description="«Дата подключения к ИСУ»")
    installed_on: date | None = None
    install_place: Text | None = None
    verified_on: date | None = Field(default=None, description="last verification («поверка»)")
    next_verification_on: date | None = Field(default=None, description="end of the МПИ")
    capacity: CapacityText | None = Field(default=None, description="«значность», e.g. 6.2 or 6,2")
    ct_ratio: Ratio | None = None
    vt_ratio: Ratio | None = None
    accuracy_class: Text | None = None
    rated_voltage_v: Annotated[Decimal, Field(gt=0)] | None = None
    rated_current_a: Text | None = Field(default=None, description="e.g. 5(10)")
    phases: Literal[1, 3] | None = None
    time_zone: TimeZoneName | None = Field(
        default=None, description="the meter's own zone; default: its energy object's"
    )
    attributes: Attributes | None = None

    @model_validator(mode="after")
    def _verification_order(self) -> MeterEntry:
        verified, due = self.verified_on, self.next_verification_on
        if verified is not None and due is not None and due <= verified:
            raise ValueError("next_verification_on must be after verified_on")
        return self


class MeteringPointEntry(_Entry):
    number: Number
    name: Text | None = None
    ats_code: AtsCode | None = Field(default=None, description="ATS 80020 measuring-point code")
    attributes: Attributes | None = None
    meters: list[MeterEntry] = []


class ConnectionPointEntry(_Entry):
    number: Number
    name: Text | None = None
    voltage_kv: Annotated[Decimal, Field(gt=0)] | None = None
    max_power_kw: Annotated[Decimal, Field(gt=0)] | None = None
    grid_company: Text | None = None
    attributes: Attributes | None = None
    metering_points: list[MeteringPointEntry] = []


class EnergyObjectEntry(_Entry):
    number: Number
    name: Text | None = None
    address: Text | None = None
    phone_1: Text | None = None
    phone_2: Text | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    time_zone: TimeZoneName | None = None
    attributes: Attributes | None = None
    connection_points: list[ConnectionPointEntry] = []


ZoneSwitch = tuple[time, Annotated[int, Field(ge=1, le=8)]]


class ContractEntry(_Entry):
    number: ContractNumber
    name: Text | None = None
    consumer_name: Text | None = None
    consumer_inn: Inn | None = None
    signed_on: date | None = None
    sender_inn: Inn | None = None
    sender_name: Text | None = None
    area_inn: AreaCode | None = None
    area_name: Text | None = None
    ats_time: Literal["local", "moscow"] | None = None
    zone_schedule: Literal["single", "two-zone", "three-zone", "custom"] | None = None
    zone_switches: list[ZoneSwitch] | None = Field(
        default=None, description='with zone_schedule "custom": [["00:00", 2], ["07:00", 1], …]'
    )
    attributes: Attributes | None = None
    energy_objects: list[EnergyObjectEntry] = []

    @model_validator(mode="after")
    def _custom_schedule(self) -> ContractEntry:
        custom = self.zone_schedule == "custom"
        if custom != (self.zone_switches is not None):
            raise ValueError('zone_switches go with zone_schedule "custom", and only with it')
        if self.zone_switches is not None:
            starts = [start for start, _ in self.zone_switches]
            if not starts or starts[0] != time(0, 0) or starts != sorted(set(starts)):
                raise ValueError("zone_switches must start at 00:00 and increase")
        return self


class RegistryDocument(_Entry):
    """The whole file (JSON); ``schema`` is 1."""

    schema_version: Literal[1] = Field(alias="schema")
    contracts: list[ContractEntry]

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _unique(self) -> RegistryDocument:
        problems: list[str] = []
        meters: dict[str, str] = {}
        ats: dict[str, str] = {}
        _check_unique(problems, "contracts", self.contracts)
        for at, contract in _indexed("contracts", self.contracts):
            _check_unique(problems, f"{at}.energy_objects", contract.energy_objects)
            for at_eo, eo in _indexed(f"{at}.energy_objects", contract.energy_objects):
                _check_unique(problems, f"{at_eo}.connection_points", eo.connection_points)
                for at_cp, cp in _indexed(f"{at_eo}.connection_points", eo.connection_points):
                    _check_unique(problems, f"{at_cp}.metering_points", cp.metering_points)
                    for at_mp, mp in _indexed(f"{at_cp}.metering_points", cp.metering_points):
                        if mp.ats_code is not None:
                            _first_place(problems, ats, mp.ats_code, f"{at_mp}.ats_code")
                        for at_m, meter in _indexed(f"{at_mp}.meters", mp.meters):
                            _first_place(problems, meters, meter.meter_id, f"{at_m}.meter_id")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def counts(self) -> dict[str, int]:
        eos = [eo for c in self.contracts for eo in c.energy_objects]
        cps = [cp for eo in eos for cp in eo.connection_points]
        mps = [mp for cp in cps for mp in cp.metering_points]
        return {
            "contracts": len(self.contracts),
            "energy_objects": len(eos),
            "connection_points": len(cps),
            "metering_points": len(mps),
            "meters": sum(len(mp.meters) for mp in mps),
        }


def _indexed(where: str, nodes: list[NodeT]) -> Iterator[tuple[str, NodeT]]:
    for index, node in enumerate(nodes):
        yield f"{where}[{index}]", node


def _check_unique(problems: list[str], where: str, nodes: Sequence[_Numbered]) -> None:
    seen: set[str] = set()
    for node in nodes:
        number = node.number
        if number in seen:
            problems.append(f"{where}: number {number!r} appears twice")
        seen.add(number)


def _first_place(problems: list[str], seen: dict[str, str], key: str, at: str) -> None:
    if key in seen:
        problems.append(f"{at}: {key!r} is already at {seen[key].rsplit('.', 1)[0]}")
    else:
        seen[key] = at


def _error_text(exc: ValidationError, source: str, prefix: str = "") -> str:
    lines = [f"{source}: {exc.error_count()} error(s)"]
    for error in exc.errors():
        where = prefix
        for part in error["loc"]:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {where or '(top level)'}: {message}")
    return "\n".join(lines)


def parse_json(text: str, source: str = "registry") -> RegistryDocument:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from exc
    try:
        return RegistryDocument.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_error_text(exc, source)) from exc


# ---------------------------------------------------------------------------------------- CSV

_LEVELS: tuple[tuple[str, type[_Entry], str], ...] = (
    ("contract", ContractEntry, "number"),
    ("energy_object", EnergyObjectEntry, "number"),
    ("connection_point", ConnectionPointEntry, "number"),
    ("metering_point", MeteringPointEntry, "number"),
    ("meter", MeterEntry, "meter_id"),
)
_CHILDREN = {
    "contract": "energy_objects",
    "energy_object": "connection_points",
    "connection_point": "metering_points",
    "metering_point": "meters",
}
_LIST_FIELDS = {"zone_switches"}


def _csv_columns(header: list[str], source: str) -> dict[str, tuple[str, str, str | None]]:
    """column → (level, field, attribute name or None); unknown columns are errors."""
    columns: dict[str, tuple[str, str, str | None]] = {}
    problems = []
    for column in header:
        level, _, rest = column.strip().partition(".")
        model = next((m for name, m, _ in _LEVELS if name == level), None)
        field, _, attribute = rest.partition(".")
        if model is None or field not in model.model_fields or field in _CHILDREN.values():
            problems.append(f"column {column!r}: not a registry column (docs/registry.md)")
        elif attribute and field != "attributes":
            problems.append(f"column {column!r}: only attributes.<name> has a third part")
        elif field == "attributes" and not attribute:
            problems.append(f"column {column!r}: write attributes.<name>")
        else:
            columns[column] = (level, field, attribute or None)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    if "contract.number" not in columns:
        raise ConfigError(f"{source}: the column contract.number is required")
    return columns


def parse_csv(text: str, source: str = "registry") -> RegistryDocument:
    """One row per meter (or per node without meters): each row gives the path from its contract
    down, with the columns ``<level>.<field>`` and ``<level>.attributes.<name>``; the separator
    is ``;`` or ``,``. A node that appears in several rows must not get different values."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError(f"{source}: the file is empty") from None
    columns = _csv_columns(header, source)
    roots: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, ...], tuple[int, dict[str, Any]]] = {}
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"row {line}: {len(row)} cells, the header has {len(header)}")
            continue
        values: dict[str, dict[str, Any]] = {level: {} for level, _, _ in _LEVELS}
        for column, cell in zip(header, row, strict=True):
            level, field, attribute = columns[column]
            cell = cell.strip()
            if not cell:
                continue
            if attribute is not None:
                values[level].setdefault("attributes", {})[attribute] = cell
            elif field in _LIST_FIELDS:
                values[level][field] = [part.split("=", 1) for part in cell.split()]
            else:
                values[level][field] = cell
        _place_row(values, line, roots, origin, problems)
    if problems:
        raise ConfigError(f"{source}: {len(problems)} error(s)\n  " + "\n  ".join(problems))
    try:
        contracts = [_as_lists(node) for node in roots.values()]
        return RegistryDocument.model_validate({"schema": 1, "contracts": contracts})
    except ValidationError as exc:
        raise ConfigError(_error_text(exc, source)) from exc


def _place_row(
    values: dict[str, dict[str, Any]],
    line: int,
    roots: dict[str, dict[str, Any]],
    origin: dict[tuple[str, ...], tuple[int, dict[str, Any]]],
    problems: list[str],
) -> None:
    siblings: dict[str, dict[str, Any]] = roots
    path: tuple[str, ...] = ()
    deepest = max((i for i, (level, _, _) in enumerate(_LEVELS) if values[level]), default=-1)
    for index, (level, model, key) in enumerate(_LEVELS[: deepest + 1]):
        fields = values[level]
        if key not in fields:
            problems.append(
                f"row {line}: {level}.{key} is empty but the row names a {level} or a node below it"
            )
            return
        try:
            model.model_validate(fields)
        except ValidationError as exc:
            for error in exc.errors():
                column = ".".join(str(part) for part in (level, *error["loc"]))
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"row {line}, column {column}: {message}")
            return
        path += (fields[key],)
        seen = origin.get(path)
        if seen is None:
            node = dict(fields)
            if index < len(_LEVELS) - 1:
                node[_CHILDREN[level]] = {}
            siblings[fields[key]] = node
            origin[path] = (line, node)
        else:
            first_line, node = seen
            for field, value in fields.items():
                if field in node and node[field] != value:
                    problems.append(
                        f"row {line}, column {level}.{field}: {value!r} differs from "
                        f"{node[field]!r} in row {first_line}"
                    )
                else:
                    node[field] = value
        if index < len(_LEVELS) - 1:
            siblings = node[_CHILDREN[level]]


def _as_lists(node: dict[str, Any]) -> dict[str, Any]:
    out = dict(node)
    for child in _CHILDREN.values():
        if child in out and isinstance(out[child], dict):
            out[child] = [_as_lists(value) for value in out[child].values()]
    return out


def load_registry_file(path: str | Path) -> RegistryDocument:
    """Read a ``.json`` or ``.csv`` registry file (UTF-8, a BOM allowed)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    suffix = path.suffix.lower()
    if suffix == ".json":
        return parse_json(text, str(path))
    if suffix == ".csv":
        return parse_csv(text, str(path))
    raise ConfigError(f"{path}: a registry file ends in .json or .csv")
