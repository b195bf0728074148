"""``isu gateway`` arguments and ``--check``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway.cli import add_gateway_arguments, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_gateway_arguments(parser)
    return parser.parse_args(argv)


def test_check_accepts_a_valid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dsn").write_text("postgresql://gw:pw@db/isu\n", encoding="utf-8")
    config = tmp_path / "gateway.toml"
    config.write_text(f'[database]\ndsn_file = "{tmp_path / "dsn"}"\n', encoding="utf-8")

    assert run(parse("--config", str(config), "--check")) == 0
    out = capsys.readouterr()
    assert out.out.strip().endswith(": ok")
    assert "pw@db" not in out.out + out.err


def test_check_reports_a_missing_secret_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[database]\ndsn_file = "/nonexistent/dsn"\n', encoding="utf-8")

    assert run(parse("--config", str(config), "--check")) == 2
    assert "/nonexistent/dsn" in capsys.readouterr().err


def test_a_missing_config_is_exit_status_2(tmp_path: Path) -> None:
    assert run(parse("--config", str(tmp_path / "absent.toml"))) == 2


def test_config_is_required() -> None:
    with pytest.raises(SystemExit):
        parse()
