"""The systemd units of the collector, the gateway and the API pass ``systemd-analyze verify``
and are hardened alike; the sample configurations they point at are valid; the udev rules for
RS-485 adapters are well formed and give every adapter to the dialout group."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

import pytest

from collector.config import load_config
from tests.integration.deploy_support import require_tool

TOP = Path(__file__).resolve().parents[2]
UNITS = TOP / "deploy" / "systemd"
UNIT = UNITS / "isu-collector.service"
UDEV = TOP / "deploy" / "udev" / "99-isu-rs485.rules"
SERVICES = ["collector", "gateway", "api"]


def _unit(name: str = "collector") -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / f"isu-{name}.service", encoding="utf-8")
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


@pytest.mark.parametrize("name", SERVICES)
def test_every_unit_runs_its_command_as_isu_hardened_and_logging_to_the_journal(
    name: str,
) -> None:
    unit = _unit(name)
    service = unit["Service"]
    assert service["ExecStart"] == (
        f"/opt/isu-gateway/.venv/bin/isu {name} --config /etc/isu-gateway/{name}.toml"
    )
    assert (service["User"], service["Group"]) == ("isu", "isu")
    assert service["Restart"] == "always"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectControlGroups", "RestrictNamespaces",
                "LockPersonality", "MemoryDenyWriteExecute"):
        assert service[key] == "yes", (name, key)
    assert service["ProtectSystem"] == "strict"
    assert service["StandardOutput"] == "journal"
    assert service["SyslogIdentifier"] == f"isu-{name}"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    # Only the collector opens serial devices; the gateway and the API see none.
    if name == "collector":
        assert service["DevicePolicy"] == "closed"
    else:
        assert service["PrivateDevices"] == "yes"
        assert "SupplementaryGroups" not in service


def test_the_sample_config_keeps_its_queue_in_the_state_directory() -> None:
    config = load_config(TOP / "deploy" / "collector.sample.toml")
    assert str(config.queue.path).startswith("/var/lib/isu-gateway/")


@pytest.mark.parametrize("name", SERVICES)
def test_systemd_analyze_verifies_the_unit(name: str, tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze", "systemd")
    source = UNITS / f"isu-{name}.service"
    # The product is not installed at /opt here: point ExecStart at a binary that exists.
    text = source.read_text(encoding="utf-8").replace("/opt/isu-gateway/.venv/bin/isu", "/bin/true")
    unit = tmp_path / source.name
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert source.name not in done.stderr, done.stderr


# udev: KEY, KEY{attribute}, then an operator, then a double-quoted value (udev(7)).
_PAIR = re.compile(r'\s*([A-Z_]+)(\{[^}]+\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
_MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "KERNELS", "DRIVER", "DRIVERS",
               "ATTR", "ATTRS", "ENV"}
_ASSIGN_KEYS = {"SYMLINK", "GROUP", "MODE", "OWNER", "ATTR", "ENV", "TAG"}


def _udev_rules() -> list[list[tuple[str, str, str]]]:
    rules = []
    for number, line in enumerate(UDEV.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pairs, position = [], 0
        while position < len(line):
            match = _PAIR.match(line, position)
            assert match, f"{UDEV.name}:{number}: cannot parse {line[position:]!r}"
            key, operator, value = match[1], match[3], match[4]
            known = _MATCH_KEYS if operator in {"==", "!="} else _ASSIGN_KEYS
            assert key in known, f"{UDEV.name}:{number}: {key}{operator}"
            pairs.append((key + (match[2] or ""), operator, value))
            position = match.end()
        rules.append(pairs)
    return rules


def test_the_udev_rules_name_adapters_stably_and_give_them_to_dialout() -> None:
    rules = _udev_rules()
    named = [rule for rule in rules if any(key == "SYMLINK" for key, _, _ in rule)]
    assert len(named) >= 5
    vendors = set()
    for rule in named:
        values = {key: value for key, _, value in rule}
        assert values["SUBSYSTEM"] == "tty"
        assert values["SYMLINK"].startswith("rs485/")
        assert (values["GROUP"], values["MODE"]) == ("dialout", "0660")
        # Stable: by the adapter's serial number, or by the USB socket for those without one.
        assert "ATTRS{serial}" in values or "ENV{ID_PATH}" in values
        vendors.add(values["ATTRS{idVendor}"])
    assert {"0403", "1a86"} <= vendors  # FTDI and CH340
    links = [value for rule in named for key, _, value in rule if key == "SYMLINK"]
    assert len(set(links)) == len(links)
