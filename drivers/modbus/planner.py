"""Block planning: the points of one read in as few requests as the device allows.

Points of one function are sorted by address and joined while the request stays within the
device's ``max_registers`` and no run of registers without a point exceeds its ``max_gap``.
A map with points at 0–1, 2–3 and 10–11 and ``max_gap = 4`` gives one request 0..11 (12
registers); with ``max_gap = 0`` it gives 0..3 and 10..11. Never one register at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drivers.modbus.maps import Point

__all__ = ["Block", "plan_blocks"]


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers from ``address`` with function ``function``."""

    function: int
    address: int
    count: int
    points: tuple[Point, ...]

    @property
    def end(self) -> int:
        return self.address + self.count

    def registers_of(self, point: Point, registers: list[int]) -> list[int]:
        """The slice of this block's answer that holds ``point``."""
        start = point.address - self.address
        return registers[start:start + point.count]


def plan_blocks(points: Iterable[Point], max_registers: int, max_gap: int) -> list[Block]:
    """The requests that read ``points``, in function then address order."""
    ordered = sorted(points, key=lambda point: (point.function or 0, point.address))
    blocks: list[Block] = []
    members: list[Point] = []
    end = 0  # one past the last register of ``members``
    for point in ordered:
        point_end = point.address + point.count
        if members and not (point.function == members[-1].function
                            and point.address - end <= max_gap
                            and point_end - members[0].address <= max_registers):
            blocks.append(_block(members, end))
            members = []
        end = point_end if not members else max(end, point_end)
        members.append(point)
    if members:
        blocks.append(_block(members, end))
    return blocks


def _block(members: list[Point], end: int) -> Block:
    start = members[0].address
    return Block(members[0].function or 3, start, end - start, tuple(members))
