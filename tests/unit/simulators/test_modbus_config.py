"""The Modbus fleet file and ``isu sim modbus`` options: what they build and what they refuse."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import load_toml
from core.errors import ConfigError
from simulators.cli import add_sim_arguments
from simulators.mercury230.clock import ManualClock
from simulators.modbus.cli import build_fleet
from simulators.modbus.config import ModbusFleetConfig
from simulators.modbus.fleet import ModbusFleet
from tests.unit.modbus.support import write_map

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "deploy" / "sim" / "modbus.sample.toml"
POINT = """
[[point]]
obis = "1.0.1.8.0.255"
address = 0
type = "u32"
unit = "Wh"
stream = "current"
[[point]]
field = "serial_number"
address = 2
type = "u32"
stream = "info"
"""
CLOCK = ManualClock(datetime(2024, 3, 5, tzinfo=UTC))


@pytest.fixture
def map_file(tmp_path: Path) -> Path:
    return write_map(tmp_path, "tiny", POINT)


def fleet_of(tmp_path: Path, text: str) -> ModbusFleet:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return ModbusFleet.from_config(load_toml(path, ModbusFleetConfig), clock=CLOCK)


def test_the_sample_describes_both_forms() -> None:
    fleet = ModbusFleet.from_config(load_toml(SAMPLE, ModbusFleetConfig), clock=CLOCK)
    gateway, riser, pty = fleet.buses
    assert [unit.unit for unit in gateway.units] == [*range(1, 101), 101]
    assert gateway.unit(7).meter.serial == "19040007"
    assert gateway.unit(7).fault is not None
    assert gateway.unit(8).meter.serial == "70000008"
    assert gateway.unit(101).meter.register_map.model.name == "abb-b23"
    assert [unit.unit for unit in riser.units] == [1, 2, 9]
    assert riser.framing == "rtu"
    assert riser.unit(2).meter.frozen
    assert (pty.framing, pty.pty is not None) == ("rtu", True)
    seeds = [unit.meter.seed for unit in fleet.units]
    assert seeds == list(range(1, 1 + len(seeds)))  # the fleet seed counts up


def test_units_n_and_entries(tmp_path: Path, map_file: Path) -> None:
    fleet = fleet_of(tmp_path, f"""
