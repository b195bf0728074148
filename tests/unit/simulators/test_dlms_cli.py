"""``isu sim dlms`` options: what builds a simulator and what is refused."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from core.errors import ConfigError
from simulators.cli import add_sim_arguments
from simulators.dlms.cli import DlmsSimulator, build_simulator
from simulators.dlms.protocol import HdlcServer
from simulators.mercury230.clock import ManualClock


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="isu sim")
    add_sim_arguments(parser)
    return parser.parse_args(["dlms", *argv])


def build(*argv: str) -> DlmsSimulator:
    return build_simulator(parse(*argv), ManualClock(datetime(2024, 3, 5, tzinfo=UTC)))


def test_defaults_build_an_hdlc_meter_with_history() -> None:
    simulator = build("--history-days", "2", "--server-address", "200", "--fault", "slow",
                      "--fault-delay-s", "0.5")
    assert simulator.transport == "hdlc"
    assert simulator.meter.settings.serial == "50000200"
    assert len(simulator.meter.load_profile) == 96
    link = simulator.make_link()
    assert link.faults.delay_s == 0.5
    assert isinstance(link, HdlcServer)
    assert link.address.size == 4  # physical address above 127


def test_several_meters_share_an_hdlc_line() -> None:
    simulator = build("--meters", "3", "--server-address", "30", "--history-days", "0")
    assert simulator.addresses == [30, 31, 32]
    assert [m.settings.serial for m in simulator.meters] == ["50000030", "50000031", "50000032"]
    assert simulator.command({"cmd": "open_cover", "meter": 31}) == {"ok": True, "meters": [31]}
    assert [m.tamper["cover"].count for m in simulator.meters] == [0, 1, 0]
    assert simulator.command({"cmd": "power_failure", "seconds": 5})["meters"] == [30, 31, 32]
    assert simulator.command({"cmd": "state", "meter": 99})["ok"] is False
    assert len(simulator.command({"cmd": "state"})["states"]) == 3
    assert simulator.command({"cmd": "nonsense"})["ok"] is False


@pytest.mark.parametrize(("argv", "error"), [
    (("--fault", "truncate"), "truncate"),
    (("--transport", "wrapper", "--serial-pty"), "wrapper"),
    (("--baud", "9600"), "--serial-pty"),
    (("--server-address", "5"), "server-address"),
    (("--max-info", "8"), "max-info"),
    (("--transport", "wrapper", "--meters", "2"), "wrapper"),
    (("--meters", "40"), "meters"),
    (("--time-zone", "Mars/Base"), "Mars/Base"),
    (("--history-days", "-1"), "history-days"),
    (("--listen", "nowhere"), "HOST:PORT"),
])
def test_bad_options_are_refused(argv: tuple[str, ...], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        build(*argv)
