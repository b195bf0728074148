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
    for point in ordered:
        if members:
            first, last = members[0], members[-1]
            end = max(each.address + each.count for each in members)
            fits = (point.function == last.function
                    and point.address - end <= max_gap
                    and point.address + point.count - first.address <= max_registers)
            if not fits:
                blocks.append(_block(members))
                members = []
        members.append(point)
    if members:
        blocks.append(_block(members))
    return blocks


def _block(members: list[Point]) -> Block:
    start = members[0].address
    end = max(point.address + point.count for point in members)
    return Block(members[0].function or 3, start, end - start, tuple(members))
