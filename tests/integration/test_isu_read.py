"""``isu read`` against the simulator over TCP: the JSON lines of DESIGN §6 and the exit codes."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from core.obis import EnergyKind
from isu.cli import build_parser, main
from isu.read import run_read
from simulators.mercury230.faults import Fault, FaultMode
from simulators.mercury230.fleet import SimulatorFleet, make_meters
from simulators.mercury230.meter import SimulatedMeter


@pytest.fixture
async def fleet() -> AsyncIterator[SimulatorFleet]:
    meters = make_meters(first_address=7, count=2, seed=3, frozen=True)
    async with SimulatorFleet.single_bus(meters) as running:
        yield running


def _args(fleet: SimulatorFleet, *extra: str) -> argparse.Namespace:
    argv = ["read", "--protocol", "mercury230", "--tcp", f"127.0.0.1:{fleet.buses[0].port}"]
    return build_parser().parse_args([*argv, *extra])


async def _read(fleet: SimulatorFleet, *extra: str) -> tuple[int, list[dict[str, object]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_read(_args(fleet, *extra), out=out, err=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


async def test_json_lines_carry_what_the_meter_holds(fleet: SimulatorFleet) -> None:
    meter: SimulatedMeter = fleet.meter(7)
    code, lines, err = await _read(
        fleet,
        "--address",
        "7",
        "--password",
        "111111",
        "--what",
        "current,instant,clock,info",
        "--json",
        "--meter-id",
        "flat-12",
    )
    assert code == 0, err
    assert err == ""
    readings = {line["obis"]: line for line in lines if line["stream"] == "current"}
    a_plus = readings["1.0.1.8.0.255"]
    assert set(a_plus) == {"meter", "stream", "obis", "ts", "value", "unit", "quality", "read_at"}
    assert a_plus["meter"] == "flat-12"
    assert a_plus["unit"] == "kWh"
    assert a_plus["quality"] == "ok"
    assert str(a_plus["ts"]).endswith("Z")
    assert Decimal(str(a_plus["value"])) == Decimal(meter.register(EnergyKind.A_PLUS, 0)) / 1000
    assert readings["1.0.3.8.2.255"]["unit"] == "kvarh"
    instant = {line["obis"]: line for line in lines if line["stream"] == "instant"}
    assert instant["1.0.32.7.0.255"]["unit"] == "V"
    assert instant["1.0.14.7.0.255"]["unit"] == "Hz"
    info = {line["field"]: line["value"] for line in lines if line["stream"] == "info"}
    assert info["serial_number"] == meter.serial
    assert {"serial_number", "manufactured", "firmware", "vt_ratio", "ct_ratio",
            "meter_constant", "extended_archives"} <= set(info)
    (clock,) = [line for line in lines if line["stream"] == "clock"]
    assert abs(Decimal(str(clock["drift_s"]))) < 2


async def test_a_partly_read_meter_exits_2_and_names_the_failed_stream(
    fleet: SimulatorFleet,
) -> None:
    code, lines, err = await _read(  # no daily archive reaches back to 2000
        fleet, "--address", "8", "--what", "current,daily", "--from", "2000-01-01",
        "--to", "2000-01-02", "--json",
    )
    assert code == 2
    assert {line["stream"] for line in lines} == {"current"}
    (failure,) = [json.loads(line) for line in err.splitlines()]
    assert failure["stream"] == "daily"
    assert failure["error_class"] == "ObjectUnavailableError"


@pytest.mark.parametrize(
    ("mode", "error_class"),
    [(FaultMode.SILENCE, "TransportTimeoutError"), (FaultMode.CORRUPT_CRC, "ChecksumError")],
)
async def test_nothing_read_exits_1_with_a_typed_error(
    fleet: SimulatorFleet, mode: FaultMode, error_class: str
) -> None:
    fleet.meter(7).fault = Fault(mode)
    code, lines, err = await _read(fleet, "--address", "7", "--timeout", "0.3", "--json")
    assert code == 1
    assert lines == []
    assert json.loads(err)["error_class"] == error_class


async def test_a_wrong_password_is_an_authentication_error_that_hides_the_password(
    fleet: SimulatorFleet,
) -> None:
    code, _, err = await _read(fleet, "--address", "7", "--password", "987654", "--json")
    assert code == 1
    assert json.loads(err)["error_class"] == "AuthenticationError"
    assert "987654" not in err


def test_bad_arguments_are_refused_before_any_io(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--protocol", "nosuch", "--tcp", "127.0.0.1:1", "--address", "1"]) == 1
    assert "--protocol 'nosuch' is not known" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["read", "--protocol", "mercury230", "--tcp", "nohostport", "--address", "1"])
    with pytest.raises(SystemExit):
        main(["read", "--protocol", "mercury230", "--tcp", "h:1", "--address", "1", "--what", "x"])


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("read", "sim", "collector", "gateway", "api", "demo"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        assert "usage: isu" in capsys.readouterr().out
