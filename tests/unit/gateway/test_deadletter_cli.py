"""``isu deadletter`` arguments and the exit status of a configuration that cannot be used
(the commands against a real database are in tests/integration/test_deadletters.py)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.deadletter_cli import add_deadletter_arguments, run_deadletter


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_deadletter_arguments(parser)
    return parser.parse_args(argv)


def test_list_takes_its_filters() -> None:
    args = parse("list", "--config", "g.toml", "--reason", "future", "--since",
                 "2024-03-01T10:00:00+03:00", "--limit", "5", "--json")
    assert (args.action, args.reason, args.limit, args.json) == ("list", "future", 5, True)
    assert args.since == datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=3)))


def test_a_time_without_offset_is_utc() -> None:
    assert parse("list", "--config", "g.toml", "--since", "2024-03-01").since == datetime(
        2024, 3, 1, tzinfo=UTC)


def test_replay_takes_ids_in_one_or_several_options() -> None:
    args = parse("replay", "--config", "g.toml", "--id", "3", "4", "--id", "9", "--dry-run")
    assert (args.ids, args.all, args.dry_run) == ([3, 4, 9], False, True)
    assert parse("replay", "--config", "g.toml", "--all").all


@pytest.mark.parametrize("argv", [
    ("replay", "--config", "g.toml"),                             # neither --id nor --all
    ("replay", "--config", "g.toml", "--id", "1", "--all"),       # both
    ("replay", "--config", "g.toml", "--id", "0"),
    ("replay", "--config", "g.toml", "--id", "x"),
    ("list", "--config", "g.toml", "--limit", "0"),
    ("list", "--config", "g.toml", "--since", "yesterday"),
    ("list",),                                                     # --config is required
    (),                                                            # an action is required
])
def test_bad_usage_exits_with_status_2(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse(*argv)
    assert caught.value.code == 2


def test_a_config_that_cannot_be_used_is_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[database]\ndsn_file = "absent.dsn"\n', encoding="utf-8")
    assert run_deadletter(parse("list", "--config", str(config))) == 2
    assert "absent.dsn" in capsys.readouterr().err
    assert run_deadletter(parse("replay", "--config", str(tmp_path / "none.toml"), "--all")) == 2

