"""``isu sim`` arguments and fleet files become one validated fleet description."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.obis import EnergyKind
from simulators.cli import add_sim_arguments, build_fleet_config
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.faults import FaultMode
from simulators.mercury230.fleet import SimulatorFleet

CLOCK = ManualClock(datetime(2024, 3, 1, 9, 0, tzinfo=UTC))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    return parser.parse_args(argv)


def test_options_describe_one_bus_of_consecutive_meters() -> None:
    argv = (
        "mercury230", "--listen", "0.0.0.0:4001", "--address", "10", "--meters", "3",
        "--seed", "5", "--one-direction", "--fault", "slow", "--fault-delay-s", "1.5",
        "--password-encoding", "ascii", "--history-days", "0", "--control", "127.0.0.1:0",
    )  # fmt: skip
    config = build_fleet_config(parse(*argv))
    fleet = SimulatorFleet.from_config(config, clock=CLOCK)
    assert fleet.buses[0].listen == "0.0.0.0:4001"
    assert [meter.address for meter in fleet.meters] == [10, 11, 12]
    assert [meter.settings.seed for meter in fleet.meters] == [5, 6, 7]
    meter = fleet.meter(11)
    assert meter.register(EnergyKind.A_MINUS) is None
    assert meter.fault is not None
    assert meter.fault.mode is FaultMode.SLOW
    assert meter.fault.delay_s == 1.5
    assert meter.settings.password_bytes(1) == b"111111"
    assert fleet.control is not None


def test_a_protocol_or_a_fleet_file_but_not_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="protocol"):
        build_fleet_config(parse())
    path = tmp_path / "fleet.toml"
    path.write_text('[[bus]]\nlisten = "127.0.0.1:0"\n[[bus.meter]]\n')
    with pytest.raises(ConfigError, match="not both"):
        build_fleet_config(parse("mercury230", "--config", str(path)))


def test_a_fleet_file_with_a_control_override(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        'seed = 100\n[control]\nlisten = "127.0.0.1:40100"\n'
        '[[bus]]\nlisten = "127.0.0.1:0"\n[[bus.meter]]\n[[bus.meter]]\nserial = "40680112"\n'
        '[[bus]]\nlisten = "127.0.0.1:0"\n[[bus.meter]]\naddress = 1\nseed = 9\n'
    )
    config = build_fleet_config(parse("--config", str(path), "--control", "127.0.0.1:0"))
    assert config.control is not None
    assert config.control.listen == "127.0.0.1:0"
    fleet = SimulatorFleet.from_config(config, clock=CLOCK)
    assert [(m.address, m.serial, m.settings.seed) for m in fleet.meters] == [
        (1, "30000001", 100),
        (112, "40680112", 101),
        (1, "30001001", 9),
    ]
    with pytest.raises(KeyError, match="2 meters"):
        fleet.meter(1)
    assert fleet.meter(1, bus=1).serial == "30001001"
    assert fleet.meter("m230-40680112").address == 112


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("mercury230", "--meters", "0"), "--meters"),
        (("mercury230", "--address", "241"), "address"),
        (("mercury230", "--listen", "nowhere"), "listen"),
        (("mercury230", "--schedule", "two-zone", "--password1", "12"), "password"),
    ],
)
def test_bad_options_are_configuration_errors(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimulatorFleet.from_config(build_fleet_config(parse(*argv)), clock=CLOCK)


def test_two_meters_at_one_address_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        '[[bus]]\nlisten = "127.0.0.1:0"\n'
        '[[bus.meter]]\naddress = 5\n[[bus.meter]]\nserial = "40680005"\n'
    )
    with pytest.raises(ConfigError, match="taken"):
        SimulatorFleet.from_config(build_fleet_config(parse("--config", str(path))), clock=CLOCK)


def test_fleet_file_keys_for_archives_and_profile() -> None:
    from simulators.mercury230.config import SimMeterConfig

    config = SimMeterConfig(serial="40680048", extended_archives=True, profile_period_min=15)
    settings = config.to_settings(default_serial="30000001", default_seed=0)
    assert settings.extended_archives
    assert settings.profile_period_min == 15
    assert settings.variant_bytes[5] & 0x40
    assert settings.variant_bytes[1] & 0x20  # profile present
    with pytest.raises(ValueError, match="divide the hour"):
        SimMeterConfig(serial="40680048", profile_period_min=7).to_settings(
            default_serial="30000001", default_seed=0
        )
