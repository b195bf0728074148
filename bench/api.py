"""API benchmark: latency of the «Показания» and «Журнал» endpoints and a year's CSV archive.

Run from the top of the checkout, with the local services started::

    python -m bench.api                    # 10,000 meters, 100 with a year of profile, 10 M events
    python -m bench.api --meters 50 --profile-meters 2 --profile-days 10 --events 5000 \\
        --requests 30                      # the tiny size CI runs

The data is generated in a scratch database (migrations, then ``isu registry import`` of a tree
of contracts of 10 energy objects of 100 meters, one metering point per meter, every fifth
object in Yekaterinburg), by ``INSERT … SELECT generate_series`` in the server, two loaders at a
time, then ``VACUUM ANALYZE`` (what autovacuum would have done by the time anyone asks):

- ``interval_readings``: ``--profile-meters`` meters of the first contract with
  ``--profile-days`` of 30-minute profile up to now, four kinds (A+, A-, R+, R-; about one
  interval in 2000 ``invalid``): 100 × 17,520 × 4 ≈ 7 M rows at full size;
- ``register_readings``: every meter's snapshots of 20 registers (four kinds × total and zones
  1..4): the last 3 hourly ``current`` polls, ``--daily-days`` ``daily`` snapshots and 12
  ``monthly`` ones, at local midnight;
- ``events``: ``--events`` journal entries spread evenly over the meters and over the last
  365 days (one per slot of 365 days / count, jittered), each a catalogue entry of
  ``core.events`` (journal, code, kind, text, criticality, phase) picked with critical entries
  one third as likely as the others (about 12 % critical).

``load_s`` is the time of those inserts, ``vacuum_s`` of the ``VACUUM ANALYZE``.

Then ``isu api --config`` runs as its own process, as in production (uvicorn, its pool, its
access log to a file), with a key scoped to the first contract (1,000 meters at full size; the
realistic path, with the scope condition in every meter lookup) and an admin key. After a
warm-up of 20 requests of each kind (not counted), sequential requests over one keep-alive
connection (``httpx.Client``):

- ``readings``: ``GET /api/v1/meters/{id}/readings``, alternately a random profile meter (its
  interval block splits the intervals since the 1st of the month into its contract's zones) and
  a random other meter of the contract (no intervals); also given apart as ``readings_profile``
  and ``readings_other``;
- ``journal``: ``GET /api/v1/meters/{id}/journal?month=…`` for a random meter of the contract
  and one of the last 13 months, a quarter with a ``kind`` filter, a quarter with ``critical``,
  a fifth in ``desc`` order.

Each figure is ``p50``/``p95``/``p99``/``max`` in milliseconds, from sending the request to the
last byte of the body. The baseline of each request (``sql``) is taken in the same run: the
very SQL the endpoint runs — the same query functions of ``api.queries`` and
``api.journal_queries``, in the endpoint's order, with the same parameters (the same meter,
month, filters and scope) — on one autocommit ``psycopg.AsyncConnection`` of this process. Each
request is measured both ways back to back, HTTP first on even requests and SQL first on odd
ones, so both see the same cache and the same neighbours. ``http_minus_sql`` is the difference
of the two (p50 and p95): HTTP, uvicorn, the key check and scope (a cached key costs no query),
the pool's connection check and the route's Python. ``shape`` is that Python measured apart on
the baseline's rows: the route's shaping (``api.readings`` blocks, journal rows), the response
model's validation and the JSON body. ``readings_admin``/``journal_admin`` repeat a quarter of
the requests with the admin key (information: the scope condition's cost).

``archive``: ``GET /api/v1/meters/{id}/archive?type=interval&from=<365 days ago>&to=<today>
&format=csv`` of a profile meter ``--archive-runs`` times (median and max seconds; the target
is on the median), with the stages of the same work in this process after each request
(``interval_records``, ``interval_table``, ``archive_csv``) as its baseline; the XLSX once, as
information.

``rss_mb``: the API process's peak resident memory (``VmHWM`` of ``/proc/<pid>/status``) after
the latency runs and after the archives.

The targets (issue): ``readings`` and ``journal`` p95 at most 50 ms and at most their ``sql``
p95 + 10 ms; the CSV archive at most 1 s. When one is missed (or with ``--profile``) the
``profile`` section says where the time goes: the endpoint's requests run in this process
through httpx's ASGI transport under cProfile (top functions by own time, and by cumulative
time among the functions of ``api``, ``core`` and ``timeseries``, per request), and for the
archive its stages under cProfile. The scratch database is dropped at the end, even on failure,
unless ``--keep``; ``--reuse NAME`` measures a kept one again. The last line of output is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import pstats
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from pydantic import TypeAdapter

from api.app import create_app
from api.archive_files import archive_csv
from api.archive_queries import interval_records
from api.archive_rows import interval_points, interval_table
from api.config import DEFAULT_TIME_ZONE, ApiConfig
from api.formats import billing_ratio, local_isoformat, month_start, ratio_text, zone_info
from api.journal import JournalPage, _event
from api.journal_queries import EventFilter, EventRow, Order, count_events, event_page
from api.periods import one_month
from api.queries import (
    Scope,
    contract_zone_schedule,
    find_meter,
    interval_groups,
    newest_snapshots,
)
from api.readings import build_interval_block, build_register_block, contract_schedule
from api.schemas import BlockType, MeterReadings
from bench.ingest import registry_document as ingest_registry
from bench.processes import stop_process
from core.events import EVENT_KINDS, catalogue, event_kind, journal_name
from core.localenv import LocalServices, free_port, load_local_services
from core.model import Stream, utc_now
from core.obis import ENERGY_KINDS, energy_obis, interval_obis
from isu.apikey import ContractScope, create_key
from timeseries.migrate import apply_migrations

TARGET_P95_MS = 50.0
TARGET_OVER_SQL_MS = 10.0
TARGET_ARCHIVE_S = 1.0
OBJECTS_PER_CONTRACT = 10
METERS_PER_OBJECT = 100
CURRENT_POLLS = 3
MONTHLY_SNAPSHOTS = 12
EVENT_DAYS = 365
JOURNAL_MONTHS = 13
WARMUP = 20
PROFILE_TOP = 15
LOADERS = 2
YEKATERINBURG = "Asia/Yekaterinburg"
# The shares of a total in zones 1..4 (zone 0 is the total), and the size of each kind.
_ZONE_SHARES = (1.0, 0.55, 0.30, 0.15, 0.0)
_KIND_SCALES = {1: 1.0, 2: 0.01, 3: 0.2, 4: 0.02}
_INTERVAL_SCALES = {1: 0.4, 2: 0.0, 3: 0.06, 4: 0.005}
# Block and the stream that feeds it, in the order of api.meters.get_readings.
_REGISTER_BLOCKS = {
    BlockType.DAY_END: Stream.DAILY,
    BlockType.PERIOD_END: Stream.MONTHLY,
    BlockType.CURRENT: Stream.CURRENT,
}
_READINGS = TypeAdapter(MeterReadings)
_JOURNAL = TypeAdapter(JournalPage)


@dataclass(frozen=True, slots=True)
class Size:
    meters: int
    profile_meters: int
    profile_days: int
    events: int
    daily_days: int

    @property
    def contract_meters(self) -> int:
        return min(self.meters, OBJECTS_PER_CONTRACT * METERS_PER_OBJECT)

    def profile_numbers(self) -> list[int]:
        """The profile meters, spread over the first contract's meters."""
        step = self.contract_meters // self.profile_meters
        return [index * step for index in range(self.profile_meters)]


