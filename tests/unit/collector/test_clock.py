"""The clock policy's arithmetic and its configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.clock import COLLECTOR_CLOCK_JOURNAL, correction_event, correction_for
from core.errors import ConfigError
from tests.unit.collector.fake_driver import FAKE_PROTOCOL, make_config, tcp_bus


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        ("9.9", None),  # within the threshold
        ("-10", None),
        ("10.6", -11),  # fast: moved back
        ("-95.2", 95),  # slow: moved forward
        ("400", -240),  # beyond the protocol's limit: the limit today, the rest tomorrow
        ("-1000", 240),
    ],
)
def test_correction_for(drift: str, expected: int | None) -> None:
    assert correction_for(Decimal(drift), threshold_s=10, limit_s=240) == expected


def test_the_correction_event_names_the_shift_and_the_drift() -> None:
    event = correction_event(datetime(2026, 11, 22, 9, tzinfo=UTC), -95, Decimal("95.2"))
    assert event.journal == COLLECTOR_CLOCK_JOURNAL
    assert event.kind == "Коррекция времени"
    assert event.text == "Коррекция времени ПУ сборщиком на -95 с (расхождение 95.2 с)"
    assert event.critical is False


def _meter(tmp_path: Path, protocol: str, **meter: object):  # type: ignore[no-untyped-def]
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0] |= {"protocol": protocol, **meter}
    return make_config(tmp_path, [bus])


def test_correcting_needs_the_clock_stream_and_a_driver_that_can(tmp_path: Path) -> None:
    config = _meter(tmp_path, "mercury230", streams=["current", "clock"], clock_policy="correct")
    assert config.buses[0].meters[0].clock_policy == "correct"
    with pytest.raises(ValueError, match="needs the clock stream"):
        _meter(tmp_path, "mercury230", streams=["current"], clock_policy="correct")
    with pytest.raises(ValueError, match=f"protocol {FAKE_PROTOCOL} cannot correct"):
        _meter(tmp_path, FAKE_PROTOCOL, streams=["current", "clock"], clock_policy="correct")
    with pytest.raises((ValueError, ConfigError)):
        _meter(tmp_path, "mercury230", streams=["clock"], clock_policy="sometimes")
