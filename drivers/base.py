"""What every meter driver offers, and the registry the collector and ``isu read`` use.

A driver joins a protocol session to a :class:`~drivers.transport.stream.ByteStream` for one
logical request: ``read()`` opens whatever session the protocol needs, reads the streams asked
for, and closes it. The caller owns the stream and the bus lock; a driver never opens sockets.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError, ConnectionLostError, IsuError, ObjectUnavailableError
from core.model import ClockItem, EventItem, InfoItem, ReadingItem, Stream
from drivers.transport.stream import ByteStream

__all__ = [
    "HISTORY_STREAMS",
    "ClockCorrector",
    "DriverFactory",
    "MeterDriver",
    "MeterEndpoint",
    "OptionsCache",
    "ReadResult",
    "available_protocols",
    "check_endpoint",
    "corrects_clock",
    "create_driver",
    "endpoint_zone",
    "read_supported",
    "register_driver",
    "supported_streams",
    "tag_error",
]


@dataclass(frozen=True, slots=True)
class MeterEndpoint:
    """How to talk to one meter on a bus; ``options`` carries protocol-specific settings.

    ``password`` is a secret: it is never logged or put in an error message.
    """

    meter_id: str
    protocol: str
    address: int
    password: str | None = None
    timeout_s: float = 2.0
    time_zone: str = "Europe/Moscow"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ConfigError(f"meter {self.meter_id}: timeout_s must be positive")


def endpoint_zone(endpoint: MeterEndpoint) -> ZoneInfo:
    """The meter's time zone; :class:`ConfigError` for a name the zone database lacks."""
    try:
        return ZoneInfo(endpoint.time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"meter {endpoint.meter_id}: unknown time zone {endpoint.time_zone!r}"
        ) from exc


@dataclass(slots=True)
class ReadResult:
    """What one ``read()`` produced: items per stream, plus the errors of the streams that failed.

    A stream appears in ``errors`` only when it could not be read; a partly read meter returns
    what it read and names what it did not.
    """

    meter_id: str
    read_at: datetime
    readings: dict[Stream, list[ReadingItem]] = field(default_factory=dict)
    events: list[EventItem] = field(default_factory=list)
    info: list[InfoItem] = field(default_factory=list)
    clock: list[ClockItem] = field(default_factory=list)
    errors: dict[Stream, IsuError] = field(default_factory=dict)

    def items(self, stream: Stream) -> Sequence[ReadingItem | EventItem | InfoItem | ClockItem]:
        if stream is Stream.EVENTS:
            return self.events
        if stream is Stream.INFO:
            return self.info
        if stream is Stream.CLOCK:
            return self.clock
        return self.readings.get(stream, [])

    def streams(self) -> list[Stream]:
        """The streams that produced at least one item, in a stable order."""
        return [stream for stream in Stream if self.items(stream)]

    def absorb(self, other: ReadResult) -> None:
        """Add the items and errors of another read of the same meter."""
        for stream, items in other.readings.items():
            self.readings.setdefault(stream, []).extend(items)
        self.events.extend(other.events)
        self.info.extend(other.info)
        self.clock.extend(other.clock)
        self.errors.update(other.errors)


OptionsT = TypeVar("OptionsT")


class OptionsCache(Generic[OptionsT]):
    """A driver's checked options per meter: a collector builds a driver for every read of a
    meter, always with the same ``endpoint.options``, so they are checked once, and again only
    when they change. Bounded: past ``limit`` meters it starts over."""

    def __init__(self, check: Callable[[MeterEndpoint], OptionsT], limit: int = 65536) -> None:
        self._check = check
        self._limit = limit
        self._checked: dict[str, tuple[dict[str, Any], OptionsT]] = {}

    def get(self, endpoint: MeterEndpoint) -> OptionsT:
        known = self._checked.get(endpoint.meter_id)
        if known is not None and known[0] == endpoint.options:
            return known[1]
        checked = self._check(endpoint)
        if len(self._checked) >= self._limit:
            self._checked.clear()
        self._checked[endpoint.meter_id] = (copy.deepcopy(endpoint.options), checked)
        return checked


def tag_error(meter_id: str, error: IsuError) -> IsuError:
    """``error`` with its message prefixed ``meter {meter_id}: `` (once), same class, the
    original as its cause."""
    prefix = f"meter {meter_id}: "
    if str(error).startswith(prefix):
        return error
    tagged = type(error)(prefix + str(error))
    tagged.__cause__ = error
    return tagged


