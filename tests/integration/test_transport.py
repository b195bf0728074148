"""The byte-stream transports: TCP on loopback, serial on a pseudo-terminal, the memory pair."""

from __future__ import annotations

import asyncio
import os
import tty

import pytest

from core.errors import ConnectError, ConnectionLostError, TransportTimeoutError
from drivers.transport.memory import memory_pair
from drivers.transport.serial import open_serial, read_until_gap
from drivers.transport.tcp import open_tcp
from drivers.transport.timing import wire_time_s


async def test_memory_pair_carries_bytes_both_ways() -> None:
    left, right = memory_pair()
    await left.write(b"\x01\x02")
    assert await right.read_some(1) == b"\x01\x02"
    await right.write(b"\x03")
    assert await left.read_some(1) == b"\x03"
    with pytest.raises(TransportTimeoutError):
        await left.read_some(0.01)
    await right.close()
    with pytest.raises(ConnectionLostError):
        await left.read_some(1)


async def test_tcp_stream_round_trip_and_peer_close() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(100)
        writer.write(data[::-1])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        stream = await open_tcp("127.0.0.1", port)
        assert stream.description == f"tcp://127.0.0.1:{port}"
        await stream.write(b"abc")
        assert await stream.read_some(2) == b"cba"
        with pytest.raises(ConnectionLostError):
            await stream.read_some(2)
        await stream.close()


async def test_tcp_connect_refused_is_a_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
        await open_tcp("127.0.0.1", port, timeout_s=1)


def _pty() -> tuple[int, str]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    name = os.ttyname(slave)
    os.close(slave)
    return master, name


async def _peer_read(master: int, count: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < count:
        data += await loop.run_in_executor(None, os.read, master, count - len(data))
    return data


async def test_serial_stream_on_a_pseudo_terminal() -> None:
    master, name = _pty()
    try:
        stream = await open_serial(name, 9600)
        await stream.write(b"\x30\x00\x15\xb0")
        assert await _peer_read(master, 4) == b"\x30\x00\x15\xb0"
        os.write(master, b"\x30\x00\x15\xb0")
        received = b""
        while len(received) < 4:
            received += await stream.read_some(1)
        assert received == b"\x30\x00\x15\xb0"
        with pytest.raises(TransportTimeoutError):
            await stream.read_some(0.05)
        await stream.close()
    finally:
        os.close(master)


async def test_serial_echo_is_swallowed_before_the_answer() -> None:
    """An RS-485 adapter that hears itself: the echo of the request must not pass for an answer."""
    master, name = _pty()
    try:
        stream = await open_serial(name, 9600, echo=True)
        request = b"\x30\x00\x15\xb0"

        async def adapter_and_meter() -> None:
            heard = await _peer_read(master, len(request))
            os.write(master, heard)  # the echo
            os.write(master, b"\x30\x05\xc1\x70")  # the meter's own answer

        peer = asyncio.create_task(adapter_and_meter())
        await stream.write(request)
        await peer
        received = b""
        while len(received) < 4:
            received += await stream.read_some(1)
        assert received == b"\x30\x05\xc1\x70"
        await stream.close()
    finally:
        os.close(master)


async def test_serial_open_missing_device_is_a_connect_error() -> None:
    with pytest.raises(ConnectError, match="/dev/does-not-exist"):
        await open_serial("/dev/does-not-exist")


async def test_serial_read_waits_counted_from_the_end_of_the_transmission() -> None:
    """At 300 baud 30 bytes take 1 s on the wire: a 0.05 s answer wait starts after that."""
    master, name = _pty()
    try:
        stream = await open_serial(name, 300)
        request = bytes(range(30))
        await stream.write(request)
        assert await _peer_read(master, len(request)) == request
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, os.write, master, b"\x01")
        assert await stream.read_some(0.05) == b"\x01"
        assert stream.timing.wire_time_s(30) == pytest.approx(wire_time_s(30, 300))
        with pytest.raises(TransportTimeoutError):
            await stream.read_some(0.05)
        await stream.close()
    finally:
        os.close(master)


async def test_serial_echo_that_never_comes_costs_only_its_budget() -> None:
    master, name = _pty()
    try:
        stream = await open_serial(name, 9600, echo=True)
        request = b"\x30\x00\x15\xb0"
        loop = asyncio.get_running_loop()
        started = loop.time()
        await stream.write(request)  # nobody echoes
        assert loop.time() - started < 0.2
        assert await _peer_read(master, 4) == request
        os.write(master, b"\x30\x05\xc1\x70")
        assert await stream.read_some(1) == b"\x30\x05\xc1\x70"
        await stream.close()
    finally:
        os.close(master)


async def test_read_until_gap_ends_a_frame_at_a_quiet_line() -> None:
    """The fallback for protocols without lengths: bytes until ``gap_s`` of silence."""
    master, name = _pty()
    try:
        stream = await open_serial(name, 9600)
        assert stream.gap_s >= 0.016  # what a USB adapter can show
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, os.write, master, b"\x01\x02")
        loop.call_later(0.02, os.write, master, b"\x03")
        loop.call_later(0.3, os.write, master, b"\x04")
        assert await read_until_gap(stream, 1, 0.1) == b"\x01\x02\x03"
        assert await read_until_gap(stream, 1, 0.1) == b"\x04"
        with pytest.raises(TransportTimeoutError):
            await read_until_gap(stream, 0.05, 0.1)
        await stream.close()
    finally:
        os.close(master)


async def test_counting_stream_counts_both_directions() -> None:
    from drivers.transport.counting import CountingStream

    left, right = memory_pair()
    counted = CountingStream(left)
    await counted.write(b"\x01\x02\x03")
    assert await right.read_some(1) == b"\x01\x02\x03"
    await right.write(b"\x04\x05")
    assert await counted.read_some(1) == b"\x04\x05"
    assert (counted.counts.writes, counted.counts.bytes_written) == (1, 3)
    assert counted.counts.bytes_read == 2
    assert counted.counts.bytes_total == 5
    assert counted.description == left.description
