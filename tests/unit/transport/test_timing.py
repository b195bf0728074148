"""Line timing from the baud rate: docs/reference/mercury-protocol.md §1.5 (DOC3 table 1.1)."""

from __future__ import annotations

import pytest

from drivers.transport.timing import (
    ADAPTER_LATENCY_S,
    answer_wait_s,
    bits_per_byte,
    byte_time_s,
    echo_budget_s,
    frame_gap_s,
    inter_byte_timeout_s,
    line_timing,
    wire_time_s,
)

# DOC3 table 1.1, p.6: baud, inter-byte timeout (ms), recommended answer wait (ms), for n = 1.
DOC3_TABLE_1_1 = [
    (115200, 2, 150),
    (57600, 2, 150),
    (38400, 2, 150),
    (19200, 3, 150),
    (9600, 5, 150),
    (4800, 10, 180),
    (2400, 20, 250),
    (1200, 40, 400),
    (600, 80, 800),
    (300, 160, 1600),
]


@pytest.mark.parametrize(("baud", "inter_byte_ms", "wait_ms"), DOC3_TABLE_1_1)
def test_the_table(baud: int, inter_byte_ms: int, wait_ms: int) -> None:
    assert inter_byte_timeout_s(baud) == pytest.approx(inter_byte_ms / 1000)
    assert answer_wait_s(baud) == pytest.approx(wait_ms / 1000)


@pytest.mark.parametrize("multiplier", [1, 2, 10, 255])
def test_the_timeout_multiplier_scales_both_columns(multiplier: int) -> None:
    assert inter_byte_timeout_s(4800, multiplier) == pytest.approx(0.010 * multiplier)
    assert answer_wait_s(4800, multiplier) == pytest.approx(0.180 * multiplier)


def test_a_rate_between_rows_takes_the_slower_row() -> None:
    assert inter_byte_timeout_s(14400) == inter_byte_timeout_s(9600)
    assert answer_wait_s(3600) == answer_wait_s(2400)


def test_a_rate_below_300_scales_the_last_row() -> None:
    assert inter_byte_timeout_s(150) == pytest.approx(0.320)
    assert answer_wait_s(150) == pytest.approx(3.2)


@pytest.mark.parametrize(("baud", "multiplier"), [(0, 1), (-9600, 1), (9600, 0), (9600, 256)])
def test_nonsense_is_refused(baud: int, multiplier: int) -> None:
    with pytest.raises(ValueError, match=r"baud|multiplier"):
        inter_byte_timeout_s(baud, multiplier)


def test_bits_and_wire_time() -> None:
    assert bits_per_byte("N") == 10
    assert bits_per_byte("E") == bits_per_byte("O") == 11
    assert byte_time_s(9600) == pytest.approx(10 / 9600)
    assert wire_time_s(96, 9600) == pytest.approx(0.1)
    assert wire_time_s(96, 9600, "E") == pytest.approx(0.11)
    assert wire_time_s(0, 300) == 0
    with pytest.raises(ValueError, match="negative"):
        wire_time_s(-1, 9600)


def test_the_frame_gap_is_at_least_six_byte_times() -> None:
    # 9600 8N1: 6 bytes are 6.25 ms, above the table's 5 ms (WB's formula).
    assert frame_gap_s(9600) == pytest.approx(6 * 10 / 9600)
    assert frame_gap_s(9600, parity="E") == pytest.approx(6 * 11 / 9600)
    # 1200: 6 bytes (50 ms) again above the table's 40 ms.
    assert frame_gap_s(1200) == pytest.approx(0.050)
    # Where the table is longer, it wins: 2 × 160 ms at 300, 2 ms at 115200 (6 bytes: 0.52 ms).
    assert frame_gap_s(300, multiplier=2) == pytest.approx(0.320)
    assert frame_gap_s(115200) == pytest.approx(0.002)
    assert frame_gap_s(9600, configured_s=0.5) == 0.5
    assert frame_gap_s(9600, configured_s=0.001) == pytest.approx(6 * 10 / 9600)


def test_the_echo_budget_covers_the_transmission_and_an_adapter() -> None:
    budget = echo_budget_s(11, 9600)
    assert budget > wire_time_s(11, 9600) + 2 * ADAPTER_LATENCY_S
    assert budget < 0.1
    assert echo_budget_s(11, 300) > wire_time_s(11, 300)


def test_line_timing_gathers_the_figures() -> None:
    timing = line_timing(2400, multiplier=3, parity="O")
    assert timing.byte_time_s == pytest.approx(11 / 2400)
    assert timing.inter_byte_timeout_s == pytest.approx(0.060)
    assert timing.answer_wait_s == pytest.approx(0.750)
    assert timing.frame_gap_s == pytest.approx(0.060)
    assert timing.wire_time_s(24) == pytest.approx(0.11)
