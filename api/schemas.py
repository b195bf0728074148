"""Response bodies of the HTTP API v1 (DESIGN §5), each with the example OpenAPI shows.

Energy values are strings with three decimals and times carry the meter's offset; both are
rendered by :mod:`api.formats` before they reach these models, so the models hold plain strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

__all__ = [
    "BlockType",
    "ErrorBody",
    "HealthStatus",
    "MeterReadings",
    "MeterSummary",
    "ParameterError",
    "ReadingsBlock",
    "ReadingsRow",
    "ValidationErrorBody",
    "example_of",
]

_LOCAL_TIME: JsonDict = {"format": "date-time"}


def _config(example: Any) -> ConfigDict:
    return ConfigDict(frozen=True, json_schema_extra={"examples": [example]})


def example_of(model: type[BaseModel]) -> Any:
    """The first example a response model declares (for the ``responses=`` of a route)."""
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{model.__name__} declares no example"
    examples = extra["examples"]
    assert isinstance(examples, list)
    return examples[0]


class BlockType(StrEnum):
    """The four blocks of the «Показания» tab, in the order they are shown."""

    DAY_END = "day_end"
    PERIOD_END = "period_end"
    INTERVAL = "interval"
    CURRENT = "current"

    @property
    def title_ru(self) -> str:
        return _BLOCK_TITLES[self]


_BLOCK_TITLES = {
    BlockType.DAY_END: "Показания на конец суток",
    BlockType.PERIOD_END: "Показания на конец расчетного периода",
    BlockType.INTERVAL: "Расход э/энергии суммарный за интервал",
    BlockType.CURRENT: "Текущие значения показаний ПУ",
}


class ErrorBody(BaseModel):
    """Every error answer: what went wrong, in one sentence."""

    model_config = _config({"detail": "meter 'M230-0042' not found"})

    detail: str


class ParameterError(BaseModel):
    parameter: str = Field(description="name of the offending parameter")
    location: str = Field(description="query, path, header or body")
    message: str


class ValidationErrorBody(BaseModel):
    """422: the request's parameters are wrong; ``detail`` names the first one."""

    model_config = _config(
        {
            "detail": "query parameter 'q': String should have at most 100 characters",
            "errors": [
                {
                    "parameter": "q",
                    "location": "query",
                    "message": "String should have at most 100 characters",
                }
            ],
        }
    )

    detail: str
    errors: list[ParameterError]


class HealthStatus(BaseModel):
    """Liveness or readiness of the process."""

    model_config = _config({"status": "ok"})

    status: str = Field(description="ok, ready or unavailable")
    detail: str | None = None


class MeterSummary(BaseModel):
    """One meter of the list: identity, place in the registry and freshness of its data."""

    model_config = _config(
        {
            "meter_id": "M230-0042",
            "model": "Меркурий 230 ART-01",
            "serial_number": "22305560",
            "contract": None,
            "energy_object": None,
            "registered": False,
            "last_reading_at": "2026-11-22T15:30:00+03:00",
        }
    )

    meter_id: str
    model: str | None
    serial_number: str | None
    contract: str | None = Field(
        description="the number of the contract the registry places the meter under; null for "
                    "a meter the registry does not know yet")
    energy_object: str | None = Field(
        description="the number of its energy object; null for an unassigned meter")
    registered: bool = Field(description="false: the meter is not assigned in the registry yet")
    last_reading_at: str | None = Field(
        description="newest register reading, with the meter's UTC offset",
        json_schema_extra=_LOCAL_TIME,
    )


class ReadingsRow(BaseModel):
    """One energy kind across the zone columns and the sum."""

    model_config = _config(
        {
            "kind": "A+",
            "name": "активная принятая",
            "unit": "кВт*ч",
            "values": {"T1": "8.050", "T2": "0.066", "T3": "0.000", "sum": "8.116"},
        }
    )

    kind: str = Field(description="A+, A-, R+ or R-")
    name: str = Field(description="Russian name of the energy kind")
    unit: str = Field(description="кВт*ч or кВар*ч")
    values: dict[str, str | None] = Field(
        description="each zone of the block and 'sum': a decimal string with three decimals "
        "(billing value, ratio applied) or null when missing"
    )


