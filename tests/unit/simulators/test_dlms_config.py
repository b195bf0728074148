"""The DLMS fleet file (``protocol = "dlms"``): the sample, defaults, addresses, secrets, faults,
errors that name the key, and ``isu sim --config`` building the fleet."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.config import format_validation_error, load_toml
from core.errors import ConfigError
from drivers.dlms.security import GmacSecurity
from simulators.cli import add_sim_arguments
from simulators.dlms.application import system_title
from simulators.dlms.cli import build_fleet
from simulators.dlms.config import DlmsFleetConfig
from simulators.dlms.faults import DlmsFault
from simulators.dlms.fleet import DlmsFleet
from simulators.dlms.protocol import HdlcLine, HdlcServer, WrapperServer
from simulators.mercury230.clock import ManualClock

SAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "sim" / "dlms.sample.toml"
START = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


def clock() -> ManualClock:
    return ManualClock(START)


def document(*meters: dict[str, Any], **bus: Any) -> dict[str, Any]:
    line = {"listen": "127.0.0.1:0", **bus, "meter": list(meters) or [{}]}
    return {"protocol": "dlms", "bus": [line]}


def fleet_of(data: dict[str, Any]) -> DlmsFleet:
    return DlmsFleet.from_config(DlmsFleetConfig.model_validate(data), clock=clock())


def test_the_sample_validates_and_builds() -> None:
    config = load_toml(SAMPLE, DlmsFleetConfig)
    assert config.control is not None
    fleet = DlmsFleet.from_config(config, clock=clock())
    wrapper, line = fleet.buses
    assert (wrapper.name, wrapper.transport, wrapper.addresses) == (
        "substation-wrapper", "wrapper", [16])
    assert (line.name, line.transport, line.addresses) == ("flats-hdlc", "hdlc", [17, 18, 19])
    assert [m.settings.seed for m in fleet.meters] == [1, 2, 3, 4]
    assert [m.settings.serial for m in fleet.meters] == [
        "50000016", "50100017", "50100018", "50100019"]
    assert line.faults == [None, DlmsFault("corrupt_crc", 0.05), DlmsFault("slow", delay_s=0.5)]
    assert line.inter_octet_s == 0.5
    assert wrapper.block_size == 512
    assert fleet.meter(17).drift_s == 95
    assert fleet.meter(17).settings.time_zone == "Asia/Yekaterinburg"
    levels = wrapper.levels[0]
    assert levels is not None
    assert (levels[32].secret, levels[48].secret) == (b"12345678", b"1234567812345678")
    hls = line.levels[0]
    assert hls is not None
    assert isinstance(hls[48].hls, GmacSecurity)
    assert line.levels[1:] == [None, None]
    assert isinstance(wrapper.make_link(), WrapperServer)
    assert isinstance(line.make_link(), HdlcLine)


def test_defaults() -> None:
    config = DlmsFleetConfig.model_validate(document())
    (bus,) = config.bus
    assert (bus.transport, bus.max_info, bus.block_size, bus.gap_s) == ("hdlc", 128, 1024, 0.5)
    assert config.control is None
    fleet = DlmsFleet.from_config(config, clock=clock())
    (simulator,) = fleet.buses
    meter = simulator.meter
    assert simulator.addresses == [16]
    assert simulator.meter_ids == ["dlms-50000016"]
    assert simulator.levels == [None]  # the application's own: 12345678, 1234567812345678
    assert simulator.faults == [None]
    settings = meter.settings
    assert (settings.serial, settings.seed, settings.history_days) == ("50000016", 0, 7)
    assert (settings.profile_period_s, settings.time_zone, settings.drift_s) == (
        1800, "Europe/Moscow", 0.0)
    assert settings.schedule.name == "two-zone"
    assert settings.manufactured == date(2023, 6, 1)
    assert isinstance(simulator.make_link(), HdlcServer)
    assert fleet.describe()["buses"][0]["name"] == "bus-1"


def test_consecutive_and_listed_addresses_and_meter_keys() -> None:
    fleet = fleet_of(document(
        {"address": 30}, {}, {"address": 40, "serial": "7700123", "meter_id": "flat-9"},
        {"seed": 99, "profile_period_min": 15, "history_days": 0, "frozen": True,
         "model": "ПСЧ-4ТМ.05МК", "firmware": "2.1.4", "manufactured": date(2021, 1, 2)}))
    (simulator,) = fleet.buses
    assert simulator.addresses == [30, 31, 40, 41]
    assert simulator.meter_ids == ["dlms-50000030", "dlms-50000031", "flat-9", "dlms-50000041"]
    assert fleet.meter("flat-9") is fleet.meter(40) is fleet.meter("7700123")
    last = fleet.meter(41).settings
    assert (last.seed, last.profile_period_s, last.frozen, last.model, last.firmware) == (
        99, 900, True, "ПСЧ-4ТМ.05МК", "2.1.4")
    assert [m.settings.seed for m in fleet.meters[:3]] == [0, 1, 2]


def test_secrets_and_faults_reach_the_links() -> None:
    fleet = fleet_of(document(
        {"reader_password": "reader-1", "fault": {"mode": "silence"}},
        {"configurator_password": "conf-2", "fault": {"mode": "slow", "delay_s": 0.25}}))
    (simulator,) = fleet.buses
    first, second = simulator.levels
    assert first is not None
    assert second is not None
    assert (first[32].secret, first[48].secret) == (b"reader-1", b"1234567812345678")
    assert (second[32].secret, second[48].secret) == (b"12345678", b"conf-2")
    link = simulator.make_link()
    assert isinstance(link, HdlcLine)
    assert [server.application.levels[32].secret for server in link.servers] == [
        b"reader-1", b"12345678"]
    assert link.servers[0].faults.silent
    assert link.servers[1].faults.delay_s == 0.25
    # A fault set now reaches the open link; a link forgotten (its client gone) is left alone.
    simulator.set_fault(0, None)
    assert not link.servers[0].faults.silent
    simulator.forget(link)
    simulator.set_fault(1, DlmsFault("corrupt_crc", 0.5))
    assert link.servers[1].faults.delay_s == 0.25
    fresh = simulator.make_link()
    assert isinstance(fresh, HdlcLine)
    assert fresh.servers[1].faults.corrupt_share == 0.5


def test_an_hls_gmac_configurator() -> None:
    fleet = fleet_of(document({"configurator": "hls-gmac", "reader_password": "reader-1"},
                              {"serial": "771234", "configurator": "hls-gmac"}))
    (simulator,) = fleet.buses
    for levels, serial in zip(simulator.levels, ("50000016", "771234"), strict=True):
        assert levels is not None
        hls = levels[48].hls
        assert isinstance(hls, GmacSecurity)
        assert hls.system_title == system_title(serial)
    first = simulator.levels[0]
    assert first is not None
    assert first[32].secret == b"reader-1"
    for meter, problem in [
        ({"configurator": "hls-gmac", "configurator_password": "x"}, "configurator_password"),
        ({"configurator": "hls-gmac", "serial": "AB12"}, "at most 12 digits"),
        ({"configurator": "hls"}, "'lls' or 'hls-gmac'"),
    ]:
        with pytest.raises(ValidationError, match=problem):
            DlmsFleetConfig.model_validate(document(meter))


def test_secrets_stay_out_of_messages() -> None:
    config = DlmsFleetConfig.model_validate(document({"reader_password": "s3cr3t-Pass"}))
    assert "s3cr3t-Pass" not in repr(config)
    with pytest.raises(ValidationError) as caught:
        DlmsFleetConfig.model_validate(document({"reader_password": "s3cr3t-Pass", "x": 1}))
    message = format_validation_error(caught.value, "fleet.toml")  # what isu sim prints
    assert "bus.0.meter.0.x" in message
    assert "s3cr3t-Pass" not in message


@pytest.mark.parametrize(("meter", "bus", "where", "problem"), [
    ({"colour": "red"}, {}, "bus.0.meter.0.colour", "Extra inputs"),
    ({"address": 5}, {}, "bus.0.meter.0.address", "greater than or equal to 16"),
    ({"address": 16384}, {}, "bus.0.meter.0.address", "less than or equal to 16383"),
    ({"serial": "50 00"}, {}, "bus.0.meter.0.serial", "pattern"),
    ({"meter_id": "a/b"}, {}, "bus.0.meter.0.meter_id", "pattern"),
    ({"schedule": "five-zone"}, {}, "bus.0.meter.0.schedule", "five-zone"),
    ({"time_zone": "Mars/Olympus"}, {}, "bus.0.meter.0.time_zone", "time zone"),
    ({"profile_period_min": 7}, {}, "bus.0.meter.0.profile_period_min", "divide the day"),
    ({"history_days": -1}, {}, "bus.0.meter.0.history_days", "greater than or equal"),
    ({"model": "メーター"}, {}, "bus.0.meter.0.model", "cp1251"),
    ({"reader_password": ""}, {}, "bus.0.meter.0.reader_password", "1..64 bytes"),
    ({"fault": {"mode": "truncate"}}, {}, "bus.0.meter.0.fault.mode", "silence"),
    ({"fault": {"mode": "silence", "probability": 0.5}}, {}, "bus.0.meter.0.fault",
     "probability goes with corrupt_crc"),
    ({"fault": {"mode": "corrupt_crc", "delay_s": 1}}, {}, "bus.0.meter.0.fault",
     "delay_s goes with slow"),
    ({"fault": {"mode": "corrupt_crc", "probability": 2}}, {}, "bus.0.meter.0.fault.probability",
     "less than or equal"),
    ({}, {"transport": "iec"}, "bus.0.transport", "'hdlc' or 'wrapper'"),
    ({}, {"max_info": 8}, "bus.0.max_info", "greater than or equal to 32"),
    ({}, {"block_size": -1}, "bus.0.block_size", "greater than or equal to 0"),
    ({}, {"gap_s": 0}, "bus.0.gap_s", "greater than 0"),
    ({}, {"speed": 2}, "bus.0.speed", "Extra inputs"),
    ({}, {"transport": "wrapper", "max_info": 256}, "bus.0", "max_info applies to hdlc"),
    ({}, {"baud": 19200}, "bus.0", "serial_pty buses only"),
    ({}, {"listen": "nowhere"}, "bus.0.listen", "pattern"),
])
def test_errors_name_the_key(meter: dict[str, Any], bus: dict[str, Any], where: str,
                             problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DlmsFleetConfig.model_validate(document(meter, **bus))
    text = str(caught.value)
    assert where in text
    assert problem in text


def test_line_rules_name_the_bus() -> None:
    with pytest.raises(ValidationError, match=r"bus\.0\n.*one meter"):
        DlmsFleetConfig.model_validate(document({}, {}, transport="wrapper"))
    with pytest.raises(ValidationError, match=r"bus\.0\n.*carries hdlc, not the wrapper"):
        DlmsFleetConfig.model_validate({"protocol": "dlms", "bus": [
            {"serial_pty": True, "transport": "wrapper", "meter": [{}]}]})
    with pytest.raises(ValidationError, match=r"bus\.0\n.*meter\.1\.address: 17 is meter\.0's"):
        DlmsFleetConfig.model_validate(document({"address": 17}, {"address": 17}))
    with pytest.raises(ValidationError, match=r"meter\.2\.address: 17 is meter\.0's"):
        DlmsFleetConfig.model_validate(document({"address": 17}, {"address": 16}, {}))
    with pytest.raises(ValidationError, match=r"bus\.0\n.*listen is required"):
        DlmsFleetConfig.model_validate({"protocol": "dlms", "bus": [{"meter": [{}]}]})


def test_meter_ids_are_unique_across_buses() -> None:
    data = document({"meter_id": "same"})
    data["bus"].append({"listen": "127.0.0.1:0", "meter": [{"meter_id": "same"}]})
    with pytest.raises(ValidationError, match=r"bus\.1\.meter\.0\.meter_id: 'same'"):
        DlmsFleetConfig.model_validate(data)
    # Default serials differ from bus to bus, so the same address on two buses is fine.
    data["bus"][1]["meter"] = [{}]
    data["bus"][0]["meter"] = [{}]
    fleet = fleet_of(data)
    assert [bus.meter_ids for bus in fleet.buses] == [["dlms-50000016"], ["dlms-50100016"]]


def test_the_protocol_key_is_required_and_checked() -> None:
    with pytest.raises(ValidationError, match="protocol"):
        DlmsFleetConfig.model_validate({"bus": document()["bus"]})
    with pytest.raises(ValidationError, match="protocol"):
        DlmsFleetConfig.model_validate({**document(), "protocol": "mercury230"})
    with pytest.raises(ValidationError, match="bus"):
        DlmsFleetConfig.model_validate({"protocol": "dlms", "bus": []})


def test_config_is_frozen() -> None:
    config = DlmsFleetConfig.model_validate(document())
    with pytest.raises(ValidationError):
        config.seed = 5  # type: ignore[misc]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="isu sim")
    add_sim_arguments(parser)
    return parser.parse_args(list(argv))


def test_isu_sim_config_builds_the_fleet_with_a_control_override(tmp_path: Path) -> None:
    fleet = build_fleet(_args("--config", str(SAMPLE), "--control", "127.0.0.1:0"), clock())
    assert fleet.control is not None
    assert fleet.control.listen == "127.0.0.1:0"
    assert len(fleet.meters) == 4
    with pytest.raises(ConfigError, match="not both"):
        build_fleet(_args("dlms", "--config", str(SAMPLE)), clock())
    with pytest.raises(ConfigError, match="--control"):
        build_fleet(_args("--config", str(SAMPLE), "--control", "nowhere"), clock())
    bad = tmp_path / "fleet.toml"
    bad.write_text('protocol = "dlms"\n[[bus]]\nlisten = "127.0.0.1:0"\n'
                   '[[bus.meter]]\naddress = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bus\.0\.meter\.0\.address"):
        build_fleet(_args("--config", str(bad)), clock())


def test_isu_sim_dlms_is_a_fleet_of_one_bus() -> None:
    fleet = build_fleet(_args("dlms", "--meters", "2", "--history-days", "0", "--fault", "slow",
                              "--fault-delay-s", "0.2", "--control", "127.0.0.1:0"), clock())
    (simulator,) = fleet.buses
    assert simulator.addresses == [16, 17]
    assert simulator.faults == [DlmsFault("slow", delay_s=0.2)] * 2
    assert fleet.control is not None
    assert fleet.describe()["buses"][0]["meters"][1] == {
        "address": 17, "serial": "50000017", "meter_id": "dlms-50000017"}
