"""The collector's TOML configuration: defaults, and errors that name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import (
    CollectorConfig,
    SerialBusConfig,
    TcpBusConfig,
    load_config,
    read_secret,
)
from core.errors import ConfigError
from core.model import Stream
from drivers.base import available_protocols
from tests.unit.collector.fake_driver import FAKE_PROTOCOL

REPO = Path(__file__).resolve().parents[3]

MINIMAL = f"""
collector_id = "site-1"

[mqtt]
host = "broker.example"

[queue]
path = "/var/lib/isu/queue.sqlite3"

[[bus]]
name = "rs485-1"
transport = "tcp"
host = "10.0.0.5"
port = 4001

[[bus.meter]]
id = "m-001"
protocol = "{FAKE_PROTOCOL}"
address = 17
"""


def _load(tmp_path: Path, text: str) -> CollectorConfig:
    path = tmp_path / "collector.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return str(caught.value)


def test_minimal_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path, MINIMAL)
    assert config.mqtt_username == "site-1"

    assert config.mqtt.port == 1883
    assert config.mqtt.tls is False
    assert config.queue.ack_timeout_s == 60
    assert config.poll.period_s == 60
    (bus,) = config.buses
    assert isinstance(bus, TcpBusConfig)
    (meter,) = bus.meters
    assert meter.streams == (Stream.CURRENT, Stream.INSTANT)
    assert meter.time_zone == "Europe/Moscow"
    assert config.period_of(meter) == 60
    assert config.metrics is None

def test_a_broker_username_other_than_the_collector_id_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('[mqtt]\n', '[mqtt]\nusername = "someone-else"\n', 1)
    assert text != MINIMAL
    with pytest.raises(ConfigError, match="differs from collector_id"):
        _load(tmp_path, text)


def test_serial_bus_and_overrides(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'transport = "tcp"\nhost = "10.0.0.5"\nport = 4001',
        'transport = "serial"\ndevice = "/dev/ttyUSB0"\nparity = "E"\necho = true',
    )
    text += 'period_s = 30\nstreams = ["current"]\nlevel = 1\npassword_encoding = "ascii"\n'
    config = _load(tmp_path, text)
    bus = config.buses[0]
    assert isinstance(bus, SerialBusConfig)
    assert (bus.baud, bus.parity, bus.echo) == (9600, "E", True)
    meter = bus.meters[0]
    assert config.period_of(meter) == 30
    assert meter.streams == (Stream.CURRENT,)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda t: t.replace("address = 17", "adress = 17"), "bus.0.tcp.meter.0.adress"),
        (lambda t: t + "\n[poll]\nperiod = 5\n", "poll.period"),
        (lambda t: t.replace('"site-1"', '"site 1"'), "collector_id"),
        (lambda t: t.replace('"site-1"', '"сайт"'), "collector_id"),
        (lambda t: t.replace(f'"{FAKE_PROTOCOL}"', '"mercury999"'), "bus.0.tcp.meter.0.protocol"),
        (lambda t: t.replace('transport = "tcp"', 'transport = "udp"'), "bus.0"),
        (lambda t: t.replace("address = 17", "address = -1"), "bus.0.tcp.meter.0.address"),
        (lambda t: t + 'time_zone = "Mars/Olympus"\n', "bus.0.tcp.meter.0.time_zone"),
        (lambda t: t + 'streams = ["current", "current"]\n', "bus.0.tcp.meter.0.streams"),
        (lambda t: t + 'streams = ["hourly"]\n', "bus.0.tcp.meter.0.streams.0"),
        (lambda t: t + "streams = []\n", "bus.0.tcp.meter.0.streams"),
        (lambda t: t.replace('host = "broker.example"', 'host = "b"\nca_file = "ca.pem"'), "mqtt"),
        (lambda t: t + 'password_file = "a"\npassword_env = "B"\n', "bus.0.tcp.meter.0"),
        (lambda t: t.replace("port = 4001", "port = 70000"), "bus.0.tcp.port"),
        (lambda t: t + "options = { level = 2 }\n", "bus.0.tcp.meter.0"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, change, key: str) -> None:
    message = _error(tmp_path, change(MINIMAL))
    assert f"  {key}:" in message, message


def test_unknown_protocol_lists_the_known_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL.replace(f'"{FAKE_PROTOCOL}"', '"mercury999"'))
    assert "unknown protocol 'mercury999'" in message
    assert FAKE_PROTOCOL in message


def test_duplicate_meter_id_across_buses(tmp_path: Path) -> None:
    second = MINIMAL[MINIMAL.index("[[bus]]") :].replace('"rs485-1"', '"rs485-2"')
    message = _error(tmp_path, MINIMAL + second)
    assert "meter id 'm-001' is on bus 'rs485-1' and on bus 'rs485-2'" in message


def test_duplicate_meter_id_on_one_bus(tmp_path: Path) -> None:
    meter = MINIMAL[MINIMAL.index("[[bus.meter]]") :]
    assert "appears twice on bus 'rs485-1'" in _error(tmp_path, MINIMAL + meter)


def test_duplicate_bus_name(tmp_path: Path) -> None:
    second = MINIMAL[MINIMAL.index("[[bus]]") :].replace('"m-001"', '"m-002"')
    assert "bus name 'rs485-1' is used twice" in _error(tmp_path, MINIMAL + second)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid TOML" in _error(tmp_path, "collector_id = ")
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")


def test_secrets_come_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "mqtt.password"
    secret_file.write_text("s3cret-file\n", encoding="utf-8")
    config = _load(
        tmp_path,
        MINIMAL.replace('host = "broker.example"', f'host = "b"\npassword_file = "{secret_file}"'),
    )
    password = read_secret(config.mqtt, "[mqtt]")
    assert password is not None
    assert password.get_secret_value() == "s3cret-file"
    assert "s3cret" not in repr(password)

    monkeypatch.setenv("ISU_TEST_METER_PASSWORD", "111111")
    config = _load(tmp_path, MINIMAL + 'password_env = "ISU_TEST_METER_PASSWORD"\n')
    meter = config.buses[0].meters[0]
    secret = read_secret(meter, "meter m-001")
    assert secret is not None
    assert secret.get_secret_value() == "111111"
    assert "111111" not in repr(config)

    monkeypatch.delenv("ISU_TEST_METER_PASSWORD")
    with pytest.raises(ConfigError, match="ISU_TEST_METER_PASSWORD is not set"):
        read_secret(meter, "meter m-001")
    assert read_secret(config.mqtt, "[mqtt]") is None


def test_unreadable_password_file_is_a_config_error(tmp_path: Path) -> None:
    config = _load(tmp_path, MINIMAL + f'password_file = "{tmp_path / "absent"}"\n')
    with pytest.raises(ConfigError, match=r"meter m-001: password_file: .* cannot be read"):
        read_secret(config.buses[0].meters[0], "meter m-001")


def test_metrics_listen_address(tmp_path: Path) -> None:
    config = _load(
        tmp_path, MINIMAL.replace("[queue]", '[metrics]\nlisten = "127.0.0.1:9108"\n\n[queue]')
    )
    assert config.metrics is not None
    assert config.metrics.address == ("127.0.0.1", 9108)
    assert "metrics.listen" in _error(
        tmp_path, MINIMAL.replace("[queue]", '[metrics]\nlisten = "x"\n\n[queue]')
    )


def test_sample_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    if "mercury230" not in available_protocols():
        pytest.skip("the mercury230 driver is not registered yet (drivers/mercury in progress)")
    monkeypatch.setenv("ISU_MQTT_PASSWORD", "x")
    config = load_config(REPO / "deploy" / "collector.sample.toml")
    assert [len(bus.meters) for bus in config.buses] == [2, 1, 2]
    assert config.buses[1].meters[0].protocol == "dlms"
    assert {meter.protocol for meter in config.buses[2].meters} == {"modbus"}


def test_a_stream_the_protocol_cannot_read_is_refused_at_start_up(tmp_path: Path) -> None:
    text = MINIMAL + 'streams = ["current", "daily"]\n'
    with pytest.raises(ConfigError, match=f"protocol {FAKE_PROTOCOL} cannot read daily"):
        _load(tmp_path, text)


def test_a_register_capacity_is_integer_and_fraction_digits(tmp_path: Path) -> None:
    assert _load(tmp_path, MINIMAL + 'capacity = "6.2"\n').buses[0].meters[0].capacity == "6.2"
    with pytest.raises(ConfigError, match="capacity"):
        _load(tmp_path, MINIMAL + 'capacity = "six"\n')
