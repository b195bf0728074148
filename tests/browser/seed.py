"""The demo's site in a scratch database, written directly instead of polled (seconds, not a
minute): the tree of ``isu demo`` (:func:`isu.demo.demo_registry` for the same simulated fleet),
values from the simulator's own load model (:class:`DailyLoad`), journals from the event
catalogue, all relative to the real clock, as the demo's data would be.

Besides the demo's contract, a second contract with meters (the cabinet manual's bench
contract) lets the tests switch contracts, and a third one without meters gives a key whose
scope holds no contract with meters (the cabinet's «У вас пока нет договора с ИПУ»).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from core.events import MERCURY230, journal_name, lookup
from core.obis import ENERGY_KINDS, EnergyKind, energy_obis, interval_obis
from isu.demo import demo_registry
from simulators.mercury230.fleet import default_serial
from simulators.mercury230.load import DailyLoad
from timeseries.registry import import_registry
from timeseries.registry_model import parse_json

__all__ = ["DEMO_CONTRACT", "EMPTY_CONTRACT", "MOSCOW", "SECOND_CONTRACT", "Seeded", "seed_site"]

MOSCOW = ZoneInfo("Europe/Moscow")
DEMO_CONTRACT = "770000000001"
SECOND_CONTRACT = "321654988"
EMPTY_CONTRACT = "321654987"
SITE = "demo-site"
PERIOD = timedelta(minutes=30)
#: Days of history of every meter (the demo's fleet: ``history_days = 40``) …
HISTORY_DAYS = 40
#: … and of the meter whose year is charted month by month.
LONG_HISTORY_DAYS = 400


@dataclass(frozen=True)
class Seeded:
    """What the tests need to know about the seeded site."""

    meters: list[str]
    #: The meter with :data:`LONG_HISTORY_DAYS` of intervals (a year's consumption chart).
    long_meter: str
    #: A meter with rooftop solar: its profile has A- as well as A+.
    export_meter: str
    #: The demo's energy objects: (number, name).
    energy_objects: list[tuple[str, str]]


def _layout(buses: int = 2, per_bus: int = 10) -> dict[str, Any]:
    """What ``isu sim`` prints for the demo's fleet: serials and ids as the simulator makes them."""
    return {
        "buses": [
            {
                "name": f"line-{bus + 1}",
                "listen": "127.0.0.1:0",
                "meters": [
                    {
                        "address": address,
                        "serial": default_serial(bus, address),
                        "meter_id": f"m230-{default_serial(bus, address)}",
                    }
                    for address in range(1, per_bus + 1)
                ],
            }
            for bus in range(buses)
        ]
    }


def _registry(layout: dict[str, Any]) -> dict[str, Any]:
    document = demo_registry(SITE, layout)
    bench = [f"bench-{n}" for n in (1, 2)]
    document["contracts"] += [
        {
            "number": SECOND_CONTRACT,
            "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
            "zone_schedule": "three-zone",
            "energy_objects": [
                {
                    "number": "3216549882",
                    "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
                    "address": "г. Москва, 123592, ул. Кулакова, д. 25, кор. 3",
                    "phone_1": "+7(495)980-59-00",
                    "email": "info@mosenergosbyt.ru",
                    "time_zone": "Europe/Moscow",
                    "connection_points": [
                        {
                            "number": "1",
                            "name": "ТП-5, ввод 1",
                            "metering_points": [
                                {
                                    "number": str(index),
                                    "name": f"ВРУ-1, ввод {index}",
                                    "meters": [
                                        {
                                            "meter_id": meter,
                                            "model": "300.131RAL",
                                            "serial_number": f"2230556{index}",
                                            "mac_address": f"8DC80DFEFF840D0{index}",
                                        }
                                    ],
                                }
                                for index, meter in enumerate(bench, start=1)
                            ],
                        }
                    ],
                }
            ],
        },
        {
            "number": EMPTY_CONTRACT,
            "name": "Стенд МЭС СКЗИ квартира",
            "energy_objects": [
                {"number": "3216549871", "name": "Стенд МЭС СКЗИ квартира"},
            ],
        },
    ]
    return document


