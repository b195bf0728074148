"""How every ``isu sim`` fleet runs: built and started, its first line printed, then served
until SIGINT or SIGTERM and closed (docs/simulators.md); and :class:`BusFleet`, the buses and
control port that the DLMS and Modbus fleets start and stop together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from core.errors import ConfigError
from simulators.control import ControlServer
from simulators.mercury230.clock import Clock

__all__ = ["BusFleet", "RunningFleet", "run_until_signal", "wait_for_signal"]

logger = logging.getLogger(__name__)


class RunningFleet(Protocol):
    async def start(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class _Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def describe_bus(self) -> dict[str, Any]: ...


BusT = TypeVar("BusT", bound=_Bus)


class BusFleet(Generic[BusT]):
    """Buses and an optional control port, started and stopped together; a subclass sets
    ``buses`` and ``control`` and says what it simulates in :meth:`summary`."""

    protocol: str
    buses: list[BusT]
    control: ControlServer | None
    clock: Clock

    def __init__(self, buses: Sequence[BusT], *, control: tuple[str, int] | None = None,
                 clock: Clock | None = None) -> None:
        self.buses = list(buses)
        if not self.buses:
            raise ConfigError("a fleet has at least one bus")
        self.clock = clock if clock is not None else self.bus_clock(self.buses[0])
        self.control = None if control is None else ControlServer(self.command, *control)

    def bus_clock(self, bus: BusT) -> Clock:
        """The clock of a bus's meters: the fleet's when none is given."""
        raise NotImplementedError

    def command(self, document: dict[str, Any]) -> dict[str, Any]:
        """Run one control command; never raises."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The first line ``isu sim`` prints: the protocol, each bus (where it listens and what
        it carries, in the bus's own words) and the control port."""
        return {
            "protocol": self.protocol,
            "buses": [bus.describe_bus() for bus in self.buses],
            "control": None if self.control is None else self.control.listen,
        }

    def summary(self) -> str:
        """What the fleet simulates, for the start-up log line ("3 simulated … meter(s)")."""
        raise NotImplementedError

    async def start(self) -> None:
        """Every bus, then the control port; on a failure what started is closed again."""
        try:
            for bus in self.buses:
                await bus.start()
            if self.control is not None:
                await self.control.start()
        except BaseException:
            await self.close()
            raise
        logger.info("%s on %d bus(es), control %s", self.summary(), len(self.buses),
                    "off" if self.control is None else self.control.listen)

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
        for bus in self.buses:
            await bus.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()


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
