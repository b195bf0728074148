"""The collector's polling: isolation of failing meters, one request per bus, what gets queued.

No broker here: MQTT points at a closed loopback port, so everything stays in the disk queue,
which is what these tests inspect. The meters are the ``fake-test`` protocol double.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from collector.config import MetricsConfig
from collector.service import Collector
from core.errors import (
    ChecksumError,
    ConfigError,
    ConnectError,
    ConnectionLostError,
    ObjectUnavailableError,
    TransportTimeoutError,
)
from core.messages import data_topic, parse_message
from core.model import Stream
from tests.unit.collector.fake_driver import (
    BENCH,
    MAX_IN_FLIGHT,
    FakeMeter,
    MemoryBuses,
    make_config,
    tcp_bus,
)


def _queued(collector: Collector) -> list[tuple[str, bytes]]:
    return [(m.topic, m.payload) for m in collector.queue.sync.pending(0.0, 0.0, limit=100_000)]


def _per_meter(collector: Collector, stream: Stream = Stream.CURRENT) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _topic, payload in _queued(collector):
        message = parse_message(payload)
        if message.stream is stream:
            counts[message.meter] += 1
    return counts


async def _run_for(collector: Collector, seconds: float) -> None:
    task = asyncio.create_task(collector.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_poll_once_queues_one_valid_message_per_stream(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-1", "m-2")])
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        states = await collector.poll_once()
        queued = _queued(collector)
    assert {s.consecutive_failures for s in states.values()} == {0}
    assert all(s.last_success_at is not None for s in states.values())
    assert len(queued) == 4
    for topic, payload in queued:
        message = parse_message(payload)
        assert topic == data_topic("site-1", message.meter, message.stream)
        assert message.collector == "site-1"
    assert {(parse_message(p).meter, parse_message(p).stream) for _, p in queued} == {
        ("m-1", Stream.CURRENT),
        ("m-1", Stream.INSTANT),
        ("m-2", Stream.CURRENT),
        ("m-2", Stream.INSTANT),
    }


async def test_the_same_reading_twice_is_queued_once(tmp_path: Path) -> None:
    BENCH["m-1"] = FakeMeter(fixed_value=Decimal("123.456"))
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-1")])
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
        await collector.poll_once()
        assert collector.queue.depth() == 2  # current + instant, each once
    assert BENCH["m-1"].reads == 2


@pytest.mark.parametrize(
    "failure",
    [
        TransportTimeoutError("meter m-bad: no answer within 0.1 s"),
        ChecksumError("meter m-bad: CRC mismatch"),
        ObjectUnavailableError("meter m-bad: no such register"),
        RuntimeError("a bug in a driver"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_failing_meter_does_not_stop_the_others_on_its_bus(
    tmp_path: Path, failure: BaseException
) -> None:
    # The bad meter also costs real time, as a meter that never answers does.
    BENCH["m-bad"] = FakeMeter(failure=failure, delay_s=0.05)
    config = make_config(
        tmp_path,
        [tcp_bus("bus-a", "m-1", "m-bad", "m-2")],
        poll={"period_s": 0.2, "backoff_max_s": 0.8},
    )
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await _run_for(collector, 1.3)
        counts = _per_meter(collector)
        bad = collector.meter_states()["m-bad"]
    # Read at 0, 0.2, …, 1.2 s: 7 periods; leave room for a slow test machine.
    assert counts["m-1"] >= 5
    assert counts["m-2"] >= 5
    assert counts["m-bad"] == 0
    assert bad.consecutive_failures >= 2
    assert bad.last_error_class == type(failure).__name__
    assert bad.last_success_at is None
    # Backoff: the bad meter is tried less often than the good ones are read.
    assert 2 <= BENCH["m-bad"].reads < BENCH["m-1"].reads


async def test_a_driver_that_breaks_its_contract_does_not_stop_the_bus(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    BENCH["m-bad"] = FakeMeter(garbage=True)
    config = make_config(
        tmp_path, [tcp_bus("bus-a", "m-bad", "m-1")], poll={"period_s": 0.1, "backoff_max_s": 0.4}
    )
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await _run_for(collector, 0.65)
        counts = _per_meter(collector)
        bad = collector.meter_states()["m-bad"]
        bugs = collector.metrics.registry.get_sample_value(
            "isu_collector_unexpected_errors_total", {"component": "bus"}
        )
    assert counts["m-1"] >= 5
    assert bad.consecutive_failures >= 2
    assert (bad.last_error or "").startswith("unexpected ")  # the class of whatever broke
    assert bugs == bad.consecutive_failures
    assert "unexpected error in the poll loop" in caplog.text


async def test_one_request_in_flight_per_bus_and_buses_in_parallel(tmp_path: Path) -> None:
    for meter in ("a-1", "a-2", "a-3", "b-1", "b-2"):
        BENCH[meter] = FakeMeter(delay_s=0.03)
    config = make_config(
        tmp_path,
        [tcp_bus("bus-a", "a-1", "a-2", "a-3"), tcp_bus("bus-b", "b-1", "b-2")],
        poll={"period_s": 0.1},
    )
    buses = MemoryBuses()
    async with Collector(config, open_stream=buses) as collector:
        run = asyncio.create_task(collector.run())
        await asyncio.sleep(0.3)
        # A second caller (later: a catch-up job) goes through the same bus lock.
        await asyncio.gather(collector.poll_once(), collector.poll_once())
        await asyncio.sleep(0.2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    assert set(MAX_IN_FLIGHT.values()) == {1}
    assert buses.opened == {"bus-a": 1, "bus-b": 1}  # streams are kept open between reads


async def test_a_lost_connection_reopens_the_stream(tmp_path: Path) -> None:
    BENCH["m-1"] = FakeMeter(failure=ConnectionLostError("tcp://x: closed by the peer"))
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-1", "m-2")])
    buses = MemoryBuses()
    async with Collector(config, open_stream=buses) as collector:
        await collector.poll_once()
        BENCH["m-1"].failure = None
        states = await collector.poll_once()
        assert _per_meter(collector) == {"m-1": 1, "m-2": 2}
    assert buses.opened["bus-a"] == 2
    assert states["m-1"].consecutive_failures == 0
    assert states["m-1"].last_error_class == "ConnectionLostError"  # history stays visible


async def test_a_connection_dropped_while_idle_is_reopened_without_charging_the_meter(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-1", "m-2")])
    buses = MemoryBuses()
    async with Collector(config, open_stream=buses) as collector:
        await collector.poll_once()
        # The converter closed the idle connection: the next write finds it gone.
        BENCH["m-1"].failure = ConnectionLostError("tcp://x: closed by the peer")
        BENCH["m-1"].failures_left = 1
        states = await collector.poll_once()
        assert _per_meter(collector) == {"m-1": 2, "m-2": 2}
    assert buses.opened["bus-a"] == 2
    assert BENCH["m-1"].reads == 3
    assert states["m-1"].consecutive_failures == 0
    assert states["m-1"].last_error is None


async def test_a_bus_that_cannot_open_does_not_stop_another_bus(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        [tcp_bus("bus-a", "a-1"), tcp_bus("bus-b", "b-1")],
        poll={"period_s": 0.1},
    )
    buses = MemoryBuses()
    buses.down["bus-a"] = ConnectError("tcp://127.0.0.1:4001: cannot connect: refused")
    async with Collector(config, open_stream=buses) as collector:
        run = asyncio.create_task(collector.run())
        await asyncio.sleep(0.5)
        down = collector.meter_states()["a-1"]
        del buses.down["bus-a"]  # the converter comes back
        await asyncio.sleep(0.4)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        counts = _per_meter(collector)
        samples = collector.metrics.registry.get_sample_value(
            "isu_collector_bus_errors_total", {"bus": "bus-a", "error": "ConnectError"}
        )
    assert down.last_error_class == "ConnectError"
    assert down.consecutive_failures >= 2
    assert counts["b-1"] >= 6
    assert counts["a-1"] >= 2  # read as soon as the port opened again
    assert samples is not None
    assert samples >= 2


async def test_a_hung_read_is_cut_at_the_deadline(tmp_path: Path) -> None:
    BENCH["m-hung"] = FakeMeter(hang=True)
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-hung", "m-1", read_deadline_s=0.1)])
    buses = MemoryBuses()
    async with Collector(config, open_stream=buses) as collector:
        states = await asyncio.wait_for(collector.poll_once(), 2)
        assert _per_meter(collector) == {"m-1": 1}
    assert states["m-hung"].last_error_class == "TransportTimeoutError"
    assert "within 0.1 s" in (states["m-hung"].last_error or "")
    assert buses.opened["bus-a"] == 2  # the stream of the abandoned read is not reused


async def test_a_partial_read_keeps_what_was_read(tmp_path: Path) -> None:
    BENCH["m-1"] = FakeMeter(stream_errors={Stream.INSTANT: TransportTimeoutError("no answer")})
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-1")])
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        state = (await collector.poll_once())["m-1"]
        assert [parse_message(p).stream for _, p in _queued(collector)] == [Stream.CURRENT]
        partial = collector.metrics.registry.get_sample_value(
            "isu_collector_polls_total", {"bus": "bus-a", "meter": "m-1", "outcome": "partial"}
        )
    assert state.consecutive_failures == 0
    assert state.last_success_at is not None
    assert state.last_error_class == "TransportTimeoutError"
    assert partial == 1


async def test_meter_password_reaches_the_driver_and_never_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ISU_TEST_PW", "SeCrEt-654321")
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0] |= {"password_env": "ISU_TEST_PW", "level": 2, "password_encoding": "ascii"}
    BENCH["m-1"] = FakeMeter(failure=ChecksumError("meter m-1: CRC mismatch"))
    config = make_config(tmp_path, [bus])
    caplog.set_level(logging.DEBUG)
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
    endpoint = BENCH["m-1"].endpoints[0]
    assert endpoint.password == "SeCrEt-654321"
    assert endpoint.options == {"level": 2, "password_encoding": "ascii"}
    assert endpoint.timeout_s == 0.1
    assert "SeCrEt" not in caplog.text
    assert "SeCrEt" not in repr(config)
    records = [r for r in caplog.records if getattr(r, "meter_id", None) == "m-1"]
    assert records
    assert all(r.bus == "bus-a" for r in records)


async def test_driver_options_are_passed_on_and_checked_at_start_up(tmp_path: Path) -> None:
    bus = tcp_bus("bus-a", "m-1")
    bus["meter"][0] |= {"level": 1, "options": {"colour": "red"}}
    async with Collector(make_config(tmp_path, [bus]), open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
    assert BENCH["m-1"].endpoints[0].options == {"colour": "red", "level": 1}

    bus["meter"][0]["options"] = {"flavour": "sweet"}
    with pytest.raises(ConfigError, match=r"meter m-1: unknown option\(s\) \['flavour'\]"):
        Collector(make_config(tmp_path, [bus]), open_stream=MemoryBuses())


async def test_a_missing_secret_fails_at_construction(tmp_path: Path) -> None:
    config = make_config(tmp_path, [], mqtt={"password_env": "ISU_TEST_ABSENT_VARIABLE"})
    with pytest.raises(ConfigError, match="ISU_TEST_ABSENT_VARIABLE"):
        Collector(config)


async def test_queue_bound_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-1")], queue={"max_messages": 5})
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        await collector.poll_once()
        await collector.poll_once()  # 4 of 5: over 80 %
        assert any(r.levelname == "WARNING" and "over 80 %" in r.message for r in caplog.records)
        await collector.poll_once()  # 6: at the bound; still kept on disk
        assert any(r.levelname == "ERROR" and "at its bound" in r.message for r in caplog.records)
        assert collector.queue.depth() == 6


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from collector.cli import add_collector_arguments, run

    parser = argparse.ArgumentParser()
    add_collector_arguments(parser)
    good = tmp_path / "good.toml"
    bus = tcp_bus("bus-a", "m-1")
    meter = bus.pop("meter")[0]
    lines = [
        'collector_id = "site-1"',
        '[mqtt]\nhost = "127.0.0.1"',
        f"[queue]\npath = {json.dumps(str(tmp_path / 'q.sqlite3'))}",
        "[[bus]]",
        *(f"{k} = {json.dumps(v)}" for k, v in bus.items()),
        "[[bus.meter]]",
        *(f"{k} = {json.dumps(v)}" for k, v in meter.items()),
    ]
    good.write_text("\n".join(lines), encoding="utf-8")
    assert run(parser.parse_args(["--config", str(good), "--check"])) == 0
    assert "1 bus(es), 1 meter(s): OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("address", "adress"), encoding="utf-8")
    assert run(parser.parse_args(["--config", str(bad), "--check"])) == 2
    assert "bus.0.tcp.meter.0.adress" in capsys.readouterr().err


def test_run_collector_exit_status_for_start_up_failures(tmp_path: Path) -> None:
    from collector.service import run_collector

    missing_secret = make_config(tmp_path, [], mqtt={"password_env": "ISU_TEST_ABSENT_VARIABLE"})
    assert run_collector(missing_secret) == 2
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    bad_queue = make_config(tmp_path, [], queue={"path": str(blocker / "queue.sqlite3")})
    assert run_collector(bad_queue) == 1


async def test_metrics_endpoint_serves_the_collector_metrics(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(tmp_path, [tcp_bus("bus-a", "m-1")]).model_copy(
        update={"metrics": MetricsConfig(listen=f"127.0.0.1:{port}")}
    )
    async with Collector(config, open_stream=MemoryBuses()) as collector:
        run = asyncio.create_task(collector.run())
        try:
            await asyncio.sleep(0.3)
            url = f"http://127.0.0.1:{port}/metrics"
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        finally:
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
    text = body.decode()
    assert 'isu_collector_polls_total{bus="bus-a",meter="m-1",outcome="ok"} 1.0' in text
    assert "isu_collector_queue_depth 2.0" in text
    assert "isu_collector_mqtt_connected 0.0" in text