async def read_supported(
    protocol: str,
    meter_id: str,
    supported: frozenset[Stream],
    streams: Sequence[Stream],
    read_at: datetime,
    read: Callable[[list[Stream], ReadResult], Awaitable[None]],
) -> ReadResult:
    """What every driver's ``read()`` does around its own session: an error for each stream of
    ``streams`` the driver does not read, ``read(todo, result)`` for the others (in order,
    without repeats), and when nothing at all was read, the first stream's error raised."""
    result = ReadResult(meter_id, read_at)
    wanted = list(dict.fromkeys(streams))
    todo: list[Stream] = []
    for stream in wanted:
        if stream in supported:
            todo.append(stream)
        else:
            result.errors[stream] = ObjectUnavailableError(
                f"meter {meter_id}: the {protocol} driver does not read the {stream} stream")
    if todo:
        await read(todo, result)
    if not result.streams() and result.errors:
        raise next(result.errors[stream] for stream in wanted if stream in result.errors)
    return result


class MeterDriver(Protocol):
    """One protocol's way of reading a meter."""

    protocol: ClassVar[str]
    supported_streams: ClassVar[frozenset[Stream]]

    async def read(
        self,
        streams: Sequence[Stream],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ReadResult:
        """Read ``streams``; raise only when nothing at all could be read.

        For history streams (:data:`HISTORY_STREAMS`) ``since``/``until`` bound the items' ``ts``
        (``since`` inclusive); without them the driver reads its default window (for example
        the last day of a profile, the last complete day's snapshot).
        """
        ...


@runtime_checkable
class ClockCorrector(Protocol):
    """A driver that can move the meter's clock within its protocol's limit."""

    clock_correction_limit_s: ClassVar[float]

    async def correct_clock(self, delta_s: float) -> None:
        """Move the meter's clock by ``delta_s`` seconds (``|delta_s|`` within the limit)."""
        ...


DriverFactory = Callable[[ByteStream, MeterEndpoint], MeterDriver]

#: Streams of what a meter keeps in its memory (archives, profiles, journals): read by range,
#: ``since`` the newest item already read, so that a poll after an outage catches up.
HISTORY_STREAMS = frozenset({Stream.DAILY, Stream.MONTHLY, Stream.INTERVAL, Stream.EVENTS})

_REGISTRY: dict[str, DriverFactory] = {}


def register_driver(protocol: str, factory: DriverFactory) -> None:
    _REGISTRY[protocol] = factory


def available_protocols() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def create_driver(stream: ByteStream, endpoint: MeterEndpoint) -> MeterDriver:
    _load_builtin()
    try:
        factory = _REGISTRY[endpoint.protocol]
    except KeyError as exc:
        raise ConfigError(
            f"meter {endpoint.meter_id}: unknown protocol {endpoint.protocol!r}; "
            f"known: {', '.join(sorted(_REGISTRY))}"
        ) from exc
    return factory(stream, endpoint)


def supported_streams(protocol: str) -> frozenset[Stream]:
    """The streams a protocol's driver can read (all streams when the driver does not say)."""
    _load_builtin()
    try:
        factory = _REGISTRY[protocol]
    except KeyError as exc:
        raise ConfigError(f"unknown protocol {protocol!r}") from exc
    streams = getattr(factory, "supported_streams", None)
    return frozenset(streams) if streams is not None else frozenset(Stream)


def corrects_clock(protocol: str) -> bool:
    """Whether the protocol's driver offers :class:`ClockCorrector`."""
    _load_builtin()
    factory = _REGISTRY.get(protocol)
    return hasattr(factory, "correct_clock") and hasattr(factory, "clock_correction_limit_s")


class _UnopenedStream:
    """A stream that is never opened: any I/O on it fails."""

    def __init__(self, description: str) -> None:
        self.description = description

    async def write(self, data: bytes) -> None:
        raise ConnectionLostError(f"{self.description}: not opened")

    async def read_some(self, timeout_s: float) -> bytes:
        raise ConnectionLostError(f"{self.description}: not opened")

    async def discard_input(self) -> None:
        return None

    async def close(self) -> None:
        return None


def check_endpoint(endpoint: MeterEndpoint, where: str = "unopened") -> None:
    """Build the endpoint's driver without any I/O, so that its own checks (options, address,
    password encoding…) fail at start-up with a :class:`ConfigError`, not at the first read."""
    create_driver(_UnopenedStream(where), endpoint)


def _load_builtin() -> None:
    # Importing a driver package registers it; kept lazy so that ``core``-only users pay nothing.
    import drivers.dlms
    import drivers.mercury
    import drivers.modbus  # noqa: F401
