"""The ``isu`` command loads only the command it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from isu.cli import build_parser

_PROBE = """
import json, sys
from isu.cli import build_parser
args = build_parser(sys.argv[1:]).parse_args(sys.argv[1:])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & {
    "api", "collector", "drivers", "gateway", "simulators", "timeseries", "fastapi"})))
"""


@pytest.mark.parametrize(
    ("argv", "loaded", "not_loaded"),
    [
        (
            ["gateway", "--config", "g.toml"],
            {"gateway"},
            {"api", "simulators", "drivers", "collector", "fastapi"},
        ),
        (
            ["--log-level", "DEBUG", "collector", "--config", "c.toml"],
            {"collector"},
            {"api", "simulators", "gateway", "fastapi"},
        ),
        (["registry", "schema"], {"timeseries"}, {"api", "simulators", "drivers", "collector"}),
        (
            ["api-key", "list"],
            {"timeseries"},
            {"api", "fastapi", "simulators", "drivers", "collector"},
        ),
    ],
)
def test_a_command_imports_only_its_own_parts(
    argv: list[str], loaded: set[str], not_loaded: set[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = set(json.loads(done.stdout))
    assert loaded <= modules
    assert not modules & not_loaded


def test_without_argv_every_command_is_configured() -> None:
    parser = build_parser()
    for argv in (
        ["gateway", "--config", "g.toml"],
        ["registry", "schema"],
        ["collector", "--config", "c.toml", "--check"],
    ):
        assert parser.parse_args(argv).handler is not None


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(["--help"]).parse_args(["--help"])
    shown = capsys.readouterr().out
    commands = ("read", "sim", "collector", "gateway", "api", "registry", "api-key")
    for name in (*commands, "deadletter", "demo"):
        assert f"    {name}" in shown


@pytest.mark.parametrize(
    ("argv", "scopes"),
    [
        (["--contract", "77"], [("77", ())]),
        (
            [
                "--contract",
                "77",
                "--energy-object",
                "1",
                "--energy-object",
                "2",
                "--contract",
                "78",
            ],
            [("77", ("1", "2")), ("78", ())],
        ),
    ],
)
def test_api_key_energy_objects_belong_to_the_contract_before_them(
    argv: list[str], scopes: list[tuple[str, tuple[str, ...]]]
) -> None:
    full = ["api-key", "create", "--name", "k", *argv]
    args = build_parser(full).parse_args(full)
    assert [(scope.contract, scope.energy_objects) for scope in args.scopes] == scopes
    assert args.admin is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--energy-object", "1", "--contract", "77"], "must follow the --contract"),
        (["--admin", "--contract", "77"], "not allowed with argument"),
        ([], "one of the arguments --contract --admin is required"),
    ],
)
def test_api_key_create_refuses_bad_scopes(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    full = ["api-key", "create", "--name", "k", *argv]
    with pytest.raises(SystemExit) as stopped:
        build_parser(full).parse_args(full)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
