"""The ATS 80020 builder (api.ats80020): golden file, time bases, gaps, rounding, names, errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.ats80020 import (
    Ats80020Message,
    Channel,
    Interval,
    MeasuringPoint,
    Party,
    TimeBasis,
    build_80020,
    carry_over_round,
    file_name_80020,
)
from core.errors import ExportError, IsuError
from core.model import Quality

MOSCOW = ZoneInfo("Europe/Moscow")
YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")
HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)

SENDER = Party(inn="7700000000", name='ООО "Пример Учёт"')
AREA = Party(inn="7700000001", name='Потребитель "Завод N1"')
POINT_CODE = "770000000000101"

# The minimal sample of research/peers.md §4 («Minimal sample (reconstructed; all names and
# numbers invented; hourly, 2 of 24 periods shown)»), completed by hand: the 22 hours the
# sample elides hold 400 kWh (channel 01) and 100 kvarh (channel 03). One deliberate
# difference: channel 03's desc is «счетчик, реак. прием», the text of the real file
# filimonof/maket80020 src/tmp/80020_7703311228_20100714_12373_2100000600.xml, where the
# reconstructed sample wrote «реакт.».
GOLDEN_80020 = """\
<?xml version="1.0" encoding="windows-1251"?>
<message class="80020" version="2" number="17">
  <datetime>
    <timestamp>20250302071500</timestamp>
    <daylightsavingtime>0</daylightsavingtime>
    <day>20250301</day>
  </datetime>
  <sender>
    <inn>7700000000</inn>
    <name>ООО "Пример Учёт"</name>
  </sender>
  <area>
    <inn>7700000001</inn>
    <name>Потребитель "Завод N1"</name>
    <measuringpoint code="770000000000101" name="ТП-5, ввод 1">
      <measuringchannel code="01" desc="счетчик, акт. прием">
        <period start="0000" end="0100"><value status="0">412</value></period>
        <period start="0100" end="0200"><value status="1">398</value></period>
        <period start="0200" end="0300"><value status="0">400</value></period>
        <period start="0300" end="0400"><value status="0">400</value></period>
        <period start="0400" end="0500"><value status="0">400</value></period>
        <period start="0500" end="0600"><value status="0">400</value></period>
        <period start="0600" end="0700"><value status="0">400</value></period>
        <period start="0700" end="0800"><value status="0">400</value></period>
        <period start="0800" end="0900"><value status="0">400</value></period>
        <period start="0900" end="1000"><value status="0">400</value></period>
        <period start="1000" end="1100"><value status="0">400</value></period>
        <period start="1100" end="1200"><value status="0">400</value></period>
        <period start="1200" end="1300"><value status="0">400</value></period>
        <period start="1300" end="1400"><value status="0">400</value></period>
        <period start="1400" end="1500"><value status="0">400</value></period>
        <period start="1500" end="1600"><value status="0">400</value></period>
        <period start="1600" end="1700"><value status="0">400</value></period>
        <period start="1700" end="1800"><value status="0">400</value></period>
        <period start="1800" end="1900"><value status="0">400</value></period>
        <period start="1900" end="2000"><value status="0">400</value></period>
        <period start="2000" end="2100"><value status="0">400</value></period>
        <period start="2100" end="2200"><value status="0">400</value></period>
        <period start="2200" end="2300"><value status="0">400</value></period>
        <period start="2300" end="0000"><value status="0">400</value></period>
      </measuringchannel>
      <measuringchannel code="03" desc="счетчик, реак. прием">
        <period start="0000" end="0100"><value status="0">120</value></period>
        <period start="0100" end="0200"><value status="0">100</value></period>
        <period start="0200" end="0300"><value status="0">100</value></period>
        <period start="0300" end="0400"><value status="0">100</value></period>
        <period start="0400" end="0500"><value status="0">100</value></period>
        <period start="0500" end="0600"><value status="0">100</value></period>
        <period start="0600" end="0700"><value status="0">100</value></period>
        <period start="0700" end="0800"><value status="0">100</value></period>
        <period start="0800" end="0900"><value status="0">100</value></period>
        <period start="0900" end="1000"><value status="0">100</value></period>
        <period start="1000" end="1100"><value status="0">100</value></period>
        <period start="1100" end="1200"><value status="0">100</value></period>
        <period start="1200" end="1300"><value status="0">100</value></period>
        <period start="1300" end="1400"><value status="0">100</value></period>
        <period start="1400" end="1500"><value status="0">100</value></period>
        <period start="1500" end="1600"><value status="0">100</value></period>
        <period start="1600" end="1700"><value status="0">100</value></period>
        <period start="1700" end="1800"><value status="0">100</value></period>
        <period start="1800" end="1900"><value status="0">100</value></period>
        <period start="1900" end="2000"><value status="0">100</value></period>
        <period start="2000" end="2100"><value status="0">100</value></period>
        <period start="2100" end="2200"><value status="0">100</value></period>
        <period start="2200" end="2300"><value status="0">100</value></period>
        <period start="2300" end="0000"><value status="0">100</value></period>
      </measuringchannel>
    </measuringpoint>
  </area>
