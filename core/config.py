"""Configuration: TOML files validated once at start-up by frozen pydantic models."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ConfigError

__all__ = ["ConfigModel", "format_validation_error", "load_toml"]


class ConfigModel(BaseModel):
    """Base of every configuration section: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ModelT = TypeVar("ModelT", bound=BaseModel)


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} error(s)"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def load_toml(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read ``path`` and validate it against ``model``; :class:`ConfigError` says what is wrong."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such configuration file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from exc
