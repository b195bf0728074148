"""What every ``isu sim`` protocol reads alike from its command line: where the one bus of the
options listens, on TCP or on a serial pseudo-terminal; a fleet file with ``--control``."""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.config import format_validation_error, load_toml
from core.errors import ConfigError
from simulators.mercury230.config import ControlConfig

__all__ = ["DEFAULT_LISTEN", "line_keys", "load_fleet_file"]

FleetT = TypeVar("FleetT", bound=BaseModel)

#: ``--listen`` when not given: loopback, a free port.
DEFAULT_LISTEN = "127.0.0.1:0"


def line_keys(args: argparse.Namespace) -> dict[str, Any]:
    """The fleet file's bus keys for ``--listen`` or ``--serial-pty`` and its line options
    (``--baud``, ``--parity``, ``--echo`` only with ``--serial-pty``)."""
    listen = getattr(args, "listen", None) or DEFAULT_LISTEN
    serial = {"baud": getattr(args, "baud", None), "parity": getattr(args, "parity", None)}
    echo = bool(getattr(args, "echo", False))
    if not getattr(args, "serial_pty", False):
        given = [f"--{name}" for name, value in serial.items() if value is not None]
        if echo:
            given.append("--echo")
        if given:
            raise ConfigError(f"{', '.join(given)} only go with --serial-pty")
        return {"listen": listen}
    if listen != DEFAULT_LISTEN:
        raise ConfigError("give either --listen or --serial-pty, not both")
    line = {name: value for name, value in serial.items() if value is not None}
    return {"serial_pty": True, **line, "echo": echo}


def load_fleet_file(args: argparse.Namespace, model: type[FleetT]) -> FleetT:
    """The fleet file of ``--config`` validated as ``model``, its ``[control]`` replaced by
    ``--control`` when given; a protocol given as well is refused."""
    if getattr(args, "protocol", None) is not None:
        raise ConfigError("give either a protocol or --config, not both")
    config = load_toml(args.config, model)
    if getattr(args, "control", None) is not None:
        try:
            control = ControlConfig(listen=args.control)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, "--control")) from exc
        config = config.model_copy(update={"control": control})
    return config
