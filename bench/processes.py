"""What the benchmarks share about the ``isu`` processes they start."""

from __future__ import annotations

import signal
import subprocess

__all__ = ["stop_process"]


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGTERM, as systemd stops a service; SIGKILL if it is not gone within ``timeout_s``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
