"""How every ``isu sim`` fleet runs: built and started, its first line printed, then served
until SIGINT or SIGTERM and closed (docs/simulators.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from typing import Any, Protocol

from core.errors import ConfigError

__all__ = ["RunningFleet", "run_until_signal", "wait_for_signal"]


class RunningFleet(Protocol):
    async def start(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


async def run_until_signal(build: Callable[[], RunningFleet]) -> int:
    """0 after a clean stop; 1 when the fleet cannot be built or started (the reason on
    standard error, nothing on standard output)."""
    try:
        fleet = build()
        await fleet.start()
    except ConfigError as exc:
        print(f"isu sim: {exc}", file=sys.stderr)
        return 1
    try:
        # The handlers first: a client that signals as soon as it has read the line stops the
        # fleet cleanly instead of killing the process.
        await wait_for_signal(lambda: print(json.dumps(fleet.describe()), flush=True))
    finally:
        await fleet.close()
    return 0


async def wait_for_signal(ready: Callable[[], None] | None = None) -> None:
    """Until SIGINT or SIGTERM (handlers removed afterwards); ``ready`` runs once they are
    installed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        if ready is not None:
            ready()
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