protocol = "modbus"
[[bus]]
listen = "127.0.0.1:0"
map = "{map_file}"
units = 3
[[bus.unit]]
unit = 2
seed = 99
[[bus.unit]]
serial = "5"
""")
    units = fleet.buses[0].units
    assert [(u.unit, u.meter.seed, u.meter.serial) for u in units] == [
        (1, 0, "70000001"), (2, 99, "70000002"), (3, 2, "70000003"), (4, 3, "5")]
    assert fleet.unit("modbus-5").unit == 4
    assert fleet.unit(2).meter_id == "modbus-70000002"


@pytest.mark.parametrize(("bus", "message"), [
    ('listen = "127.0.0.1:0"\nunits = 2', "needs the bus's map"),
    ('listen = "127.0.0.1:0"\nmap = "{map}"', "at least one"),
    ('map = "{map}"\nunits = 1', "listen is required"),
    ('serial_pty = true\nframing = "tcp"\nmap = "{map}"\nunits = 1', "framing = \\\"rtu\\\""),
    ('listen = "127.0.0.1:0"\nbaud = 9600\nmap = "{map}"\nunits = 1', "serial_pty buses only"),
    ('listen = "127.0.0.1:0"\n[[bus.unit]]\nunit = 1', "unit.0.map: required"),
    ('listen = "127.0.0.1:0"\nmap = "{map}"\n[[bus.unit]]\nunit = 4\n[[bus.unit]]\nunit = 4',
     "unit.1.unit: 4 is unit.0's already"),
    ('listen = "127.0.0.1:0"\nframing = "rtu"\nmap = "{map}"\n[[bus.unit]]\nunit = 250',
     "250 is outside 1..247"),
    ('listen = "127.0.0.1:0"\nmap = "{map}"\n[[bus.unit]]\nunit = 0', "unit.0.unit"),
    ('listen = "127.0.0.1:0"\nmap = "{map}"\n[[bus.unit]]\nfault = {{ mode = "silence", '
     'code = 2 }}', "code goes with"),
    ('listen = "127.0.0.1:0"\nmap = "{map}"\n[[bus.unit]]\nfault = {{ mode = "exception", '
     'code = 12 }}', "code 12"),
    ('listen = "127.0.0.1:0"\nmap = "{map}"\n[[bus.unit]]\nschedule = "four-zone"', "four-zone"),
    ('listen = "127.0.0.1:0"\nmap = "{map}"\n[[bus.unit]]\ncolour = "red"', "colour"),
])
def test_bad_fleet_files_name_the_key(tmp_path: Path, map_file: Path, bus: str,
                                      message: str) -> None:
    with pytest.raises(ConfigError, match=r"fleet\.toml") as caught:
        fleet_of(tmp_path, f'protocol = "modbus"\n[[bus]]\n{bus.format(map=map_file)}\n')
    assert message.replace("\\", "") in str(caught.value)


def test_maps_and_serials_are_checked_when_the_fleet_is_built(tmp_path: Path,
                                                              map_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"bus\.0\.map: register map 'no-such-map'"):
        fleet_of(tmp_path, 'protocol = "modbus"\n[[bus]]\nlisten = "127.0.0.1:0"\n'
                           'map = "no-such-map"\nunits = 1\n')
    with pytest.raises(ConfigError, match=r"bus\.0 unit 1: .*cannot hold 99999999999"):
        fleet_of(tmp_path, f'protocol = "modbus"\n[[bus]]\nlisten = "127.0.0.1:0"\n'
                           f'map = "{map_file}"\n[[bus.unit]]\nserial = "99999999999"\n')
    with pytest.raises(ConfigError, match=r"meter id 'modbus-7' is bus\.0 unit 1's already"):
        fleet_of(tmp_path, f'protocol = "modbus"\n[[bus]]\nlisten = "127.0.0.1:0"\n'
                           f'map = "{map_file}"\n[[bus.unit]]\nserial = "7"\n[[bus.unit]]\n'
                           'serial = "7"\n')


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="isu sim")
    add_sim_arguments(parser)
    return parser.parse_args(["modbus", *argv])


def test_options_make_one_bus(map_file: Path) -> None:
    fleet = build_fleet(parse("--map", str(map_file), "--address", "5", "--meters", "3",
                              "--seed", "10", "--framing", "rtu", "--fault", "exception",
                              "--fault-code", "6", "--fault-probability", "0.5",
                              "--control", "127.0.0.1:0"), CLOCK)
    (bus,) = fleet.buses
    assert bus.framing == "rtu"
    assert [(u.unit, u.meter.seed) for u in bus.units] == [(5, 10), (6, 11), (7, 12)]
    assert bus.units[0].fault is not None
    assert bus.units[0].fault.as_json() == {"fault": "exception", "probability": 0.5, "code": 6}
    assert fleet.control is not None
    pty = build_fleet(parse("--map", str(map_file), "--serial-pty", "--baud", "19200"), CLOCK)
    assert (pty.buses[0].framing, pty.buses[0].pty is not None) == ("rtu", True)


@pytest.mark.parametrize(("argv", "message"), [
    ((), "needs --map"),
    (("--map", "no-such-map"), "--map: register map 'no-such-map'"),
    (("--map", "{map}", "--address", "0"), "unit ids are 1..255 with tcp framing"),
    (("--map", "{map}", "--framing", "rtu", "--address", "240", "--meters", "10"), "1..247"),
    (("--map", "{map}", "--meters", "0"), "--meters must be"),
    (("--map", "{map}", "--fault", "garbage"), "a Modbus unit shows"),
    (("--map", "{map}", "--fault", "exception", "--fault-code", "9"), "--fault: .*code 9"),
    (("--map", "{map}", "--fault", "slow", "--fault-delay-s", "-1"), "--fault-delay-s"),
    (("--map", "{map}", "--time-zone", "Mars/Base"), "--time-zone: .*Mars/Base"),
    (("--map", "{map}", "--serial-pty", "--framing", "tcp"), "RTU framing"),
    (("--map", "{map}", "--baud", "9600"), "only go with --serial-pty"),
    (("--map", "{map}", "--control", "nowhere"), "--control: HOST:PORT expected"),
    (("--map", "{map}", "--listen", "nowhere"), "--listen: HOST:PORT expected"),
])
def test_bad_options_are_one_line_errors(map_file: Path, argv: tuple[str, ...],
                                         message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build_fleet(parse(*(arg.format(map=map_file) for arg in argv)), CLOCK)
    assert "\n" not in str(caught.value)