def _zone_of(local: datetime, zones: int) -> int:
    """Tariff zone by local hour: two zones (T1 07–23, T2 night) or three (T1 peak, T2 night,
    T3 semi-peak), as docs/reference/domain.md gives the defaults."""
    if local.hour >= 23 or local.hour < 7:
        return 2
    if zones == 3 and (10 <= local.hour < 17 or local.hour >= 21):
        return 3
    return 1


@dataclass
class _Meter:
    meter_id: str
    seed: int
    zones: int
    days: int
    export_kw: float


def _intervals(
    meter: _Meter, now: datetime
) -> Iterator[tuple[datetime, dict[EnergyKind, Decimal], int]]:
    """``(start, energy per kind in kWh/kvarh, quality)`` of every interval ended by ``now``;
    in the last :data:`HISTORY_DAYS`, the 03:00 interval of every third day is ``incomplete``
    (2), as after a power cut."""
    load = DailyLoad(meter.seed, export_peak_kw=meter.export_kw, slot_s=1800)
    local_now = now.astimezone(MOSCOW)
    first = datetime(local_now.year, local_now.month, local_now.day, tzinfo=MOSCOW)
    start = (first - timedelta(days=meter.days)).astimezone(UTC)
    hours = Decimal(PERIOD.total_seconds() / 3600)
    while start + PERIOD <= now:
        sample = load.sample(start + PERIOD / 2)
        p_kw, q_kvar = Decimal(sample.p_w / 1000), Decimal(sample.q_var / 1000)
        energy = {
            EnergyKind.A_PLUS: max(p_kw, Decimal(0)) * hours,
            EnergyKind.A_MINUS: max(-p_kw, Decimal(0)) * hours,
            EnergyKind.R_PLUS: q_kvar * hours,
            EnergyKind.R_MINUS: Decimal(0),
        }
        local = start.astimezone(MOSCOW)
        recent = start >= now - timedelta(days=HISTORY_DAYS)
        cut = recent and (local.hour, local.minute) == (3, 0) and local.toordinal() % 3 == 0
        quality = 2 if cut else 3
        yield start, {k: v.quantize(Decimal("0.0001")) for k, v in energy.items()}, quality
        start += PERIOD


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    """COPY's text format: faster than adapting each value (a quarter million rows)."""
    return "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)


def _write_meter(conn: psycopg.Connection[Any], meter: _Meter, now: datetime) -> None:
    registers = {(kind, zone): Decimal(1000 + 37 * meter.seed) for kind in ENERGY_KINDS
                 for zone in range(1, meter.zones + 1)}  # fmt: skip
    snapshots: list[tuple[str, datetime, dict[tuple[EnergyKind, int], Decimal]]] = []
    day: date | None = None
    intervals: list[tuple[Any, ...]] = []
    for start, energy, quality in _intervals(meter, now):
        local = start.astimezone(MOSCOW)
        if local.date() != day:  # a local midnight: the end of the previous day
            if day is not None:
                snapshots.append(("daily", start, dict(registers)))
                if local.day == 1:
                    snapshots.append(("monthly", start, dict(registers)))
            day = local.date()
        zone = _zone_of(local, meter.zones)
        stamp, read = start.isoformat(), (start + PERIOD).isoformat()
        for kind, value in energy.items():
            registers[(kind, zone)] += value
            intervals.append(
                (meter.meter_id, interval_obis(kind), stamp, 1800, value, kind.unit, quality,
                 read, "seed")
            )  # fmt: skip
    snapshots.append(("current", now.replace(second=0, microsecond=0), dict(registers)))
    readings: list[tuple[Any, ...]] = []
    for stream, ts, values in snapshots:
        for kind in ENERGY_KINDS:
            zones = [values[(kind, zone)] for zone in range(1, meter.zones + 1)]
            for zone, value in enumerate([sum(zones, Decimal(0)), *zones]):
                readings.append(
                    (meter.meter_id, stream, energy_obis(kind, zone), ts.isoformat(),
                     value.quantize(Decimal("0.001")), kind.unit, 3, ts.isoformat(), "seed")
                )  # fmt: skip
    with conn.cursor() as cursor:
        with cursor.copy(
            "COPY interval_readings (meter_id, obis, ts, period_s, value, unit, quality, read_at,"
            " message_id) FROM STDIN"
        ) as copy:
            copy.write(_copy_text(intervals))
        with cursor.copy(
            "COPY register_readings (meter_id, stream, obis, ts, value, unit, quality, read_at,"
            " message_id) FROM STDIN"
        ) as copy:
            copy.write(_copy_text(readings))
    conn.execute(
        "UPDATE meters SET collector_id = %s, protocol = 'mercury230', first_seen_at = %s,"
        " last_seen_at = %s, last_reading_at = %s WHERE meter_id = %s",
        (SITE, now - timedelta(days=meter.days), now, snapshots[-1][1], meter.meter_id),
    )


