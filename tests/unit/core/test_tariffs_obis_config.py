"""Zone schedules, OBIS names and the TOML configuration loader."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from core.config import ConfigModel, TimeZoneName, load_toml, read_secret
from core.errors import ConfigError
from core.obis import INSTANT_CHANNELS, EnergyKind, energy_obis, interval_obis, parse_energy_obis
from core.tariffs import SINGLE_RATE, THREE_ZONE, TWO_ZONE, ZoneSchedule, schedule_named


@pytest.mark.parametrize(
    ("moment", "zone"),
    [(time(0, 0), 2), (time(6, 59, 59), 2), (time(7, 0), 1), (time(22, 59), 1), (time(23, 0), 2)],
)
def test_two_zone_day_and_night(moment: time, zone: int) -> None:
    assert TWO_ZONE.zone_at(moment) == zone


@pytest.mark.parametrize(
    ("moment", "zone"),
    [
        (time(3, 0), 2),
        (time(7, 0), 1),
        (time(9, 59), 1),
        (time(10, 0), 3),
        (time(17, 0), 1),
        (time(21, 0), 3),
        (time(23, 30), 2),
    ],
)
def test_three_zone_peak_semi_peak_night(moment: time, zone: int) -> None:
    assert THREE_ZONE.zone_at(moment) == zone


def test_schedules_list_their_zones_and_are_found_by_name() -> None:
    assert SINGLE_RATE.zones == (1,)
    assert TWO_ZONE.zones == (1, 2)
    assert THREE_ZONE.zones == (1, 2, 3)
    assert schedule_named("two-zone") is TWO_ZONE
    with pytest.raises(ValueError, match="unknown zone schedule"):
        schedule_named("lunar")


def test_a_schedule_must_start_at_midnight_and_increase() -> None:
    with pytest.raises(ValueError, match="00:00"):
        ZoneSchedule("bad", ((time(1, 0), 1),))
    with pytest.raises(ValueError, match="increasing"):
        ZoneSchedule("bad", ((time(0, 0), 1), (time(5, 0), 2), (time(4, 0), 1)))


def test_energy_obis_codes() -> None:
    assert energy_obis(EnergyKind.A_PLUS) == "1.0.1.8.0.255"
    assert energy_obis(EnergyKind.R_MINUS, 3) == "1.0.4.8.3.255"
    assert interval_obis(EnergyKind.A_MINUS) == "1.0.2.29.0.255"
    assert parse_energy_obis("1.0.3.8.2.255") == (EnergyKind.R_PLUS, 2)
    assert parse_energy_obis("1.0.32.7.0.255") is None
    assert EnergyKind.R_MINUS.name_ru == "реактивная отпущенная"
    assert EnergyKind.A_PLUS.unit == "kWh"
    assert INSTANT_CHANNELS["1.0.32.7.0.255"].unit == "V"
    assert INSTANT_CHANNELS["1.0.14.7.0.255"].quantity == "frequency"


class _Sample(ConfigModel):
    name: str
    port: int


def test_load_toml_validates_and_names_the_key(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('name = "x"\nport = 1\n')
    assert load_toml(good, _Sample) == _Sample(name="x", port=1)

    unknown = tmp_path / "unknown.toml"
    unknown.write_text('name = "x"\nport = 1\nprot = 2\n')
    with pytest.raises(ConfigError, match="prot"):
        load_toml(unknown, _Sample)

    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(broken, _Sample)

    with pytest.raises(ConfigError, match="no such configuration file"):
        load_toml(tmp_path / "missing.toml", _Sample)


def test_read_secret_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    assert read_secret(secret, None, "[mqtt] password") == "s3cret"
    monkeypatch.setenv("ISU_TEST_SECRET", "from-env")
    assert read_secret(None, "ISU_TEST_SECRET", "[mqtt] password") == "from-env"
    assert read_secret(None, None, "[mqtt] password") is None


def test_read_secret_errors_name_the_source_never_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"\[mqtt\] password: .*absent cannot be read"):
        read_secret(tmp_path / "absent", None, "[mqtt] password")
    monkeypatch.delenv("ISU_TEST_MISSING", raising=False)
    with pytest.raises(ConfigError, match="ISU_TEST_MISSING is not set"):
        read_secret(None, "ISU_TEST_MISSING", "[mqtt] password")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        read_secret(empty, None, "[mqtt] password")


class _Zoned(ConfigModel):
    time_zone: TimeZoneName = "Europe/Moscow"


def test_time_zone_names_are_checked() -> None:
    assert _Zoned(time_zone="Asia/Yekaterinburg").time_zone == "Asia/Yekaterinburg"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        _Zoned(time_zone="Mars/Olympus")


def test_drivers_are_checked_without_io_and_say_what_they_read() -> None:
    from core.model import Stream
    from drivers.base import MeterEndpoint, check_endpoint, supported_streams

    assert supported_streams("mercury230") == set(Stream)
    check_endpoint(MeterEndpoint(meter_id="m1", protocol="mercury230", address=17))
    with pytest.raises(ConfigError, match="m1"):
        check_endpoint(MeterEndpoint(meter_id="m1", protocol="mercury230", address=0xFE))
    with pytest.raises(ConfigError, match="unknown protocol"):
        supported_streams("nosuch")
