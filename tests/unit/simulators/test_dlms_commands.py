"""Control commands of a DLMS fleet (``simulators.dlms.commands``), run without sockets: which
meters a command reaches, events into the journals, faults, the clock and the answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.obis import EnergyKind
from simulators.dlms.config import DlmsFleetConfig
from simulators.dlms.faults import DlmsFault
from simulators.dlms.fleet import DlmsFleet
from simulators.dlms.meter import ACCESS, CORRECTIONS, EXTERNAL, POWER
from simulators.mercury230.clock import ManualClock

START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def fleet(clock: ManualClock) -> DlmsFleet:
    """Bus 0: a wrapper meter at 16; bus 1: an HDLC line at 16, 17 (history-less)."""
    config = DlmsFleetConfig.model_validate({"protocol": "dlms", "bus": [
        {"listen": "127.0.0.1:0", "transport": "wrapper",
         "meter": [{"history_days": 0, "serial": "61000001"}]},
        {"listen": "127.0.0.1:0", "meter": [{"history_days": 0}, {"history_days": 0}]},
    ]})
    return DlmsFleet.from_config(config, clock=clock)


def run(fleet: DlmsFleet, **document: Any) -> dict[str, Any]:
    return fleet.command(document)


def last(fleet: DlmsFleet, meter: Any, journal: int, bus: int | None = None) -> int:
    return fleet.meter(meter, bus).journals[journal][-1].code


def test_which_meters_a_command_reaches(fleet: DlmsFleet) -> None:
    assert run(fleet, cmd="open_cover") == {"ok": True, "meters": [16, 16, 17]}
    assert run(fleet, cmd="open_cover", meter="*", bus=1) == {"ok": True, "meters": [16, 17]}
    assert run(fleet, cmd="open_cover", meter=17) == {"ok": True, "meters": [17]}
    assert run(fleet, cmd="open_cover", meter="dlms-50100016")["meters"] == [16]
    assert run(fleet, cmd="open_cover", meter="61000001")["meters"] == [16]
    assert [m.tamper["cover"].count for m in fleet.meters] == [2, 3, 3]
    ambiguous = run(fleet, cmd="open_cover", meter=16)
    assert ambiguous == {"ok": False, "error": '2 meters match address 16: add "bus"'}
    assert run(fleet, cmd="open_cover", meter=16, bus=0)["meters"] == [16]
    assert run(fleet, cmd="open_cover", meter=99)["error"] == "no meter at address 99"
    assert "no bus 2" in run(fleet, cmd="open_cover", bus=2)["error"]
    assert run(fleet, cmd="open_cover", meter=True)["ok"] is False
    assert "known: list, state, fault" in run(fleet, cmd="pin")["error"]


def test_events_reach_the_journals(fleet: DlmsFleet, clock: ManualClock) -> None:
    assert run(fleet, cmd="open_case", meter=17)["ok"]
    assert last(fleet, 17, EXTERNAL) == 4
    assert run(fleet, cmd="magnetic_field", meter=17, seconds=30)["ok"]
    assert last(fleet, 17, EXTERNAL) == 1
    assert run(fleet, cmd="access_denied", meter=17)["ok"]
    assert last(fleet, 17, ACCESS) == 1
    assert run(fleet, cmd="power_failure", meter=17, seconds=600)["ok"]
    meter = fleet.meter(17)
    assert not meter.powered()
    clock.advance(601)
    assert meter.powered()
    assert [entry.code for entry in meter.entries_of(meter.journals[POWER])][-2:] == [1, 2]
    assert meter.tamper["magnet"].count == 1
    assert run(fleet, cmd="power_failure", meter=17, seconds=0)["ok"] is False


def test_state_list_and_advance(fleet: DlmsFleet, clock: ManualClock) -> None:
    states = run(fleet, cmd="state")["states"]
    assert [(s["bus"], s["address"], s["meter_id"]) for s in states] == [
        ("bus-1", 16, "dlms-61000001"), ("bus-2", 16, "dlms-50100016"),
        ("bus-2", 17, "dlms-50100017")]
    state = run(fleet, cmd="state", meter=17)["state"]
    assert state["powered"] is True
    assert state["fault"] is None
    assert state["meter_time"] == START.astimezone(fleet.meter(17).tz).isoformat()
    assert set(state["registers"]) == {"A+", "A-", "R+", "R-"}
    assert len(run(fleet, cmd="state", meter="*", bus=1)["states"]) == 2
    listing = run(fleet, cmd="list")
    assert listing["now"] == "2024-03-05T09:00:00Z"
    assert [bus["transport"] for bus in listing["buses"]] == ["wrapper", "hdlc"]
    assert run(fleet, cmd="advance", seconds=3600) == {"ok": True, "now": "2024-03-05T10:00:00Z"}
    assert clock() == START + timedelta(hours=1)


def test_faults_are_set_shown_and_cleared(fleet: DlmsFleet) -> None:
    line = fleet.buses[1]
    link = line.make_link()  # a client already connected
    answer = run(fleet, meter=17, fault="corrupt_crc", probability=0.25)
    assert answer == {"ok": True, "meters": [17],
                      "fault": {"fault": "corrupt_crc", "probability": 0.25, "delay_s": 3.0}}
    assert line.faults[1] == DlmsFault("corrupt_crc", 0.25)
    assert link.servers[1].faults.corrupt_share == 0.25  # type: ignore[union-attr]
    assert run(fleet, cmd="state", meter=17)["state"]["fault"]["fault"] == "corrupt_crc"
    assert run(fleet, meter="*", bus=1, fault="slow", delay_s=0.5)["meters"] == [16, 17]
    assert link.servers[1].faults.corrupt_share == 0.0  # type: ignore[union-attr]
    assert run(fleet, meter=17, fault=None) == {"ok": True, "meters": [17], "fault": None}
    assert line.faults == [DlmsFault("slow", delay_s=0.5), None]
    assert "a DLMS meter shows" in run(fleet, meter=17, fault="truncate")["error"]
    assert "corrupt_crc only" in run(fleet, meter=17, fault="silence", probability=0.5)["error"]
    assert line.faults[1] is None


def test_registers_freeze_and_clock(fleet: DlmsFleet, clock: ManualClock) -> None:
    assert run(fleet, cmd="freeze", meter=17)["ok"]
    assert run(fleet, cmd="set_register", meter=17, kind="A+", zone=1, wh=3196200)["ok"]
    meter = fleet.meter(17)
    clock.advance(3600)
    assert meter.register(EnergyKind.A_PLUS, 1) == 3196200
    assert run(fleet, cmd="set_register", meter=17, kind="Q", zone=1, wh=1)["ok"] is False
    answer = run(fleet, cmd="correct_clock", meter=17, delta_s=-30)
    assert answer == {"ok": True, "corrected": {"dlms-50100017": True}}
    assert meter.drift_s == -30
    assert last(fleet, 17, CORRECTIONS) == 68
    assert "±900 s" in run(fleet, cmd="correct_clock", meter=17, delta_s=901)["error"]
    assert run(fleet, cmd="correct_clock", meter=17)["ok"] is False  # delta_s missing