def _events(meter: _Meter, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Power cuts, cover openings, phase losses and a reprogramming: each day of the meter's
    history has some, so every month shown has critical and non-critical events of
    several kinds."""
    local_now = now.astimezone(MOSCOW)
    today = datetime(local_now.year, local_now.month, local_now.day, tzinfo=MOSCOW)
    for back in range(meter.days):
        midnight = today - timedelta(days=back)
        n = midnight.toordinal() + meter.seed
        planned = [(0, 30, 0x01, 2), (0, 31, 0x01, 1)]  # the power cut of the night
        if n % 3 == 0:
            planned += [(2, 10, 0x03, 2), (2, 12, 0x03, 1)]  # phase A lost and back
        if n % 4 == 0:
            planned += [(11, 5, 0x12, 1), (11, 20, 0x12, 2)]  # terminal cover opened, closed
        if n % 7 == 0:
            planned += [(14, 0, 0x1A, 1), (14, 2, 0x1A, 2), (15, 0, 0x13, 1)]
        for hour, minute, journal, code in planned:
            ts = (midnight + timedelta(hours=hour, minutes=minute, seconds=30)).astimezone(UTC)
            if ts > now:
                continue
            found = lookup(MERCURY230, journal, code)
            assert found is not None
            yield (meter.meter_id, journal_name(MERCURY230, journal), code, ts, found.kind.name,
                   found.text, found.critical, found.phase, 3, ts, "seed")  # fmt: skip


def seed_site(dsn: str, now: datetime) -> Seeded:
    """Import the tree and write every meter's readings and journal up to ``now``."""
    layout = _layout()
    document = _registry(layout)
    meters = [
        _Meter(
            meter_id=entry["meter_id"],
            seed=1 + bus * 100 + entry["address"],
            zones=3 if entry["address"] % 5 == 0 else 2,
            days=LONG_HISTORY_DAYS if (bus, entry["address"]) == (0, 1) else HISTORY_DAYS,
            export_kw=4.0 if entry["address"] % 3 == 0 else 0.0,
        )
        for bus, line in enumerate(layout["buses"])
        for entry in line["meters"]
    ]
    meters += [_Meter(f"bench-{n}", 500 + n, 3, HISTORY_DAYS, 0.0) for n in (1, 2)]
    with psycopg.connect(dsn, autocommit=False) as conn:
        import_registry(conn, parse_json(json.dumps(document, ensure_ascii=False)))
        for meter in meters:
            _write_meter(conn, meter, now)
        with conn.cursor().copy(
            "COPY events (meter_id, journal, code, ts, kind, text, critical, phase, quality,"
            " read_at, message_id) FROM STDIN"
        ) as copy:
            for meter in meters:
                for row in _events(meter, now):
                    copy.write_row(row)
        conn.commit()
    energy_objects = [
        (node["number"], node["name"]) for node in document["contracts"][0]["energy_objects"]
    ]
    return Seeded(
        meters=[meter.meter_id for meter in meters],
        long_meter=meters[0].meter_id,
        export_meter=next(meter.meter_id for meter in meters if meter.export_kw > 0),
        energy_objects=energy_objects,
    )
