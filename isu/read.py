"""``isu read``: a one-shot read of any meter (DESIGN §6).

With ``--json`` it prints one JSON object per line::

    {"meter", "stream", "obis", "ts", "value", "unit", "quality", "read_at"}      readings
    {"meter", "stream": "events", "ts", "journal", "code", "kind", "text", "critical", "phase"}
    {"meter", "stream": "info", "field", "value"}
    {"meter", "stream": "clock", "ts", "meter_time", "drift_s", "season"}

and, for every stream that could not be read, ``{"meter", "stream", "error", "error_class"}`` on
standard error. Exit status: 0 everything asked was read, 2 part of it, 1 nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError, IsuError
from core.model import ClockItem, EventItem, InfoItem, ReadingItem, Stream, format_utc
from drivers.base import (
    MeterEndpoint,
    ReadResult,
    available_protocols,
    check_endpoint,
    create_driver,
)
from drivers.transport.stream import ByteStream

__all__ = ["add_read_arguments", "format_result_lines", "run_read"]


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _streams(text: str) -> list[Stream]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        return [Stream(name) for name in names]
    except ValueError:
        known = ",".join(stream.value for stream in Stream)
        raise argparse.ArgumentTypeError(f"unknown stream in {text!r}; known: {known}") from None


def add_read_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--protocol", required=True, help="mercury230, … (drivers registered by name)"
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--tcp", type=_host_port, metavar="HOST:PORT", help="transparent TCP converter"
    )
    where.add_argument("--serial", metavar="DEV", help="serial port, e.g. /dev/ttyUSB0")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--parity", choices=["N", "E", "O"], default="N")
    parser.add_argument(
        "--echo", action="store_true", help="the RS-485 adapter echoes what it sends"
    )
    parser.add_argument(
        "--address", type=int, required=True, help="the protocol's own meter address"
    )
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password", help="for bench work; services read secrets from files")
    secret.add_argument("--password-file", type=Path, help="file whose first line is the password")
    parser.add_argument("--level", type=int, choices=[1, 2], help="access level (default 1)")
    parser.add_argument(
        "--password-encoding",
        choices=["binary", "ascii"],
        help="default binary; ascii for D meters",
    )
    parser.add_argument("--transport", choices=["hdlc", "wrapper"],
                        help="dlms: HDLC (default) or the IEC 62056-47 TCP wrapper")
    parser.add_argument("--client", type=int, metavar="SAP",
                        help="dlms: client SAP, 16 public, 32 reader (default), 48 configurator")
    parser.add_argument("--authentication", choices=["none", "low", "high_gmac"],
                        help="dlms: default none for the public client, low (LLS) otherwise")
    parser.add_argument("--system-title", metavar="HEX",
                        help="dlms high_gmac: the client's system title, 16 hex digits")
    parser.add_argument("--map", metavar="FILE",
                        help="modbus: the register map, a shipped map's name or a file "
                             "(docs/modbus-maps.md)")
    parser.add_argument("--framing", choices=["rtu", "tcp"],
                        help="modbus: rtu (serial, or through a transparent converter) or tcp "
                             "(Modbus TCP); default tcp with --tcp, rtu with --serial")
    parser.add_argument(
        "--what", type=_streams, default=[Stream.CURRENT], help="streams, comma-separated"
    )
    parser.add_argument(
        "--from", dest="since", help="ISO 8601; a bare date is the meter's local day"
    )
    parser.add_argument("--to", dest="until", help="ISO 8601; a bare date is the meter's local day")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="seconds per request (default 2)"
    )
    parser.add_argument("--time-zone", default="Europe/Moscow", help="the meter's time zone")
    parser.add_argument("--meter-id", help="id printed in the output (default PROTOCOL-ADDRESS)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _moment(text: str | None, zone: ZoneInfo, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"--{name}: not an ISO 8601 date or time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file is None:
        return args.password  # type: ignore[no-any-return]
    try:
        return str(args.password_file.read_text(encoding="utf-8").splitlines()[0].strip())
    except (OSError, IndexError) as exc:
        raise ConfigError(f"--password-file {args.password_file}: cannot read a password") from exc


def format_result_lines(result: ReadResult) -> list[dict[str, Any]]:
    """The ``--json`` lines of a read (DESIGN §6)."""
    meter = result.meter_id
    read_at = format_utc(result.read_at)
    lines: list[dict[str, Any]] = []
    for stream in result.streams():
        for item in result.items(stream):
            if isinstance(item, ReadingItem):
                line: dict[str, Any] = {"meter": meter, "stream": stream.value, "obis": item.obis}
                line |= {
                    "ts": format_utc(item.ts),
                    "value": format(item.value, "f"),
                    "unit": item.unit,
                }
                line |= {"quality": item.quality.value, "read_at": read_at}
                if item.period_s is not None:
                    line["period_s"] = item.period_s
            elif isinstance(item, EventItem):
                line = {"meter": meter, "stream": "events", "ts": format_utc(item.ts)}
                line |= item.model_dump(mode="json", include={"journal", "code", "kind", "text"})
                line |= {"critical": item.critical, "phase": item.phase}
            elif isinstance(item, InfoItem):
                line = {"meter": meter, "stream": "info", "field": item.field, "value": item.value}
            else:
                assert isinstance(item, ClockItem)
                line = {"meter": meter, "stream": "clock", "ts": format_utc(item.ts)}
                line |= {
                    "meter_time": item.meter_time.isoformat(),
                    "drift_s": format(item.drift_s, "f"),
                }
                line |= {"season": item.season}
            lines.append(line)
    return lines


def _print_table(result: ReadResult, out: TextIO) -> None:
    for line in format_result_lines(result):
        stream = line["stream"]
        if stream == "info":
            print(f"{stream:8} {line['field']:24} {line['value']}", file=out)
        elif stream == "clock":
            print(
                f"{stream:8} {'meter time':24} {line['meter_time']}  drift {line['drift_s']} s",
                file=out,
            )
        elif stream == "events":
            print(f"{stream:8} {line['ts']:24} {line['kind']}: {line['text']}", file=out)
        else:
            when = "" if stream in ("current", "instant") else f"  {line['ts']}"
            value = f"{line['value']:>14} {line['unit']}"
            print(f"{stream:8} {line['obis']:24} {value}{when}", file=out)


async def _open(args: argparse.Namespace) -> ByteStream:
    if args.tcp is not None:
        from drivers.transport.tcp import open_tcp

        host, port = args.tcp
        return await open_tcp(host, port, timeout_s=max(args.timeout, 1.0))
    from drivers.transport.serial import open_serial

    return await open_serial(args.serial, args.baud, args.parity, echo=args.echo)


async def run_read(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    if args.protocol not in available_protocols():
        raise ConfigError(
            f"--protocol {args.protocol!r} is not known; known: {', '.join(available_protocols())}"
        )
    try:
        zone = ZoneInfo(args.time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"--time-zone {args.time_zone!r} is not a known time zone") from exc
    since = _moment(args.since, zone, "from")
    until = _moment(args.until, zone, "to")
    meter_id = args.meter_id or f"{args.protocol}-{args.address}"
    endpoint = MeterEndpoint(
        meter_id=meter_id,
        protocol=args.protocol,
        address=args.address,
        password=_password(args),
        timeout_s=args.timeout,
        time_zone=args.time_zone,
        options={
            name: value
            for name, value in (
                ("level", args.level),
                ("password_encoding", args.password_encoding),
                ("transport", args.transport),
                ("client", args.client),
                ("authentication", args.authentication),
                ("system_title", args.system_title),
                ("map", args.map),
                ("framing", args.framing),
            )
            if value is not None
        },
    )
    where = f"tcp://{args.tcp[0]}:{args.tcp[1]}" if args.tcp else f"serial://{args.serial}"
    check_endpoint(endpoint, where)  # the driver's own option checks, before any I/O
    try:
        stream = await _open(args)
    except IsuError as exc:
        _report_error(meter_id, None, exc, args.json, err)
        return 1
    try:
        driver = create_driver(stream, endpoint)
        result = await driver.read(args.what, since=since, until=until)
    except ConfigError:
        raise
    except IsuError as exc:
        _report_error(meter_id, None, exc, args.json, err)
        return 1
    finally:
        await stream.close()
    if args.json:
        for line in format_result_lines(result):
            print(json.dumps(line, ensure_ascii=False), file=out)
    else:
        _print_table(result, out)
    for failed, error in result.errors.items():
        _report_error(meter_id, failed, error, args.json, err)
    if not result.errors:
        return 0
    return 2 if result.streams() else 1


def _report_error(
    meter: str, stream: Stream | None, exc: IsuError, as_json: bool, err: TextIO
) -> None:
    if as_json:
        line = {"meter": meter, "stream": stream.value if stream else None}
        line |= {"error": str(exc), "error_class": exc.error_class}
        print(json.dumps(line, ensure_ascii=False), file=err)
    else:
        where = f" {stream.value}" if stream else ""
        print(f"{meter}{where}: {exc.error_class}: {exc}", file=err)