</message>
"""


def hourly(
    day: date, zone: ZoneInfo, values: list[Decimal | None], **kwargs: object
) -> list[Interval]:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return [
        Interval(start=start + n * HOUR, period=HOUR, energy_kwh=value, **kwargs)  # type: ignore[arg-type]
        for n, value in enumerate(values)
    ]


def message(
    points: list[MeasuringPoint],
    *,
    day: date = date(2025, 3, 1),
    zone: str = "Europe/Moscow",
    basis: TimeBasis = TimeBasis.LOCAL,
    number: int = 17,
) -> Ats80020Message:
    return Ats80020Message(
        sender=SENDER,
        area=AREA,
        day=day,
        number=number,
        created_at=datetime(2025, 3, 2, 4, 15, tzinfo=UTC),
        local_zone=zone,
        points=points,
        basis=basis,
    )


def point(
    channels: dict[Channel, list[Interval]], period: timedelta = HOUR, code: str = POINT_CODE
) -> MeasuringPoint:
    return MeasuringPoint(code=code, name="ТП-5, ввод 1", period=period, channels=channels)


def golden_message() -> Ats80020Message:
    day = date(2025, 3, 1)
    a_plus = hourly(day, MOSCOW, [Decimal(412), Decimal(398)] + [Decimal(400)] * 22)
    a_plus[1] = Interval(a_plus[1].start, HOUR, Decimal(398), Quality.ESTIMATED)
    r_plus = hourly(day, MOSCOW, [Decimal(120)] + [Decimal(100)] * 23)
    return message([point({Channel.R_PLUS: r_plus, Channel.A_PLUS: a_plus})])


def periods(xml: bytes, channel: str = "01") -> list[tuple[str, str, str, str]]:
    root = ET.fromstring(xml)
    found = root.find(f"area/measuringpoint/measuringchannel[@code='{channel}']")
    assert found is not None
    rows = []
    for period in found.findall("period"):
        value = period.find("value")
        assert value is not None
        assert value.text is not None
        rows.append(
            (period.get("start", ""), period.get("end", ""), value.get("status", ""), value.text)
        )
    return rows


# -- the golden file ---------------------------------------------------------------------------


def test_golden_file_byte_for_byte() -> None:
    assert build_80020(golden_message()) == GOLDEN_80020.encode("cp1251")


def test_golden_file_is_windows_1251_with_its_declaration() -> None:
    xml = build_80020(golden_message())
    assert xml.startswith(b'<?xml version="1.0" encoding="windows-1251"?>\n')
    assert "Учёт".encode("cp1251") in xml  # ё is 0xB8 in windows-1251
    assert "Учёт".encode() not in xml


def test_golden_file_parses_back_with_every_attribute() -> None:
    root = ET.fromstring(build_80020(golden_message()))
    assert root.tag == "message"
    assert root.attrib == {"class": "80020", "version": "2", "number": "17"}
    assert [child.tag for child in root] == ["datetime", "sender", "area"]
    assert [(e.tag, e.text) for e in root.find("datetime")] == [  # type: ignore[union-attr]
        ("timestamp", "20250302071500"),  # 04:15 UTC is 07:15 in Moscow
        ("daylightsavingtime", "0"),
        ("day", "20250301"),
    ]
    assert root.findtext("sender/inn") == "7700000000"
    assert root.findtext("sender/name") == 'ООО "Пример Учёт"'
    assert root.findtext("area/inn") == "7700000001"
    assert root.findtext("area/name") == 'Потребитель "Завод N1"'
    points = root.findall("area/measuringpoint")
    assert [p.attrib for p in points] == [{"code": POINT_CODE, "name": "ТП-5, ввод 1"}]
    channels = points[0].findall("measuringchannel")
    assert [c.attrib for c in channels] == [
        {"code": "01", "desc": "счетчик, акт. прием"},
        {"code": "03", "desc": "счетчик, реак. прием"},
    ]
    for channel in channels:
        rows = channel.findall("period")
        assert len(rows) == 24
        for hour, row in enumerate(rows):
            assert row.attrib == {"start": f"{hour:02d}00", "end": f"{(hour + 1) % 24:02d}00"}
            assert [value.tag for value in row] == ["value"]
            assert set(row[0].attrib) == {"status"}
    assert periods(build_80020(golden_message()))[:2] == [
        ("0000", "0100", "0", "412"),
        ("0100", "0200", "1", "398"),  # estimated: non-commercial
    ]


def test_names_are_escaped_not_concatenated() -> None:
    tricky = Party(inn="7700000001", name="А & Б <\"В\"> 'Г'")
    xml = build_80020(
        Ats80020Message(
            sender=SENDER,
            area=tricky,
            day=date(2025, 3, 1),
            number=1,
            created_at=datetime(2025, 3, 2, tzinfo=UTC),
            local_zone="Europe/Moscow",
            points=[
                MeasuringPoint(
                    code=POINT_CODE,
                    name='ввод "1" & <2>',
                    period=HOUR,
                    channels={Channel.A_PLUS: []},
                )
            ],
        )
    )
    assert b"&amp;" in xml
    assert b"&quot;" in xml  # in the point's name attribute, as the samples write it
    root = ET.fromstring(xml)
    assert root.findtext("area/name") == tricky.name
    assert root.find("area/measuringpoint").get("name") == 'ввод "1" & <2>'  # type: ignore[union-attr]


def test_all_four_channels_in_code_order_with_their_descriptions() -> None:
    day = date(2025, 3, 1)
    channels = {channel: hourly(day, MOSCOW, [Decimal(1)] * 24) for channel in reversed(Channel)}
    root = ET.fromstring(build_80020(message([point(channels)])))
    found = root.findall("area/measuringpoint/measuringchannel")
    assert [(c.get("code"), c.get("desc")) for c in found] == [
        ("01", "счетчик, акт. прием"),
        ("02", "счетчик, акт. отдача"),
        ("03", "счетчик, реак. прием"),
        ("04", "счетчик, реак. отдача"),
    ]


# -- time basis and the day's grid ---------------------------------------------------------------


def test_local_time_names_periods_by_the_objects_clock() -> None:
    day = date(2025, 3, 1)
    values = [Decimal(n) for n in range(24)]
    xml = build_80020(
        message(
            [point({Channel.A_PLUS: hourly(day, YEKATERINBURG, values)})], zone="Asia/Yekaterinburg"
        )
    )
    rows = periods(xml)
    assert rows[0] == ("0000", "0100", "0", "0")
    assert rows[2] == ("0200", "0300", "0", "2")
    root = ET.fromstring(xml)
    assert root.findtext("datetime/timestamp") == "20250302091500"  # 04:15 UTC at +05:00


def test_moscow_time_shifts_the_day_and_the_periods() -> None:
    # The Moscow day 2025-03-01 runs 02:00 to 02:00 the next day in Yekaterinburg (+05:00).
    day = date(2025, 3, 1)
    start = datetime(2025, 3, 1, 2, tzinfo=YEKATERINBURG)
    intervals = [Interval(start + n * HOUR, HOUR, Decimal(n)) for n in range(24)]
    moscow = message(
        [point({Channel.A_PLUS: intervals})], zone="Asia/Yekaterinburg", basis=TimeBasis.MOSCOW
    )
    rows = periods(build_80020(moscow))
    assert rows[0] == ("0000", "0100", "0", "0")  # 02:00 at +05:00 is 00:00 in Moscow
    assert rows[-1] == ("2300", "0000", "0", "23")
    root = ET.fromstring(build_80020(moscow))
    assert root.findtext("datetime/timestamp") == "20250302071500"
    assert root.findtext("datetime/day") == "20250301"
    # The same intervals are not the object's local day: 00:00-02:00 local are missing and
    # the last two lie in the next day.
    local = message([point({Channel.A_PLUS: intervals[:22]})], day=day, zone="Asia/Yekaterinburg")
    rows = periods(build_80020(local))
    assert rows[:3] == [
        ("0000", "0100", "1", "0"),
        ("0100", "0200", "1", "0"),
        ("0200", "0300", "0", "0"),
    ]
    with pytest.raises(ExportError, match="not a period start of 2025-03-01"):
        build_80020(message([point({Channel.A_PLUS: intervals})], zone="Asia/Yekaterinburg"))


def test_half_hours_give_48_periods_ending_at_midnight() -> None:
    start = datetime(2025, 3, 1, tzinfo=MOSCOW)
    intervals = [Interval(start + n * HALF_HOUR, HALF_HOUR, Decimal("0.5")) for n in range(48)]
    rows = periods(build_80020(message([point({Channel.A_PLUS: intervals}, period=HALF_HOUR)])))
    assert len(rows) == 48
    assert rows[0][:2] == ("0000", "0030")
    assert rows[-1][:2] == ("2330", "0000")
    assert sum(int(row[3]) for row in rows) == 24  # 48 × 0.5 kWh, carried over
    assert {row[3] for row in rows} == {"0", "1"}


def test_a_day_with_a_repeated_hour_has_25_periods_marked_summer() -> None:
    # Moscow left UTC+4 for UTC+3 at 02:00 on 2014-10-26: 01:00-02:00 happened twice.
    day = date(2014, 10, 26)
    start = datetime(2014, 10, 26, tzinfo=MOSCOW).astimezone(UTC)
    intervals = [Interval(start + n * HOUR, HOUR, Decimal(10)) for n in range(25)]
    root = ET.fromstring(build_80020(message([point({Channel.A_PLUS: intervals})], day=day)))
    found = root.findall("area/measuringpoint/measuringchannel/period")
    labels = [(p.get("start"), p.get("end"), p.get("summer")) for p in found]
    assert len(labels) == 25
    assert labels[:4] == [
        ("0000", "0100", "1"),
        ("0100", "0200", "1"),
        ("0100", "0200", "0"),
        ("0200", "0300", "0"),
    ]
    assert labels[-1] == ("2300", "0000", "0")


def test_a_day_with_a_skipped_hour_has_23_periods() -> None:
    day = date(2024, 3, 31)  # Berlin: 02:00 CET became 03:00 CEST
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2024, 3, 31, tzinfo=berlin).astimezone(UTC)
    intervals = [Interval(start + n * HOUR, HOUR, Decimal(1)) for n in range(23)]
    xml = build_80020(message([point({Channel.A_PLUS: intervals})], day=day, zone="Europe/Berlin"))
    root = ET.fromstring(xml)
    found = root.findall("area/measuringpoint/measuringchannel/period")
    assert len(found) == 23
    assert [(p.get("start"), p.get("end"), p.get("summer")) for p in found[1:3]] == [
        ("0100", "0200", "0"),  # ends when the clock would read 02:00 and jumps to 03:00
        ("0300", "0400", "1"),
    ]
    assert root.findtext("datetime/daylightsavingtime") == "0"  # not yet at 00:00


def test_daylightsavingtime_is_one_on_a_summer_day_of_2010() -> None:
    # As in the July 2010 sample (filimonof/maket80020): Moscow was on summer time, UTC+4.
    xml = build_80020(message([point({Channel.A_PLUS: []})], day=date(2010, 7, 14)))
    assert ET.fromstring(xml).findtext("datetime/daylightsavingtime") == "1"
    assert b"summer=" not in xml


# -- gaps and qualities: never silent zeros -------------------------------------------------------


def test_missing_and_flagged_intervals_are_non_commercial() -> None:
    day = date(2025, 3, 1)
    values: list[Decimal | None] = [Decimal("10.4")] * 24
    intervals = hourly(day, MOSCOW, values)
    intervals[3] = Interval(intervals[3].start, HOUR, None)  # no value
    intervals[4] = Interval(intervals[4].start, HOUR, Decimal("10.4"), Quality.INCOMPLETE)
    intervals[5] = Interval(intervals[5].start, HOUR, Decimal("10.4"), Quality.ESTIMATED)
    intervals[6] = Interval(intervals[6].start, HOUR, Decimal(999), Quality.INVALID)
    del intervals[7]  # not given at all
    rows = periods(build_80020(message([point({Channel.A_PLUS: intervals})])))
    assert len(rows) == 24
    statuses = [row[2] for row in rows]
    assert statuses == ["0"] * 3 + ["1"] * 5 + ["0"] * 16
    assert rows[3][3] == "0"
    assert rows[6][3] == "0"  # an invalid value is not a billing value
    assert rows[7] == ("0700", "0800", "1", "0")
    assert rows[4][3] != "0"
    assert rows[5][3] != "0"
    # 21 usable values of 10.4 kWh (not the missing, invalid and absent ones) = 218.4 kWh
    assert sum(int(row[3]) for row in rows) == 218


def test_a_channel_without_data_is_a_whole_day_of_gaps() -> None:
    rows = periods(build_80020(message([point({Channel.A_MINUS: []})])), "02")
    assert rows == [(f"{h:02d}00", f"{(h + 1) % 24:02d}00", "1", "0") for h in range(24)]


# -- carry-over rounding ------------------------------------------------------------------------


def half_up(value: Decimal) -> int:
    return int((value + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR))


def test_carry_over_round_example() -> None:
    values = [Decimal(v) for v in ("0.4", "0.4", "0.4", "0.4", "0.4")]
    assert carry_over_round(values) == [0, 1, 0, 1, 0]  # totals 0, 1, 1, 2, 2 of 0.4..2.0
    assert carry_over_round([Decimal("2.5")]) == [3]  # half up, not half even
    assert carry_over_round([Decimal("0.5"), Decimal("0.5")]) == [1, 0]
    assert carry_over_round([]) == []


wh_values = st.lists(
    st.integers(min_value=0, max_value=50_000_000).map(lambda wh: Decimal(wh).scaleb(-3)),
    max_size=100,
)
fine_values = st.lists(
    st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False, allow_infinity=False),
    max_size=100,
)


@given(st.one_of(wh_values, fine_values))
def test_carry_over_round_keeps_every_running_total(values: list[Decimal]) -> None:
    rounded = carry_over_round(values)
    assert len(rounded) == len(values)
    assert sum(rounded) == half_up(sum(values, Decimal(0)))  # the day's total is kept
    exact = Decimal(0)
    for k, (value, result) in enumerate(zip(values, rounded, strict=True)):
        exact += value
        assert abs(result - value) < 1
        assert result >= 0
        assert sum(rounded[: k + 1]) == half_up(exact)


@given(st.lists(st.integers(min_value=0, max_value=9_999_999), min_size=24, max_size=24))
def test_the_file_keeps_the_channels_rounded_total(watt_hours: list[int]) -> None:
    values: list[Decimal | None] = [Decimal(wh).scaleb(-3) for wh in watt_hours]
    rows = periods(
        build_80020(message([point({Channel.A_PLUS: hourly(date(2025, 3, 1), MOSCOW, values)})]))
    )
    assert sum(int(row[3]) for row in rows) == half_up(Decimal(sum(watt_hours)).scaleb(-3))


# -- file name ------------------------------------------------------------------------------------


def test_file_name() -> None:
    assert file_name_80020(golden_message()) == "80020_7700000000_20250301_17.xml"
    assert (
        file_name_80020(golden_message(), suffix="5600010900")
        == "80020_7700000000_20250301_17_5600010900.xml"
    )
    with pytest.raises(ExportError, match="suffix"):
        file_name_80020(golden_message(), suffix="../x")


# -- bad input ------------------------------------------------------------------------------------


def test_a_character_windows_1251_cannot_encode_is_a_typed_error() -> None:
    assert Party(inn="7700000001", name="Завод №1 «Ёлка»").name  # № « » Ё are in windows-1251
    with pytest.raises(ExportError, match="windows-1251 cannot encode") as caught:
        Party(inn="7700000001", name="Завод ⚡")
    assert isinstance(caught.value, IsuError)
    assert not caught.value.retryable
    with pytest.raises(ExportError, match="name of metering point 770000000000101"):
        MeasuringPoint(
            code=POINT_CODE, name="ввод 1 \u2070", period=HOUR, channels={Channel.A_PLUS: []}
        )
    with pytest.raises(ExportError, match="control character"):
        Party(inn="7700000001", name="Завод\x01")


@pytest.mark.parametrize("inn", ["", "77000000ab", "1234567890123", "７７"])
def test_bad_inn(inn: str) -> None:
    with pytest.raises(ExportError, match="INN"):
        Party(inn=inn, name="Завод")


@pytest.mark.parametrize("code", ["77000000000010", "7700000000001011", "77000000000010x"])
def test_bad_ats_code(code: str) -> None:
    with pytest.raises(ExportError, match="ATS code"):
        MeasuringPoint(code=code, name="ввод", period=HOUR, channels={Channel.A_PLUS: []})


@pytest.mark.parametrize(
    "period", [timedelta(0), timedelta(minutes=7), timedelta(hours=2), timedelta(seconds=90)]
)
def test_bad_period(period: timedelta) -> None:
    with pytest.raises(ExportError, match="period"):
        MeasuringPoint(code=POINT_CODE, name="ввод", period=period, channels={Channel.A_PLUS: []})


def test_bad_intervals() -> None:
    start = datetime(2025, 3, 1, tzinfo=MOSCOW)
    with pytest.raises(ExportError, match="no UTC offset"):
        Interval(datetime(2025, 3, 1), HOUR, Decimal(1))
    with pytest.raises(ExportError, match="non-negative"):
        Interval(start, HOUR, Decimal(-1))
    with pytest.raises(ExportError, match="non-negative"):
        Interval(start, HOUR, Decimal("NaN"))
    with pytest.raises(ExportError, match="non-negative"):
        Interval(start, HOUR, 1.5)  # type: ignore[arg-type]
    off_grid = Interval(start + timedelta(minutes=15), HOUR, Decimal(1))
    with pytest.raises(ExportError, match="not a period start"):
        build_80020(message([point({Channel.A_PLUS: [off_grid]})]))
    next_day = Interval(start + timedelta(days=1), HOUR, Decimal(1))
    with pytest.raises(ExportError, match="not a period start"):
        build_80020(message([point({Channel.A_PLUS: [next_day]})]))
    twice = Interval(start, HOUR, Decimal(1))
    with pytest.raises(ExportError, match="given twice"):
        build_80020(message([point({Channel.A_PLUS: [twice, twice]})]))
    half = Interval(start, HALF_HOUR, Decimal(1))
    with pytest.raises(ExportError, match="is not the point's"):
        build_80020(message([point({Channel.A_PLUS: [half]})]))


def test_bad_messages() -> None:
    ok = point({Channel.A_PLUS: []})
    with pytest.raises(ExportError, match="unknown time zone"):
        message([ok], zone="Mars/Olympus")
    with pytest.raises(ExportError, match="at least one metering point"):
        message([])
    with pytest.raises(ExportError, match="repeated: 770000000000101"):
        message([ok, ok])
    for number in (0, -1, True):
        with pytest.raises(ExportError, match="message number"):
            message([ok], number=number)
    with pytest.raises(ExportError, match="no channels"):
        point({})
    with pytest.raises(ExportError, match="unknown channel"):
        point({"05": []})  # type: ignore[dict-item]
    # an unknown local zone does not matter when the file is in Moscow time
    assert message([ok], zone="Mars/Olympus", basis=TimeBasis.MOSCOW).zone.key == "Europe/Moscow"
