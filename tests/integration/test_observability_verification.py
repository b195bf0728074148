"""The gateway's verification watch (gateway/verification.py) against the real TimescaleDB: the
meters whose verification interval («МПИ») ends within the horizon are exported, with their
contract, and nothing else; a re-verified meter's series goes away; a failing database is
counted and keeps the last values; a running gateway serves the gauge on its /metrics."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway import Gateway, GatewayConfig
from gateway.metrics import GatewayMetrics
from gateway.verification import HORIZON_DAYS, VerificationWatch
from tests.integration.test_gateway import forget_session
from timeseries.registry import import_registry
from timeseries.registry_model import parse_json

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
METRIC = "isu_meter_verification_due_timestamp_seconds"


def _meter(meter_id: str, due: date | None) -> dict[str, object]:
    meter: dict[str, object] = {"meter_id": meter_id, "model": "Меркурий 230 ART-03"}
    if due is not None:
        meter["verified_on"] = "2015-01-01"
        meter["next_verification_on"] = due.isoformat()
    return meter


def _registry(meters: list[dict[str, object]]) -> dict[str, object]:
    points = [
        {"number": str(n), "name": f"Ввод {n}", "meters": [meter]}
        for n, meter in enumerate(meters, start=1)
    ]
    return {
        "schema": 1,
        "contracts": [{
            "number": "770000000042",
            "name": "Договор МПИ",
            "energy_objects": [{
                "number": "1",
                "name": "Корпус 1",
                "connection_points": [{"number": "1", "name": "ТП-1", "metering_points": points}],
            }],
        }],
    }


#: The registry's meters and their next verification (None: no date in the registry).
DUE: dict[str, date | None] = {
    "due-soon": TODAY + timedelta(days=10),
    "overdue": TODAY - timedelta(days=3),
    "at-horizon": TODAY + timedelta(days=HORIZON_DAYS),
    "far": TODAY + timedelta(days=HORIZON_DAYS + 1),
    "no-date": None,
}


@pytest.fixture
def registry_dsn(fresh_database: str) -> str:
    meters = [_meter(meter_id, due) for meter_id, due in DUE.items()]
    with psycopg.connect(fresh_database) as conn:
        import_registry(conn, parse_json(json.dumps(_registry(meters))))
        # A meter only seen on the wire (not in the registry) is never exported, whatever it has.
        conn.execute(
            "INSERT INTO meters (meter_id, next_verification_on) VALUES ('unassigned', %s)",
            (TODAY,),
        )
    return fresh_database


def _exported(metrics: GatewayMetrics) -> dict[tuple[str, str], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.labels["meter_id"], sample.labels["contract"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == METRIC
    }


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def test_meters_due_within_the_horizon_are_exported_with_their_contract(
    registry_dsn: str,
) -> None:
    metrics = GatewayMetrics()
    assert VerificationWatch(registry_dsn, metrics, clock=lambda: NOW).run_once()
    assert _exported(metrics) == {
        ("due-soon", "770000000042"): _midnight(TODAY + timedelta(days=10)),
        ("overdue", "770000000042"): _midnight(TODAY - timedelta(days=3)),
        ("at-horizon", "770000000042"): _midnight(TODAY + timedelta(days=HORIZON_DAYS)),
    }
    assert metrics.registry.get_sample_value(
        "isu_gateway_verification_checked_timestamp_seconds"
    ) == NOW.timestamp()


def test_a_reverified_meter_disappears_and_a_failed_round_keeps_the_last_values(
    registry_dsn: str,
) -> None:
    metrics = GatewayMetrics()
    VerificationWatch(registry_dsn, metrics, clock=lambda: NOW).run_once()
    with psycopg.connect(registry_dsn) as conn:
        conn.execute("UPDATE meters SET verified_on = %s, next_verification_on = %s"
                     " WHERE meter_id = 'overdue'", (TODAY, TODAY + timedelta(days=16 * 365)))
    assert VerificationWatch(registry_dsn, metrics, clock=lambda: NOW).run_once()
    assert set(_exported(metrics)) == {("due-soon", "770000000042"),
                                       ("at-horizon", "770000000042")}

    unreachable = registry_dsn.rsplit("/", 1)[0] + "/isu_no_such_database"
    assert not VerificationWatch(unreachable, metrics, clock=lambda: NOW).run_once()
    assert metrics.registry.get_sample_value("isu_gateway_verification_errors_total") == 1
    assert set(_exported(metrics)) == {("due-soon", "770000000042"),
                                       ("at-horizon", "770000000042")}


@pytest.fixture
def gateway(
    registry_dsn: str, mqtt_address: tuple[str, int], topic_prefix_id: str
) -> Iterator[Gateway]:
    host, port = mqtt_address
    client_id = f"gw-{topic_prefix_id}"
    config = GatewayConfig.model_validate({
        "mqtt": {"host": host, "port": port, "client_id": client_id,
                 "collectors": [topic_prefix_id], "session_expiry_s": 60},
        "database": {"dsn": registry_dsn},
        "metrics": {"listen": "127.0.0.1:0"},
    })
    try:
        with Gateway(config) as running:
            yield running
    finally:
        forget_session(host, port, client_id)


def test_a_running_gateway_serves_the_gauge_from_its_first_round(gateway: Gateway) -> None:
    assert gateway.metrics_address is not None
    host, port = gateway.metrics_address
    deadline = time.monotonic() + 10
    found: set[str] = set()
    while time.monotonic() < deadline and not found:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        found = {
            sample.labels["meter_id"]
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == METRIC
        }
        time.sleep(0.1)
    # The real clock decides here: every registry meter due by today + the horizon.
    horizon = datetime.now(UTC).date() + timedelta(days=HORIZON_DAYS)
    assert found == {meter for meter, due in DUE.items() if due is not None and due <= horizon}
