"""Every benchmark in bench/ runs at a tiny size, so none of them rots (figures are not judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.services

TOP = Path(__file__).resolve().parents[2]


def test_ingest_benchmark_runs_and_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--meters", "5", "--polls", "2", "--batch", "4"],
        cwd=TOP,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["rows"] == 5 * 2 * 20
    for name in ("copy_baseline", "validate", "store_write", "store_repeat"):
        assert figures[name]["seconds"] > 0
        assert figures[name]["rows_per_s"] > 0


def test_bus_efficiency_benchmark_runs_and_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bus", "--meters", "2", "--profile-hours", "1"],
        cwd=TOP,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["streams_failed"] == []
    assert figures["exchanges"] > 0
    assert figures["items_read"] > 0
    for name in ("elapsed_s", "wire_s", "allowed_s", "bus_efficiency", "wire_utilisation"):
        assert figures[name] > 0
