"""``isu deadletter list|replay --config FILE``: inspect and re-ingest dead-lettered messages.

``--config`` is the gateway's TOML file: its ``[database]`` section (and secret) names the
database, and ``[validation]`` the limits that a replay applies.

Exit status: 0 when the listing worked, or when every letter asked for was stored (or would be,
with ``--dry-run``, or had been already); 1 when a letter is still bad or not found, or the
database failed; 2 for bad usage or a configuration that cannot be used.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ConfigError, StorageError
from core.model import format_utc
from gateway.config import GatewayConfig, load_gateway_config
from gateway.deadletters import (
    DeadLetterRecord,
    Outcome,
    ReplayReport,
    list_dead_letters,
    replay_dead_letters,
)

__all__ = ["add_deadletter_arguments", "run_deadletter"]

_DEFAULT_LIMIT = 100


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", required=True, type=Path, metavar="FILE",
        help="the gateway's TOML configuration: [database] and [validation] are used",
    )


def add_deadletter_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="show dead letters, newest first")
    _add_config(listing)
    listing.add_argument("--reason", metavar="TEXT",
                         help="only letters whose reason contains TEXT (any case)")
    listing.add_argument("--since", metavar="T", type=_instant,
                         help="only letters first received at or after T "
                              "(ISO 8601; without an offset, UTC)")
    listing.add_argument("--limit", metavar="N", type=_positive, default=_DEFAULT_LIMIT,
                         help=f"at most N letters (default {_DEFAULT_LIMIT})")
    listing.add_argument("--json", action="store_true",
                         help="one JSON object per letter and line, with the payload")
    replay = actions.add_parser(
        "replay", help="check letters with today's rules and store those that pass"
    )
    _add_config(replay)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="ids", metavar="N", type=_positive, nargs="+",
                       action="extend", help="these letters (repeatable)")
    which.add_argument("--all", action="store_true", help="every letter not yet replayed")
    replay.add_argument("--dry-run", action="store_true",
                        help="check and report, write nothing")


def _letter_json(letter: DeadLetterRecord) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": letter.id,
        "received_at": format_utc(letter.received_at),
        "last_received_at": format_utc(letter.last_received_at),
        "deliveries": letter.deliveries,
        "topic": letter.topic,
        "reason": letter.reason,
        "payload_bytes": letter.size,
        "replayed_at": format_utc(letter.replayed_at) if letter.replayed_at else None,
    }
    try:
        document["payload"] = letter.payload.decode("utf-8")
    except UnicodeDecodeError:
        document["payload_base64"] = base64.b64encode(letter.payload).decode("ascii")
    return document


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _print_table(letters: list[DeadLetterRecord]) -> None:
    header = ("ID", "RECEIVED_AT", "DELIVERIES", "BYTES", "REPLAYED_AT", "TOPIC", "REASON")
    rows = [
        (str(letter.id), format_utc(letter.received_at), str(letter.deliveries),
         str(letter.size), format_utc(letter.replayed_at) if letter.replayed_at else "-",
         _one_line(letter.topic), _one_line(letter.reason))
        for letter in letters
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(6)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:6], widths, strict=True)]
        print("  ".join([*cells, row[6]]))


def _run_list(args: argparse.Namespace, config: GatewayConfig, dsn: str) -> int:
    letters = list_dead_letters(dsn, reason=args.reason, since=args.since, limit=args.limit,
                                timeout_s=config.database.timeout_s)
    if args.json:
        for letter in letters:
            print(json.dumps(_letter_json(letter), ensure_ascii=False))
    elif letters:
        _print_table(letters)
    else:
        print("no dead letters", file=sys.stderr)
    return 0


def _report_line(report: ReplayReport) -> str:
    line = f"{report.id}: {report.outcome.value}"
    if report.outcome is Outcome.STILL_BAD:
        line += f" ({report.kind.value if report.kind else '?'}): {_one_line(report.reason or '')}"
    return line


def _run_replay(args: argparse.Namespace, config: GatewayConfig, dsn: str) -> int:
    outcomes: Counter[Outcome] = Counter()
    for report in replay_dead_letters(
        dsn,
        None if args.all else args.ids,
        dry_run=args.dry_run,
        max_future_s=config.validation.max_future_s,
        timeout_s=config.database.timeout_s,
    ):
        outcomes[report.outcome] += 1
        print(_report_line(report), flush=True)
    total = sum(outcomes.values())
    if not total:
        print("no dead letters to replay")
        return 0
    summary = ", ".join(f"{count} {outcome.value}" for outcome, count in outcomes.items())
    print(f"{'dry run: ' if args.dry_run else ''}{total} letter(s): {summary}")
    return 0 if all(outcome.ok for outcome in outcomes) else 1


def run_deadletter(args: argparse.Namespace) -> int:
    try:
        config = load_gateway_config(args.config)
        dsn = config.database.read_dsn()
    except ConfigError as exc:
        print(f"isu deadletter: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "list":
            return _run_list(args, config, dsn)
        return _run_replay(args, config, dsn)
    except StorageError as exc:
        print(f"isu deadletter: {exc}", file=sys.stderr)
        return 1
