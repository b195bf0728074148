"""Line timing of a serial bus, from its baud rate (pure functions, no I/O).

The Mercury 230 family states its timeouts per baud rate (docs/reference/mercury-protocol.md
§1.5, DOC3 table 1.1); ``n`` is the meter's timeout multiplier (1..255, read with 08 1D)::

    baud      inter-byte timeout   recommended wait for the answer
    ≥38400    2·n ms               150·n ms
    19200     3·n                  150·n
    9600      5·n                  150·n
    4800      10·n                 180·n
    2400      20·n                 250·n
    1200      40·n                 400·n
    600       80·n                 800·n
    300       160·n                1600·n

A rate between two rows takes the slower row (longer timeouts); a rate below 300 scales the
300 row. The frame gap (end of a frame by silence) follows Wiren Board's formula, the larger of
the configured gap and six byte times. One byte on the wire is a start bit, eight data bits, the
parity bit when there is one and a stop bit: 11 bit times with parity, 10 without.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ADAPTER_LATENCY_S",
    "LineTiming",
    "Parity",
    "answer_wait_s",
    "bits_per_byte",
    "byte_time_s",
    "echo_budget_s",
    "frame_gap_s",
    "inter_byte_timeout_s",
    "line_timing",
    "wire_time_s",
]

Parity = Literal["N", "E", "O"]

#: What a USB serial adapter may hold bytes back before handing them on (the FTDI latency
#: timer defaults to 16 ms), so gaps shorter than this cannot be seen from the host.
ADAPTER_LATENCY_S: Final = 0.016

# (lowest baud of the row, inter-byte timeout ms, recommended answer wait ms), fastest first.
_TABLE: Final = (
    (38400, 2, 150),
    (19200, 3, 150),
    (9600, 5, 150),
    (4800, 10, 180),
    (2400, 20, 250),
    (1200, 40, 400),
    (600, 80, 800),
    (300, 160, 1600),
)
_GAP_BYTES: Final = 6


def _check(baud: int, multiplier: int) -> None:
    if baud <= 0:
        raise ValueError(f"baud must be positive, not {baud}")
    if not 1 <= multiplier <= 255:
        raise ValueError(f"the timeout multiplier n is 1..255, not {multiplier}")


def _row(baud: int) -> tuple[float, float]:
    """(inter-byte ms, answer wait ms) for ``baud`` with n = 1."""
    for lowest, inter_byte_ms, wait_ms in _TABLE:
        if baud >= lowest:
            return float(inter_byte_ms), float(wait_ms)
    _, inter_byte_ms, wait_ms = _TABLE[-1]
    scale = _TABLE[-1][0] / baud
    return inter_byte_ms * scale, wait_ms * scale


def bits_per_byte(parity: Parity = "N") -> int:
    """Bit times one byte takes: start + 8 data + parity (if any) + 1 stop."""
    return 10 if parity == "N" else 11


def byte_time_s(baud: int, parity: Parity = "N") -> float:
    _check(baud, 1)
    return bits_per_byte(parity) / baud


def wire_time_s(nbytes: int, baud: int, parity: Parity = "N") -> float:
    """How long ``nbytes`` take on the line at ``baud`` (back to back, no gaps)."""
    if nbytes < 0:
        raise ValueError(f"a byte count cannot be negative ({nbytes})")
    return nbytes * byte_time_s(baud, parity)


def inter_byte_timeout_s(baud: int, multiplier: int = 1) -> float:
    """The meter's "system timeout": silence this long ends a frame (§1.5)."""
    _check(baud, multiplier)
    return _row(baud)[0] * multiplier / 1000


def answer_wait_s(baud: int, multiplier: int = 1) -> float:
    """The recommended wait for an answer after the end of a request (§1.5)."""
    _check(baud, multiplier)
    return _row(baud)[1] * multiplier / 1000


def frame_gap_s(
    baud: int, multiplier: int = 1, parity: Parity = "N", configured_s: float | None = None
) -> float:
    """Silence that ends a frame: max(configured or the table's inter-byte timeout, 6 bytes)."""
    base = inter_byte_timeout_s(baud, multiplier) if configured_s is None else configured_s
    return max(base, wire_time_s(_GAP_BYTES, baud, parity))


def echo_budget_s(nbytes: int, baud: int, parity: Parity = "N") -> float:
    """How long an adapter's echo of ``nbytes`` may take to come back in full.

    The echo arrives as the bytes go out, so the transmission itself, plus a frame gap of
    slack and a USB adapter's latency (doubled: once for the write, once for the read).
    """
    return (
        wire_time_s(nbytes, baud, parity)
        + frame_gap_s(baud, parity=parity)
        + (2 * ADAPTER_LATENCY_S)
    )


@dataclass(frozen=True, slots=True)
class LineTiming:
    """Every timing figure of one line at once (for logs, docs and benchmarks)."""

    baud: int
    parity: Parity
    multiplier: int
    byte_time_s: float
    inter_byte_timeout_s: float
    frame_gap_s: float
    answer_wait_s: float

    def wire_time_s(self, nbytes: int) -> float:
        return nbytes * self.byte_time_s


def line_timing(baud: int, multiplier: int = 1, parity: Parity = "N") -> LineTiming:
    return LineTiming(
        baud=baud,
        parity=parity,
        multiplier=multiplier,
        byte_time_s=byte_time_s(baud, parity),
        inter_byte_timeout_s=inter_byte_timeout_s(baud, multiplier),
        frame_gap_s=frame_gap_s(baud, multiplier, parity),
        answer_wait_s=answer_wait_s(baud, multiplier),
    )
