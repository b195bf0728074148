"""Block planning: contiguous points in as few requests as the device allows."""

from __future__ import annotations

from pathlib import Path

from drivers.modbus.maps import load_map
from drivers.modbus.planner import plan_blocks
from tests.unit.modbus.support import write_map


def _point(address: int, type_: str = "u32", function: int = 3, index: int = 0) -> str:
    return f"""
[[point]]
field = "f{address}_{function}_{index}"
address = {address}
type = "{type_}"
stream = "info"
function = {function}
"""


def _plan(tmp_path: Path, points: str, max_registers: int, max_gap: int) -> list[tuple[int, ...]]:
    register_map = load_map(write_map(tmp_path, "plan", points, max_registers=125))
    return [(block.function, block.address, block.count, len(block.points))
            for block in plan_blocks(register_map.points, max_registers, max_gap)]


# Points at 0-1, 2-3, 10-11, 12 (u16), 40-43 (u64) of function 3, and 0-1 of function 4.
GAPPED = (_point(0) + _point(2) + _point(10) + _point(12, "u16") + _point(40, "u64")
          + _point(0, function=4))


def test_without_gaps_only_adjacent_points_share_a_request(tmp_path: Path) -> None:
    assert _plan(tmp_path, GAPPED, 125, 0) == [
        (3, 0, 4, 2), (3, 10, 3, 2), (3, 40, 4, 1), (4, 0, 2, 1)]


def test_gaps_up_to_max_gap_are_bridged(tmp_path: Path) -> None:
    # 4..9 is a gap of 6 registers, 13..39 one of 27.
    assert _plan(tmp_path, GAPPED, 125, 6) == [(3, 0, 13, 4), (3, 40, 4, 1), (4, 0, 2, 1)]
    assert _plan(tmp_path, GAPPED, 125, 5) == [
        (3, 0, 4, 2), (3, 10, 3, 2), (3, 40, 4, 1), (4, 0, 2, 1)]
    assert _plan(tmp_path, GAPPED, 125, 27) == [(3, 0, 44, 5), (4, 0, 2, 1)]


def test_a_request_never_exceeds_max_registers(tmp_path: Path) -> None:
    assert _plan(tmp_path, GAPPED, 12, 27) == [
        (3, 0, 12, 3), (3, 12, 1, 1), (3, 40, 4, 1), (4, 0, 2, 1)]
    assert _plan(tmp_path, GAPPED, 13, 27) == [(3, 0, 13, 4), (3, 40, 4, 1), (4, 0, 2, 1)]


def test_forty_contiguous_floats_take_one_request_of_eighty_registers(tmp_path: Path) -> None:
    points = "".join(_point(2 * i, index=i) for i in range(40))
    assert _plan(tmp_path, points, 80, 0) == [(3, 0, 80, 40)]
    assert _plan(tmp_path, points, 50, 0) == [(3, 0, 50, 25), (3, 50, 30, 15)]


def test_point_order_in_the_file_does_not_matter(tmp_path: Path) -> None:
    assert _plan(tmp_path, _point(10) + _point(0) + _point(2), 125, 10) == [(3, 0, 12, 3)]
