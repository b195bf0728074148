"""The simulator answers the documented Mercury 230 requests byte for byte.

Vectors from docs/reference/mercury-protocol.md §3.1 (WB unit tests, address 00, one meter on the
line), §3.2 (real meter at address 0x30, PyPI mercury-base 1.6 cache) and §3.4 (DOC3 examples,
CRC computed here). Each simulated meter is configured with the state the
vector documents; loads are frozen and instantaneous values pinned where a vector needs them.

Deferred (the simulator answers status 1 to these for now, or they need state it does not keep):
- W5 ``05 60`` per-phase A+ (array 6): per-phase registers are not modelled; W5's values are
  synthetic and do not add up to W3 anyway.
- W10 ``08 11 70`` temperature, W11 ``08 11 61`` THD, DOC3 ``08 11 70``: no thermal or
  harmonic model.
- DOC3 ``05 31 00`` January array (array 3, consumption per month): not modelled.
- DOC3 ``08 13`` last profile record: DOC3's own example disagrees with its ``06`` record
  (pitfall 13), and the simulator's pointer status carries only the overflow and season bits.
- DOC3 ``08 14 08`` / ``08 14 30``: 08 14 reads data frozen by 03 08, not kept yet.
- DOC3 ``08 01 00`` / ``08 12 00`` long forms: their tail (firmware CRC, variant code…) is
  not modelled; the short forms are served (M6, DOC3 ``42 08 01``).
W13 (status 2) is served by the ``internal_error`` fault; see test_protocol_behaviour.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.obis import EnergyKind
from drivers.mercury.crc import append_crc
from drivers.mercury.records import ProfileRecord
from simulators.mercury230.clock import ManualClock
from simulators.mercury230.journals import JournalRing
from simulators.mercury230.meter import SimulatedMeter
from simulators.mercury230.protocol import Bus
from simulators.mercury230.settings import MeterSettings, PasswordEncoding

H = bytes.fromhex

# -- §3.1 WB wb-mqtt-serial test/TMercury230Test.*.dat (address 00, binary password) ----------
W1_OPEN_LEVEL1 = (H("00 01 01 01 01 01 01 01 01 77 81"), H("00 00 01 B0"))
W2_OPEN_LEVEL2_CUSTOM = (H("00 01 02 12 13 14 15 16 17 34 17"), H("00 00 01 B0"))
W3_ENERGY_SUM = (
    H("00 05 00 00 10 25"),
    H("00 30 00 28 C5 FF FF FF FF 04 00 9C 95 FF FF FF FF 44 AB"),
)
W4_ENERGY_SUM_NEXT = (
    H("00 05 00 00 10 25"),
    H("00 30 00 29 C5 FF FF FF FF 04 00 9D 95 FF FF FF FF 45 BB"),
)
W6_U1 = (H("00 08 11 11 4D BA"), H("00 00 40 5E B0 1C"))
W7_I1 = (H("00 08 11 21 4D AE"), H("00 00 45 00 32 B4"))
W8_P_SUM = (H("00 08 11 00 8D B6"), H("00 48 87 70 E2 26"))
W9_P1 = (H("00 08 11 01 4C 76"), H("00 C8 87 70 E3 CE"))
W12_CHANNEL_NOT_OPEN = (H("00 08 11 12 0D BB"), H("00 05 C1 B3"))

# -- §3.2 real meter 0x30, PyPI mercury-base 1.6 sdist mercury_v2 cache ------------------------
M1_TEST = (H("30 00 15 B0"), H("30 00 15 B0"))
M2_OPEN_PW_010203040506 = (H("30 01 01 01 02 03 04 05 06 35 3B"), H("30 00 15 B0"))
M3_ADDRESS = (H("30 08 05 B6 0C"), H("30 00 30 71 DB"))
M4_SERIAL = (H("30 08 00 76 0F"), H("30 28 44 00 30 16 01 14 0B 02"))
M5_FIRMWARE = (H("30 08 03 36 0E"), H("30 08 00 00 8E E6"))
M6_VARIANT = (H("30 08 12 F6 02"), H("30 B4 E3 C2 95 57 40 E7 35"))
M7_FIRMWARE_CRC = (H("30 08 26 F7 D5"), H("30 4E 51 85 93"))
M8_RATIOS = (H("30 08 02 F7 CE"), H("30 00 01 00 01 F4 04"))

# -- §3.4 DOC3 examples (payloads from DOC3, CRC computed here) ---------------
D_TEST = (H("80 00 60 70"), H("80 00 60 70"))
# DOC3 prints no answer to the opens and the close: status 0 is ``80 00`` + CRC ``60 70``.
D_OPEN_ASCII = (H("80 01 01 31 31 31 31 31 31 48 A8"), H("80 00 60 70"))
D_OPEN_BINARY = (H("80 01 01 01 01 01 01 01 01 16 47"), H("80 00 60 70"))
D_CLOSE = (H("80 02 E1 B1"), H("80 00 60 70"))
D_TIME = (H("80 04 00 72 E8"), H("80 43 14 16 03 27 02 08 01 50 90"))
D_SERIAL = (H("80 08 00 77 E8"), H("80 29 5A 40 43 16 06 14 0A 73"))
D_PASSPORT = (
    H("42 08 01 17 D4"),
    H("42 20 57 2F 42 1A 06 12 09 00 00 B4 E3 C2 97 DF 58 3F D3"),
)
D_RATIOS = (H("80 08 02 F6 29"), H("80 00 01 00 01 B5 DE"))
D_ADDRESS_DISCOVERY = (H("00 08 05 B6 03"), H("00 00 80 70 60"))
D_FREQUENCY = (H("80 08 11 40 A5 86"), H("80 00 87 13 0B D9"))
# DOC3's arithmetic says 224.43 V, but 0x565B = 22107: the bytes mean 221.07 V (§3.4 note).
D_U1 = (H("80 08 11 11 64 7A"), H("80 00 5B 56 92 EA"))

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def frozen_meter(clock: ManualClock, **settings: Any) -> SimulatedMeter:
    arguments: dict[str, Any] = {"history_days": 0, **settings}
    meter = SimulatedMeter(MeterSettings(**arguments), clock=clock, initial_wh={})
    meter.freeze()
    return meter


def assert_exchanges(bus: Bus, *vectors: tuple[bytes, bytes]) -> None:
    for request, response in vectors:
        assert bus.exchange(request) == response, request.hex(" ")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def wb_bus(clock: ManualClock) -> Bus:
    """The WB test meter: A+ and R+ only, 3 196 200 Wh / 300 444 varh, alone on its line."""
    meter = frozen_meter(
        clock,
        serial="12345678",
        password2=H("12 13 14 15 16 17"),
        energy_kinds=frozenset({EnergyKind.A_PLUS, EnergyKind.R_PLUS}),
    )
    meter.set_register(EnergyKind.A_PLUS, 1, 3_196_200)
    meter.set_register(EnergyKind.R_PLUS, 1, 300_444)
    # W8: P sum forward with the reactive-reverse bit; W9: P1 with both bits set.
    meter.pin_instant(
        u1="241.28", i1="0.069", p_sum="5530.95", q_sum="-100", p1="-5530.95", q1="-1"
    )
    return Bus([meter])


def test_wb_vectors(wb_bus: Bus) -> None:
    assert_exchanges(wb_bus, W12_CHANNEL_NOT_OPEN)
    assert_exchanges(wb_bus, W1_OPEN_LEVEL1, W3_ENERGY_SUM, W6_U1, W7_I1, W8_P_SUM, W9_P1)
    assert_exchanges(wb_bus, W2_OPEN_LEVEL2_CUSTOM, W3_ENERGY_SUM)


def test_wb_next_poll_sees_one_more_wh_and_varh(wb_bus: Bus) -> None:
    meter = wb_bus.meters[0]
    assert_exchanges(wb_bus, W1_OPEN_LEVEL1, W3_ENERGY_SUM)
    meter.set_register(EnergyKind.A_PLUS, 1, 3_196_201)
    meter.set_register(EnergyKind.R_PLUS, 1, 300_445)
    assert_exchanges(wb_bus, W4_ENERGY_SUM_NEXT)


def test_mercury_base_vectors_of_a_real_meter(clock: ManualClock) -> None:
    meter = frozen_meter(
        clock,
        serial="40680048",  # default address 48 = 0x30
        manufactured=date(2020, 1, 22),
        firmware=(8, 0, 0),
        password1="123456",
        variant=H("B4 E3 C2 95 57 40"),
        firmware_crc=0x4E51,
    )
    bus = Bus([meter])
    assert_exchanges(bus, M1_TEST, M4_SERIAL, M2_OPEN_PW_010203040506)
    assert_exchanges(bus, M3_ADDRESS, M5_FIRMWARE, M6_VARIANT, M7_FIRMWARE_CRC, M8_RATIOS)


def test_doc3_vectors(clock: ManualClock) -> None:
    # 16:14:43 Wednesday 27.02.2008 in Moscow (UTC+3 that winter), winter season byte.
    clock.set(datetime(2008, 2, 27, 13, 14, 43, tzinfo=UTC))
    meter = frozen_meter(clock, serial="41906467", address=0x80, manufactured=date(2020, 6, 22))
    meter.pin_instant(frequency="49.99", u1="221.07")
    bus = Bus([meter])
    assert_exchanges(bus, D_TEST, D_SERIAL, D_OPEN_BINARY, D_TIME, D_RATIOS)
    assert_exchanges(bus, D_FREQUENCY, D_U1, D_ADDRESS_DISCOVERY, D_CLOSE)


def test_doc3_ascii_password_of_a_d_meter(clock: ManualClock) -> None:
    meter = frozen_meter(
        clock, serial="41906467", address=0x80, password_encoding=PasswordEncoding.ASCII
    )
    bus = Bus([meter])
    assert_exchanges(bus, D_OPEN_ASCII)
    # The binary form of the same password is wrong for this meter: status 3.
    assert bus.exchange(D_OPEN_BINARY[0]) == H("80 03 20 71")


def test_doc3_passport(clock: ManualClock) -> None:
    meter = frozen_meter(
        clock,
        serial="32874766",
        address=0x42,
        manufactured=date(2018, 6, 26),
        firmware=(9, 0, 0),
        variant=H("B4 E3 C2 97 DF 58"),
    )
    bus = Bus([meter])
    assert bus.exchange(H("42 01 01 01 01 01 01 01 01 5F 22")) == H("42 00 31 10")
    assert_exchanges(bus, D_PASSPORT)


# -- §3.4 DOC3 journal, archive and profile examples (CRC computed here) -----------------------
D_POWER_JOURNAL = (
    H("80 04 01 02 E8 74"), H("80 01 53 07 01 02 08 09 50 12 01 02 08 2F 74")
)
D_CLOCK_JOURNAL = (
    H("80 04 02 FF 29 05"), H("80 53 23 10 23 01 08 59 23 10 23 01 08 00 91 EB")
)
D_ARCHIVE_T2 = (
    H("14 18 00 23 06 19 02 2D 0D"),
    H("14 00 00 5E 7C FF FF FF FF 00 00 DC 02 00 00 9D 0D 19 DA"),
)
D_PROFILE_RECORD = (
    H("80 06 03 00 10 0F DA 5B"), H("80 0A 10 00 05 03 08 1E 04 29 FF FF 00 00 00 00 FE AF")
)


def test_doc3_journal_records(clock: ManualClock) -> None:
    clock.set(datetime(2008, 3, 1, 9, 0, tzinfo=UTC))
    meter = frozen_meter(clock, serial="41906467", address=0x80)
    journals = meter.journals
    journals.rings[0x01] = JournalRing(2)  # without the power-on the history starts with
    journals.append(0x01, datetime(2008, 1, 10, 8, 0), datetime(2008, 1, 11, 8, 0))
    journals.append(0x01, datetime(2008, 1, 12, 8, 0), datetime(2008, 1, 31, 8, 0))
    journals.append(0x01, datetime(2008, 2, 1, 7, 53, 1), datetime(2008, 2, 1, 12, 50, 9))
    journals.append(0x02, datetime(2008, 1, 23, 10, 23, 53), datetime(2008, 1, 23, 10, 23, 59))
    bus = Bus([meter])
    assert_exchanges(bus, D_OPEN_BINARY, D_POWER_JOURNAL, D_CLOCK_JOURNAL)


def test_doc3_daily_archive(clock: ManualClock) -> None:
    clock.set(datetime(2019, 7, 1, 9, 0, tzinfo=UTC))
    meter = frozen_meter(
        clock, serial="41906420", address=0x14, extended_archives=True,
        energy_kinds=frozenset({EnergyKind.A_PLUS, EnergyKind.R_PLUS, EnergyKind.R_MINUS}),
    )
    meter.archive.daily[date(2019, 6, 23)] = {
        EnergyKind.A_PLUS: {2: 31_838}, EnergyKind.R_PLUS: {2: 732}, EnergyKind.R_MINUS: {2: 3485}
    }
    bus = Bus([meter])
    assert bus.exchange(append_crc(H("14 01 01 01 01 01 01 01 01"))) == append_crc(H("14 00"))
    assert_exchanges(bus, D_ARCHIVE_T2)


def test_doc3_profile_record(clock: ManualClock) -> None:
    meter = frozen_meter(clock, serial="41906467", address=0x80)
    assert meter.profile is not None
    meter.profile.slots[1] = ProfileRecord(0x0A, datetime(2008, 3, 5, 10), 30, 10500, None, 0, 0)
    bus = Bus([meter])
    assert_exchanges(bus, D_OPEN_BINARY, D_PROFILE_RECORD)
