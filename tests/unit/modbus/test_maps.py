"""Register maps: what a valid map is, and the clear errors for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.model import Stream
from drivers.modbus.maps import load_map, shipped_maps
from tests.unit.modbus.support import write_map

ENERGY = """
[[point]]
obis = "1.0.1.8.0.255"
address = 0
type = "u32"
unit = "Wh"
stream = "current"
"""
VOLTS = """
[[point]]
obis = "1.0.32.7.0.255"
address = {address}
type = "float32"
unit = "V"
resolution = "0.1"
stream = "instant"
function = 4
"""


def test_defaults_are_filled_in_per_point(tmp_path: Path) -> None:
    register_map = load_map(write_map(tmp_path, "good", ENERGY + VOLTS.format(address=0)))
    energy, volts = register_map.points
    assert (energy.function, energy.word_order, energy.byte_order) == (3, "big", "big")
    assert volts.function == 4  # its own; address 0 of function 4 is not function 3's
    assert register_map.streams() == {Stream.CURRENT, Stream.INSTANT}
    assert [p.key for p in register_map.points_of({Stream.INSTANT})] == ["1.0.32.7.0.255"]


def test_a_map_is_found_by_path_and_shipped_maps_by_name(tmp_path: Path) -> None:
    path = write_map(tmp_path, "good", ENERGY)
    assert load_map(path).model.name == "good"
    assert load_map(str(path)).model.name == "good"
    for name, shipped in shipped_maps().items():
        assert load_map(name).model.name == name == shipped.stem


@pytest.mark.parametrize(("points", "message"), [
    (ENERGY + ENERGY.replace("address = 0", "address = 1").replace(".8.0.", ".8.1."),
     "overlaps"),
    (ENERGY + ENERGY.replace("address = 0", "address = 4"), "already point 0"),
    (ENERGY.replace('"Wh"', '"varh"'), "counts kWh, not varh"),
    (ENERGY.replace('"Wh"', '"furlong"'), "unit 'furlong'"),
    (ENERGY.replace('stream = "current"', 'stream = "instant"'), "is an energy register"),
    (VOLTS.format(address=0).replace('resolution = "0.1"\n', ""), "needs a resolution"),
    (VOLTS.format(address=0).replace('"V"', '"A"'), "(voltage) is in V, not A"),
    (ENERGY.replace('"1.0.1.8.0.255"', '"1.0.1.8"'), "is not A.B.C.D.E.F"),
    (ENERGY.replace('type = "u32"', 'type = "u24"'), "type"),
    (ENERGY.replace('address = 0', 'address = 65535'), "runs past address 65535"),
    (ENERGY.replace('obis = "1.0.1.8.0.255"', 'field = "serial_number"'),
     "names its obis code, not a field"),
    (ENERGY.replace('stream = "current"', 'stream = "info"'), "names its field"),
    (ENERGY + "colour = 'red'\n", "colour"),
    (ENERGY.replace('unit = "Wh"', 'unit = "Wh"\nscale = "-1"'), "positive"),
])
def test_what_is_wrong_is_named(tmp_path: Path, points: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"bad\.toml") as caught:
        load_map(write_map(tmp_path, "bad", points))
    assert message in str(caught.value)


def test_model_limits_are_checked(tmp_path: Path) -> None:
    wide = ENERGY.replace('type = "u32"', 'type = "u64"')
    with pytest.raises(ConfigError, match="more than max_registers = 2"):
        load_map(write_map(tmp_path, "narrow", wide, max_registers=2))
    with pytest.raises(ConfigError, match="max_registers"):
        load_map(write_map(tmp_path, "huge", ENERGY, max_registers=126))


def test_the_name_is_the_file_name(tmp_path: Path) -> None:
    path = write_map(tmp_path, "one", ENERGY)
    path.rename(tmp_path / "other.toml")
    with pytest.raises(ConfigError, match="differs from the file name 'other'"):
        load_map(tmp_path / "other.toml")


def test_an_unknown_name_lists_the_shipped_maps(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no shipped map of that name"):
        load_map("no-such-meter")
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_map(tmp_path / "missing.toml")
