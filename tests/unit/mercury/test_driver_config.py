"""The driver validates its endpoint once, when built; no bytes are exchanged here."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from core.errors import ConfigError
from drivers.base import MeterEndpoint, available_protocols, create_driver
from drivers.mercury import Mercury230Driver
from drivers.transport.memory import memory_pair


def _endpoint(address: int = 0x30, password: str | None = None, **options: Any) -> MeterEndpoint:
    return MeterEndpoint("m-1", "mercury230", address, password=password, options=options)


def test_registered_by_name() -> None:
    assert "mercury230" in available_protocols()
    client, _ = memory_pair()
    assert isinstance(create_driver(client, _endpoint()), Mercury230Driver)


@pytest.mark.parametrize("address", [0xFE, 0xF1, 0xFF, 0xFD, -1, 256])
def test_reserved_and_broadcast_addresses_are_refused(address: int) -> None:
    client, _ = memory_pair()
    with pytest.raises(ConfigError, match="m-1"):
        Mercury230Driver(client, _endpoint(address))


def test_universal_address_warns(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = memory_pair()
    with caplog.at_level(logging.WARNING, logger="drivers.mercury.driver"):
        Mercury230Driver(client, _endpoint(0))
    assert "point to point" in caplog.text
    assert caplog.records[0].meter_id == "m-1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "options",
    [
        {"level": 3},
        {"password_encoding": "hex"},
        {"zones": [0]},
        {"zones": [5]},
        {"zones": "1,2"},
        {"zones": [True]},
        {"instant_mode": "all"},
        {"baud": 9600},
    ],
)
def test_bad_options(options: dict[str, Any]) -> None:
    client, _ = memory_pair()
    with pytest.raises(ConfigError, match="m-1"):
        Mercury230Driver(client, _endpoint(**options))


@pytest.mark.parametrize(("password", "encoding"), [("12345x", "binary"), ("1234567", "ascii")])
def test_bad_password_is_not_echoed(password: str, encoding: str) -> None:
    client, _ = memory_pair()
    with pytest.raises(ConfigError) as info:
        Mercury230Driver(client, _endpoint(password=password, password_encoding=encoding))
    assert password not in str(info.value)
    assert info.value.__cause__ is None


def test_bad_time_zone_and_timeout() -> None:
    client, _ = memory_pair()
    with pytest.raises(ConfigError, match="time zone"):
        Mercury230Driver(client, MeterEndpoint("m-1", "mercury230", 1, time_zone="Mars/Base"))
    with pytest.raises(ConfigError, match="timeout"):
        Mercury230Driver(client, MeterEndpoint("m-1", "mercury230", 1, timeout_s=0))


def test_supported_streams() -> None:
    assert {str(s) for s in Mercury230Driver.supported_streams} == {
        "current", "instant", "clock", "info", "events", "daily", "monthly", "interval"
    }


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"journals": [0x01, 0x31]}, "journals"),
        ({"journals": "01"}, "journals"),
        ({"profile_pointer": "guess"}, "profile_pointer"),
        ({"profile_stamp": "middle"}, "profile_stamp"),
    ],
)
def test_bad_record_options_are_refused(options: dict[str, Any], match: str) -> None:
    client, _ = memory_pair()
    with pytest.raises(ConfigError, match=match):
        Mercury230Driver(client, _endpoint(**options))


def test_record_options_are_accepted() -> None:
    from drivers.mercury.options import MercuryOptions

    parsed = MercuryOptions.from_endpoint(_endpoint(
        journals=[0x12, 0x13, 0x12], profile_pointer="address", profile_stamp="start"
    ))
    assert parsed.journals == (0x12, 0x13)
    assert (parsed.profile_pointer, parsed.profile_stamp) == ("address", "start")
