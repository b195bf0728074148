"""Every benchmark in bench/ runs at a tiny size, so none of them rots (figures are not judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.services

TOP = Path(__file__).resolve().parents[2]


def _figures(module: str, *args: str, timeout_s: float) -> dict[str, Any]:
    """Run ``python -m module args`` at the top of the checkout; its last line of JSON."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=TOP,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


def test_ingest_benchmark_runs_and_reports_every_figure() -> None:
    tiny = "--meters 5 --polls 2 --batch 4"
    figures = _figures("bench.ingest", *tiny.split(), timeout_s=120)
    assert figures["rows"] == 5 * 2 * 20
    assert figures["registry"]["meters"] == 5
    for name in ("end_to_end", "publish", "store_write", "copy_baseline", "store_repeat",
                 "validate", "validate_reference"):
        assert figures[name]["seconds"] > 0, name
        assert figures[name]["rows_per_s"] > 0, name
    assert figures["end_to_end"]["cpu_s"]["gateway_process"] >= 0
    for name in ("end_to_end_vs_store_write", "end_to_end_vs_copy_baseline"):
        assert figures["ratios"][name] > 0, name
    assert set(figures["targets"]) == {
        "end_to_end_rows_per_s", "end_to_end_vs_store_write", "met"}


def test_bus_efficiency_benchmark_runs_and_reports_every_figure() -> None:
    figures = _figures("bench.bus", "--meters", "2", "--profile-hours", "1", timeout_s=180)
    assert figures["streams_failed"] == []
    assert figures["exchanges"] > 0
    assert figures["items_read"] > 0
    for name in ("elapsed_s", "wire_s", "allowed_s", "bus_efficiency", "wire_utilisation"):
        assert figures[name] > 0


def test_collector_benchmark_runs_and_reports_every_figure() -> None:
    tiny = (
        "--converters 2 --meters 6 --sim-processes 1 --period-s 2 --interval-s 4 --events-s 6 "
        "--window-s 6 --baseline-s 3"
    )
    figures = _figures("bench.collector", *tiny.split(), timeout_s=180)
    assert (figures["converters"], figures["meters"]) == (2, 6)
    assert figures["failures"] == 0
    assert figures["errors"] == {}
    assert figures["collector_exit"] == 0
    every = "polls readings collector_cpu_s readings_per_cpu_s cpu_per_reading_us rss_peak_mb"
    for name in [*every.split(), "window_s", "published", "acknowledged", "collector_cost_x"]:
        assert figures[name] > 0, name
    assert set(figures["readings_by_stream"]) >= {"current", "instant", "clock"}
    baseline = figures["baseline"]
    assert baseline["failures"] == 0
    for name in ("reads", "readings", "cpu_s", "readings_per_cpu_s"):
        assert baseline[name] > 0, name


def test_modbus_benchmark_runs_and_reports_every_figure() -> None:
    figures = _figures("bench.modbus", "--units", "4", "--window-s", "4", "--baseline-s", "2",
                       timeout_s=180)
    assert (figures["units"], figures["points_per_unit"]) == (4, 40)
    assert figures["polls_by_outcome"].keys() == {"ok"}
    assert set(figures["readings_by_stream"]) == {"current", "instant"}
    for name in ("readings", "readings_per_s", "requests", "collector_cpu_s",
                 "readings_per_cpu_s", "rss_peak_mb", "collector_cost_x"):
        assert figures[name] > 0, name
    # 40 points in two requests (20 u32 holding registers, 20 float32 input registers).
    assert figures["requests_per_reading"] == 0.05
    assert figures["baseline"]["requests_per_reading"] == 0.05
    assert figures["meets_target"] is True


def test_api_benchmark_runs_and_reports_every_figure() -> None:
    tiny = "--meters 50 --profile-meters 2 --profile-days 10 --events 5000 --requests 30"
    tiny += " --archive-runs 2 --profile"
    figures = _figures("bench.api", *tiny.split(), timeout_s=180)
    assert figures["registry"]["meters"] == 50
    assert figures["rows"]["events"] == 5000
    assert figures["rows"]["interval_readings"] == 2 * 10 * 48 * 4
    assert 0 < figures["rows"]["critical_events"] < 5000
    for name in ("readings", "journal"):
        assert figures[name]["requests"] == 30
        for part in ("ms", "sql_ms"):
            assert set(figures[name][part]) == {"p50", "p95", "p99", "max"}, name
            assert figures[name][part]["p50"] > 0, name
        assert set(figures[name]["http_minus_sql_ms"]) == {"p50", "p95"}
    for name in ("readings_profile", "readings_other", "readings_admin", "journal_admin"):
        assert figures[name]["ms"]["p95"] > 0, name
    archive = figures["archive"]
    assert archive["rows"] == 10 * 48
    assert archive["median_s"] > 0
    assert archive["max_s"] >= archive["median_s"]
    assert archive["xlsx_s"] > 0
    assert figures["rss_mb"]["after_archives"] > 0
    assert set(figures["targets"]) >= {
        "readings_p95", "readings_over_sql", "journal_p95", "journal_over_sql", "archive_csv",
        "met"}
    for name in ("readings", "journal", "archive"):  # --profile: every section, met or not
        assert figures["profile"][name]["top_own"], name
