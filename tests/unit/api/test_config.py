"""``isu api`` configuration (api.config) and its command-line entry (api.cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.cli import add_api_arguments, run
from api.config import ApiConfig, load_api_config
from core.errors import ConfigError

SAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "api.sample.toml"
DSN = "postgresql://isu_api:s3cret@127.0.0.1:5432/isu"


def write(folder: Path, text: str) -> Path:
    path = folder / "api.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    config = load_api_config(write(tmp_path, f'[database]\ndsn = "{DSN}"\n'))
    assert (config.http.host, config.http.port) == ("127.0.0.1", 8080)
    assert config.time_zone == "Europe/Moscow"
    assert config.database.resolved_dsn() == DSN
    assert "s3cret" not in repr(config)


def test_relative_dsn_file_is_read_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "api.dsn").write_text(DSN + "\n", encoding="utf-8")
    config = load_api_config(write(tmp_path, '[database]\ndsn_file = "secrets/api.dsn"\n'))
    assert config.database.dsn_file == tmp_path / "secrets" / "api.dsn"
    assert config.database.resolved_dsn() == DSN


def test_the_sample_config_is_valid_apart_from_its_dsn_file(tmp_path: Path) -> None:
    dsn_file = tmp_path / "api.dsn"
    dsn_file.write_text(DSN, encoding="utf-8")
    text = SAMPLE.read_text(encoding="utf-8").replace("/etc/isu/api.dsn", str(dsn_file))
    config = load_api_config(write(tmp_path, text))
    assert config.database.resolved_dsn() == DSN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[database]\n", "exactly one of dsn and dsn_file"),
        (f'[database]\ndsn = "{DSN}"\ndsn_file = "x"\n', "exactly one of dsn and dsn_file"),
        (f'time_zone = "Mars/Olympus"\n[database]\ndsn = "{DSN}"\n', "unknown time zone"),
        (f'[http]\nport = 70000\n[database]\ndsn = "{DSN}"\n', "http.port"),
        (f'[http]\nprot = 1\n[database]\ndsn = "{DSN}"\n', "http.prot"),
        (f'[database]\ndsn = "{DSN}"\nmin_connections = 5\nmax_connections = 2\n', "exceeds"),
        ('[database]\ndsn_file = "missing.dsn"\n', "cannot be read"),
        ("[database\n", "not valid TOML"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_api_config(write(tmp_path, text))


def test_an_empty_dsn_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "api.dsn").write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_api_config(write(tmp_path, '[database]\ndsn_file = "api.dsn"\n'))


def test_config_is_frozen() -> None:
    config = ApiConfig.model_validate({"database": {"dsn": DSN}})
    with pytest.raises(ValidationError):
        config.time_zone = "UTC"  # type: ignore[misc]


def test_run_reports_a_bad_config_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_api_arguments(parser)
    args = parser.parse_args(["--config", str(tmp_path / "absent.toml")])
    assert run(args) == 1
    assert "no such configuration file" in capsys.readouterr().err


def test_config_option_is_required() -> None:
    parser = argparse.ArgumentParser()
    add_api_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([])
