"""``isu api`` as a process: uvicorn serves the application and stops cleanly on SIGTERM.

No database is needed: the pool keeps trying in the background while ``/healthz`` answers.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.cli import add_api_arguments, run
from core.localenv import free_port

ROOT = Path(__file__).resolve().parents[2]


def write_config(folder: Path, port: int) -> Path:
    (folder / "api.dsn").write_text(f"postgresql://nobody@127.0.0.1:{free_port()}/none\n")
    path = folder / "api.toml"
    path.write_text(
        f'[http]\nhost = "127.0.0.1"\nport = {port}\n'
        '[database]\ndsn_file = "api.dsn"\nacquire_timeout_s = 0.5\n',
        encoding="utf-8",
    )
    return path


def wait_for_health(url: str, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the API exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout_s} s")


def test_the_api_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 503
        spec = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5)
        assert spec.json()["info"]["title"] == "isu-gateway API"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # uvicorn shuts down cleanly, then re-raises the signal so the parent sees how it ended
    # (systemd counts SIGTERM as a clean stop).
    assert process.returncode in (0, -signal.SIGTERM), output.decode(errors="replace")
    assert b"Application shutdown complete" in output
    assert b"nobody@" not in output  # the DSN never reaches the log


def test_run_fails_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, taken.getsockname()[1])
        parser = argparse.ArgumentParser()
        add_api_arguments(parser)
        assert run(parser.parse_args(["--config", str(config)])) == 1