def _rows(table: dict[str, list[str | None]], zones: list[str]) -> list[dict[str, Any]]:
    names = {
        "A+": ("активная принятая", "кВт*ч"),
        "A-": ("активная отпущенная", "кВт*ч"),
        "R+": ("реактивная принятая", "кВар*ч"),
        "R-": ("реактивная отпущенная", "кВар*ч"),
    }
    return [
        {
            "kind": kind,
            "name": names[kind][0],
            "unit": names[kind][1],
            "values": dict(zip([*zones, "sum"], cells, strict=True)),
        }
        for kind, cells in table.items()
    ]


_ZONES = ["T1", "T2", "T3"]
_PERIOD_END_EXAMPLE = {
    "type": "period_end",
    "title": BlockType.PERIOD_END.title_ru,
    "as_of": "2026-11-01T00:00:00+03:00",
    "quality": "ok",
    "zone_schedule": None,
    "zones": _ZONES,
    "rows": _rows(
        {
            "A+": ["8.050", "0.066", "0.000", "8.116"],
            "A-": ["2.001", "0.012", "0.000", "2.013"],
            "R+": ["3.789", "0.033", "0.000", "3.822"],
            "R-": ["1.384", "0.027", "0.000", "1.411"],
        },
        _ZONES,
    ),
}
_DAY_END_EXAMPLE = {
    "type": "day_end",
    "title": BlockType.DAY_END.title_ru,
    "as_of": None,
    "quality": None,
    "zone_schedule": None,
    "zones": [],
    "rows": _rows({kind: [None] for kind in ("A+", "A-", "R+", "R-")}, []),
}
_INTERVAL_EXAMPLE = {
    "type": "interval",
    "title": BlockType.INTERVAL.title_ru,
    "as_of": "2026-11-22T15:30:00+03:00",
    "quality": "incomplete",
    "zone_schedule": "two-zone",
    "zones": ["T1", "T2"],
    "rows": _rows(
        {
            "A+": ["0.950", "0.300", "1.250"],
            "A-": [None, None, None],
            "R+": ["0.250", "0.060", "0.310"],
            "R-": ["0.002", "0.000", "0.002"],
        },
        ["T1", "T2"],
    ),
}
_CURRENT_EXAMPLE = {
    "type": "current",
    "title": BlockType.CURRENT.title_ru,
    "as_of": "2026-11-22T15:30:00+03:00",
    "quality": "ok",
    "zone_schedule": None,
    "zones": _ZONES,
    "rows": _rows(
        {
            "A+": ["9.120", "0.180", "0.000", "9.300"],
            "A-": ["2.001", "0.012", "0.000", "2.013"],
            "R+": ["4.011", "0.052", "0.000", "4.063"],
            "R-": ["1.390", "0.027", "0.000", "1.417"],
        },
        _ZONES,
    ),
}


class ReadingsBlock(BaseModel):
    """One block of the «Показания» tab: a table of A+, A-, R+, R- by zone, with its as-of time."""

    model_config = _config(_PERIOD_END_EXAMPLE)

    type: BlockType
    title: str = Field(description="the block's Russian title")
    as_of: str | None = Field(
        description="time the values refer to, with the meter's UTC offset; null without data",
        json_schema_extra=_LOCAL_TIME,
    )
    quality: Literal["ok", "incomplete", "estimated"] | None = Field(
        description="the worst quality among the values the block counts; the interval block is "
        "also incomplete when an invalid interval was left out or intervals are missing since "
        "the start of the month; null without data"
    )
    zone_schedule: str | None = Field(
        description="interval block: the contract's zone schedule that split it (single, "
        "two-zone, three-zone or custom; single without a contract); null for register blocks"
    )
    zones: list[str] = Field(
        description="zone columns: a register block's zones with data (e.g. T1, T2, T3); the "
        "interval block's schedule zones, or none without data"
    )
    rows: list[ReadingsRow] = Field(description="exactly four rows: A+, A-, R+, R-")


class MeterReadings(BaseModel):
    """The «Показания» tab of one meter: four blocks, always present, in a fixed order."""

    model_config = _config(
        {
            "meter_id": "M230-0042",
            "time_zone": "Europe/Moscow",
            "ratio": "1",
            "blocks": [_DAY_END_EXAMPLE, _PERIOD_END_EXAMPLE, _INTERVAL_EXAMPLE, _CURRENT_EXAMPLE],
        }
    )

    meter_id: str
    time_zone: str = Field(description="IANA zone whose offset the times carry")
    ratio: str = Field(description="ct_ratio * vt_ratio, already applied to every value")
    blocks: list[ReadingsBlock] = Field(description="day_end, period_end, interval, current")
