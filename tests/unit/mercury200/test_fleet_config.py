"""The Mercury 200 fleet file (``protocol = "mercury200"``) and ``isu sim mercury200
--serial-pty``: validation naming the key, and the fleet the options build."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.config import load_toml
from core.errors import ConfigError
from drivers.mercury.m200.frame import MeterModel
from simulators.cli import add_sim_arguments
from simulators.mercury200.cli import build_fleet, build_fleet_config
from simulators.mercury200.config import Fleet200Config
from simulators.mercury200.fleet import Fleet200
from simulators.mercury200.server import BusServer200, PtyBusServer200
from simulators.mercury230.faults import FaultMode

SAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "sim" / "fleet-mercury200.toml"


def _document(meter: dict[str, Any], **bus: Any) -> dict[str, Any]:
    return {"protocol": "mercury200", "bus": [{"listen": "127.0.0.1:0", **bus, "meter": [meter]}]}


def test_the_sample_validates_and_builds() -> None:
    config = load_toml(SAMPLE, Fleet200Config)
    fleet = Fleet200.from_config(config)
    meters = fleet.meters()
    assert [m.settings.model for m in meters] == [
        MeterModel.M206,
        MeterModel.M200_02,
        MeterModel.M201,
        MeterModel.M203,
    ]
    assert [m.settings.seed for m in meters] == [1, 2, 3, 4]
    assert meters[2].fault is not None
    assert meters[2].fault.mode is FaultMode.SLOW
    assert fleet.control is not None


def test_defaults_and_address_only() -> None:
    config = Fleet200Config.model_validate(_document({"address": 411486, "model": "200.02"}))
    (meter,) = Fleet200.from_config(config).meters()
    assert (meter.address, meter.serial) == (411486, 411486)
    assert not meter.settings.answers_reactive


@pytest.mark.parametrize(
    ("meter", "bus", "where", "problem"),
    [
        ({"serial": 1, "colour": "red"}, {}, "bus.0.meter.0.colour", "Extra inputs"),
        ({}, {}, "bus.0.meter.0", "serial or address"),
        ({"serial": 1, "model": "230"}, {}, "bus.0.meter.0.model", "200.02"),
        ({"serial": 123_456_789}, {}, "bus.0.meter.0.serial", "less than"),
        (
            {"serial": 1, "fault": {"mode": "internal_error"}},
            {},
            "bus.0.meter.0.fault",
            "no status answer",
        ),
        ({"serial": 1, "schedule": "five-zone"}, {}, "bus.0.meter.0.schedule", "five-zone"),
        ({"serial": 1, "time_zone": "Mars/Olympus"}, {}, "bus.0.meter.0.time_zone", "time zone"),
        ({"serial": 1}, {"baud": 19200}, "bus.0", "serial_pty buses only"),
        ({"serial": 1}, {"serial_pty": True}, "bus.0", "not both"),
    ],
)
def test_errors_name_the_key(
    meter: dict[str, Any], bus: dict[str, Any], where: str, problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Fleet200Config.model_validate(_document(meter, **bus))
    text = str(caught.value)
    assert where in text
    assert problem in text


def test_the_protocol_key_is_required_and_checked() -> None:
    with pytest.raises(ValidationError, match="protocol"):
        Fleet200Config.model_validate(
            {"bus": [{"listen": "127.0.0.1:0", "meter": [{"serial": 1}]}]}
        )
    with pytest.raises(ValidationError, match="protocol"):
        Fleet200Config.model_validate({**_document({"serial": 1}), "protocol": "mercury230"})


def test_config_is_frozen() -> None:
    config = Fleet200Config.model_validate(_document({"serial": 1}))
    with pytest.raises(ValidationError):
        config.seed = 5  # type: ignore[misc]


def test_two_meters_at_one_address_are_refused() -> None:
    document = _document({"serial": 5})
    document["bus"][0]["meter"].append({"serial": 7, "address": 5})
    with pytest.raises(ConfigError, match="two meters at address 5"):
        Fleet200.from_config(Fleet200Config.model_validate(document))


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_line_builds_a_serial_bus() -> None:
    config = build_fleet_config(
        _args(
            "mercury200",
            "--serial-pty",
            "--baud",
            "2400",
            "--parity",
            "E",
            "--echo",
            "--address",
            "411486",
            "--model",
            "200.02",
            "--meters",
            "2",
        )
    )
    (bus,) = config.bus
    assert (bus.serial_pty, bus.baud, bus.parity, bus.echo) == (True, 2400, "E", True)
    assert [m.serial for m in bus.meter] == [411486, 411487]
    fleet = build_fleet(_args("mercury200", "--serial-pty"))
    assert isinstance(fleet.buses[0], PtyBusServer200)
    plain = build_fleet(_args("mercury200"))
    assert isinstance(plain.buses[0], BusServer200)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--serial-pty", "--listen", "127.0.0.1:4001"], "not both"),
        (["--echo"], "--echo only go with --serial-pty"),
        (["--parity", "E", "--baud", "1200"], "--baud, --parity only go"),
        (["--serial-pty", "--baud", "0"], "baud"),
    ],
)
def test_the_command_line_refuses_mixed_lines(argv: list[str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        build_fleet_config(_args("mercury200", *argv))


def test_config_and_protocol_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="not both"):
        build_fleet_config(_args("mercury200", "--config", str(SAMPLE)))


def test_a_fleet_file_with_control_override(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        'protocol = "mercury200"\n[[bus]]\nserial_pty = true\necho = true\n'
        "[[bus.meter]]\nserial = 10925856\n",
        encoding="utf-8",
    )
    config = build_fleet_config(_args("--config", str(path), "--control", "127.0.0.1:0"))
    assert config.control is not None
    assert config.bus[0].echo
