"""What every driver's ``read()`` shares (``drivers.base``): streams it does not read, the
first error raised when nothing was read, options checked once per meter, errors tagged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import ConfigError, ObjectUnavailableError, TransportTimeoutError
from core.model import InfoItem, Stream
from drivers.base import MeterEndpoint, OptionsCache, ReadResult, read_supported, tag_error

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SUPPORTED = frozenset({Stream.CLOCK, Stream.INFO})


async def test_unsupported_streams_are_errors_and_the_rest_read_once_in_order() -> None:
    asked: list[list[Stream]] = []

    async def read(todo: list[Stream], result: ReadResult) -> None:
        asked.append(todo)
        result.info = [InfoItem(field="serial_number", value="1", ts=AT)]

    result = await read_supported("p", "m1", SUPPORTED, [Stream.INFO, Stream.DAILY, Stream.CLOCK,
                                                         Stream.INFO], AT, read)
    assert asked == [[Stream.INFO, Stream.CLOCK]]
    assert result.read_at == AT
    assert set(result.errors) == {Stream.DAILY}
    error = result.errors[Stream.DAILY]
    assert isinstance(error, ObjectUnavailableError)
    assert str(error) == "meter m1: the p driver does not read the daily stream"


async def test_nothing_read_raises_the_first_asked_streams_error() -> None:
    async def read(todo: list[Stream], result: ReadResult) -> None:
        for stream in todo:
            result.errors[stream] = TransportTimeoutError(f"{stream} silent")

    with pytest.raises(ObjectUnavailableError, match="daily"):
        await read_supported("p", "m1", SUPPORTED, [Stream.DAILY, Stream.CLOCK], AT, read)
    with pytest.raises(TransportTimeoutError, match="clock silent"):
        await read_supported("p", "m1", SUPPORTED, [Stream.CLOCK, Stream.DAILY], AT, read)


async def test_nothing_supported_reads_nothing() -> None:
    async def read(todo: list[Stream], result: ReadResult) -> None:
        raise AssertionError("no stream to read")

    with pytest.raises(ObjectUnavailableError):
        await read_supported("p", "m1", SUPPORTED, [Stream.DAILY], AT, read)


def test_options_are_checked_once_per_meter_until_they_change() -> None:
    checked: list[dict[str, object]] = []

    def check(endpoint: MeterEndpoint) -> int:
        checked.append(dict(endpoint.options))
        if endpoint.options.get("bad"):
            raise ConfigError("bad option")
        return len(checked)

    cache = OptionsCache(check, limit=2)
    first = MeterEndpoint("m1", "p", 1, options={"zones": [1]})
    assert cache.get(first) == cache.get(first) == 1
    first.options["zones"].append(2)  # the cache keeps its own copy: a change is seen
    assert cache.get(first) == 2
    with pytest.raises(ConfigError):
        cache.get(MeterEndpoint("m2", "p", 1, options={"bad": True}))
    assert cache.get(MeterEndpoint("m3", "p", 1)) == 4
    assert cache.get(MeterEndpoint("m4", "p", 1)) == 5  # past the limit it starts over
    assert cache.get(first) == 6


def test_errors_are_tagged_with_the_meter_once() -> None:
    tagged = tag_error("m1", TransportTimeoutError("silent"))
    assert type(tagged) is TransportTimeoutError
    assert str(tagged) == "meter m1: silent"
    assert tagged.__cause__ is not None
    assert tag_error("m1", tagged) is tagged
