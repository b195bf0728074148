"""``isu sim mercury200`` hooks: the shared options of ``simulators/cli.py`` plus ours parse
together, and build the fleet they describe."""

from __future__ import annotations

import argparse

import pytest

from core.errors import ConfigError
from simulators.cli import add_sim_arguments
from simulators.mercury200.cli import add_mercury200_arguments, build_fleet


def _shared_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)  # includes the mercury200 options, without a clash
    return parser


def test_shared_options_build_the_fleet() -> None:
    args = _shared_parser().parse_args(
        ["mercury200", "--listen", "127.0.0.1:0", "--address", "411486", "--meters", "2",
         "--model", "200.02", "--seed", "7", "--frozen"]
    )
    fleet = build_fleet(args)
    described = fleet.describe()
    assert described["protocol"] == "mercury200"
    assert [m["address"] for m in described["buses"][0]["meters"]] == [411486, 411487]
    assert described["control"] is None


def test_standalone_parser_and_errors() -> None:
    parser = argparse.ArgumentParser()
    add_mercury200_arguments(parser, shared=False)
    with pytest.raises(ConfigError, match="6 digits"):
        build_fleet(parser.parse_args(["--model", "200.02", "--address", "1234567"]))
    with pytest.raises(ConfigError, match="probability"):
        build_fleet(parser.parse_args(["--fault", "silence", "--fault-probability", "2"]))
    with pytest.raises(ConfigError, match="HOST:PORT"):
        build_fleet(parser.parse_args(["--listen", "nowhere"]))
    fleet = build_fleet(parser.parse_args(["--control", "127.0.0.1:0", "--address", "5"]))
    assert fleet.control is not None
    assert fleet.command({"cmd": "state"})["meters"][0]["serial"] == 5
    assert fleet.command({"cmd": "fault", "address": 5, "fault": "silence"}) == {"ok": True}
    assert fleet.command({"cmd": "event", "address": 5, "event": "cover_open"}) == {"ok": True}
    assert fleet.command({"cmd": "fault", "address": 5, "fault": "internal_error"})["ok"] is False
    assert fleet.command({"cmd": "nope", "address": 5})["ok"] is False
