"""The ``mercury200`` driver is registered by importing its package and checks its endpoint
without any I/O."""

from __future__ import annotations

from typing import Any

import pytest

import drivers.mercury.m200  # noqa: F401  (registers the driver)
from core.errors import ConfigError
from core.model import Stream
from drivers.base import MeterEndpoint, check_endpoint, supported_streams
from drivers.mercury.m200.options import Mercury200Options


def _endpoint(address: int = 38030255, **options: Any) -> MeterEndpoint:
    return MeterEndpoint("m1", "mercury200", address, options=options)


def test_registered_with_its_streams() -> None:
    check_endpoint(_endpoint())
    assert supported_streams("mercury200") == {
        Stream.CURRENT, Stream.MONTHLY, Stream.INSTANT, Stream.CLOCK, Stream.INFO, Stream.EVENTS,
    }


def test_options() -> None:
    options = Mercury200Options.from_endpoint(_endpoint(zones=[2, 1, 2], reactive=False, months=3))
    assert options == Mercury200Options((1, 2), False, 3)


@pytest.mark.parametrize("options", [
    {"zones": [5]}, {"zones": []}, {"reactive": "yes"}, {"months": 13}, {"level": 1},
])
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="m1"):
        check_endpoint(_endpoint(**options))


def test_bad_address_and_zone() -> None:
    with pytest.raises(ConfigError, match="four bytes"):
        check_endpoint(_endpoint(1 << 32))
    with pytest.raises(ConfigError, match="time zone"):
        check_endpoint(MeterEndpoint("m1", "mercury200", 1, time_zone="Mars/Base"))
