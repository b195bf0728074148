"""The mercury230 driver against a scripted fake meter that replays recorded frames.

The fake meter answers only the exact request bytes it was scripted with and stays silent
otherwise, so a byte-order mistake in the driver cannot cancel itself out. Recorded frames come
from docs/reference/mercury-protocol.md §3.1–§3.4 (tests/unit/mercury/vectors.py names each
with its source);
frames the document lacks are written here as literal bodies whose CRC a bitwise CRC-16/MODBUS
of this module computes, independent of the driver's table-driven one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.errors import (
    AuthenticationError,
    ChecksumError,
    ConnectionLostError,
    MeterInternalError,
    ProtocolError,
    TransportTimeoutError,
    TruncatedError,
)
from core.model import ClockItem, InfoItem, ReadingItem, Stream
from drivers.base import MeterEndpoint, ReadResult
from drivers.mercury import Mercury230Driver
from drivers.transport.memory import memory_pair
from drivers.transport.stream import ByteStream
from drivers.transport.tcp import TcpStream, open_tcp
from tests.unit.mercury import vectors as v

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _crc_bitwise(data: bytes) -> bytes:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


def f(body: str) -> bytes:
    """A frame from a literal body, CRC appended low byte first."""
    raw = bytes.fromhex(body)
    return raw + _crc_bitwise(raw)


def test_local_crc_matches_recorded_frames() -> None:
    for frame in (v.M4_SERIAL_RESP, v.W3_ENERGY_RESP, v.D_TIME_RESP, v.W1_OPEN_REQ):
        assert f(frame[:-2].hex()) == frame


# Status OK at 0x30 is byte-identical to M1/M2's answer; close requests are literal here.
OK_30 = v.M2_OPEN_RESP
OK_00 = v.W1_OPEN_RESP
CLOSE_30 = f("30 02")
CLOSE_00 = v.SHDEN_CLOSE_REQ
INFO_30 = {
    v.M1_TEST_REQ: v.M1_TEST_RESP,
    v.M2_OPEN_REQ: v.M2_OPEN_RESP,
    v.M3_ADDRESS_REQ: v.M3_ADDRESS_RESP,
    v.M4_SERIAL_REQ: v.M4_SERIAL_RESP,
    v.M5_FIRMWARE_REQ: v.M5_FIRMWARE_RESP,
    v.M6_VARIANT_REQ: v.M6_VARIANT_RESP,
    v.M8_RATIOS_REQ: v.M8_RATIOS_RESP,
    CLOSE_30: OK_30,
}
EXPECTED_INFO = [
    ("serial_number", "40680048"),
    ("manufactured", "2020-01-22"),
    ("firmware", "8.0.0"),
    ("vt_ratio", "1"),
    ("ct_ratio", "1"),
    # M6 variant B4 E3 C2 95 57 40
    ("accuracy_class_active", "1.0"),
    ("accuracy_class_reactive", "2.0"),
    ("nominal_voltage_v", "230"),
    ("nominal_current_a", "5"),
    ("meter_constant", "500"),
    ("phases", "3"),
    ("directions", "1"),
    ("profile", "true"),
    ("profile_records", "8192"),
    ("interfaces", "rs485,optical"),
    ("extended_archives", "true"),
    ("variant", "B4E3C2955740"),
]

Answer = bytes | None


class FakeMeter:
    """Replays scripted answers to exact request bytes; a list answers successive requests."""

    def __init__(
        self,
        script: Mapping[bytes, Answer | list[Answer]],
        *,
        chunk_size: int | None = None,
        noise: bytes = b"",
    ) -> None:
        self._script = {
            request: list(answer) if isinstance(answer, list) else [answer]
            for request, answer in script.items()
        }
        self._chunk_size = chunk_size
        self._noise = noise
        self.received: list[bytes] = []

    async def serve(self, stream: ByteStream) -> None:
        buffer = b""
        while True:
            try:
                buffer += await stream.read_some(30.0)
            except (ConnectionLostError, TransportTimeoutError):
                return
            for request, answers in self._script.items():
                if buffer.endswith(request):
                    buffer = b""
                    self.received.append(request)
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    if answer is not None:
                        await self._send(stream, self._noise + answer)
                    break

    async def _send(self, stream: ByteStream, data: bytes) -> None:
        if self._chunk_size is None:
            await stream.write(data)
            return
        for start in range(0, len(data), self._chunk_size):
            await stream.write(data[start : start + self._chunk_size])
            await asyncio.sleep(0.001)


@asynccontextmanager
async def over_memory(meter: FakeMeter) -> AsyncIterator[ByteStream]:
    client, server = memory_pair("mercury")
    task = asyncio.create_task(meter.serve(server))
    try:
        yield client
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def over_tcp(meter: FakeMeter) -> AsyncIterator[ByteStream]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await meter.serve(TcpStream(reader, writer, "fake-meter", 0))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = await open_tcp("127.0.0.1", port)
    try:
        yield client
    finally:
        await client.close()
        server.close()
        await server.wait_closed()


def _driver(stream: ByteStream, address: int, *, password: str | None = None,
            timeout_s: float = 1.0, **options: Any) -> Mercury230Driver:
    endpoint = MeterEndpoint(f"meter-{address:02x}", "mercury230", address, password=password,
                             timeout_s=timeout_s, options=options)
    return Mercury230Driver(stream, endpoint, now=lambda: NOW)


def _info(result: ReadResult) -> list[tuple[str, str]]:
    assert all(item.ts == NOW for item in result.info)
    return [(item.field, item.value) for item in result.info]


def _readings(result: ReadResult, stream: Stream) -> dict[str, tuple[Decimal, str]]:
    items = result.readings[stream]
    assert all(isinstance(item, ReadingItem) and item.ts == NOW for item in items)
    return {item.obis: (item.value, item.unit) for item in items}


# --- the recorded meter at 0x30 (mercury-base cache) -------------------------------------------

async def test_info_of_the_real_meter_over_memory() -> None:
    meter = FakeMeter(INFO_30)
    async with over_memory(meter) as stream:
        result = await _driver(stream, 0x30, password="123456").read([Stream.INFO])
    assert _info(result) == EXPECTED_INFO
    assert result.errors == {}
    assert meter.received == [v.M2_OPEN_REQ, v.M4_SERIAL_REQ, v.M5_FIRMWARE_REQ,
                              v.M8_RATIOS_REQ, v.M6_VARIANT_REQ, CLOSE_30]


async def test_info_of_the_real_meter_over_tcp() -> None:
    meter = FakeMeter(INFO_30)
    async with over_tcp(meter) as stream:
        result = await _driver(stream, 0x30, password="123456").read([Stream.INFO])
    assert _info(result) == EXPECTED_INFO


async def test_split_delivery_and_leading_noise() -> None:
    meter = FakeMeter(INFO_30, chunk_size=1, noise=b"\xff\x30\x00\x01")
    async with over_memory(meter) as stream:
        result = await _driver(stream, 0x30, password="123456").read([Stream.INFO])
    assert _info(result) == EXPECTED_INFO


# --- WB vectors at the universal address 00 ----------------------------------------------------

ENERGY_00 = {v.W1_OPEN_REQ: OK_00, v.W3_ENERGY_REQ: v.W3_ENERGY_RESP, CLOSE_00: OK_00}


async def test_current_energy_sum_w3() -> None:
    async with over_memory(FakeMeter(ENERGY_00)) as stream:
        result = await _driver(stream, 0, zones=[]).read([Stream.CURRENT])
    # A- and R- are masked FF FF FF FF: left out, never huge numbers.
    assert _readings(result, Stream.CURRENT) == {
        "1.0.1.8.0.255": (Decimal("3196.200"), "kWh"),
        "1.0.3.8.0.255": (Decimal("300.444"), "kvarh"),
    }


async def test_current_energy_with_zones() -> None:
    script = {
        **ENERGY_00,
        # tariff 1: A+ 1000.001 kWh, A- 0, R+ masked, R- 0.255 kvarh (layout w1 w0 w3 w2)
        f("00 05 00 01"): f("00 0F 00 41 42 00 00 00 00 FF FF FF FF 00 00 FF 00"),
        # tariff 2: all four 0
        f("00 05 00 02"): f("00" + "00" * 16),
        # tariff 3: A+ 0x40000001 Wh, no 0x3F mask on energy
        f("00 05 00 03"): f("00 00 40 01 00 FF FF FF FF FF FF FF FF FF FF FF FF"),
        # tariff 4: not scripted; use only zones 1..3
    }
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver(stream, 0, zones=[1, 2, 3]).read([Stream.CURRENT])
    readings = _readings(result, Stream.CURRENT)
    assert readings["1.0.1.8.1.255"] == (Decimal("1000.001"), "kWh")
    assert readings["1.0.2.8.1.255"] == (Decimal("0.000"), "kWh")
    assert "1.0.3.8.1.255" not in readings
    assert readings["1.0.4.8.1.255"] == (Decimal("0.255"), "kvarh")
    assert [readings[f"1.0.{c}.8.2.255"][0] for c in (1, 2, 3, 4)] == [Decimal("0.000")] * 4
    assert readings["1.0.1.8.3.255"] == (Decimal("1073741.825"), "kWh")
    assert len(readings) == 2 + 3 + 4 + 1


SINGLE_00: dict[bytes, Answer] = {
    v.W1_OPEN_REQ: OK_00,
    CLOSE_00: OK_00,
    v.W6_U1_REQ: v.W6_U1_RESP,  # U1 241.28 V
    v.W12_U2_REQ: f("00 00 10 5A"),  # U2 0x5A10 = 230.56 V
    v.WB_U3_REQ: f("00 00 B4 59"),  # U3 0x59B4 = 229.64 V
    v.W7_I1_REQ: v.W7_I1_RESP,  # I1 0.069 A
    v.WB_I2_REQ: f("00 00 E8 03"),  # I2 1.000 A
    v.WB_I3_REQ: f("00 00 D0 07"),  # I3 2.000 A
    v.W8_P_REQ: v.W8_P_RESP,  # P 5530.95 W
    v.W9_P1_REQ: v.W9_P1_RESP,  # P1 −5530.95 W
    f("00 08 11 02"): f("00 00 10 27"),  # P2 100.00 W
    f("00 08 11 03"): f("00 80 10 27"),  # P3 −100.00 W (active reverse)
    v.WB_Q_REQ: f("00 40 E8 03"),  # Q −10.00 var (reactive reverse)
    f("00 08 11 05"): f("00 00 E8 03"),  # Q1 10.00 var
    f("00 08 11 06"): f("00 00 00 00"),  # Q2 0
    f("00 08 11 07"): f("00 40 00 00"),  # Q3 0 with the reverse bit: still 0
    f("00 08 11 08"): f("00 01 A0 86"),  # S 0x0186A0 = 1000.00 VA
    f("00 08 11 09"): f("00 00 50 C3"),  # S1 500.00 VA
    f("00 08 11 0A"): f("00 00 00 00"),  # S2 0
    f("00 08 11 0B"): f("00 40 50 C3"),  # S3 500.00 VA, direction bit ignored
    v.WB_PF_REQ: f("00 00 E8 03"),  # cos φ 1.000
    f("00 08 11 31"): f("00 00 84 03"),  # cos φ1 0.900
    f("00 08 11 32"): f("00 80 84 03"),  # cos φ2 −0.900 (active reverse)
    f("00 08 11 33"): f("00 00 00 00"),  # cos φ3 0.000
    v.WB_F_REQ: f("00 00 88 13"),  # f 50.00 Hz
}
EXPECTED_INSTANT = {
    "1.0.32.7.0.255": (Decimal("241.28"), "V"),
    "1.0.52.7.0.255": (Decimal("230.56"), "V"),
    "1.0.72.7.0.255": (Decimal("229.64"), "V"),
    "1.0.31.7.0.255": (Decimal("0.069"), "A"),
    "1.0.51.7.0.255": (Decimal("1.000"), "A"),
    "1.0.71.7.0.255": (Decimal("2.000"), "A"),
    "1.0.1.7.0.255": (Decimal("5.53095"), "kW"),
    "1.0.21.7.0.255": (Decimal("-5.53095"), "kW"),
    "1.0.41.7.0.255": (Decimal("0.1"), "kW"),
    "1.0.61.7.0.255": (Decimal("-0.1"), "kW"),
    "1.0.3.7.0.255": (Decimal("-0.01"), "kvar"),
    "1.0.23.7.0.255": (Decimal("0.01"), "kvar"),
    "1.0.43.7.0.255": (Decimal("0"), "kvar"),
    "1.0.63.7.0.255": (Decimal("0"), "kvar"),
    "1.0.9.7.0.255": (Decimal("1"), "kVA"),
    "1.0.29.7.0.255": (Decimal("0.5"), "kVA"),
    "1.0.49.7.0.255": (Decimal("0"), "kVA"),
    "1.0.69.7.0.255": (Decimal("0.5"), "kVA"),
    "1.0.13.7.0.255": (Decimal("1.000"), "1"),
    "1.0.33.7.0.255": (Decimal("0.900"), "1"),
    "1.0.53.7.0.255": (Decimal("-0.900"), "1"),
    "1.0.73.7.0.255": (Decimal("0.000"), "1"),
    "1.0.14.7.0.255": (Decimal("50.00"), "Hz"),
}


async def test_instant_values_one_by_one_w6_to_w9() -> None:
    async with over_memory(FakeMeter(SINGLE_00)) as stream:
        result = await _driver(stream, 0, instant_mode="single").read([Stream.INSTANT])
    readings = _readings(result, Stream.INSTANT)
    assert readings == EXPECTED_INSTANT
    assert all(str(readings[obis][0]) == str(value) for obis, (value, _) in
               EXPECTED_INSTANT.items() if obis in ("1.0.32.7.0.255", "1.0.1.7.0.255"))


async def test_instant_values_all_phases_with_fallback() -> None:
    script: dict[bytes, Answer] = {
        v.W1_OPEN_REQ: OK_00,
        CLOSE_00: OK_00,
        # 08 16 00 refused with status 1: the driver reads P value by value with 08 11.
        f("00 08 16 00"): f("00 01"),
        v.W8_P_REQ: v.W8_P_RESP,
        v.W9_P1_REQ: v.W9_P1_RESP,
        f("00 08 11 02"): f("00 00 10 27"),
        f("00 08 11 03"): f("00 80 10 27"),
        f("00 08 16 04"): f("00 40 E8 03 00 E8 03 00 00 00 40 00 00"),
        f("00 08 16 08"): f("00 01 A0 86 00 50 C3 00 00 00 40 50 C3"),
        f("00 08 16 11"): f("00 00 40 5E 00 10 5A 00 B4 59"),
        f("00 08 16 21"): f("00 00 45 00 00 E8 03 00 D0 07"),
        f("00 08 16 30"): f("00 00 E8 03 00 84 03 80 84 03 00 00 00"),
        v.WB_F_REQ: f("00 00 88 13"),
    }
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver(stream, 0).read([Stream.INSTANT])
    assert _readings(result, Stream.INSTANT) == EXPECTED_INSTANT


# --- DOC3 clock at 0x80 -----------------------------------------------------------------------

async def test_clock_drift_doc3_time() -> None:
    script = {v.D_OPEN_BINARY_REQ: f("80 00"), v.D_TIME_REQ: v.D_TIME_RESP,
              v.D_CLOSE_REQ: f("80 00")}
    true_time = datetime(2008, 2, 27, 13, 14, 40, tzinfo=UTC)  # MSK was UTC+3 in winter 2008
    endpoint = MeterEndpoint("meter-80", "mercury230", 0x80, timeout_s=1.0)
    async with over_memory(FakeMeter(script)) as stream:
        result = await Mercury230Driver(stream, endpoint, now=lambda: true_time).read(
            [Stream.CLOCK]
        )
    assert result.clock == [ClockItem(ts=true_time, meter_time=datetime(2008, 2, 27, 16, 14, 43),
                                      drift_s=Decimal("3.0"), season="winter")]


# --- failures --------------------------------------------------------------------------------

async def test_silent_meter_is_a_timeout_naming_the_meter() -> None:
    async with over_memory(FakeMeter({})) as stream:
        with pytest.raises(TransportTimeoutError, match="meter-30"):
            await _driver(stream, 0x30, password="123456", timeout_s=0.2).read([Stream.INFO])


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (v.M4_SERIAL_RESP[:-1] + bytes((v.M4_SERIAL_RESP[-1] ^ 0x01,)), ChecksumError),
        (v.M4_SERIAL_RESP[:6], TruncatedError),
        (bytes(range(0x80, 0x90)), ProtocolError),
        (v.M5_FIRMWARE_RESP, ProtocolError),  # the answer to another request
        (f("30 02"), MeterInternalError),  # W13's refusal, at 0x30
    ],
    ids=["bad crc", "truncated", "garbage", "wrong answer", "status 2"],
)
async def test_broken_answers(answer: bytes, error: type[Exception]) -> None:
    script = {**INFO_30, v.M4_SERIAL_REQ: answer}
    async with over_memory(FakeMeter(script)) as stream:
        driver = _driver(stream, 0x30, password="123456", timeout_s=0.2)
        with pytest.raises(error, match="meter-30") as info:
            await driver.read([Stream.INFO])
    assert isinstance(info.value, error)


async def test_status_5_mid_read_reopens_and_retries() -> None:
    # W12's status-5 frame (address 00) first, then W3; the channel is opened twice.
    script: dict[bytes, Answer | list[Answer]] = {
        v.W1_OPEN_REQ: OK_00,
        CLOSE_00: OK_00,
        v.W3_ENERGY_REQ: [v.W12_STATUS5_RESP, v.W3_ENERGY_RESP],
    }
    meter = FakeMeter(script)
    async with over_memory(meter) as stream:
        result = await _driver(stream, 0, zones=[]).read([Stream.CURRENT])
    assert _readings(result, Stream.CURRENT)["1.0.1.8.0.255"] == (Decimal("3196.200"), "kWh")
    assert meter.received == [v.W1_OPEN_REQ, v.W3_ENERGY_REQ, v.W1_OPEN_REQ,
                              v.W3_ENERGY_REQ, CLOSE_00]


async def test_wrong_password_is_an_authentication_error_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong_open = f("30 01 01 06 05 04 03 02 01")  # password "654321", binary
    meter = FakeMeter({**INFO_30, wrong_open: f("30 03")})
    caplog.set_level(1)
    async with over_memory(meter) as stream:
        with pytest.raises(AuthenticationError) as info:
            await _driver(stream, 0x30, password="654321").read([Stream.INFO])
    assert meter.received == [wrong_open]
    text = f"{info.value} {info.value!r} {info.value.__cause__!r} {caplog.text}"
    assert "meter-30" in str(info.value)
    assert "654321" not in text
    assert "06 05 04 03 02 01" not in text
    assert "30 01 01 ** **" in caplog.text  # frames are traced, the password masked


async def test_partial_read_keeps_what_was_read() -> None:
    script = {**INFO_30}  # 30 05 00 00 (energy) is not scripted: silence
    async with over_memory(FakeMeter(script)) as stream:
        result = await _driver(stream, 0x30, password="123456", timeout_s=0.2, zones=[]).read(
            [Stream.CURRENT, Stream.INFO, Stream.DAILY]
        )
    assert _info(result) == EXPECTED_INFO
    assert isinstance(result.errors[Stream.CURRENT], TransportTimeoutError)
    assert isinstance(result.errors[Stream.DAILY], TransportTimeoutError)  # 04 00 unscripted
    assert Stream.CURRENT not in result.readings
    assert result.streams() == [Stream.INFO]
    assert all(isinstance(item, InfoItem) for item in result.info)
