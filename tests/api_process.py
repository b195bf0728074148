"""An ``isu api`` process on a scratch database, as the demo starts it: for the tests that need
a real server (the browser tests, schemathesis)."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg

from core.localenv import LocalServices, free_port
from timeseries.migrate import apply_migrations

__all__ = ["api_process", "scratch_database"]

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def scratch_database(services: LocalServices, prefix: str = "isu_test") -> Iterator[str]:
    """A new database with every migration applied, dropped afterwards; yields its DSN."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = services.postgres.dsn
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = services.postgres.dsn_for(name)
        apply_migrations(dsn)
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"isu api exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError("isu api did not become ready")


@contextlib.contextmanager
def api_process(dsn: str, workdir: Path, timeout_s: float = 30.0) -> Iterator[str]:
    """``isu api --config`` on ``dsn`` (given through a ``dsn_file``, as in production) on a free
    loopback port; yields its base URL once ``/readyz`` answers; stopped afterwards. Its log is
    ``workdir/api.log``."""
    port = free_port()
    (workdir / "dsn").write_text(dsn + "\n", encoding="utf-8")
    (workdir / "api.toml").write_text(
        f'[http]\nhost = "127.0.0.1"\nport = {port}\n\n[database]\ndsn_file = "dsn"\n',
        encoding="utf-8")
    with (workdir / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "isu", "api", "--config", str(workdir / "api.toml")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, timeout_s)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
