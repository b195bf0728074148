"""OBIS codes as COSEM logical names: six value groups A.B.C.D.E.F, on the wire 6 bytes.

``str(Obis)`` is the channel name of the shared model (``core/obis.py``, DESIGN §3).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import FrameError, TruncatedError

__all__ = ["Obis"]


@dataclass(frozen=True, slots=True, order=True)
class Obis:
    a: int
    b: int
    c: int
    d: int
    e: int
    f: int = 255

    def __post_init__(self) -> None:
        for value in (self.a, self.b, self.c, self.d, self.e, self.f):
            if not 0 <= value <= 255:
                raise FrameError(f"OBIS value group {value} is outside 0..255")

    @classmethod
    def parse(cls, text: str) -> Obis:
        """``"1.0.1.8.0.255"``; ``-``, ``:`` and ``*`` separators are accepted too."""
        parts = text.replace("-", ".").replace(":", ".").replace("*", ".").split(".")
        if len(parts) != 6 or not all(part.isdigit() for part in parts):
            raise FrameError(f"{text!r} is not an OBIS code A.B.C.D.E.F")
        a, b, c, d, e, f = (int(part) for part in parts)
        return cls(a, b, c, d, e, f)

    @classmethod
    def from_bytes(cls, data: bytes) -> Obis:
        if len(data) < 6:
            raise TruncatedError(f"a logical name of {len(data)} byte(s)")
        if len(data) > 6:
            raise FrameError(f"a logical name of {len(data)} bytes")
        return cls(data[0], data[1], data[2], data[3], data[4], data[5])

    def to_bytes(self) -> bytes:
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    def __str__(self) -> str:
        return f"{self.a}.{self.b}.{self.c}.{self.d}.{self.e}.{self.f}"
