"""Journals of the simulated Mercury 230: rings, history, conditions on demand, 03 0D."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.mercury.answer import decode_answer
from drivers.mercury.crc import append_crc
from drivers.mercury.records import JournalRecord
from drivers.mercury.request import ReadJournalRequest
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.fleet import make_meters
from simulators.mercury230.journals import JournalRing
from simulators.mercury230.protocol import Bus
from tests.unit.simulators.test_protocol_behaviour import ask, open_request, status

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def _bus(clock: ManualClock, **settings: object) -> Bus:
    return Bus(make_meters(1, 1, clock=clock, seed=3, **settings))


def _record(bus: Bus, journal: int, number: int) -> JournalRecord:
    request = ReadJournalRequest(1, journal, number)
    reply = ask(bus, request)
    assert reply is not None
    payload = decode_answer(request, reply[1:-2])
    assert isinstance(payload, JournalRecord)
    return payload


def test_the_ring_wraps_after_ten_records() -> None:
    ring = JournalRing(2)
    assert ring.record(0xFF) == JournalRecord((None, None), 0)
    for minute in range(12):
        ring.append(datetime(2024, 1, 1, 0, minute))
    assert ring.last == 1
    assert ring.record(0xFF).stamps[0] == datetime(2024, 1, 1, 0, 11)
    assert ring.record(2).stamps[0] == datetime(2024, 1, 1, 0, 2)


def test_history_has_power_failures_and_a_clock_correction() -> None:
    clock = ManualClock(START)
    bus = _bus(clock, history_days=7)
    bus.exchange(open_request(1))
    last = _record(bus, 0x01, 0xFF)
    assert last.number == 3  # power on at the history's start, then three failures
    first = _record(bus, 0x01, 0)
    assert first.stamps[0] == datetime(2024, 2, 23, 12, 0)  # Moscow wall time, UTC+3
    assert first.stamps[1] is not None
    assert _record(bus, 0x02, 0xFF).stamps[0] is not None
    assert _record(bus, 0x12, 0xFF) == JournalRecord((None, None), 0)


def test_power_failure_silences_the_meter_and_is_journalled() -> None:
    clock = ManualClock(START)
    bus = _bus(clock, history_days=0)
    meter = bus.meters[0]
    before = meter.register(next(iter(meter.registers())), 0)
    meter.power_failure(600)
    clock.advance(300)
    assert bus.exchange(open_request(1)) is None
    assert meter.register(next(iter(meter.registers())), 0) == before  # no supply, no energy
    clock.advance(301)
    assert bus.exchange(open_request(1)) == status(1, 0)
    last = _record(bus, 0x01, 0xFF)
    assert last.number == 1
    assert last.stamps == (datetime(2024, 3, 1, 12, 10), None)
    assert _record(bus, 0x01, 0).stamps == (datetime(2024, 3, 1, 12, 0),
                                            datetime(2024, 3, 1, 12, 0))
    assert _record(bus, 0x04, 0xFF).stamps[0] == datetime(2024, 3, 1, 12, 10)


def test_cover_and_magnet_on_demand() -> None:
    clock = ManualClock(START)
    bus = _bus(clock, history_days=0)
    meter = bus.meters[0]
    meter.open_cover(120)
    meter.magnetic_field(30)
    bus.exchange(open_request(1))
    assert _record(bus, 0x12, 0xFF).stamps == (datetime(2024, 3, 1, 12, 0), None)
    clock.advance(121)
    assert _record(bus, 0x12, 0xFF).stamps == (datetime(2024, 3, 1, 12, 0),
                                               datetime(2024, 3, 1, 12, 2))
    assert _record(bus, 0x1A, 0).stamps == (datetime(2024, 3, 1, 12, 0),
                                            datetime(2024, 3, 1, 12, 0, 30))


def test_time_correction_once_a_day_within_four_minutes() -> None:
    clock = ManualClock(START)
    bus = _bus(clock, history_days=0, drift_s=100)
    bus.exchange(open_request(1))
    too_far = append_crc(bytes.fromhex("01 03 0D 00 55 11"))
    assert bus.exchange(too_far) == status(1, 1)
    assert bus.exchange(append_crc(bytes.fromhex("01 03 0D 00 00 12"))) == status(1, 0)
    assert bus.meters[0].drift_s == 0
    assert _record(bus, 0x02, 0xFF).stamps == (datetime(2024, 3, 1, 12, 1, 40),
                                               datetime(2024, 3, 1, 12, 0))
    assert bus.exchange(append_crc(bytes.fromhex("01 03 0D 05 00 12"))) == status(1, 4)
