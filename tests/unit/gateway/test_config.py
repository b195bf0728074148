"""Gateway configuration: defaults, secrets from files or the environment, cross-checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from gateway.config import GatewayConfig, load_gateway_config, parse_listen

SAMPLE = Path(__file__).parents[3] / "deploy" / "gateway.sample.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_file_takes_the_defaults(tmp_path: Path) -> None:
    config = load_gateway_config(write(tmp_path, '[database]\ndsn = "postgresql:///isu"\n'))

    assert config.mqtt.host == "127.0.0.1"
    assert config.mqtt.port == 1883
    assert config.mqtt.client_id == "isu-gateway"
    assert config.mqtt.protocol == "5"
    assert config.mqtt.topic_filters == ["isu/v1/+/+/+"]
    assert config.batch.max_messages == 500
    assert config.batch.max_delay_s == 0.2
    assert config.metrics.address is None
    assert config.database.read_dsn() == "postgresql:///isu"


def test_the_sample_config_is_valid() -> None:
    config = load_gateway_config(SAMPLE)
    assert config.mqtt.topic_filters == ["$share/isu-gateway/isu/v1/+/+/+"]
    assert config.metrics.address == ("127.0.0.1", 9108)


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\ndsn = "x"\n[batch]\nmax_mesages = 5\n')
    with pytest.raises(ConfigError, match=r"batch\.max_mesages"):
        load_gateway_config(path)


def test_the_database_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs dsn, dsn_file or dsn_env"):
        load_gateway_config(write(tmp_path, "[database]\n"))
    with pytest.raises(ConfigError, match="only one of dsn, dsn_file"):
        load_gateway_config(write(tmp_path, '[database]\ndsn = "a"\ndsn_file = "b"\n'))


def test_secrets_come_from_files_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mqtt.pw").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("ISU_TEST_DSN", "postgresql://gw:pw@db/isu")
    config = GatewayConfig.model_validate({
        "mqtt": {"username": "gateway", "password_file": tmp_path / "mqtt.pw"},
        "database": {"dsn_env": "ISU_TEST_DSN"},
    })

    assert config.mqtt.read_password() == "s3cret"
    assert config.database.read_dsn() == "postgresql://gw:pw@db/isu"
    assert "pw@db" not in repr(config)
    assert "s3cret" not in repr(config)


def test_an_inline_dsn_is_never_shown() -> None:
    config = GatewayConfig.model_validate({"database": {"dsn": "postgresql://u:hunter2@h/d"}})
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.database)


def test_missing_secrets_are_config_errors(tmp_path: Path) -> None:
    config = GatewayConfig.model_validate({
        "mqtt": {"username": "gw", "password_file": tmp_path / "absent"},
        "database": {"dsn_env": "ISU_TEST_UNSET_VARIABLE"},
    })
    with pytest.raises(ConfigError, match="absent"):
        config.mqtt.read_password()
    with pytest.raises(ConfigError, match="ISU_TEST_UNSET_VARIABLE is not set"):
        config.database.read_dsn()


def test_a_password_needs_a_username() -> None:
    with pytest.raises(ValueError, match="needs a username"):
        GatewayConfig.model_validate({"mqtt": {"password_env": "X"}, "database": {"dsn": "x"}})


def test_shared_group_and_collectors_shape_the_subscriptions() -> None:
    config = GatewayConfig.model_validate({
        "mqtt": {"shared_group": "ingest", "collectors": ["site-1", "site-2"]},
        "database": {"dsn": "x"},
    })
    assert config.mqtt.topic_filters == [
        "$share/ingest/isu/v1/site-1/+/+", "$share/ingest/isu/v1/site-2/+/+",
    ]


@pytest.mark.parametrize("bad", [{"client_id": "a/b"}, {"shared_group": "a+b"},
                                 {"collectors": ["#"]}, {"port": 0}, {"protocol": "4"}])
def test_malformed_mqtt_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="mqtt"):
        GatewayConfig.model_validate({"mqtt": bad, "database": {"dsn": "x"}})


def test_the_receive_window_must_hold_a_batch() -> None:
    with pytest.raises(ValueError, match=r"receive_maximum must be at least batch\.max_messages"):
        GatewayConfig.model_validate({
            "mqtt": {"receive_maximum": 100}, "database": {"dsn": "x"},
            "batch": {"max_messages": 500},
        })


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9108", ("127.0.0.1", 9108)),
    ("[::1]:9108", ("::1", 9108)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
])
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9108", ":9108", "host:", "host:http", "host:70000"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError, match=r"listen|host:port|out of range"):
        GatewayConfig.model_validate({"database": {"dsn": "x"}, "metrics": {"listen": text}})


def test_the_future_limit_defaults_to_five_minutes_and_can_be_set(tmp_path: Path) -> None:
    default = load_gateway_config(write(tmp_path, '[database]\ndsn = "x"\n'))
    assert default.validation.max_future_s == 300
    tight = load_gateway_config(
        write(tmp_path, '[database]\ndsn = "x"\n[validation]\nmax_future_s = 30\n'))
    assert tight.validation.max_future_s == 30
    with pytest.raises(ConfigError, match=r"validation\.max_future_s"):
        load_gateway_config(
            write(tmp_path, '[database]\ndsn = "x"\n[validation]\nmax_future_s = -1\n'))


def test_relative_secret_files_are_read_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db.dsn").write_text("postgresql:///beside\n", encoding="utf-8")
    (tmp_path / "mqtt.pw").write_text("pw\n", encoding="utf-8")
    path = write(
        tmp_path,
        '[mqtt]\nusername = "gw"\npassword_file = "mqtt.pw"\n\n[database]\ndsn_file = "db.dsn"\n',
    )
    monkeypatch.chdir("/")
    config = load_gateway_config(path)
    assert config.database.read_dsn() == "postgresql:///beside"
    assert config.mqtt.read_password() == "pw"
