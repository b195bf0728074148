"""Configuration: TOML files validated once at start-up by frozen pydantic models."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from core.errors import ConfigError

__all__ = ["ConfigModel", "TimeZoneName", "format_validation_error", "load_toml", "read_secret"]


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


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


#: An IANA time zone name (``Europe/Moscow``), checked against the zone database.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


def read_secret(file: Path | None, env: str | None, what: str) -> str | None:
    """The secret in ``file`` (its line end dropped) or in the environment variable ``env``.

    ``None`` when neither is given. Errors name ``what`` and the file or variable, never the
    secret; an empty secret is an error.
    """
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ConfigError(f"{what}: {file} cannot be read: {reason}") from exc
        source = str(file)
    elif env is not None:
        found = os.environ.get(env)
        if found is None:
            raise ConfigError(f"{what}: environment variable {env} is not set")
        value, source = found, f"environment variable {env}"
    else:
        return None
    if not value:
        raise ConfigError(f"{what}: {source} is empty")
    return value