def meter_id(number: int) -> str:
    return f"m{number:05d}"


_SQL_METER_ID = "'m' || CASE WHEN {n} < 100000 THEN lpad({n}::text, 5, '0') ELSE {n}::text END"


def meter_zone(number: int) -> str:
    return YEKATERINBURG if (number // METERS_PER_OBJECT + 1) % 5 == 0 else DEFAULT_TIME_ZONE


def registry_document(meters: int, tag: str) -> dict[str, Any]:
    """The ingest benchmark's tree (docs/registry.md) cut into contracts of 10 energy objects;
    every fifth object in Yekaterinburg; schedules three-zone, two-zone and single in turn."""
    objects = ingest_registry(meters, tag)["contracts"][0]["energy_objects"]
    schedules = ("three-zone", "two-zone", "single")
    contracts = []
    for first in range(0, len(objects), OBJECTS_PER_CONTRACT):
        part = objects[first : first + OBJECTS_PER_CONTRACT]
        for number, item in enumerate(part, start=first + 1):
            item["time_zone"] = YEKATERINBURG if number % 5 == 0 else DEFAULT_TIME_ZONE
        index = first // OBJECTS_PER_CONTRACT
        contracts.append({
            "number": f"99{index + 1:010d}",
            "name": f"Управляющая компания {index + 1} ({tag})",
            "zone_schedule": schedules[index % len(schedules)],
            "energy_objects": part,
        })
    return {"schema": 1, "contracts": contracts}


# ------------------------------------------------------------------------------------ the data


def _local_midnights(zone: str, days: int, now: datetime) -> list[datetime]:
    today = now.astimezone(ZoneInfo(zone)).date()
    return [
        datetime.combine(today - timedelta(days=back), datetime.min.time(), ZoneInfo(zone))
        for back in range(days)
    ]


def _month_firsts(zone: str, months: int, now: datetime) -> list[datetime]:
    local = now.astimezone(ZoneInfo(zone))
    year, month = local.year, local.month
    firsts = []
    for _ in range(months):
        firsts.append(datetime(year, month, 1, tzinfo=ZoneInfo(zone)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts


def _snapshots(size: Size, now: datetime) -> tuple[list[str], list[str], list[datetime]]:
    """``(zone, stream, ts)`` of every register snapshot, as three arrays."""
    zones, streams, times = [], [], []
    newest = now.replace(second=0, microsecond=0)
    polls = [newest - timedelta(hours=h) for h in range(CURRENT_POLLS)]
    for zone in (DEFAULT_TIME_ZONE, YEKATERINBURG):
        for stream, moments in (
            ("current", polls),
            ("daily", _local_midnights(zone, size.daily_days, now)),
            ("monthly", _month_firsts(zone, MONTHLY_SNAPSHOTS, now)),
        ):
            for moment in moments:
                zones.append(zone)
                streams.append(stream)
                times.append(moment)
    return zones, streams, times


def _codes(obis_of: Callable[[Any, int], str], zones: range) -> list[tuple[str, str, int, int]]:
    return [
        (obis_of(kind, zone), kind.unit, int(kind), zone) for kind in ENERGY_KINDS for zone in zones
    ]


def _load_jobs(size: Size, now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """``(what, SQL, parameters)`` of every insert; each runs on a connection of its own."""
    jobs: list[tuple[str, str, dict[str, Any]]] = []
    profile = [meter_id(n) for n in size.profile_numbers()]
    until = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    interval_codes = [
        (interval_obis(kind), kind.unit, _INTERVAL_SCALES[int(kind)]) for kind in ENERGY_KINDS
    ]
    interval_sql = (
        "INSERT INTO interval_readings (meter_id, obis, ts, period_s, value, unit, quality,"
        " read_at, message_id)"
        " SELECT p.meter_id, k.obis, t.ts, 1800,"
        "   round((k.scale * (0.25 + 1.5 * random()))::numeric, 3), k.unit,"
        "   CASE WHEN random() < 0.0005 THEN 0 ELSE 3 END, t.ts + interval '31 minutes',"
        "   md5(p.meter_id || extract(epoch FROM t.ts)::text)"
        " FROM unnest(%(meters)s::text[]) AS p(meter_id)"
        " CROSS JOIN generate_series(%(since)s::timestamptz, %(until)s::timestamptz,"
        "   interval '30 minutes') AS t(ts)"
        " CROSS JOIN unnest(%(obis)s::text[], %(units)s::text[], %(scales)s::float8[])"
        "   AS k(obis, unit, scale)"
    )
    half = (len(profile) + 1) // 2
    for part in (profile[:half], profile[half:]):
        if part:
            jobs.append(("interval_readings", interval_sql, {
                "meters": part,
                "since": until - timedelta(days=size.profile_days),
                "until": until - timedelta(minutes=30),
                "obis": [code for code, _, _ in interval_codes],
                "units": [unit for _, unit, _ in interval_codes],
                "scales": [scale for _, _, scale in interval_codes],
            }))
    codes = _codes(energy_obis, range(5))
    zones, streams, times = _snapshots(size, now)
    register_sql = (
        "INSERT INTO register_readings (meter_id, stream, obis, ts, value, unit, quality,"
        " read_at, message_id)"
        " SELECT m.meter_id, s.stream, k.obis, s.ts,"
        "   round(((m.base + m.rate * extract(epoch FROM s.ts - %(origin)s::timestamptz) / 86400)"
        "     * k.scale * k.share)::numeric, 3), k.unit, 3, s.ts + interval '2 minutes',"
        "   md5(m.meter_id || s.stream || extract(epoch FROM s.ts)::text)"
        " FROM (SELECT " + _SQL_METER_ID.format(n="n") + " AS meter_id,"
        "     CASE WHEN (n / %(per_object)s + 1) %% 5 = 0 THEN %(east)s ELSE %(west)s END AS zone,"
        "     1000 + (hashint4(n) & 2147483647) %% 40000 AS base,"
        "     5 + (hashint4(n + 7) & 2147483647) %% 20 AS rate"
        "   FROM generate_series(%(first)s::int, %(last)s::int) AS n) AS m"
        " JOIN unnest(%(zones)s::text[], %(streams)s::text[], %(times)s::timestamptz[])"
        "   AS s(zone, stream, ts) ON s.zone = m.zone"
        " CROSS JOIN unnest(%(obis)s::text[], %(units)s::text[], %(scales)s::float8[],"
        "   %(shares)s::float8[]) AS k(obis, unit, scale, share)"
    )
    for first, last in _halves(size.meters):
        jobs.append(("register_readings", register_sql, {
            "first": first, "last": last, "per_object": METERS_PER_OBJECT,
            "east": YEKATERINBURG, "west": DEFAULT_TIME_ZONE,
            "origin": now - timedelta(days=400),
            "zones": zones, "streams": streams, "times": times,
            "obis": [c[0] for c in codes], "units": [c[1] for c in codes],
            "scales": [_KIND_SCALES[c[2]] for c in codes],
            "shares": [_ZONE_SHARES[c[3]] for c in codes],
        }))
    per_meter, extra = divmod(size.events, size.meters)
    event_sql = (
        "INSERT INTO events (meter_id, journal, code, ts, kind, text, critical, phase, quality,"
        " read_at, message_id)"
        " SELECT m.meter_id, c.journal, c.code, e.ts, c.kind, c.text, c.critical, c.phase, 3,"
        "   e.ts + interval '17 minutes', md5(m.meter_id || e.k::text)"
        " FROM (SELECT n, " + _SQL_METER_ID.format(n="n") + " AS meter_id,"
        "     %(per_meter)s + (n < %(extra)s)::int AS count"
        "   FROM generate_series(%(first)s::int, %(last)s::int) AS n) AS m"
        " CROSS JOIN LATERAL (SELECT k, date_trunc('second', %(since)s::timestamptz"
        "     + %(span)s::interval / m.count"
        "       * (k + 0.05 + 0.9 * ((hashint8(m.n * 1000003::bigint + k) & 2147483647) %% 1000)"
        "         / 1000.0)) AS ts,"
        "     (hashint8(m.n * 7919::bigint + k) & 2147483647) %% %(types)s AS pick"
        "   FROM generate_series(0, m.count - 1) AS k) AS e"
        " JOIN bench_event_types AS c ON c.n = e.pick"
    )
    if per_meter or extra:
        for first, last in _halves(size.meters, parts=4):
            jobs.append(("events", event_sql, {
                "first": first, "last": last, "per_meter": per_meter, "extra": extra,
                "since": now - timedelta(days=EVENT_DAYS), "span": timedelta(days=EVENT_DAYS),
                "types": len(_event_types()),
            }))
    return jobs


def _halves(count: int, parts: int = 2) -> list[tuple[int, int]]:
    step = math.ceil(count / parts)
    return [(first, min(count, first + step) - 1) for first in range(0, count, step)]


def _event_types() -> list[tuple[str, int, str, str, bool, int | None]]:
    """The catalogue, each critical entry once and every other entry three times."""
    rows = []
    for entry in catalogue():
        row = (journal_name(entry.family, entry.journal), entry.code, entry.kind.name, entry.text,
               entry.critical, entry.phase)
        rows.extend([row] * (1 if entry.critical else 3))
    return rows


def load(dsn: str, size: Size, now: datetime) -> dict[str, Any]:
    """Fill the scratch database; the seconds of each step and the rows of each table."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_event_types (n int PRIMARY KEY, journal text, code int,"
            " kind text, text text, critical bool, phase smallint)"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bench_event_types VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(n, *row) for n, row in enumerate(_event_types())],
            )
    jobs = _load_jobs(size, now)
    seconds: dict[str, float] = {}
    lock = threading.Lock()

    def run(job: tuple[str, str, dict[str, Any]]) -> None:
        what, query, params = job
        started = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(query, params)
        with lock:
            seconds[what] = seconds.get(what, 0.0) + time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(run, jobs))
    load_s = time.perf_counter() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE meters SET last_reading_at = (SELECT max(ts) FROM register_readings"
            " WHERE stream = 'current')"
        )
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        vacuum_s = time.perf_counter() - started
        rows = {
            table: _count(conn, table)
            for table in ("meters", "register_readings", "interval_readings", "events")
        }
        critical = conn.execute("SELECT count(*) FILTER (WHERE critical) FROM events").fetchone()
        rows["critical_events"] = int(critical[0]) if critical else 0
        database = conn.execute(
            "SELECT pg_database_size(current_database()) / 1048576"
        ).fetchone()
    return {
        "load_s": round(load_s, 1),
        "load_s_by_table": {name: round(value, 1) for name, value in seconds.items()},
        "vacuum_s": round(vacuum_s, 1),
        "rows": rows,
        "database_mb": int(database[0]) if database else 0,
    }


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # our own constant
    return int(row[0]) if row else 0


# ------------------------------------------------------------------------------- the requests


@dataclass(frozen=True, slots=True)
class ReadingsCase:
    meter: str
    profile: bool

    @property
    def path(self) -> str:
        return f"/api/v1/meters/{self.meter}/readings"

    def params(self) -> list[tuple[str, Any]]:
        return []


@dataclass(frozen=True, slots=True)
class JournalCase:
    meter: str
    month: tuple[int, int]
    kinds: tuple[str, ...]
    critical: bool | None
    order: Order

    @property
    def path(self) -> str:
        return f"/api/v1/meters/{self.meter}/journal"

    def params(self) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = [("month", f"{self.month[0]:04d}-{self.month[1]:02d}")]
        found += [("kind", kind) for kind in self.kinds]
        if self.critical is not None:
            found.append(("critical", "true" if self.critical else "false"))
        if self.order is Order.DESC:
            found.append(("order", "desc"))
        return found


Case = ReadingsCase | JournalCase


def readings_cases(size: Size, count: int, rng: random.Random) -> list[ReadingsCase]:
    profile = set(size.profile_numbers())
    others = [n for n in range(size.contract_meters) if n not in profile]
    cases = []
    for index in range(count):
        if index % 2 == 0 or not others:
            cases.append(ReadingsCase(meter_id(rng.choice(sorted(profile))), True))
        else:
            cases.append(ReadingsCase(meter_id(rng.choice(others)), False))
    return cases


def journal_cases(size: Size, count: int, rng: random.Random, now: datetime) -> list[JournalCase]:
    local = now.astimezone(ZoneInfo(DEFAULT_TIME_ZONE))
    months = []
    year, month = local.year, local.month
    for _ in range(JOURNAL_MONTHS):
        months.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    kind_ids = [kind.id for kind in EVENT_KINDS]
    cases = []
    for _ in range(count):
        kinds = tuple(rng.sample(kind_ids, rng.choice((1, 2)))) if rng.random() < 0.25 else ()
        draw = rng.random()
        critical = True if draw < 0.15 else False if draw < 0.25 else None
        order = Order.DESC if rng.random() < 0.2 else Order.ASC
        meter = meter_id(rng.randrange(size.contract_meters))
        cases.append(JournalCase(meter, rng.choice(months), kinds, critical, order))
    return cases


async def readings_sql(conn: Any, scope: Scope, case: ReadingsCase) -> tuple[float, float, Any]:
    """The queries of ``api.meters.get_readings``, then its shaping and the response body;
    ``(sql seconds, shape seconds, body)``."""
    started = time.perf_counter()
    meter = await find_meter(conn, scope, case.meter)
    if meter is None:
        raise SystemExit(f"the baseline does not find meter {case.meter}")
    zone = zone_info(meter.time_zone, DEFAULT_TIME_ZONE)
    now = utc_now()
    by_stream = await newest_snapshots(conn, case.meter, list(_REGISTER_BLOCKS.values()))
    snapshots = {block: by_stream[stream] for block, stream in _REGISTER_BLOCKS.items()}
    since = month_start(now, zone)
    intervals = await interval_groups(conn, case.meter, since, now, zone.key)
    setting = await contract_zone_schedule(conn, case.meter)
    sql_s = time.perf_counter() - started
    started = time.perf_counter()
    schedule = contract_schedule(*(setting or (None, None)), meter_id=case.meter)
    ratio = billing_ratio(meter.ct_ratio, meter.vt_ratio)
    register = {
        block: build_register_block(block, values, ratio, zone, meter_id=case.meter)
        for block, values in snapshots.items()
    }
    interval = build_interval_block(intervals, ratio, zone, schedule, since, meter_id=case.meter)
    readings = MeterReadings(
        meter_id=meter.meter_id, time_zone=zone.key, ratio=ratio_text(ratio),
        blocks=[register[BlockType.DAY_END], register[BlockType.PERIOD_END], interval,
                register[BlockType.CURRENT]],
    )
    body = _json_body(_READINGS, readings)
    return sql_s, time.perf_counter() - started, body


async def journal_sql(conn: Any, scope: Scope, case: JournalCase) -> tuple[float, float, Any]:
    """The queries of ``api.journal.get_journal`` (limit 100, offset 0), then its shaping."""
    where = EventFilter(kinds=frozenset(event_kind(k) for k in case.kinds), critical=case.critical)
    started = time.perf_counter()
    meter = await find_meter(conn, scope, case.meter)
    if meter is None:
        raise SystemExit(f"the baseline does not find meter {case.meter}")
    zone = zone_info(meter.time_zone, DEFAULT_TIME_ZONE)
    bounds = one_month(*case.month, zone)
    total = await count_events(conn, case.meter, bounds.start, bounds.end, where)
    rows: list[EventRow] = []
    if total > 0:
        rows = await event_page(conn, case.meter, bounds.start, bounds.end, where,
                                order=case.order, limit=100, offset=0)
    sql_s = time.perf_counter() - started
    started = time.perf_counter()
    page = JournalPage(
        meter_id=meter.meter_id, time_zone=zone.key,
        month=f"{case.month[0]:04d}-{case.month[1]:02d}",
        start=local_isoformat(bounds.start, zone) or "",
        end=local_isoformat(bounds.end, zone) or "",
        kinds=sorted(case.kinds), critical=case.critical, order=case.order, total=total,
        limit=100, offset=0, events=[_event(row, zone) for row in rows],
    )
    body = _json_body(_JOURNAL, page)
    return sql_s, time.perf_counter() - started, body


def _json_body(adapter: TypeAdapter[Any], value: Any) -> Any:
    """What FastAPI does with a route's return value: validate it as the response model, dump
    it in JSON mode, render it (``JSONResponse``)."""
    content = adapter.dump_python(adapter.validate_python(value), mode="json")
    json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    return content


Baseline = Callable[[Any, Scope, Any], Coroutine[Any, Any, tuple[float, float, Any]]]


@dataclass(frozen=True, slots=True)
class Baselines:
    """The baseline's connection, on an event loop of its own that runs one call at a time
    (between blocking HTTP requests, so nothing else shares the loop)."""

    runner: asyncio.Runner
    conn: psycopg.AsyncConnection[Any]

    def run(self, call: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
        return self.runner.run(call(self.conn))


def measure(
    client: httpx.Client, sql: Baselines, scope: Scope, cases: Sequence[Case], baseline: Baseline
) -> dict[str, list[float]]:
    """Each case over HTTP and by its baseline, back to back, alternating which goes first."""
    http_ms: list[float] = []
    sql_ms: list[float] = []
    shape_ms: list[float] = []
    for index, case in enumerate(cases):
        def direct(conn: Any, case: Case = case) -> Coroutine[Any, Any, tuple[float, float, Any]]:
            return baseline(conn, scope, case)

        if index % 2 == 0:
            http = _get(client, case)
            sql_s, shape_s, body = sql.run(direct)
        else:
            sql_s, shape_s, body = sql.run(direct)
            http = _get(client, case)
        _check(case, http[1], body)
        http_ms.append(http[0] * 1000)
        sql_ms.append(sql_s * 1000)
        shape_ms.append(shape_s * 1000)
    return {"http": http_ms, "sql": sql_ms, "shape": shape_ms}


def _get(client: httpx.Client, case: Case) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.get(case.path, params=case.params())
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"GET {response.url} answered {response.status_code}: {response.text}")
    return seconds, response.json()


def _check(case: Case, answer: Any, body: Any) -> None:
    """The API's answer is the baseline's (intervals since the 1st may have grown by one)."""
    if isinstance(case, JournalCase):
        same = answer["total"] == body["total"] and answer["events"][:1] == body["events"][:1]
    else:
        same = [b["type"] for b in answer["blocks"]] == [b["type"] for b in body["blocks"]]
        same = same and answer["blocks"][0] == body["blocks"][0]
        same = same and (case.profile or answer["blocks"][2]["as_of"] is None)
    if not same:
        raise SystemExit(f"{case}: the API answered unlike the baseline")


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values, 0.50), 2),
        "p95": round(_percentile(values, 0.95), 2),
        "p99": round(_percentile(values, 0.99), 2),
        "max": round(max(values), 2),
    }


def endpoint_figures(measured: dict[str, list[float]]) -> dict[str, Any]:
    http, sql = summary(measured["http"]), summary(measured["sql"])
    return {
        "requests": len(measured["http"]),
        "ms": http,
        "sql_ms": sql,
        "shape_ms": {key: summary(measured["shape"])[key] for key in ("p50", "p95")},
        "http_minus_sql_ms": {
            key: round(http[key] - sql[key], 2) for key in ("p50", "p95")
        },
    }


# ---------------------------------------------------------------------------- the API process


def api_toml(dsn: str, port: int) -> str:
    # Only `dsn` under [database], so `isu registry import --config` reads the same file.
    return f'[http]\nhost = "127.0.0.1"\nport = {port}\n\n[database]\ndsn = "{dsn}"\n'


def _isu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "isu", *args], capture_output=True, text=True,
                          check=False, timeout=600)


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"isu api exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"isu api was not ready within {timeout_s:.0f} s")


def peak_rss_mb(pid: int) -> float | None:
    """``VmHWM`` of the process (Linux), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# -------------------------------------------------------------------------------- the archive


def archive_params(now: datetime, file_format: str) -> dict[str, str]:
    today = now.astimezone(ZoneInfo(DEFAULT_TIME_ZONE)).date()
    first = today - timedelta(days=365)
    return {"type": "interval", "from": first.isoformat(), "to": today.isoformat(),
            "format": file_format}


async def archive_stages(conn: Any, scope: Scope, meter: str, first: date, last: date,
                         ) -> dict[str, float]:
    """The archive's work in this process: its query, its table, its CSV (seconds)."""
    found = await find_meter(conn, scope, meter)
    assert found is not None
    zone = zone_info(found.time_zone, DEFAULT_TIME_ZONE)
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    ratio = billing_ratio(found.ct_ratio, found.vt_ratio)
    started = time.perf_counter()
    records = await interval_records(conn, meter, start, end)
    query_s = time.perf_counter() - started
    started = time.perf_counter()
    table = interval_table(interval_points(records, ratio, meter_id=meter), zone)
    table_s = time.perf_counter() - started
    started = time.perf_counter()
    archive_csv(table)
    csv_s = time.perf_counter() - started
    return {"query_s": query_s, "table_s": table_s, "csv_s": csv_s, "rows": len(records)}


def archive_figures(client: httpx.Client, sql: Baselines, scope: Scope, meter: str, runs: int,
                    now: datetime) -> dict[str, Any]:
    params = archive_params(now, "csv")
    first, last = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
    path = f"/api/v1/meters/{meter}/archive"

    def direct(conn: Any) -> Coroutine[Any, Any, dict[str, float]]:
        return archive_stages(conn, scope, meter, first, last)

    seconds: list[float] = []
    stages: list[dict[str, float]] = []
    size = 0
    for index in range(runs):
        if index % 2:
            stages.append(sql.run(direct))
        started = time.perf_counter()
        response = client.get(path, params=params)
        seconds.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"the CSV archive answered {response.status_code}: {response.text}")
        size = len(response.content)
        if index % 2 == 0:
            stages.append(sql.run(direct))
    started = time.perf_counter()
    xlsx = client.get(path, params=archive_params(now, "xlsx"), timeout=300)
    xlsx_s = time.perf_counter() - started
    if xlsx.status_code != 200:
        raise SystemExit(f"the XLSX archive answered {xlsx.status_code}")
    return {
        "meter": meter, "from": params["from"], "to": params["to"],
        "rows": int(stages[0]["rows"]), "csv_bytes": size, "runs": runs,
        "median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
        "stages_median_s": {
            name: round(statistics.median(stage[name] for stage in stages), 3)
            for name in ("query_s", "table_s", "csv_s")
        },
        "xlsx_s": round(xlsx_s, 2), "xlsx_bytes": len(xlsx.content),
    }


# -------------------------------------------------------------------------------- the profile


def _ours(file: str) -> bool:
    """A file of the API's own packages (what the cumulative list keeps)."""
    here = str(Path.cwd()) + "/"
    return file.startswith(here) and file[len(here):].split("/")[0] in {"api", "core", "timeseries"}


def _top(profiler: cProfile.Profile, requests: int, key: str) -> list[str]:
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table here
    index = {"tottime": 2, "cumtime": 3}[key]
    ranked = sorted(entries.items(), key=lambda item: item[1][index], reverse=True)
    if key == "cumtime":  # the event loop, the client and the middleware wrap everything
        ranked = [item for item in ranked if _ours(item[0][0])]
    lines = []
    for (file, line, name), (_, calls, own, cumulative, _) in ranked[:PROFILE_TOP]:
        where = file
        for marker in ("site-packages/", str(Path.cwd()) + "/"):
            if marker in where:
                where = where.split(marker, 1)[1]
        lines.append(
            f"{own * 1000 / requests:8.3f} ms own {cumulative * 1000 / requests:8.3f} ms cum"
            f" {calls / requests:9.1f} calls  {name} ({where}:{line})"
        )
    return lines


async def profile_requests(dsn: str, key: str, cases: Sequence[Case]) -> dict[str, Any]:
    """The requests in this process (ASGI transport, the app's own pool) under cProfile."""
    app = create_app(ApiConfig.model_validate({"database": {"dsn": dsn}}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            for _ in range(100):  # the pool opens in the background
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            for case in cases[:5]:
                await client.get(case.path, params=case.params())
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            for case in cases:
                await client.get(case.path, params=case.params())
            profiler.disable()
            elapsed = time.perf_counter() - started
    return {
        "requests": len(cases),
        "in_process_ms_per_request": round(elapsed * 1000 / len(cases), 2),
        "top_own": _top(profiler, len(cases), "tottime"),
        "top_cumulative": _top(profiler, len(cases), "cumtime"),
    }


async def profile_archive(conn: Any, scope: Scope, meter: str, now: datetime) -> dict[str, Any]:
    params = archive_params(now, "csv")
    first, last = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
    profiler = cProfile.Profile()
    profiler.enable()
    stages = await archive_stages(conn, scope, meter, first, last)
    profiler.disable()
    return {
        "stages_s": {name: round(value, 3) for name, value in stages.items() if name != "rows"},
        "top_own": _top(profiler, 1, "tottime"),
        "top_cumulative": _top(profiler, 1, "cumtime"),
    }


# ---------------------------------------------------------------------------------- the run


@contextmanager
def scratch_database(services: LocalServices, keep: bool, reuse: str | None) -> Iterator[str]:
    if reuse is not None:
        yield services.postgres.dsn_for(reuse)
        return
    name = f"isu_bench_api_{secrets.token_hex(4)}"
    with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield services.postgres.dsn_for(name)
    finally:
        if keep:
            print(f"kept the database {name} (rerun with --reuse {name})", file=sys.stderr)
        else:
            with psycopg.connect(services.postgres.dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(dsn: str, size: Size, work: Path, now: datetime) -> dict[str, Any]:
    apply_migrations(dsn)
    config = work / "api.toml"
    config.write_text(api_toml(dsn, 0), encoding="utf-8")
    registry = work / "registry.json"
    registry.write_text(json.dumps(registry_document(size.meters, "bench-api"),
                                   ensure_ascii=False), encoding="utf-8")
    started = time.perf_counter()
    done = _isu("registry", "import", str(registry), "--config", str(config), "--json")
    if done.returncode != 0:
        raise SystemExit(f"isu registry import failed ({done.returncode}): {done.stderr}")
    figures: dict[str, Any] = {"registry_import_s": round(time.perf_counter() - started, 1)}
    report = json.loads(done.stdout.splitlines()[-1])
    figures["registry"] = {level: counts["created"] for level, counts in report.items()
                           if isinstance(counts, dict)}
    figures.update(load(dsn, size, now))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_api_size (size jsonb)")
        conn.execute("INSERT INTO bench_api_size VALUES (%s)", (json.dumps(asdict(size)),))
    return figures


def _kept_size(dsn: str) -> Size:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT size FROM bench_api_size").fetchone()
    if row is None:
        raise SystemExit("the database to reuse was not made by this benchmark")
    return Size(**row[0])


def _keys(dsn: str) -> tuple[str, str, Scope]:
    """A key scoped to the first contract, an admin key, and the scoped key's scope."""
    tag = secrets.token_hex(4)
    with psycopg.connect(dsn, autocommit=True) as conn:
        contract = "99" + f"{1:010d}"
        scoped, _ = create_key(conn, f"bench-contract-{tag}", scopes=[ContractScope(contract)])
        admin, _ = create_key(conn, f"bench-admin-{tag}", admin=True)
        row = conn.execute("SELECT id FROM contracts WHERE number = %s", (contract,)).fetchone()
    assert row is not None
    return scoped, admin, Scope(contracts=frozenset({int(row[0])}))


async def _connect(dsn: str) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True,
                                                 application_name="isu-bench")
    await conn.execute("SELECT set_config('statement_timeout', '30000ms', false)")
    return conn


def _latencies(base_url: str, dsn: str, keys: tuple[str, str, Scope], size: Size,
               requests: int, archive_runs: int, pid: int, seed: int) -> dict[str, Any]:
    scoped, admin, scope = keys
    rng = random.Random(seed)
    now = utc_now()
    plans: dict[str, tuple[Sequence[Case], Baseline]] = {
        "readings": (readings_cases(size, requests, rng), readings_sql),
        "journal": (journal_cases(size, requests, rng, now), journal_sql),
    }
    warm: dict[str, Sequence[Case]] = {
        "readings": readings_cases(size, WARMUP, rng),
        "journal": journal_cases(size, WARMUP, rng, now),
    }
    figures: dict[str, Any] = {}
    with asyncio.Runner() as runner:
        sql = Baselines(runner, runner.run(_connect(dsn)))
        try:
            with httpx.Client(base_url=base_url, timeout=60,
                              headers={"Authorization": f"Bearer {scoped}"}) as client:
                for name, (_, baseline) in plans.items():
                    measure(client, sql, scope, warm[name], baseline)
                for name, (cases, baseline) in plans.items():
                    measured = measure(client, sql, scope, cases, baseline)
                    figures[name] = endpoint_figures(measured)
                    if name == "readings":
                        figures.update(_readings_parts(cases, measured))
                client.headers["Authorization"] = f"Bearer {admin}"
                for name, (cases, baseline) in plans.items():
                    part = cases[: max(1, len(cases) // 4)]
                    measured = measure(client, sql, Scope.everything(), part, baseline)
                    figures[f"{name}_admin"] = {
                        "requests": len(part), "ms": summary(measured["http"]),
                        "sql_ms": summary(measured["sql"]),
                    }
                figures["rss_mb"] = {"after_latencies": peak_rss_mb(pid)}
                client.headers["Authorization"] = f"Bearer {scoped}"
                archive_meter = meter_id(size.profile_numbers()[0])
                figures["archive"] = archive_figures(client, sql, scope, archive_meter,
                                                     archive_runs, now)
                figures["rss_mb"]["after_archives"] = peak_rss_mb(pid)
        finally:
            runner.run(sql.conn.close())
    figures["_plans"] = {name: cases for name, (cases, _) in plans.items()}
    return figures


def _readings_parts(cases: Sequence[Case], measured: dict[str, list[float]]) -> dict[str, Any]:
    """The readings of profile meters and of the others, apart."""
    parts: dict[str, Any] = {}
    for part, profile in (("readings_profile", True), ("readings_other", False)):
        chosen = [index for index, case in enumerate(cases)
                  if isinstance(case, ReadingsCase) and case.profile == profile]
        if chosen:
            parts[part] = {
                "requests": len(chosen),
                "ms": summary([measured["http"][index] for index in chosen]),
                "sql_ms": summary([measured["sql"][index] for index in chosen]),
            }
    return parts


def targets(figures: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "p95_ms": TARGET_P95_MS, "over_sql_p95_ms": TARGET_OVER_SQL_MS,
        "archive_s": TARGET_ARCHIVE_S,
    }
    for name in ("readings", "journal"):
        p95, sql_p95 = figures[name]["ms"]["p95"], figures[name]["sql_ms"]["p95"]
        found[f"{name}_p95"] = {"ms": p95, "met": p95 <= TARGET_P95_MS}
        found[f"{name}_over_sql"] = {
            "ms": round(p95 - sql_p95, 2), "met": p95 <= sql_p95 + TARGET_OVER_SQL_MS,
        }
    median = figures["archive"]["median_s"]
    found["archive_csv"] = {"s": median, "met": median <= TARGET_ARCHIVE_S}
    found["met"] = all(value["met"] for value in found.values() if isinstance(value, dict))
    return found


async def _profiles(dsn: str, keys: tuple[str, str, Scope], figures: dict[str, Any],
                    plans: dict[str, list[Case]], force: bool, now: datetime) -> dict[str, Any]:
    found: dict[str, Any] = {}
    checks = figures["targets"]
    for name in ("readings", "journal"):
        if force or not (checks[f"{name}_p95"]["met"] and checks[f"{name}_over_sql"]["met"]):
            cases = plans[name][:100]
            found[name] = await profile_requests(dsn, keys[0], cases)
    if force or not checks["archive_csv"]["met"]:
        conn = await _connect(dsn)
        try:
            meter = figures["archive"]["meter"]
            found["archive"] = await profile_archive(conn, keys[2], meter, now)
        finally:
            await conn.close()
    return found


def run(size: Size, requests: int, archive_runs: int, seed: int, keep: bool, reuse: str | None,
        force_profile: bool) -> dict[str, Any]:
    services = load_local_services()
    now = utc_now()
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "date": now.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory(prefix="isu-bench-api-") as folder, \
            scratch_database(services, keep, reuse) as dsn:
        work = Path(folder)
        if reuse is None:
            figures.update(_prepare(dsn, size, work, now))
        else:
            size = _kept_size(dsn)
        figures["size"] = asdict(size)
        keys = _keys(dsn)
        port = free_port()
        config = work / "api.toml"
        config.write_text(api_toml(dsn, port), encoding="utf-8")
        log_path = work / "api.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "isu", "api", "--config", str(config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(process, base_url)
            measured = _latencies(base_url, dsn, keys, size, requests, archive_runs,
                                  process.pid, seed)
        except BaseException:
            print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            stop_process(process)
        plans = measured.pop("_plans")
        figures.update(measured)
        figures["targets"] = targets(figures)
        if force_profile or not figures["targets"]["met"]:
            figures["profile"] = asyncio.run(
                _profiles(dsn, keys, figures, plans, force_profile, now)
            )
    return figures


def _print(figures: dict[str, Any]) -> None:
    size = figures["size"]
    print(
        f"{size['meters']} meters, {size['profile_meters']} with {size['profile_days']} days of"
        f" profile, {size['events']} events; {figures['cpus']} CPUs, {figures['run_s']} s in all"
    )
    if "load_s" in figures:
        print(f"  load {figures['load_s']} s {figures['load_s_by_table']}, vacuum"
              f" {figures['vacuum_s']} s, {figures['database_mb']} MB; rows {figures['rows']}")
    for name in ("readings", "readings_profile", "readings_other", "journal",
                 "readings_admin", "journal_admin"):
        item = figures[name]
        http, sql = item["ms"], item["sql_ms"]
        print(f"  {name:17} http p50 {http['p50']:7.2f} p95 {http['p95']:7.2f} p99"
              f" {http['p99']:7.2f} max {http['max']:7.2f} ms | sql p50 {sql['p50']:7.2f}"
              f" p95 {sql['p95']:7.2f} ms")
    archive = figures["archive"]
    print(f"  archive csv median {archive['median_s']} s max {archive['max_s']} s"
          f" ({archive['rows']} rows; stages {archive['stages_median_s']}); xlsx"
          f" {archive['xlsx_s']} s")
    print(f"  API peak RSS {figures['rss_mb']} MB")
    checks = figures["targets"]
    for name, value in checks.items():
        if isinstance(value, dict):
            print(f"  target {name}: {value} {'met' if value['met'] else 'NOT met'}")
    for name, section in figures.get("profile", {}).items():
        print(f"  profile of {name}:")
        for line in section["top_own"]:
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--profile-meters", type=int, default=100,
                        help="meters of the first contract with a 30-minute profile")
    parser.add_argument("--profile-days", type=int, default=365)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--daily-days", type=int, default=31,
                        help="daily register snapshots per meter")
    parser.add_argument("--requests", type=int, default=500, help="measured per endpoint")
    parser.add_argument("--archive-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true",
                        help="profile every endpoint, even when the targets are met")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", metavar="NAME",
                        help="measure a database kept by --keep instead of generating one")
    args = parser.parse_args()
    size = Size(args.meters, args.profile_meters, args.profile_days, args.events, args.daily_days)
    if min(args.meters, args.profile_meters, args.profile_days, args.daily_days, args.requests,
           args.archive_runs) < 1 or args.events < 0:
        parser.error("sizes and counts must be at least 1 (--events at least 0)")
    if args.profile_meters > size.contract_meters:
        parser.error(f"--profile-meters: the first contract has {size.contract_meters} meters")
    if args.events > args.meters * 100_000:
        parser.error("--events: at most 100,000 a meter")
    started = time.monotonic()
    figures = run(size, args.requests, args.archive_runs, args.seed, args.keep, args.reuse,
                  args.profile)
    figures["run_s"] = round(time.monotonic() - started, 1)
    _print(figures)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
