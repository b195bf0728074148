"""The systemd unit of the collector passes ``systemd-analyze verify``, and the sample
configuration it points at is valid and keeps the queue in the unit's state directory."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from collector.config import load_config

TOP = Path(__file__).resolve().parents[2]
UNIT = TOP / "deploy" / "systemd" / "isu-collector.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    return parser


def test_the_collector_unit_is_hardened_and_restarts() -> None:
    service = _unit()["Service"]
    assert service["User"] == "isu"
    assert service["SupplementaryGroups"] == "dialout"
    assert service["Restart"] == "always"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "isu-gateway"
    assert service["ExecStart"].endswith("isu collector --config /etc/isu-gateway/collector.toml")


def test_the_sample_config_keeps_its_queue_in_the_state_directory() -> None:
    config = load_config(TOP / "deploy" / "collector.sample.toml")
    assert str(config.queue.path).startswith("/var/lib/isu-gateway/")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # The product is not installed at /opt here: point ExecStart at a binary that exists.
    text = UNIT.read_text(encoding="utf-8").replace("/opt/isu-gateway/.venv/bin/isu", "/bin/true")
    unit = tmp_path / UNIT.name
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "isu-collector.service" not in done.stderr, done.stderr
