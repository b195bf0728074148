"""What the field-kill tests (``test_field_kills.py``) need besides the product: a private
Mosquitto they may SIGKILL, child processes in their own process groups, a TCP gate between a
collector and the broker, read-only looks into a collector's queue file, and the rows a
message, a simulated meter's memory and the database hold, in one comparable shape.

Rows are ``key → value`` pairs per table of ``timeseries/migrations/001_initial.sql``: the key
is the table's primary key (prefixed by the table name), the value the columns a repeat must
not change. Timestamps are aware and Decimals exact, so rows from JSON, from the simulator and
from PostgreSQL compare equal when they mean the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import getpass
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import psycopg

from core.events import MERCURY230, journal_name
from core.localenv import free_port
from core.messages import ReadingsMessage
from core.model import ClockItem, EventItem, InfoItem, Quality, ReadingItem, Stream
from core.obis import EnergyKind, interval_obis
from drivers.mercury.journals import DEFAULT_JOURNALS
from drivers.mercury.records import Variant
from simulators.mercury230.meter import SimulatedMeter

Key = tuple[Any, ...]
Rows = dict[Key, tuple[Any, ...]]

#: The tables a reading can land in, with the key and value columns the tests compare.
TABLES: dict[str, tuple[str, str]] = {
    "register_readings": ("meter_id, stream, obis, ts", "value, unit, quality"),
    "interval_readings": ("meter_id, obis, ts", "period_s, value, unit, quality"),
    "instant_readings": ("meter_id, obis, ts", "value, unit, quality"),
    "clock_readings": ("meter_id, ts", "meter_time, drift_s, season, quality"),
    "events": ("meter_id, journal, code, ts", "kind, text, critical, phase, quality"),
    "meter_info": ("meter_id, field, ts", "value, quality"),
}
_INCOMPLETE_BITS = 0x03  # profile record status: overflow, incomplete slice
_PR_SET_PDEATHSIG = 1
_STATEMENT_TIMEOUT = "-c statement_timeout=60000"


#: Loggers of the libraries under our own (paho's chatter about dropped sockets is expected).
_LIBRARY_LOGGERS = ("gateway.mqtt.", "collector.mqtt.")
_LOG_LINE = re.compile(r" (ERROR|CRITICAL) ((?:collector|gateway)\.[\w.-]+): (.*)")


def product_errors(records: Iterable[logging.LogRecord]) -> list[str]:
    """Errors the product itself reported ("unexpected failure …", a queue that failed): none
    of its error paths should fire because a broker or a collector died."""
    return [
        f"{record.name}: {record.getMessage()}"
        for record in records
        if record.levelno >= logging.ERROR
        and record.name.split(".")[0] in {"collector", "gateway"}
        and not record.name.startswith(_LIBRARY_LOGGERS)
    ]


def logged_errors(log: Path) -> list[str]:
    """The same, from the log of a child process (``core.logs`` format)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = _LOG_LINE.search(line)
        if match and not match[2].startswith(_LIBRARY_LOGGERS):
            found.append(f"{match[2]}: {match[3]}")
    return found


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str, poll_s: float = 0.2
) -> None:
    """Wait until ``check()`` (a predicate or a coroutine function) holds; fail after
    ``timeout_s`` saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(poll_s)


# --- processes ---------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: be SIGKILLed when the test process dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """A command in a process group of its own, its output in ``log``; killed as a group."""

    def __init__(self, command: Sequence[str], log: Path) -> None:
        self.command = list(command)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def start(self) -> None:
        self._output = self.log.open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int, wait_s: float = 30.0) -> int:
        """Send ``signum`` to the whole group, wait for the leader; its exit status."""
        process = self.process
        assert process is not None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
        status = process.wait(wait_s)
        if self._output is not None:
            self._output.close()
            self._output = None
        return status

    def kill(self) -> None:
        """SIGKILL the group (idempotent: for ``finally`` blocks)."""
        if self.process is not None:
            self.signal(signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class PrivateBroker:
    """A Mosquitto of the test's own on a free loopback port, configured like the local one
    (``deploy/local/services.sh``): persistence on disk, nothing capped or dropped.

    ``autosave_interval`` is short so that a restart after SIGKILL comes back from the on-disk
    snapshot (stale sessions and queues included), as a broker with persistence does.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.autosave_s = 5
        self.started_at = 0.0
        self.config.write_text(
            "per_listener_settings false\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            f"autosave_interval {self.autosave_s}\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 1000\n"
            "set_tcp_nodelay true\n"
            # Run as whoever runs the tests (as root it would drop to the mosquitto user, who
            # cannot write the test's folder); a non-root user ignores the setting.
            f"user {getpass.getuser()}\n"
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.child = Child([binary, "-c", str(self.config)], directory / "stdout.log")

    def start(self, timeout_s: float = 20.0) -> None:
        """Start (or restart on the same port and persistence) and wait until it listens."""
        self.child.start()
        self.started_at = time.monotonic()
        deadline = time.monotonic() + timeout_s
        while not port_open(self.port):
            if not self.child.running or time.monotonic() > deadline:
                self.child.kill()
                raise AssertionError(f"mosquitto did not listen on {self.port}:\n{self.tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.child.kill()

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join([*text.splitlines()[-30:], self.child.tail()])


class UplinkGate:
    """A TCP relay between a collector and the broker that can be shut like a failed uplink:
    while shut nothing listens on its port (connections are refused), as when the broker's
    host is unreachable; :meth:`open` starts relaying bytes both ways on that same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._relays):
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream = await asyncio.open_connection(*self.target)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (ConnectionError, OSError):
            pass
        finally:
            self._relays.discard(task)
            for end in (writer, upstream):
                if end is not None:
                    end.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    finally:
        sink.close()


# --- the collector's queue file ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: str
    payload: bytes
    send_count: int


def _select(path: Path, query: str) -> list[Any]:
    """Rows of ``query`` on the queue file opened read-only (WAL lets a reader in beside the
    collector); none before the collector has created the file and its tables."""
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        try:
            return db.execute(query).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise


def read_queue(path: Path) -> list[QueueRow]:
    """The messages in a collector's queue file."""
    rows = _select(path, "SELECT id, payload, send_count FROM messages")
    return [QueueRow(str(row[0]), bytes(row[1]), int(row[2])) for row in rows]


def queue_counts(path: Path) -> tuple[int, int]:
    """(never published, published and awaiting the gateway's acknowledgement)."""
    rows = _select(path, "SELECT send_count = 0, count(*) FROM messages GROUP BY send_count = 0")
    counts = {bool(never): int(count) for never, count in rows}
    return counts.get(True, 0), counts.get(False, 0)


def read_ledger(path: Path) -> dict[tuple[str, str], datetime]:
    """The catch-up ledger: (meter, stream) → ``ts`` of the newest item read and stored."""
    rows = _select(path, "SELECT meter_id, stream, last_ts FROM ledger")
    return {(str(m), str(s)): datetime.fromtimestamp(float(ts), UTC) for m, s, ts in rows}


# --- rows --------------------------------------------------------------------------------------


def message_rows(message: ReadingsMessage) -> Rows:
    """The rows the message's items stand for, keyed as in the database."""
    meter, stream = message.meter, message.stream
    rows: Rows = {}
    for item in message.items:
        if isinstance(item, ReadingItem):
            rank = item.quality.rank
            if stream.is_register:
                key: Key = ("register_readings", meter, stream.value, item.obis, item.ts)
                rows[key] = (item.value, item.unit, rank)
            elif stream is Stream.INTERVAL:
                key = ("interval_readings", meter, item.obis, item.ts)
                rows[key] = (item.period_s, item.value, item.unit, rank)
            else:
                rows[("instant_readings", meter, item.obis, item.ts)] = (
                    item.value,
                    item.unit,
                    rank,
                )
        elif isinstance(item, ClockItem):
            rows[("clock_readings", meter, item.ts)] = (
                item.meter_time.replace(tzinfo=None),
                item.drift_s,
                item.season,
                item.quality.rank,
            )
        elif isinstance(item, EventItem):
            rows[("events", meter, item.journal, item.code, item.ts)] = (
                item.kind,
                item.text,
                item.critical,
                item.phase,
                item.quality.rank,
            )
        elif isinstance(item, InfoItem):
            rows[("meter_info", meter, item.field, item.ts)] = (item.value, item.quality.rank)
    return rows


def database_rows(dsn: str, meter_ids: Iterable[str]) -> Rows:
    """Every reading row the database holds for these meters."""
    meters = list(meter_ids)
    rows: Rows = {}
    with psycopg.connect(dsn, connect_timeout=10, options=_STATEMENT_TIMEOUT) as conn:
        for table, (key, value) in TABLES.items():
            query = f"SELECT {key}, {value} FROM {table} WHERE meter_id = ANY(%s)"
            width = len(key.split(","))
            for row in conn.execute(query, (meters,)):
                rows[(table, *row[:width])] = tuple(row[width:])
    return rows


def dead_letter_count(dsn: str) -> int:
    with psycopg.connect(dsn, connect_timeout=10, options=_STATEMENT_TIMEOUT) as conn:
        row = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    assert row is not None
    return int(row[0])


def duplicated_keys(messages: Iterable[ReadingsMessage]) -> dict[Key, set[str]]:
    """Keys that came in more than one distinct message: a reading read (or stored) twice."""
    seen: dict[Key, set[str]] = {}
    for message in messages:
        for key in message_rows(message):
            seen.setdefault(key, set()).add(message.id)
    return {key: ids for key, ids in seen.items() if len(ids) > 1}


def union_rows(messages: Iterable[ReadingsMessage]) -> Rows:
    rows: Rows = {}
    for message in messages:
        rows.update(message_rows(message))
    return rows


def differences(expected: Rows, stored: Rows, limit: int = 5) -> str:
    """A short account of what differs, for assertion messages."""
    missing = [key for key in expected if key not in stored]
    extra = [key for key in stored if key not in expected]
    changed = [key for key in expected if key in stored and stored[key] != expected[key]]
    parts = [
        f"{len(missing)} missing {missing[:limit]}",
        f"{len(extra)} unexpected {extra[:limit]}",
        f"{len(changed)} with other values "
        f"{[(key, expected[key], stored[key]) for key in changed[:limit]]}",
    ]
    return "; ".join(parts)


# --- what a simulated meter holds ----------------------------------------------------------------


def profile_rows(meter: SimulatedMeter) -> Rows:
    """Every interval record in the meter's profile memory, as ``interval_readings`` rows
    (energy = N / 2A per record, ``ts`` the interval's start)."""
    profile = meter.profile
    assert profile is not None
    constant = Variant(meter.settings.variant_bytes).meter_constant
    assert constant is not None
    zone = ZoneInfo(meter.settings.time_zone)
    rows: Rows = {}
    for record in profile.slots.values():
        if record.recorded_at is None:
            continue
        start = record.recorded_at - timedelta(minutes=record.period_min)
        ts = start.replace(tzinfo=zone).astimezone(UTC)
        quality = Quality.INCOMPLETE if record.status & _INCOMPLETE_BITS else Quality.OK
        counts = (record.p_plus, record.p_minus, record.q_plus, record.q_minus)
        for kind, count in zip(EnergyKind, counts, strict=True):
            if count is not None:
                rows[("interval_readings", meter.meter_id, interval_obis(kind), ts)] = (
                    record.period_min * 60,
                    Decimal(count) / (2 * constant),
                    kind.unit,
                    quality.rank,
                )
    return rows


def journal_keys(meter: SimulatedMeter) -> set[Key]:
    """Every stamp in the meter's journal rings that the driver reads, as ``events`` keys."""
    zone = ZoneInfo(meter.settings.time_zone)
    keys: set[Key] = set()
    for number, ring in meter.journals.rings.items():
        if number not in DEFAULT_JOURNALS:
            continue
        for record in ring.records:
            for code, stamp in enumerate(record, start=1):
                if stamp is not None:
                    ts = stamp.replace(tzinfo=zone).astimezone(UTC)
                    keys.add(("events", meter.meter_id, journal_name(MERCURY230, number), code, ts))
    return keys


def dark(meter: SimulatedMeter, start: datetime, period: timedelta) -> bool:
    """True when the meter had no supply for the whole interval (it writes no record then)."""
    return any(off <= start and on >= start + period for off, on in meter.outages)


def check_profile(meter: SimulatedMeter, stored: Rows, since: datetime, until: datetime) -> None:
    """The meter's profile over ``[since, until]`` (interval starts) is stored exactly: every
    record the meter holds is there with its values, nothing else is, and every interval is
    there unless the meter itself was without supply for all of it (no gap)."""
    period = timedelta(minutes=meter.settings.profile_period_min)
    expected = {
        key: value for key, value in profile_rows(meter).items() if since <= key[3] <= until
    }
    mine = {
        key: value
        for key, value in stored.items()
        if key[0] == "interval_readings" and key[1] == meter.meter_id and since <= key[3] <= until
    }
    assert mine == expected, f"meter {meter.meter_id}: {differences(expected, mine)}"
    starts = {key[3] for key in mine}
    slot = since
    missing = []
    while slot <= until:
        if slot not in starts and not dark(meter, slot, period):
            missing.append(slot)
        slot += period
    assert not missing, f"meter {meter.meter_id}: profile gaps at {missing[:5]}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def interval_start(moment: datetime, period: timedelta) -> datetime:
    """The start of the interval holding ``moment`` (intervals aligned to the epoch)."""
    return _EPOCH + ((moment - _EPOCH) // period) * period


def first_start(since: datetime, period: timedelta) -> datetime:
    """The first interval start at or after ``since``."""
    return _EPOCH - ((_EPOCH - since) // period) * period
